"""Evaluation: distances, the CASIA-B protocol, general re-id metrics, splits, the GEI baseline, reports."""

from gaitreid.evaluation.casia_b import ProtocolResult, casia_b_protocol
from gaitreid.evaluation.distances import pairwise_distances, top_k
from gaitreid.evaluation.gei import gait_energy_image, gei_embeddings
from gaitreid.evaluation.reid import leave_one_out_metrics, reid_metrics
from gaitreid.evaluation.splits import Split, available_splits, load_split

__all__ = [
    "ProtocolResult",
    "Split",
    "available_splits",
    "casia_b_protocol",
    "gait_energy_image",
    "gei_embeddings",
    "leave_one_out_metrics",
    "load_split",
    "pairwise_distances",
    "reid_metrics",
    "top_k",
]
