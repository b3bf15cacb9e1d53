"""Regenerate BENCHMARKS.md: run every benchmark, then write the file from what they produced.

    .venv/bin/python benchmarks/run_all.py            # full: speed + accuracy, writes BENCHMARKS.md
    .venv/bin/python benchmarks/run_all.py --quick    # small sizes and step budgets, writes
                                                      # bench-runs/quick/BENCHMARKS.md
    .venv/bin/python benchmarks/run_all.py --only speed   # or: accuracy-synthetic, accuracy-casia-b

(`make bench` and `make bench-quick` call the first two.)

Every stage writes its figures as JSON under bench-runs/<mode>/ with its log beside it. A stage
whose JSON already exists is not run again (an interrupted `make bench` continues where it
stopped); `--fresh` reruns everything. BENCHMARKS.md is then assembled from those JSON files
only, so no figure in it is typed by hand. Stages run one after the other: timings taken while
another stage ran would be meaningless on a 2-core machine.

Real CASIA-B comes from `--casia-b` (an unpacked pkl tree) or is unpacked from
`../shared/datasets/casia-b` into bench-runs/casia-b; without either, the CASIA-B stages are
skipped and the file says so.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from accuracy import ACCURACY_SUITES, run_accuracy_suite  # noqa: E402
from logged import read_json, relative, run_logged  # noqa: E402
from machine import machine_info  # noqa: E402
from render import load_results, render_benchmarks, summary_lines  # noqa: E402

SHARED_CASIA_B = ROOT.parent / "shared" / "datasets" / "casia-b"


def speed_stages(quick: bool, casia_tree: Path | None, work: Path) -> dict[str, list[str]]:
    """Benchmark name -> its command line (without --json). Full mode uses each script's defaults."""
    q = ["--quick"] if quick else []
    stages = {}
    if casia_tree:  # converting and reading real CASIA-B
        stages["data"] = ["bench_data.py", *q, "--casia-b", str(casia_tree)]
    stages.update({
        "png_decode": ["bench_png_decode.py", *(["--frames", "200"] if quick else [])],
        "synth": ["bench_synth.py", *(["--subjects", "1", "--repeats", "1"] if quick else [])],
        "models": ["bench_models.py", *q],
        "eval": ["bench_eval.py", *q],
        "gallery": ["bench_gallery.py", *q, "--tmpdir", str(work / "gallery-tmp")],
        "export": ["bench_export.py", *q],
    })
    if casia_tree:
        quick_sizes = ["--subjects", "8", "--real-subjects", "051-058"] if quick else []
        stages["synth_difficulty"] = ["bench_synth_difficulty.py", "--real-root", str(casia_tree), *quick_sizes]
    else:
        stages["synth_difficulty"] = ["bench_synth_difficulty.py", "--no-real", *(["--subjects", "8"] if quick else [])]
    return stages


def run_speed(quick: bool, casia_tree: Path | None, work: Path, fresh: bool) -> None:
    (work / "gallery-tmp").mkdir(parents=True, exist_ok=True)
    for name, argv in speed_stages(quick, casia_tree, work).items():
        out = work / "speed" / f"{name}.json"
        if out.is_file() and not fresh:
            print(f"speed/{name}: kept {out}")
            continue
        out.parent.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, str(HERE / argv[0]), *argv[1:], "--json", str(out)]
        print(f"speed/{name}: {' '.join(command[1:])}", flush=True)
        seconds = run_logged(command, out.with_suffix(".log"))
        meta = read_json(out)
        meta["_stage"] = {"command": " ".join(["python", *command[1:]]), "wall_s": round(seconds, 1)}
        out.write_text(json.dumps(meta, indent=1))
        print(f"speed/{name}: {seconds:.0f} s", flush=True)


def find_casia_tree(given: Path | None, work: Path) -> Path | None:
    """The unpacked CASIA-B tree: --casia-b, else unpacked (once) from ../shared, else None."""
    if given:
        if not given.is_dir():
            raise SystemExit(f"--casia-b {given}: no such folder")
        return given
    target = work.parent / "casia-b"
    marker = work.parent / "casia-b.unpacked"  # written after a complete unpack, beside the tree
    if marker.is_file():
        return target
    unpack = SHARED_CASIA_B / "unpack.sh"
    if not unpack.is_file():
        return None
    print(f"unpacking CASIA-B 001-074 from {SHARED_CASIA_B} into {target}", flush=True)
    run_logged(["bash", str(unpack), str(target), "1", "74"], work.parent / "casia-b-unpack.log")
    marker.write_text("001-074\n")
    return target


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes and step budgets: checks the machinery (about half an hour)")
    parser.add_argument("--only", nargs="+", choices=["speed", *ACCURACY_SUITES], help="run only these stages")
    parser.add_argument("--fresh", action="store_true", help="rerun stages whose results already exist")
    parser.add_argument("--casia-b", type=Path, help="an unpacked CASIA-B pkl tree (default: unpack ../shared)")
    parser.add_argument("--work", type=Path, help="results folder (default bench-runs/full or bench-runs/quick)")
    parser.add_argument("--out", type=Path, help="the markdown file (default BENCHMARKS.md; quick: in the work folder)")
    parser.add_argument("--render-only", action="store_true", help="only assemble the file from existing results")
    args = parser.parse_args()

    mode = "quick" if args.quick else "full"
    work = (args.work or ROOT / "bench-runs" / mode).resolve()
    out = args.out or (work / "BENCHMARKS.md" if args.quick else ROOT / "BENCHMARKS.md")
    stages = args.only or ["speed", *ACCURACY_SUITES]
    if not args.render_only:
        casia_tree = find_casia_tree(args.casia_b, work)
        if casia_tree is None:
            print("no CASIA-B (no --casia-b and no ../shared/datasets/casia-b): its stages are skipped")
        for stage in stages:
            if stage == "speed":
                run_speed(args.quick, casia_tree, work, args.fresh)
            else:
                run_accuracy_suite(stage, quick=args.quick, casia_tree=casia_tree, work=work / stage, fresh=args.fresh)
    accuracy, speed = load_results(work)
    text = render_benchmarks(accuracy, speed, mode=mode, machine=machine_info(), source=relative(str(work)))
    out.write_text(text)
    print(f"wrote {out}")
    if out.resolve() == (ROOT / "BENCHMARKS.md").resolve():
        update_readme_summary(summary_lines(accuracy, speed))
    return 0


README_MARKERS = ("<!-- benchmark-summary: written by benchmarks/run_all.py -->", "<!-- /benchmark-summary -->")


def update_readme_summary(lines: list[str], readme: Path = ROOT / "README.md") -> None:
    """Replace the README's summary block with the figures just written to BENCHMARKS.md."""
    text = readme.read_text()
    start, end = README_MARKERS
    if start not in text or end not in text:
        print(f"{readme}: no benchmark summary markers; README left as it is")
        return
    block = "".join(f"- {line}\n" for line in lines)
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    readme.write_text(f"{head}{start}\n{block}{end}{tail}")
    print(f"updated the summary in {readme}")


if __name__ == "__main__":
    sys.exit(main())
