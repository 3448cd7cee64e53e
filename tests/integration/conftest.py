"""The uninterrupted run of the small grid (tests/grid_runs.py), once per session: every kill, interrupt and
concurrency test compares its store with it, byte for byte."""

from __future__ import annotations

from pathlib import Path

import pytest
from grid_runs import finish, ftscope_run, results, write_experiment


@pytest.fixture(scope="session")
def reference_store(tmp_path_factory, tiny_model_dir, paper_data) -> Path:
    tmp = tmp_path_factory.mktemp("reference")
    finish(ftscope_run(write_experiment(tmp, "ref", tiny_model_dir, paper_data)))
    return tmp / "ref"


@pytest.fixture(scope="session")
def reference(reference_store) -> dict[str, tuple[str, str]]:
    return results(reference_store)
