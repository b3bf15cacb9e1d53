"""The benchmark assembler: BENCHMARKS.md tables and the README summary come from the run results."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import accuracy  # noqa: E402
import render  # noqa: E402
import run_all  # noqa: E402

MACHINE = {"date": "2026-01-01 00:00 UTC", "cores": 2, "cpu": "test CPU", "memory_gib": 1.0}


def _metrics(nm: float, bg: float, cl: float, baseline: dict | None = None) -> dict:
    m = {"rank1": {"nm": nm, "bg": bg, "cl": cl}, "mAP": {"nm": nm - 1, "bg": bg - 1, "cl": cl - 1},
         "mean_rank1": (nm + bg + cl) / 3, "mean_mAP": (nm + bg + cl) / 3 - 1, "num_sequences": 40,
         "num_subjects": 4, "seconds": {"embed": 2.0, "protocol": 0.5, **({"gei_baseline": 0.25} if baseline else {})}}
    if baseline:
        m["baseline"] = baseline
    return m


def _results() -> dict:
    """A suite's results.json where every row but frame-cnn ran."""
    train = {
        "pipeline": {"ssl": {"steps": 10, "wall_s": 5.0}, "supervised": {"steps": 20, "wall_s": 10.0},
                     "hybrid": {"steps": 20, "wall_s": 12.0}},
        "scratch": {"supervised": {"steps": 20, "wall_s": 9.0}, "hybrid": {"steps": 20, "wall_s": 11.0}},
        "hybrid-scratch": {"hybrid": {"steps": 20, "wall_s": 13.0}},
    }
    for chain in train.values():
        for phase in chain.values():
            phase["command"] = "gaitreid train ..."
    gei = {"rank1": {"nm": 30.0, "bg": 20.0, "cl": 10.0}, "mAP": {"nm": 1.0, "bg": 1.0, "cl": 1.0},
           "mean_rank1": 20.0, "mean_mAP": 1.0}
    evals = {
        "pipeline": {"ssl": _metrics(40, 30, 20), "supervised": _metrics(60, 50, 40), "hybrid": _metrics(70, 60, 50, gei)},
        "scratch": {"supervised": _metrics(50, 40, 30), "hybrid": _metrics(55, 45, 35)},
        "hybrid-scratch": {"hybrid": _metrics(52, 42, 32)},
    }
    evals = {c: {p: {"wall_s": 3.0, "command": "gaitreid evaluate ...", "metrics": m} for p, m in ph.items()}
             for c, ph in evals.items()}
    return {"suite": {"preset": "demo", "split": "synthetic", "quick": False},
            "data": {"store": "/x", "wall_s": 1.0, "sequences": 40, "frames": 1000, "subjects": 4, "frame_size": [32, 22]},
            "train": train, "eval": evals}


def test_rows_take_each_configuration_from_its_chain_and_phase():
    rows = render._rows(_results())
    assert rows["full"]["mean"] == pytest.approx(60.0)
    assert rows["ssl-ce"]["nm"] == 60
    assert rows["ssl-knn"]["mean"] == pytest.approx(30.0)
    assert rows["ce"]["mean"] == pytest.approx(40.0)
    assert rows["ce-hybrid"]["mean"] == pytest.approx(45.0)
    assert rows["gei"]["mean"] == 20.0 and rows["gei"]["eval_s"] == 0.25
    assert "frame-cnn" not in rows
    # a row's training time counts every phase it needs: full = ssl + supervised + hybrid
    assert rows["full"]["train_s"] == pytest.approx(27.0)
    assert rows["ce-hybrid"]["train_s"] == pytest.approx(20.0)
    assert rows["full"]["steps"] == "10 + 20 + 20"


def test_contributions_name_the_largest_difference():
    lines = render._contributions(render._rows(_results()))
    assert lines[0].startswith("SSL before cross-entropy (row 3 - row 1): +10.0 points")  # 50 - 40
    assert lines[1].startswith("the hybrid phase after SSL + CE (row 4 - row 3): +10.0")  # 60 - 50
    assert lines[2].startswith("the hybrid phase after CE, without SSL") and "+5.0" in lines[2]  # 45 - 40
    assert lines[3].startswith("SSL in the full pipeline (row 4 - ablation): +15.0")  # 60 - 45
    assert lines[4].startswith("the triplet term at equal steps") and "+2.0" in lines[4]  # 42 - 40
    assert lines[-1] == "largest contribution: SSL in the full pipeline (row 4 - ablation) (+15.0 points)"


def test_markdown_has_the_table_and_marks_what_did_not_run():
    text = render.render_benchmarks({"accuracy-synthetic": _results(), "accuracy-casia-b": {}}, {},
                                    mode="full", machine=MACHINE, source="bench-runs/full")
    table_line = next(line for line in text.splitlines() if line.startswith("| 4. SSL, then CE"))
    assert "| 70.0 | 60.0 | 50.0 | **60.0** |" in table_line
    assert "| 6. frame-level CNN, same three phases | not run |" in text
    assert "### Real CASIA-B\n\nNot run." in text
    assert "### Models: training and inference\n\nNot run." in text
    assert "chance rank-1 25.0%" in text


def test_readme_summary_block_is_replaced_and_the_rest_kept(tmp_path):
    start, end = run_all.README_MARKERS
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{start}\n- old figure\n{end}\nafter\n")
    run_all.update_readme_summary(["first line", "second line"], readme)
    assert readme.read_text() == f"intro\n{start}\n- first line\n- second line\n{end}\nafter\n"
    readme.write_text("no markers\n")
    run_all.update_readme_summary(["x"], readme)
    assert readme.read_text() == "no markers\n"


def test_summary_lines_quote_the_real_data_rows():
    lines = render.summary_lines({"accuracy-casia-b": _results()}, {})
    assert len(lines) == 1
    assert "mean rank-1 60.0%" in lines[0] and "40.0% for cross-entropy alone" in lines[0]
    assert "20.0% for GEI" in lines[0] and "largest contribution: SSL in the full pipeline" in lines[0]


def test_without_casia_b_the_real_data_stages_are_left_out(tmp_path):
    stages = run_all.speed_stages(quick=True, casia_tree=None, work=tmp_path)
    assert "data" not in stages and "--no-real" in stages["synth_difficulty"]
    stages = run_all.speed_stages(quick=True, casia_tree=tmp_path, work=tmp_path)
    assert stages["data"][-2:] == ["--casia-b", str(tmp_path)]


def test_progress_survives_a_restart(tmp_path):
    progress = accuracy.Progress(tmp_path / "results.json", fresh=False)
    progress.put({"steps": 3}, "train", "pipeline", "ssl")
    again = accuracy.Progress(tmp_path / "results.json", fresh=False)
    assert again.get("train", "pipeline", "ssl") == {"steps": 3}
    assert again.get("train", "pipeline", "hybrid") is None
    again.drop("train", "pipeline", "ssl")
    assert accuracy.Progress(tmp_path / "results.json", fresh=False).get("train", "pipeline") == {}
    again.put({"steps": 3}, "train", "pipeline", "ssl")
    assert accuracy.Progress(tmp_path / "results.json", fresh=True).get("train") is None
    assert json.loads((tmp_path / "results.json").read_text())["train"]["pipeline"]["ssl"]["steps"] == 3


def test_render_only_writes_the_file_from_a_work_folder(tmp_path, monkeypatch):
    suite = tmp_path / "accuracy-synthetic"
    suite.mkdir()
    (suite / "results.json").write_text(json.dumps(_results()))
    out = tmp_path / "B.md"
    monkeypatch.setattr(sys, "argv", ["run_all.py", "--render-only", "--work", str(tmp_path), "--out", str(out)])
    assert run_all.main() == 0
    text = out.read_text()
    assert text.startswith("# Benchmarks") and "| **60.0** |" in text and "### Real CASIA-B\n\nNot run." in text


def test_a_damaged_results_file_is_named(tmp_path):
    (tmp_path / "results.json").write_text('{"train": ')
    with pytest.raises(SystemExit, match="results.json: not valid JSON"):
        accuracy.Progress(tmp_path / "results.json", fresh=False)
    assert accuracy.Progress(tmp_path / "results.json", fresh=True).data == {}
