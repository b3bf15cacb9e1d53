"""What each training phase is worth: the accuracy benchmark behind BENCHMARKS.md.

Seven configurations (the issue's list) plus one ablation, each trained and evaluated through the
same commands a user runs (`gaitreid train PHASE`, `gaitreid evaluate`), on two suites:

- `accuracy-casia-b`: real CASIA-B, `casia-b-cpu` preset, dev split (train 001-050, test 051-074),
  no validation subjects (so no checkpoint is ever chosen by looking at test subjects: every
  row is its phase's final checkpoint);
- `accuracy-synthetic`: the `demo` preset on its generated data, exactly as `make demo` trains.

Configurations that share a prefix share its training: one chain ssl -> supervised -> hybrid is
evaluated after each phase (rows "SSL alone", "SSL -> CE", "full pipeline"), one chain from
scratch supervised -> hybrid gives "CE only" and the ablation "CE -> CE+triplet without SSL".
A row's wall time is the training time of every phase it needs (shared phases counted in every
row that needs them), so rows compare as if each had been trained on its own.

Progress is kept in `results.json` in the suite's work folder: finished phases and evaluations
are not redone when the suite is run again; a phase that was not finished starts over.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from logged import read_json, run_logged

ACCURACY_SUITES = ("accuracy-synthetic", "accuracy-casia-b")
PHASES = ("ssl", "supervised", "hybrid")


@dataclass(frozen=True)
class Chain:
    """Phases trained one after another in one run directory, with extra config overrides."""

    name: str
    phases: tuple[str, ...]
    overrides: tuple[str, ...] = ()
    ssl_steps_scale: int = 1  # SSL steps = the suite's SSL steps x this

    def all_overrides(self, suite_ssl_steps: int) -> list[str]:
        scaled = [f"phase.ssl.steps={suite_ssl_steps * self.ssl_steps_scale}"] if self.ssl_steps_scale != 1 else []
        return [*self.overrides, *scaled]


@dataclass(frozen=True)
class Row:
    """One line of the accuracy table: a chain evaluated after one of its phases (or the GEI baseline)."""

    key: str
    label: str
    chain: str  # chain name; for the GEI baseline, the chain whose evaluation also scored GEI
    after: str  # phase whose final checkpoint is evaluated; "gei" for the baseline

    @property
    def evaluation(self) -> str:
        """The phase whose evaluation holds this row (the GEI baseline is scored beside the final phase's)."""
        return "hybrid" if self.after == "gei" else self.after


CHAINS = (
    Chain("pipeline", PHASES),
    Chain("scratch", ("supervised", "hybrid"), ("phase.supervised.init_from=",)),
    Chain("hybrid-scratch", ("hybrid",), ("phase.hybrid.init_from=",)),
    Chain("frame-cnn", PHASES, ("model.name=frame-cnn", "model.bins=[1]", "model.widths=null", "model.embedding_dim=null")),
    Chain("long-ssl", PHASES, ssl_steps_scale=4),
)

ROWS = (
    Row("ce", "1. cross-entropy only, from scratch", "scratch", "supervised"),
    Row("ce-triplet", "2. cross-entropy + triplet, from scratch", "hybrid-scratch", "hybrid"),
    Row("ssl-ce", "3. SSL, then cross-entropy", "pipeline", "supervised"),
    Row("full", "4. SSL, then CE, then CE + triplet (full pipeline)", "pipeline", "hybrid"),
    Row("ssl-knn", "5. SSL alone (nearest neighbour on its embeddings, no labels)", "pipeline", "ssl"),
    Row("frame-cnn", "6. frame-level CNN, same three phases", "frame-cnn", "hybrid"),
    Row("gei", "7. gait energy image + nearest neighbour", "pipeline", "gei"),
    Row("ce-hybrid", "ablation: CE, then CE + triplet, no SSL (row 4 without its SSL phase)", "scratch", "hybrid"),
    Row("long-ssl-knn", "ablation: SSL alone with 4x the SSL steps (row 5, longer)", "long-ssl", "ssl"),
    Row("long-ssl-full", "ablation: full pipeline with 4x the SSL steps (row 4, longer SSL)", "long-ssl", "hybrid"),
)


@dataclass(frozen=True)
class Suite:
    preset: str
    split: str
    overrides: tuple[str, ...]
    quick_overrides: tuple[str, ...]
    needs_casia_b: bool


SUITES = {
    "accuracy-casia-b": Suite(
        preset="casia-b-cpu",
        split="casia-b/dev",
        overrides=("data.split=casia-b/dev", "data.validation=none"),
        quick_overrides=("phase.ssl.steps=40", "phase.supervised.steps=150", "phase.hybrid.steps=150",
                         "phase.supervised.freeze_early_steps=10", "phase.ssl.schedule.warmup_steps=5",
                         "phase.supervised.schedule.warmup_steps=5"),
        needs_casia_b=True,
    ),
    "accuracy-synthetic": Suite(
        preset="demo",
        split="synthetic",
        overrides=(),
        quick_overrides=("data.synthetic.subjects=16", "phase.ssl.steps=20", "phase.supervised.steps=80",
                         "phase.hybrid.steps=80"),
        needs_casia_b=False,
    ),
}

TRAIN_LINE = re.compile(r"^(ssl|supervised|hybrid): (\d+) steps in (\d+) s \((\d+) frames/s\)", re.M)


def gaitreid_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "gaitreid", *args]


class Progress:
    """results.json of a suite: what has been trained and evaluated, rewritten after every step."""

    def __init__(self, path: Path, fresh: bool):
        self.path = path
        self.data = {} if fresh else read_json(path)

    def get(self, *keys: str):
        node = self.data
        for k in keys:
            node = node.get(k) if isinstance(node, dict) else None
        return node

    def drop(self, *keys: str) -> None:
        parent = self.get(*keys[:-1])
        if isinstance(parent, dict) and parent.pop(keys[-1], None) is not None:
            self._save()

    def put(self, value, *keys: str) -> None:
        node = self.data
        for k in keys[:-1]:
            node = node.setdefault(k, {})
        node[keys[-1]] = value
        self._save()

    def _save(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.data, indent=1))
        tmp.replace(self.path)


def run_accuracy_suite(name: str, *, quick: bool, casia_tree: Path | None, work: Path, fresh: bool) -> None:
    """Train every chain of the suite, evaluate each row, record everything in work/results.json."""
    suite = SUITES[name]
    work.mkdir(parents=True, exist_ok=True)
    progress = Progress(work / "results.json", fresh)
    if suite.needs_casia_b and casia_tree is None:
        print(f"{name}: skipped (no CASIA-B tree)")
        progress.put("no CASIA-B tree: --casia-b not given and ../shared/datasets/casia-b absent", "skipped")
        return
    progress.data.pop("skipped", None)
    overrides = [f"data.cache_root={work / 'cache'}", *suite.overrides, *(suite.quick_overrides if quick else ())]
    if suite.needs_casia_b:
        overrides.append(f"data.source={casia_tree}")

    store_path, ssl_steps = prepare_data(name, suite, overrides, progress, work)
    progress.put({"preset": suite.preset, "split": suite.split, "overrides": overrides, "quick": quick}, "suite")

    for chain in CHAINS:
        run_dir = work / chain.name
        chain_overrides = [*overrides, *chain.all_overrides(ssl_steps)]
        for phase in chain.phases:
            if progress.get("train", chain.name, phase):
                continue
            # not recorded: never run, killed part-way, or --fresh. Start it over so that its wall
            # time is the whole phase's, not the remainder after a resume.
            shutil.rmtree(run_dir / phase, ignore_errors=True)
            for later in chain.phases[chain.phases.index(phase):]:  # results that came from the old weights
                progress.drop("train", chain.name, later)
                progress.drop("eval", chain.name, later)
            argv = gaitreid_command("train", phase, "--preset", suite.preset, "--run-dir", str(run_dir),
                                    *[a for o in chain_overrides for a in ("--set", o)])
            print(f"{name}/{chain.name}/{phase}: training", flush=True)
            log = run_dir / f"train-{phase}.log"
            seconds = run_logged(argv, log)
            found = [m for m in TRAIN_LINE.finditer(log.read_text()) if m.group(1) == phase]
            if not found:
                raise RuntimeError(f"{log}: no '{phase}: N steps in S s' line; the trainer's output changed?")
            steps, train_s, fps = (int(found[-1].group(i)) for i in (2, 3, 4))
            progress.put({"steps": steps, "wall_s": round(seconds, 1), "trainer_s": train_s, "frames_per_s": fps,
                          "command": _display(argv)}, "train", chain.name, phase)
            print(f"{name}/{chain.name}/{phase}: {steps} steps, {seconds:.0f} s", flush=True)

    for row in ROWS:
        phase = row.evaluation
        if progress.get("eval", row.chain, phase):
            continue
        with_gei = any(r.after == "gei" and (r.chain, r.evaluation) == (row.chain, phase) for r in ROWS)
        out_dir = work / row.chain / f"eval-{phase}"
        argv = gaitreid_command("evaluate", str(work / row.chain / phase), "--data", str(store_path),
                                "--split", suite.split, "--out", str(out_dir), *([] if with_gei else ["--no-baseline"]))
        print(f"{name}/{row.chain}/{phase}: evaluating", flush=True)
        seconds = run_logged(argv, out_dir / "evaluate.log")
        metrics = json.loads((out_dir / "metrics.json").read_text())
        progress.put({"wall_s": round(seconds, 1), "command": _display(argv), "metrics": _headline(metrics)},
                     "eval", row.chain, phase)


def prepare_data(name: str, suite: Suite, overrides: list[str], progress: Progress, work: Path) -> tuple[str, int]:
    """Build (or open the cached) store once, timed apart from training; return its path and the
    configuration's SSL steps."""
    from gaitreid.config import load_config
    from gaitreid.training.data import prepare_store

    config = load_config(preset=suite.preset, overrides=overrides)
    if progress.get("data", "store") and Path(progress.get("data", "store")).is_dir():
        return progress.get("data", "store"), config.phase.ssl.steps
    print(f"{name}: preparing data", flush=True)
    start = time.time()
    store = prepare_store(config.data)
    seconds = time.time() - start
    progress.put({"store": str(store.path), "wall_s": round(seconds, 1), "sequences": len(store),
                  "frames": int(store.num_frames), "subjects": len(store.subjects),
                  "frame_size": list(store.frame_shape)}, "data")
    return str(store.path), config.phase.ssl.steps


def _headline(metrics: dict) -> dict:
    keep = ("rank1", "mAP", "mean_rank1", "mean_mAP", "subjects", "num_sequences", "seconds", "cross_view")
    out = {k: metrics.get(k) for k in keep}
    out["num_subjects"] = len(metrics.get("subjects") or [])
    out.pop("subjects")
    if metrics.get("baseline"):
        out["baseline"] = {k: metrics["baseline"].get(k) for k in ("rank1", "mAP", "mean_rank1", "mean_mAP")}
    return out


def _display(argv: list[str]) -> str:
    """The command as a user would type it (gaitreid ... instead of the venv's python -m)."""
    words = ["gaitreid", *argv[3:]] if argv[1:3] == ["-m", "gaitreid"] else argv
    return " ".join(words)
