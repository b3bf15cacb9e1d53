"""Choose the open-set distance threshold on labelled validation data for a target false-accept rate.

Protocol (leave one identity out): each validation subject's sequences are split into gallery
sequences (by default the CASIA-B normal walks nm-01..04; else the first half of its sequences)
and probe sequences (the rest). For each probe
- its *impostor* score is the distance to the nearest gallery sequence of any OTHER subject:
  what identify would see if this person were not enrolled (every subject is in turn the unknown);
- its *genuine* score is the distance to the nearest gallery sequence of all subjects, itself
  included: what identify sees for an enrolled person (correct when that nearest is its own).

The threshold is the largest distance that lets at most `target_far` of the impostor scores
through (an impostor is falsely accepted when its score <= threshold). At that threshold:
- FAR = impostors accepted / impostors,
- FRR = genuine probes rejected (score > threshold) / genuine probes,
- identification rate = genuine probes accepted AND nearest to their own identity / genuine probes.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Sequence

import numpy as np

from gaitreid.data.layout import SequenceKey
from gaitreid.errors import GaitReidError
from gaitreid.gallery.search import check_metric, part_distances

DEFAULT_GALLERY_CONDITIONS = ("nm-01", "nm-02", "nm-03", "nm-04")


@dataclass(frozen=True)
class Calibration:
    threshold: float
    metric: str
    target_far: float
    far: float
    frr: float
    identification_rate: float
    impostor_trials: int
    genuine_trials: int
    subjects: int
    protocol: str = "leave-one-identity-out"
    fingerprint: str = ""
    calibrated_at: str = ""
    data: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


def split_gallery_probe(keys: Sequence[SequenceKey], gallery_conditions: Sequence[str] = DEFAULT_GALLERY_CONDITIONS) -> np.ndarray:
    """[N] bool, True for gallery sequences: the named conditions, else each subject's first half."""
    keys = list(keys)
    is_gallery = np.array([key.condition in gallery_conditions for key in keys])
    by_subject: dict[str, list[int]] = {}
    for i, key in enumerate(keys):
        by_subject.setdefault(key.subject, []).append(i)
    for rows in by_subject.values():
        if is_gallery[rows].any() and not is_gallery[rows].all():
            continue
        ordered = sorted(rows, key=lambda i: (keys[i].condition, keys[i].view))
        half = max(1, len(ordered) // 2)
        is_gallery[rows] = False
        is_gallery[ordered[:half]] = True
    return is_gallery


def open_set_scores(embeddings: np.ndarray, subjects: Sequence[str], is_gallery: np.ndarray, metric: str):
    """(genuine [m], genuine_correct [m] bool, impostor [m']) scores; see the module docstring."""
    subjects = np.asarray(subjects)
    gallery_rows, probe_rows = np.flatnonzero(is_gallery), np.flatnonzero(~is_gallery)
    if len(set(subjects[gallery_rows])) < 2:
        raise GaitReidError("calibration needs gallery sequences of at least 2 subjects")
    if len(probe_rows) == 0:
        raise GaitReidError("calibration needs probe sequences (every sequence ended up in the gallery)")
    distances = part_distances(embeddings[probe_rows], embeddings[gallery_rows], metric)  # [m, g]
    gallery_subjects = subjects[gallery_rows]
    same = subjects[probe_rows][:, None] == gallery_subjects[None, :]  # [m, g]
    impostor = np.where(same, np.inf, distances).min(axis=1)
    enrolled = same.any(axis=1)  # probes whose subject has gallery sequences
    nearest = distances.argmin(axis=1)
    genuine = distances.min(axis=1)[enrolled]
    correct = (gallery_subjects[nearest] == subjects[probe_rows])[enrolled]
    return genuine, correct, impostor[np.isfinite(impostor)]


def threshold_for_far(impostor: np.ndarray, target_far: float) -> float:
    """The largest threshold with at most floor(target_far * n) impostor scores <= it."""
    if not 0.0 <= target_far < 1.0:
        raise GaitReidError(f"target false-accept rate must be in [0, 1), got {target_far}")
    scores = np.sort(np.asarray(impostor, dtype=np.float64))
    if len(scores) == 0:
        raise GaitReidError("calibration found no impostor trials")
    allowed = int(math.floor(target_far * len(scores) + 1e-9))
    if allowed >= len(scores):
        return float(scores[-1])
    # strictly below the (allowed+1)-th smallest impostor score: at most `allowed` pass
    return float(np.nextafter(scores[allowed], -np.inf)) if allowed == 0 else float((scores[allowed - 1] + scores[allowed]) / 2)


def calibrate_threshold(embeddings: np.ndarray, keys: Sequence[SequenceKey], target_far: float = 0.01,
                        metric: str = "euclidean", gallery_conditions: Sequence[str] = DEFAULT_GALLERY_CONDITIONS) -> Calibration:
    """Pick and evaluate the threshold on embeddings [N, c, p] of labelled sequences `keys`."""
    check_metric(metric)
    if len(keys) != len(embeddings):
        raise GaitReidError(f"{len(embeddings)} embeddings for {len(keys)} sequence keys")
    is_gallery = split_gallery_probe(keys, gallery_conditions)
    subjects = [key.subject for key in keys]
    genuine, correct, impostor = open_set_scores(embeddings, subjects, is_gallery, metric)
    # compare in float64, as identify does (a float32 array would round the threshold to float32)
    genuine, impostor = genuine.astype(np.float64), impostor.astype(np.float64)
    threshold = threshold_for_far(impostor, target_far)
    accepted = genuine <= threshold
    return Calibration(
        threshold=threshold,
        metric=metric,
        target_far=float(target_far),
        far=float(np.mean(impostor <= threshold)),
        frr=float(np.mean(~accepted)) if len(genuine) else float("nan"),
        identification_rate=float(np.mean(accepted & correct)) if len(genuine) else float("nan"),
        impostor_trials=int(len(impostor)),
        genuine_trials=int(len(genuine)),
        subjects=len(set(subjects)),
        calibrated_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )
