"""The report's figures, drawn with matplotlib (Agg, no display) and returned as PNG bytes.

Each function takes plain numbers and returns `bytes` of a PNG, so the report can embed it
(base64) and a test can check it without a screen.
"""

from __future__ import annotations

import io

import numpy as np

CONDITION_COLOURS = {"nm": "#2b6cb0", "bg": "#dd6b20", "cl": "#2f855a"}
CONDITION_NAMES = {"nm": "NM (normal)", "bg": "BG (bag)", "cl": "CL (coat)"}
PHASE_COLOURS = ["#2b6cb0", "#dd6b20", "#2f855a", "#9b2c2c", "#6b46c1", "#4a5568"]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update(
        {
            "font.size": 10,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.grid": True,
            "grid.color": "#e2e8f0",
            "grid.linewidth": 0.8,
            "axes.edgecolor": "#4a5568",
            "axes.titleweight": "bold",
            "axes.titlesize": 11,
            "figure.dpi": 110,
        }
    )
    return plt


def _png(fig) -> bytes:
    plt = _pyplot()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight", facecolor="white")
    plt.close(fig)
    return buffer.getvalue()


def per_view_plot(views, probe_types, per_view: np.ndarray, ylabel: str = "rank-1 (%)") -> bytes:
    """Rank-1 per probe view, one line per condition (identical view excluded)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.0, 3.6))
    x = np.arange(len(views))
    for t, row in zip(probe_types, per_view):
        ax.plot(x, row, marker="o", lw=2, ms=5, color=CONDITION_COLOURS.get(t), label=CONDITION_NAMES.get(t, t))
    ax.set_xticks(x, [f"{v}°" for v in views])
    ax.set_xlabel("probe view")
    ax.set_ylabel(ylabel)
    finite = per_view[np.isfinite(per_view)]
    low = max(0.0, float(finite.min()) - 5) if finite.size else 0.0
    ax.set_ylim(low, 101)
    ax.legend(frameon=False, loc="lower center", ncol=len(probe_types), bbox_to_anchor=(0.5, 1.0))
    return _png(fig)


def heatmaps(views, probe_types, cells: np.ndarray) -> bytes:
    """Probe view x gallery view rank-1 per condition; the excluded diagonal is greyed out."""
    plt = _pyplot()
    n = len(probe_types)
    size = 0.34 * len(views) + 1.2
    fig, axes = plt.subplots(1, n, figsize=(size * n + 0.8, size), squeeze=False)
    image = None
    diagonal = np.eye(len(views), dtype=bool)
    for ax, t, matrix in zip(axes[0], probe_types, cells):
        ax.grid(False)
        ax.imshow(np.where(diagonal, 1.0, np.nan), cmap="Greys", vmin=0, vmax=8)  # light grey diagonal
        image = ax.imshow(np.ma.masked_where(diagonal | ~np.isfinite(matrix), matrix), cmap="viridis", vmin=0, vmax=100)
        ax.set_title(CONDITION_NAMES.get(t, t))
        ticks = np.arange(len(views))
        ax.set_xticks(ticks, views, rotation=90, fontsize=7)
        ax.set_yticks(ticks, views, fontsize=7)
        ax.set_xlabel("gallery view", fontsize=8)
        ax.set_ylabel("probe view", fontsize=8)
        if len(views) <= 11:
            for i in range(len(views)):
                for j in range(len(views)):
                    value = matrix[i, j]
                    if not np.isfinite(value):
                        continue
                    colour = "#718096" if i == j else ("white" if value < 60 else "black")
                    ax.text(j, i, f"{value:.0f}", ha="center", va="center", fontsize=6, color=colour)
    fig.colorbar(image, ax=axes[0].tolist(), shrink=0.8, label="rank-1 (%)")
    return _png(fig)


def cmc_plot(curves: dict[str, list[float]], max_rank: int = 20) -> bytes:
    """Cumulative match characteristic per condition: % of probes matched within the top k."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.0, 3.6))
    for name, curve in curves.items():
        curve = np.asarray(curve[:max_rank], dtype=float)
        ranks = np.arange(1, len(curve) + 1)
        ax.plot(ranks, curve, marker="o", ms=3, lw=2, color=CONDITION_COLOURS.get(name), label=CONDITION_NAMES.get(name, name))
    ax.set_xlabel("rank k")
    ax.set_ylabel("matched within top k (%)")
    ax.set_xlim(0.5, max_rank + 0.5)
    ax.set_xticks([1, 5, 10, 15, 20][: 1 + sum(r <= max_rank for r in (5, 10, 15, 20))])
    ax.legend(frameon=False, loc="lower center", ncol=len(curves), bbox_to_anchor=(0.5, 1.0))
    return _png(fig)


def training_curves(records: list[dict]) -> bytes | None:
    """Loss (and, where logged, learning rate and validation rank-1) against the global step.

    `records` carry `phase`, `x` (a global step: steps restart per phase in many logs), and any of
    `loss`, `lr`, `val_rank1`. Returns None when there is nothing to draw.
    """
    if not any("loss" in r for r in records):
        return None
    plt = _pyplot()
    panels = ["loss"] + [k for k in ("val_rank1", "lr") if any(k in r for r in records)]
    fig, axes = plt.subplots(1, len(panels), figsize=(4.4 * len(panels), 3.3), squeeze=False)
    phases = list(dict.fromkeys(r["phase"] for r in records))
    labels = {"loss": "training loss", "val_rank1": "validation rank-1 (%)", "lr": "learning rate"}
    for ax, key in zip(axes[0], panels):
        for p, phase in enumerate(phases):
            points = [(r["x"], r[key]) for r in records if r["phase"] == phase and key in r]
            if not points:
                continue
            x, y = np.array(points, dtype=float).T
            style = {"marker": "o", "ms": 4} if key == "val_rank1" else {}
            ax.plot(x, y, lw=1.6, color=PHASE_COLOURS[p % len(PHASE_COLOURS)], label=phase, **style)
        ax.set_title(labels[key])
        ax.set_xlabel("step")
        if key == "lr":
            ax.ticklabel_format(axis="y", style="sci", scilimits=(-3, 3))
    axes[0][0].legend(frameon=False, title="phase", fontsize=8)
    fig.tight_layout()
    return _png(fig)
