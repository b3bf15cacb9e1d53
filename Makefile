# Two commands do all the set-up on a fresh machine:
#   make demo   # creates .venv, installs pinned deps, runs the whole pipeline on generated data
#   make test   # creates .venv, installs pinned deps, runs the test suite
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-all bench bench-quick clean

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/gaitreid run --preset demo

test: $(STAMP)
	$(BIN)/python -m pytest -q

test-all: $(STAMP)
	$(BIN)/python -m pytest -q --runslow

# Regenerate BENCHMARKS.md (speed of every stage + the accuracy table; about 1.5 hours on 2 cores).
# Results are kept in bench-runs/: an interrupted run continues; add ARGS=--fresh to redo everything.
bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py $(ARGS)

# The same with small sizes and step budgets, into bench-runs/quick/BENCHMARKS.md: a check of the
# machinery, not figures to quote (about 35 minutes measured on 2 shared cores, most of it evaluating).
bench-quick: $(STAMP)
	$(BIN)/python benchmarks/run_all.py --quick $(ARGS)

clean:
	rm -rf $(VENV) runs cache bench-runs
