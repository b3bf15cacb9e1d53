"""The benchmark runner's plumbing: a step as a subprocess with its output in a log file, the
results it left as JSON, and commands shown with repository-relative paths."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_logged(argv: list[str], log_path: Path, cwd: Path = ROOT) -> float:
    """Run `argv` with stdout and stderr in `log_path`; return its wall time in seconds.

    A failure raises with the command, the exit code and the log's last lines."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    start = time.time()
    with open(log_path, "w") as log:
        log.write("$ " + " ".join(argv) + "\n")
        log.flush()
        code = subprocess.call(argv, stdout=log, stderr=subprocess.STDOUT, cwd=cwd)
    if code != 0:
        tail = log_path.read_text().splitlines()[-15:]
        raise RuntimeError(f"{' '.join(argv)} failed (exit {code}); see {log_path}:\n" + "\n".join(tail))
    return time.time() - start


def relative(arg: str) -> str:
    """A path inside the repository as a relative path (for commands shown in BENCHMARKS.md)."""
    if not arg.startswith("/"):
        return arg
    try:
        return str(Path(arg).resolve().relative_to(ROOT))
    except (ValueError, OSError):
        return arg


def display_command(command: str) -> str:
    """A recorded command with repository paths made relative, also inside KEY=VALUE words."""
    words = []
    for word in command.split(" "):
        key, sep, value = word.partition("=")
        words.append(f"{key}={relative(value)}" if sep else relative(word))
    return " ".join(words)


def read_json(path: Path) -> dict:
    """A results file ({} when absent); a damaged one stops the run with its name and the way out."""
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text())
    except ValueError as err:
        raise SystemExit(f"{path}: not valid JSON ({err}); delete it to redo that stage, or rerun with --fresh") from err
