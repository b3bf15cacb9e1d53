"""Silhouettes from video: background subtraction, clean-up, one track per person, pretreatment."""
