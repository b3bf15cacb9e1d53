"""The validation monitor: a quick cross-view rank-1 on labelled held-out subjects.

Used every `eval_every` steps and to keep the best checkpoint. It follows the CASIA-B protocol's
structure when the sequences carry CASIA-B conditions (gallery nm-01..04; probes nm-05..06,
bg-*, cl-*; same-view pairs excluded) and falls back to leave-one-sequence-out otherwise. The
full protocol report is `gaitreid.evaluation`'s job; this is the training-time signal.
"""

from __future__ import annotations

import numpy as np

from gaitreid.evaluation.distances import pairwise_distances

GALLERY_CONDITIONS = ("nm-01", "nm-02", "nm-03", "nm-04")


def rank1_monitor(embeddings: np.ndarray, keys: list) -> dict[str, float]:
    """{"val_rank1": mean over probe condition types, "val_rank1_<type>": per type} in percent."""
    subjects = np.array([k.subject for k in keys])
    views = np.array([k.view for k in keys])
    conditions = np.array([k.condition for k in keys])
    gallery = np.isin(conditions, GALLERY_CONDITIONS)
    if gallery.any() and (~gallery).any():
        dist = pairwise_distances(embeddings[~gallery], embeddings[gallery])
        same_view = views[~gallery][:, None] == views[gallery][None, :]
        dist[same_view] = np.inf
        nearest = dist.argmin(1)
        valid = np.isfinite(dist.min(1))
        hit = subjects[gallery][nearest] == subjects[~gallery]
        types = np.array([k.condition_type for k in keys])[~gallery]
        out = {}
        for t in sorted(set(types)):
            m = (types == t) & valid
            if m.any():
                out[f"val_rank1_{t}"] = 100.0 * float(hit[m].mean())
        out["val_rank1"] = float(np.mean(list(out.values()))) if out else 0.0
        return out
    dist = pairwise_distances(embeddings, embeddings)
    np.fill_diagonal(dist, np.inf)
    hit = subjects[dist.argmin(1)] == subjects
    return {"val_rank1": 100.0 * float(hit.mean())}
