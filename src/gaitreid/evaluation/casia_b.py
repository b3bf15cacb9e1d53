"""The CASIA-B cross-view protocol, computed the way gait papers report it.

Gallery: NM#1-4 of the test subjects. Probes: NM#5-6, BG#1-2, CL#1-2. For every probe view and
every gallery view, each probe is ranked against the gallery sequences *of that gallery view
only*; a probe is right at rank 1 when its nearest gallery sequence is of the same subject. A probe
view's figure is the mean over the 10 other gallery views (the identical view is excluded), and a
condition's figure is the mean over the 11 probe views. mAP is averaged the same way.

Missing sequences (real CASIA-B lacks a few) leave a cell empty (NaN, left out of the means) when
a whole probe or gallery view is absent; a probe whose subject has no sequence in one gallery view
cannot be right there and counts as a miss, as in the reference evaluation code
(`unmatched="skip"` drops such probes instead). Any subject set works (e.g. 051-074 for the dev split).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from gaitreid.data.layout import CASIA_B_VIEWS, SequenceKey
from gaitreid.errors import GaitReidError
from gaitreid.evaluation.distances import PreparedSet, block_distances, torch_threads
from gaitreid.evaluation.ranking import rank_positives

GALLERY_CONDITIONS: tuple[str, ...] = ("nm-01", "nm-02", "nm-03", "nm-04")
PROBE_CONDITIONS: dict[str, tuple[str, ...]] = {
    "nm": ("nm-05", "nm-06"),
    "bg": ("bg-01", "bg-02"),
    "cl": ("cl-01", "cl-02"),
}
PROBE_LABELS = {"nm": "NM", "bg": "BG", "cl": "CL"}


@dataclass
class ProtocolResult:
    """Per-cell figures of the protocol, and the means papers print.

    `rank1[t, i, j]` / `mean_ap[t, i, j]` (percent) are for probe type `probe_types[t]`, probe view
    `views[i]`, gallery view `views[j]`; NaN where the cell has no probes or no gallery.
    """

    metric: str
    views: tuple[str, ...]
    probe_types: tuple[str, ...]
    subjects: tuple[str, ...]
    rank1: np.ndarray  # [t, v, v]
    mean_ap: np.ndarray  # [t, v, v]
    num_probes: np.ndarray  # [t, v] probe sequences per probe view
    num_gallery: np.ndarray  # [v] gallery sequences per view
    num_unmatched: int  # (probe, gallery view) pairs whose subject is absent from that gallery view
    unmatched: str = "miss"
    extras: dict = field(default_factory=dict)

    # --- the means papers print -------------------------------------------------------------
    def _cross_view(self, cells: np.ndarray) -> np.ndarray:
        """`[t, v]`: each probe view's mean over the other gallery views (identical view excluded)."""
        off_diagonal = cells.copy()
        idx = np.arange(len(self.views))
        off_diagonal[:, idx, idx] = np.nan
        return _nanmean(off_diagonal, axis=2)

    @property
    def per_view_rank1(self) -> np.ndarray:
        return self._cross_view(self.rank1)

    @property
    def per_view_map(self) -> np.ndarray:
        return self._cross_view(self.mean_ap)

    @property
    def condition_rank1(self) -> dict[str, float]:
        return {t: float(v) for t, v in zip(self.probe_types, _nanmean(self.per_view_rank1, axis=1))}

    @property
    def condition_map(self) -> dict[str, float]:
        return {t: float(v) for t, v in zip(self.probe_types, _nanmean(self.per_view_map, axis=1))}

    @property
    def mean_rank1(self) -> float:
        return float(_nanmean(np.array(list(self.condition_rank1.values())), axis=0))

    @property
    def mean_map(self) -> float:
        return float(_nanmean(np.array(list(self.condition_map.values())), axis=0))

    # --- presentation -------------------------------------------------------------------------
    def table(self, what: str = "rank1") -> str:
        """The probe-type x probe-view table with a mean column, as papers print it."""
        per_view = self.per_view_rank1 if what == "rank1" else self.per_view_map
        means = self.condition_rank1 if what == "rank1" else self.condition_map
        title = "rank-1" if what == "rank1" else "mAP"
        lines = [
            f"CASIA-B {title} (%), {self.metric} distance, identical view excluded, "
            f"{len(self.subjects)} test subjects",
            "probe " + "".join(f"{v:>7}" for v in self.views) + f"{'mean':>8}",
        ]
        for t, row in zip(self.probe_types, per_view):
            cells = "".join(f"{_fmt(x):>7}" for x in row)
            lines.append(f"{PROBE_LABELS.get(t, t):<6}{cells}{_fmt(means[t]):>8}")
        overall = self.mean_rank1 if what == "rank1" else self.mean_map
        lines.append(f"mean over conditions: {_fmt(overall)}")
        return "\n".join(lines)

    def summary(self) -> str:
        return self.table("rank1") + "\n\n" + self.table("map")

    def to_dict(self) -> dict:
        """JSON-ready (NaN becomes None)."""
        return {
            "protocol": "casia-b",
            "metric": self.metric,
            "views": list(self.views),
            "probe_types": list(self.probe_types),
            "subjects": list(self.subjects),
            "rank1": {t: _json(v) for t, v in self.condition_rank1.items()},
            "mAP": {t: _json(v) for t, v in self.condition_map.items()},
            "mean_rank1": _json(self.mean_rank1),
            "mean_mAP": _json(self.mean_map),
            "per_view_rank1": {t: _json_list(row) for t, row in zip(self.probe_types, self.per_view_rank1)},
            "per_view_mAP": {t: _json_list(row) for t, row in zip(self.probe_types, self.per_view_map)},
            "rank1_cells": {t: [_json_list(r) for r in m] for t, m in zip(self.probe_types, self.rank1)},
            "mAP_cells": {t: [_json_list(r) for r in m] for t, m in zip(self.probe_types, self.mean_ap)},
            "num_probes": {t: self.num_probes[i].tolist() for i, t in enumerate(self.probe_types)},
            "num_gallery": self.num_gallery.tolist(),
            "num_unmatched": int(self.num_unmatched),
            "unmatched": self.unmatched,
            **self.extras,
        }


def casia_b_protocol(
    embeddings: np.ndarray | torch.Tensor,
    keys: list[SequenceKey],
    metric: str = "euclidean",
    unmatched: str = "miss",
) -> ProtocolResult:
    """Run the protocol on the embeddings `[N, c, p]` of the test sequences named by `keys`.

    Sequences of other conditions are ignored; probe types with no probes at all are left out.
    """
    with torch_threads(1):  # hundreds of small cells: one thread is fastest and steady on a busy machine
        return _protocol(embeddings, keys, metric, unmatched)


def _protocol(embeddings, keys: list[SequenceKey], metric: str, unmatched: str) -> ProtocolResult:
    if len(keys) != len(embeddings):
        raise GaitReidError(f"{len(embeddings)} embeddings but {len(keys)} sequence keys")
    if unmatched not in ("miss", "skip"):
        raise GaitReidError(f"unmatched must be 'miss' or 'skip', got {unmatched!r}")
    gallery_rows = [i for i, k in enumerate(keys) if k.condition in GALLERY_CONDITIONS]
    if not gallery_rows:
        raise GaitReidError(f"no gallery sequences ({', '.join(GALLERY_CONDITIONS)}) among the {len(keys)} sequences")
    probe_rows = {t: [i for i, k in enumerate(keys) if k.condition in conds] for t, conds in PROBE_CONDITIONS.items()}
    probe_types = tuple(t for t, rows in probe_rows.items() if rows)
    if not probe_types:
        raise GaitReidError(f"no probe sequences (nm-05/06, bg-01/02, cl-01/02) among the {len(keys)} sequences")
    views = _ordered_views({keys[i].view for i in gallery_rows} | {keys[i].view for t in probe_types for i in probe_rows[t]})
    view_index = {v: i for i, v in enumerate(views)}
    subjects = tuple(sorted({keys[i].subject for i in gallery_rows} | {keys[i].subject for t in probe_types for i in probe_rows[t]}))

    tensor = torch.as_tensor(embeddings)
    gallery = PreparedSet(tensor[gallery_rows], metric)
    subject_code = {s: code for code, s in enumerate(subjects)}
    gallery_subject = torch.tensor([subject_code[keys[i].subject] for i in gallery_rows])
    gallery_view = np.array([view_index[keys[i].view] for i in gallery_rows])
    gallery_columns = [torch.from_numpy(np.flatnonzero(gallery_view == j)) for j in range(len(views))]

    nv, nt = len(views), len(probe_types)
    rank1 = np.full((nt, nv, nv), np.nan)
    mean_ap = np.full((nt, nv, nv), np.nan)
    num_probes = np.zeros((nt, nv), dtype=np.int64)
    num_unmatched = 0
    for t, probe_type in enumerate(probe_types):
        rows = probe_rows[probe_type]
        probe_view = np.array([view_index[keys[i].view] for i in rows])
        for i in range(nv):
            mine = [rows[r] for r in np.flatnonzero(probe_view == i)]
            num_probes[t, i] = len(mine)
            if not mine:
                continue
            probes = PreparedSet(tensor[mine], metric, dtype=gallery.parts.dtype)
            distances = block_distances(probes, gallery)  # [probes of view i, all gallery]
            probe_subject = torch.tensor([subject_code[keys[r].subject] for r in mine])
            same_subject = probe_subject.unsqueeze(1) == gallery_subject.unsqueeze(0)  # [b, n]
            for j, columns in enumerate(gallery_columns):
                if len(columns) == 0:
                    continue
                stats = rank_positives(distances[:, columns], same_subject[:, columns])
                matched = stats.num_positives > 0
                num_unmatched += int((~matched).sum())
                right = (stats.first_rank == 1) & matched
                ap = stats.average_precision
                if unmatched == "skip":
                    if not bool(matched.any()):
                        continue
                    right, ap = right[matched], ap[matched]
                rank1[t, i, j] = 100.0 * float(right.double().mean())
                mean_ap[t, i, j] = 100.0 * float(ap.mean())
    return ProtocolResult(
        metric=metric,
        views=views,
        probe_types=probe_types,
        subjects=subjects,
        rank1=rank1,
        mean_ap=mean_ap,
        num_probes=num_probes,
        num_gallery=np.bincount(gallery_view, minlength=nv),
        num_unmatched=num_unmatched,
        unmatched=unmatched,
    )


def protocol_roles(keys: list[SequenceKey]) -> tuple[np.ndarray, np.ndarray]:
    """Row indices of the gallery (NM#1-4) and of all probes (NM#5-6, BG, CL) among `keys`."""
    probe_conditions = {c for conds in PROBE_CONDITIONS.values() for c in conds}
    gallery = np.array([i for i, k in enumerate(keys) if k.condition in GALLERY_CONDITIONS], dtype=np.int64)
    probes = np.array([i for i, k in enumerate(keys) if k.condition in probe_conditions], dtype=np.int64)
    return gallery, probes


def _ordered_views(views: set[str]) -> tuple[str, ...]:
    """CASIA-B views in angle order; unknown view names after them, sorted."""
    known = [v for v in CASIA_B_VIEWS if v in views]
    return tuple(known + sorted(views - set(known)))


def _nanmean(x: np.ndarray, axis: int) -> np.ndarray:
    """Mean ignoring NaN, NaN (without a warning) where everything is NaN."""
    x = np.asarray(x, dtype=np.float64)
    count = np.sum(~np.isnan(x), axis=axis)
    total = np.nansum(x, axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def _fmt(x: float) -> str:
    return "-" if x is None or np.isnan(x) else f"{x:.1f}"


def _json(x: float):
    return None if np.isnan(x) else round(float(x), 4)


def _json_list(row) -> list:
    return [_json(x) for x in row]
