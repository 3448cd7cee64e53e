"""`ftscope audit` on the packaged SmolLM2: a LoRA trained here on Amazon reviews, audited with only its folder
given (the base and the training data come from its manifest) on SST-2 and two local lm-evaluation-harness tasks;
every cell done, the benchmarks paired with the base's, and the base's benchmark scores the ones
`evaluate_lm_eval` gives for the same model, task and items."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]  # SmolLM2 twice over a suite: ~1 min
# (tests/unit/test_audit.py runs the same paths end to end on tiny models)
lm_eval = pytest.importorskip("lm_eval")

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "lm_eval"
TASKS = ("arc_like", "hellaswag_like")
LIMIT = 20


@pytest.fixture(scope="module")
def audited(tmp_path_factory, paper_data, smollm2_dir):
    from ftscope.specs import TrainSpec
    from ftscope.tasks import Catalogue
    from ftscope.training import train

    root = tmp_path_factory.mktemp("audit-smollm2")
    spec = TrainSpec(model="smollm2-135m", method="lora", datasets=("amazon",), n=16, epochs=1, checkpoint_every=0)
    tuned = train(spec, root / "amazon-lora", Catalogue(paper_data))
    args = ["audit", str(tuned), "--suite", "sst2", "--shots", "0", "--limit", str(LIMIT),
            *[a for t in TASKS for a in ("--lm-eval-task", t)], "--lm-eval-include", str(FIXTURES),
            "--data-dir", str(paper_data), "--store", str(root / "store"), "--out", str(root / "report")]
    done = subprocess.run([sys.executable, "-c", "from ftscope.cli import main; main()", *args], capture_output=True,
                          text=True, timeout=1200, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    return root, tuned


def test_every_cell_is_done_with_roles_from_the_manifest(audited):
    from ftscope.experiments.store import Store

    root, tuned = audited
    rows = Store(root / "store").rows()
    assert {r["status"] for r in rows} == {"done"} and len(rows) == 2 * (1 + len(TASKS))
    assert {r["cell"].model.key for r in rows} == {"base:smollm2-135m", f"path:{tuned}"}
    roles = {(r["cell"].model.is_base, r["cell"].spec.dataset): r["cell"].role for r in rows}
    assert roles[(False, "sst2")] == "out-of-domain"  # trained on amazon, read from its manifest
    assert all(roles[(b, f"lm-eval:{t}")] is None for b in (True, False) for t in TASKS)


def test_benchmarks_are_paired_in_the_report(audited):
    root, _ = audited
    cells = json.loads((root / "report" / "tables" / "cells.json").read_text())
    bench = [c for c in cells if c["task_kind"] == "benchmark"]
    assert len(bench) == 4 and all(c["n_examples"] == LIMIT and c["metric"] == "accuracy" for c in bench)
    reasons = [r["reason"] for r in json.loads((root / "report" / "tables" / "claim_reasons.json").read_text())
               if r["claim"] == "G"]
    assert not any("no lm-evaluation-harness cells" in r for r in reasons)


def test_the_base_scores_are_evaluate_lm_evals(audited, smollm2_dir):
    """The cell ran evaluate_lm_eval on the same model, task and items in another process: items whose best two
    choices are within float noise may go either way there (see test_lm_eval_model.py's TIE), so the two
    accuracies agree to within one item of 20."""
    from ftscope.evaluation.lm_eval import evaluate_lm_eval
    from ftscope.experiments.store import Store
    from ftscope.models import language_model, load_model

    root, _ = audited
    lm = language_model(load_model("smollm2-135m"))
    cells = {r["cell"].spec.dataset: r for r in Store(root / "store").rows() if r["cell"].model.is_base}
    for task in TASKS:
        direct = evaluate_lm_eval(lm, task, 0, LIMIT, str(FIXTURES))
        stored = json.loads((Path(cells[f"lm-eval:{task}"]["dir"]) / "metrics.json").read_text())
        assert abs(stored["accuracy"] - direct.metrics["accuracy"]) <= 1 / LIMIT + 1e-12
