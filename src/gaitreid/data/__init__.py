"""Silhouette data: dataset layouts, readers, pretreatment, and the sequence store."""
