"""The evaluation report of a run: `metrics.json`, `report.md` and a self-contained `report.html`.

The HTML page embeds every image (PNG as base64), so it can be mailed or archived as one file. It
shows the CASIA-B table, rank-1 per probe view, the probe-view x gallery-view heatmaps, the CMC
curve, rank lists of a few probes (gait energy images, right and wrong marked), and the training
curves read from the run's `metrics.jsonl`.
"""

from __future__ import annotations

import base64
import html
import json
import math
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from gaitreid import __version__
from gaitreid.data.layout import SequenceKey
from gaitreid.evaluation import plots
from gaitreid.evaluation.casia_b import PROBE_LABELS, ProtocolResult

METRICS_LOG = "metrics.jsonl"


@dataclass
class Match:
    """One gallery sequence in a probe's rank list."""

    key: SequenceKey
    distance: float
    correct: bool
    image: np.ndarray | None = None  # GEI [H, W] in [0, 1]


@dataclass
class RankList:
    """A probe and its nearest gallery sequences, nearest first."""

    probe: SequenceKey
    matches: list[Match]
    image: np.ndarray | None = None  # GEI [H, W] in [0, 1]


@dataclass
class ReportInputs:
    """Everything a report shows besides the protocol table itself (all optional)."""

    title: str = "gaitreid evaluation"
    info: dict = field(default_factory=dict)  # shown as a key/value list at the top
    cmc: dict[str, list[float]] = field(default_factory=dict)  # condition -> % at ranks 1..
    rank_lists: list[RankList] = field(default_factory=list)
    baseline: ProtocolResult | None = None  # e.g. the GEI baseline on the same sequences
    baseline_name: str = "GEI baseline"
    metrics_logs: list[Path] | None = None  # defaults to the run's logs (`find_metrics_logs`)


def write_report(run_dir, result: ProtocolResult, inputs: ReportInputs | None = None, **kwargs) -> dict[str, Path]:
    """Write metrics.json, report.md and report.html into `run_dir`; return their paths.

    Options come as a `ReportInputs` or as its fields by keyword (`cmc=...`, `rank_lists=...`).
    """
    inputs = inputs or ReportInputs(**kwargs)
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    logs = inputs.metrics_logs if inputs.metrics_logs is not None else find_metrics_logs(run_dir)
    training, skipped = read_metrics_log(logs)

    metrics = result.to_dict()
    if inputs.cmc:
        metrics["cmc"] = {name: [round(v, 4) for v in curve] for name, curve in inputs.cmc.items()}
    if inputs.baseline is not None:
        metrics["baseline"] = {"name": inputs.baseline_name, **_headline(inputs.baseline)}
    metrics["info"] = {k: _jsonable(v) for k, v in inputs.info.items()}
    paths = {
        "metrics": run_dir / "metrics.json",
        "markdown": run_dir / "report.md",
        "html": run_dir / "report.html",
    }
    _write_text(paths["metrics"], json.dumps(_finite(metrics), indent=2, allow_nan=False) + "\n")
    _write_text(paths["markdown"], render_markdown(result, inputs, training))
    _write_text(paths["html"], render_html(result, inputs, training, skipped))
    return paths


# --- the training log ----------------------------------------------------------------------------


def find_metrics_logs(run_dir) -> list[Path]:
    """The run's training logs: `RUN/metrics.jsonl` and each phase's `RUN/<phase>/metrics.jsonl`,
    in the order the phases ran (first `wall_time` logged; file name where there is none)."""
    run_dir = Path(run_dir)
    logs = [p for p in [run_dir / METRICS_LOG, *sorted(run_dir.glob(f"*/{METRICS_LOG}"))] if p.is_file()]

    def started(path: Path) -> float:
        try:
            with open(path, errors="replace") as f:
                first = json.loads(f.readline())
            return float(first.get("wall_time", math.inf))
        except (ValueError, TypeError, AttributeError, OSError):
            return math.inf

    return sorted(logs, key=lambda p: (started(p), str(p)))


def read_metrics_log(paths) -> tuple[list[dict], int]:
    """Records of JSON-lines training logs, with a global step `x`, and the count of unusable lines.

    Each useful line has a `step` and usually a `phase` (default "train"); `loss`, `lr`,
    `val_rank1` are kept where present and numeric. A phase whose steps restart below those already
    seen is shifted to follow on. Missing files give no records.
    """
    paths = [Path(paths)] if isinstance(paths, (str, Path)) else [Path(p) for p in paths]
    records, skipped = [], 0
    last_x, offsets = 0.0, {}
    for path in paths:
        if not path.is_file():
            continue
        for line in path.read_text(errors="replace").splitlines():
            if not line.strip():
                continue
            try:
                raw = json.loads(line)
                step = float(raw["step"])
            except (ValueError, KeyError, TypeError, IndexError):
                skipped += 1
                continue
            if not math.isfinite(step):
                skipped += 1
                continue
            phase = str(raw.get("phase", "train"))
            if phase not in offsets:
                offsets[phase] = last_x if step < last_x else 0.0  # a phase whose steps restart
            x = step + offsets[phase]
            last_x = max(last_x, x)
            record = {"phase": phase, "step": step, "x": x}
            for key in ("loss", "lr", "val_rank1"):
                value = raw.get(key)
                if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
                    record[key] = float(value)
            records.append(record)
    return records, skipped


def training_summary(records: list[dict]) -> list[dict]:
    """Per phase: steps logged, first and last loss, best validation rank-1."""
    summary = []
    for phase in dict.fromkeys(r["phase"] for r in records):
        rows = [r for r in records if r["phase"] == phase]
        losses = [r["loss"] for r in rows if "loss" in r]
        val = [r["val_rank1"] for r in rows if "val_rank1" in r]
        summary.append(
            {
                "phase": phase,
                "steps": int(max(r["step"] for r in rows)),
                "first_loss": losses[0] if losses else None,
                "last_loss": losses[-1] if losses else None,
                "best_val_rank1": max(val) if val else None,
            }
        )
    return summary


# --- markdown ------------------------------------------------------------------------------------


def render_markdown(result: ProtocolResult, inputs: ReportInputs, training: list[dict]) -> str:
    lines = [f"# {inputs.title}", ""]
    for key, value in inputs.info.items():
        lines.append(f"- **{key}**: {value}")
    if inputs.info:
        lines.append("")
    lines += [
        f"## CASIA-B rank-1 (%), {result.metric} distance, identical view excluded",
        "",
        *_markdown_table(result, result.per_view_rank1, result.condition_rank1),
        "",
        f"Mean over conditions: **{_fmt(result.mean_rank1)}** rank-1, **{_fmt(result.mean_map)}** mAP "
        f"({len(result.subjects)} test subjects).",
        "",
        "## mAP (%), averaged like rank-1",
        "",
        *_markdown_table(result, result.per_view_map, result.condition_map),
        "",
    ]
    if inputs.baseline is not None:
        base = inputs.baseline.condition_rank1
        lines += [
            f"**{inputs.baseline_name}** rank-1: "
            + ", ".join(f"{PROBE_LABELS.get(t, t)} {_fmt(v)}" for t, v in base.items())
            + f" (mean {_fmt(inputs.baseline.mean_rank1)}).",
            "",
        ]
    if result.num_unmatched:
        lines += [
            f"{result.num_unmatched} (probe, gallery view) pairs had no sequence of the probe's subject in that "
            f"gallery view ({'counted as misses' if result.unmatched == 'miss' else 'left out'}).",
            "",
        ]
    if inputs.cmc:
        lines += ["## Cross-view CMC", "", "| condition | rank-1 | rank-5 | rank-10 |", "|---|---:|---:|---:|"]
        for name, curve in inputs.cmc.items():
            at = [_fmt(curve[k - 1]) if len(curve) >= k else "-" for k in (1, 5, 10)]
            lines.append(f"| {PROBE_LABELS.get(name, name)} | " + " | ".join(at) + " |")
        lines.append("")
    summary = training_summary(training)
    if summary:
        lines += ["## Training", "", "| phase | steps | first loss | last loss | best val rank-1 |", "|---|---:|---:|---:|---:|"]
        for row in summary:
            lines.append(
                f"| {row['phase']} | {row['steps']} | {_fmt(row['first_loss'], 4)} | {_fmt(row['last_loss'], 4)} | "
                f"{_fmt(row['best_val_rank1'])} |"
            )
        lines.append("")
    lines += ["Figures: see `report.html` in this directory.", ""]
    return "\n".join(lines)


def _markdown_table(result: ProtocolResult, per_view: np.ndarray, means: dict) -> list[str]:
    header = "| probe | " + " | ".join(f"{v}°" for v in result.views) + " | mean |"
    rule = "|---|" + "---:|" * (len(result.views) + 1)
    rows = [
        f"| {PROBE_LABELS.get(t, t)} | " + " | ".join(_fmt(x) for x in row) + f" | **{_fmt(means[t])}** |"
        for t, row in zip(result.probe_types, per_view)
    ]
    return [header, rule, *rows]


# --- html ----------------------------------------------------------------------------------------

CSS = """
:root { --ink:#1a202c; --muted:#4a5568; --line:#e2e8f0; --accent:#2b6cb0; --good:#2f855a; --bad:#c53030; }
* { box-sizing: border-box; }
body { margin:0; background:#f7fafc; color:var(--ink);
       font:15px/1.5 -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width:1180px; margin:0 auto; padding:28px 32px 48px; }
h1 { font-size:26px; margin:0 0 4px; }
h2 { font-size:18px; margin:0 0 12px; }
.sub { color:var(--muted); margin:0 0 20px; }
section { background:#fff; border:1px solid var(--line); border-radius:10px; padding:20px 24px; margin:0 0 20px; }
.cards { display:flex; gap:14px; flex-wrap:wrap; margin:0 0 20px; }
.card { flex:1 1 160px; background:#fff; border:1px solid var(--line); border-radius:10px; padding:14px 18px; }
.card .label { color:var(--muted); font-size:13px; text-transform:uppercase; letter-spacing:.04em; }
.card .value { font-size:30px; font-weight:700; font-variant-numeric:tabular-nums; }
.card .small { color:var(--muted); font-size:13px; }
dl.info { display:grid; grid-template-columns:max-content 1fr; gap:2px 16px; margin:0; font-size:14px; }
dl.info dt { color:var(--muted); } dl.info dd { margin:0; word-break:break-all; }
table.protocol { border-collapse:collapse; width:100%; font-variant-numeric:tabular-nums; font-size:14px; }
table.protocol th, table.protocol td { padding:6px 8px; text-align:right; border-bottom:1px solid var(--line); }
table.protocol th:first-child, table.protocol td:first-child { text-align:left; }
table.protocol thead th { color:var(--muted); font-weight:600; }
table.protocol td.mean { font-weight:700; border-left:2px solid var(--line); }
.note { color:var(--muted); font-size:13px; margin:8px 0 0; }
.figure { max-width:100%; height:auto; display:block; margin:0 auto; }
.row { display:flex; gap:20px; flex-wrap:wrap; align-items:flex-start; }
.row > div { flex:1 1 420px; }
.ranklists { display:grid; grid-template-columns:repeat(auto-fill, minmax(500px, 1fr)); gap:0 24px; }
.ranklist { display:flex; align-items:center; gap:6px; padding:10px 0; border-bottom:1px solid var(--line); }
.tile { text-align:center; font-size:10.5px; line-height:1.35; color:var(--muted); width:82px; }
.tile img { width:64px; height:auto; image-rendering:pixelated; border:3px solid transparent; border-radius:4px;
            background:#000; display:block; margin:0 auto 3px; }
.tile.probe img { border-color:var(--accent); }
.tile.right img { border-color:var(--good); } .tile.wrong img { border-color:var(--bad); }
.tile .mark { font-weight:700; font-size:12px; } .right .mark { color:var(--good); } .wrong .mark { color:var(--bad); }
.arrow { color:var(--muted); font-size:20px; padding:0 2px; }
footer { color:var(--muted); font-size:12px; text-align:center; }
"""


def render_html(result: ProtocolResult, inputs: ReportInputs, training: list[dict], skipped_lines: int = 0) -> str:
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{_e(inputs.title)}</title><style>{CSS}</style></head><body><main>",
        f"<h1>{_e(inputs.title)}</h1>",
        f"<p class='sub'>CASIA-B cross-view protocol · {_e(result.metric)} distance · "
        f"{len(result.subjects)} test subjects · identical view excluded</p>",
        _cards(result, inputs),
    ]
    if inputs.info:
        items = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in inputs.info.items())
        parts.append(f"<section><h2>Run</h2><dl class='info'>{items}</dl></section>")
    parts.append(
        "<section id='protocol-table'><h2>Rank-1 accuracy (%) per probe view</h2>"
        + _html_table(result, result.per_view_rank1, result.condition_rank1)
        + "<p class='note'>Gallery NM#1-4; probes NM#5-6, BG#1-2, CL#1-2. Each probe view's figure is the mean "
        "over the other gallery views; each condition's figure is the mean over the probe views.</p>"
        + (
            f"<p class='note'>{result.num_unmatched} (probe, gallery view) pairs had no sequence of the probe's "
            f"subject in that gallery view ({'counted as misses' if result.unmatched == 'miss' else 'left out'}).</p>"
            if result.num_unmatched
            else ""
        )
        + "<h2 style='margin-top:22px'>mAP (%) per probe view</h2>"
        + _html_table(result, result.per_view_map, result.condition_map)
        + "</section>"
    )
    line = plots.per_view_plot(result.views, result.probe_types, result.per_view_rank1)
    figures = f"<div><h2>Rank-1 per probe view</h2>{_img(line, 'rank-1 per probe view')}</div>"
    if inputs.cmc:
        figures += (
            "<div><h2>CMC (cross-view)</h2>"
            f"{_img(plots.cmc_plot(inputs.cmc), 'CMC curve')}"
            "<p class='note'>Each probe against all gallery sequences of the other views.</p></div>"
        )
    parts.append(f"<section><div class='row'>{figures}</div></section>")
    parts.append(
        "<section><h2>Probe view × gallery view rank-1 (%)</h2>"
        f"{_img(plots.heatmaps(result.views, result.probe_types, result.rank1), 'heatmaps')}"
        "<p class='note'>Grey diagonal: the identical view, shown but excluded from every mean.</p></section>"
    )
    if inputs.rank_lists:
        parts.append(_rank_lists_html(inputs.rank_lists))
    parts.append(_training_html(training, skipped_lines))
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    parts.append(f"<footer>gaitreid {__version__} · written {stamp}</footer></main></body></html>")
    return "\n".join(parts)


def _cards(result: ProtocolResult, inputs: ReportInputs) -> str:
    cards = []
    baseline = inputs.baseline.condition_rank1 if inputs.baseline is not None else {}
    for t in result.probe_types:
        extra = f"mAP {_fmt(result.condition_map[t])}"
        if t in baseline:
            extra += f" · {_e(inputs.baseline_name)} {_fmt(baseline[t])}"
        cards.append(
            f"<div class='card'><div class='label'>{PROBE_LABELS.get(t, t)} rank-1</div>"
            f"<div class='value'>{_fmt(result.condition_rank1[t])}</div><div class='small'>{extra}</div></div>"
        )
    cards.append(
        f"<div class='card'><div class='label'>mean rank-1</div><div class='value'>{_fmt(result.mean_rank1)}</div>"
        f"<div class='small'>mAP {_fmt(result.mean_map)}</div></div>"
    )
    return "<div class='cards'>" + "".join(cards) + "</div>"


def _html_table(result: ProtocolResult, per_view: np.ndarray, means: dict) -> str:
    head = "".join(f"<th>{_e(v)}°</th>" for v in result.views)
    rows = []
    for t, row in zip(result.probe_types, per_view):
        cells = "".join(f"<td style='{_shade(x)}'>{_fmt(x)}</td>" for x in row)
        rows.append(f"<tr><td><b>{PROBE_LABELS.get(t, t)}</b></td>{cells}<td class='mean'>{_fmt(means[t])}</td></tr>")
    return (
        f"<table class='protocol'><thead><tr><th>probe</th>{head}<th>mean</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _shade(value: float) -> str:
    """A light blue background growing with the value, so the table reads like a heatmap."""
    if value is None or not np.isfinite(value):
        return ""
    alpha = 0.08 + 0.42 * max(0.0, min(1.0, value / 100.0)) ** 2
    return f"background: rgba(43,108,176,{alpha:.2f})"


def _rank_lists_html(rank_lists: list[RankList]) -> str:
    rows = []
    for entry in rank_lists:
        tiles = [
            f"<div class='tile probe'>{_gei_img(entry.image)}<div class='mark' style='color:#2b6cb0'>probe</div>"
            f"{_e(entry.probe)}</div><div class='arrow'>→</div>"
        ]
        for rank, match in enumerate(entry.matches, start=1):
            verdict = "right" if match.correct else "wrong"
            mark = "✓" if match.correct else "✗"
            tiles.append(
                f"<div class='tile {verdict}'>{_gei_img(match.image)}<div class='mark'>{mark} #{rank}</div>"
                f"{_e(match.key)}<br>d={match.distance:.3f}</div>"
            )
        rows.append(f"<div class='ranklist'>{''.join(tiles)}</div>")
    return (
        "<section><h2>Rank lists</h2><p class='note' style='margin:0 0 6px'>Gait energy images (mean silhouettes) "
        "of a few probes and their five nearest gallery sequences from other views; green = same subject, "
        "red = someone else.</p><div class='ranklists'>" + "".join(rows) + "</div></section>"
    )


def _training_html(training: list[dict], skipped_lines: int) -> str:
    if not training:
        return "<section><h2>Training curves</h2><p class='note'>No training log (metrics.jsonl) in this run.</p></section>"
    figure = plots.training_curves(training)
    body = _img(figure, "training curves") if figure else "<p class='note'>The log has no loss values.</p>"
    rows = "".join(
        f"<tr><td>{_e(r['phase'])}</td><td>{r['steps']}</td><td>{_fmt(r['first_loss'], 4)}</td>"
        f"<td>{_fmt(r['last_loss'], 4)}</td><td>{_fmt(r['best_val_rank1'])}</td></tr>"
        for r in training_summary(training)
    )
    table = (
        "<table class='protocol' style='margin-top:12px'><thead><tr><th>phase</th><th>steps</th><th>first loss</th>"
        f"<th>last loss</th><th>best val rank-1</th></tr></thead><tbody>{rows}</tbody></table>"
    )
    note = f"<p class='note'>{skipped_lines} unreadable log lines were skipped.</p>" if skipped_lines else ""
    return f"<section><h2>Training curves</h2>{body}{table}{note}</section>"


# --- small helpers -------------------------------------------------------------------------------


def _img(png: bytes, alt: str) -> str:
    return f"<img class='figure' alt='{_e(alt)}' src='data:image/png;base64,{base64.b64encode(png).decode()}'>"


def _gei_img(image: np.ndarray | None) -> str:
    if image is None:
        return "<img alt='' src='data:,'>"
    import cv2

    pixels = np.clip(np.asarray(image, dtype=np.float32) * 255.0 + 0.5, 0, 255).astype(np.uint8)
    ok, png = cv2.imencode(".png", pixels)
    if not ok:
        return "<img alt='' src='data:,'>"
    return f"<img alt='GEI' src='data:image/png;base64,{base64.b64encode(png.tobytes()).decode()}'>"


def _headline(result: ProtocolResult) -> dict:
    data = result.to_dict()
    return {k: data[k] for k in ("metric", "rank1", "mAP", "mean_rank1", "mean_mAP", "per_view_rank1")}


def _fmt(value, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    return f"{value:.{digits}f}"


def _e(value) -> str:
    return html.escape(str(value), quote=True)


def _jsonable(value):
    if isinstance(value, (str, int, bool)) or value is None:
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    return str(value)


def _finite(value):
    """The same structure with NaN / inf floats (and numpy scalars) made JSON-safe (None)."""
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    if isinstance(value, (np.floating, float)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def _write_text(path: Path, text: str) -> None:
    """Write via a temporary file so a crash never leaves half a report."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
