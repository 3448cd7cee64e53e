# Two commands for a fresh clone:  make demo  (set up + run the demo study)  and  make test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export HF_HUB_OFFLINE ?= 1

.PHONY: setup demo test test-all test-fast test-lowest lint bench clean

setup: $(VENV)/.installed

# One line per step; the versions CI tested (constraints.txt); torch pinned to the CPU wheel first.
$(VENV)/.installed: pyproject.toml constraints.txt scripts/setup.sh
	@PYTHON=$(PYTHON) VENV=$(VENV) bash scripts/setup.sh

# The CPU demo study: LoRA on two classification and two generation training sets, two seeds, against the base.
demo: setup
	$(BIN)/ftscope run configs/demo.yaml --workers 2

# `make test` (CI): everything but the tests marked slow (multi-process training, simulated clusters, the
# 200-step LoRA, every dataset twice); `make test-all` adds them (about twice as long). The suite runs on
# TEST_WORKERS processes (pytest-xdist; `auto`: one per core, at most 4), a file's tests on one of them so its
# session fixtures are built once; TEST_WORKERS=0 runs it in this process.
TEST_WORKERS ?= auto
test: setup
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -q -m "not slow" -n $(TEST_WORKERS) --maxprocesses 4 --dist loadfile

test-all: setup
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -q

test-fast: setup
	$(BIN)/python -m pytest -q -m "not integration and not slow"

# The lower bounds in pyproject.toml, proven: a separate venv with the lowest allowed version of every
# direct dependency (torch stays the CPU 2.13.0), then the unit tests.
test-lowest:
	@PYTHON=$(PYTHON) bash scripts/test_lowest.sh

bench: setup
	$(BIN)/python benchmarks/eval_vs_lm_eval.py

clean:
	rm -rf $(VENV) runs out
