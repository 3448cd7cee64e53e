"""The base SmolLM2 on every shared paper dataset, 0-shot and k-shot, both templates, a small limit."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest

from ftscope.evaluation import evaluate
from ftscope.models import language_model, load_model
from ftscope.specs import EvalSpec
from ftscope.tasks import PAPER_DATASETS, Catalogue

pytestmark = pytest.mark.integration
LIMIT = 4


@pytest.fixture(scope="module")
def smollm2(smollm2_dir):
    return language_model(load_model(str(smollm2_dir)))


@pytest.mark.slow  # every shared dataset, both templates: ~70 s each
@pytest.mark.parametrize("template", ["p1", "p2"])
def test_every_shared_dataset_gives_sane_metrics(smollm2, paper_data, template):
    cat = Catalogue(paper_data)
    found = cat.resolve(["paper"])
    assert len(found.names) == 14  # every test file the shared folder holds; the rest are named as unavailable
    for name in found.names:
        for shots in (0, 2):
            metrics = evaluate(smollm2, cat.test(name), EvalSpec(name, shots, template, limit=LIMIT,
                                                                 max_new_tokens=24)).metrics
            if cat.task_of(name).is_classification:
                assert 0.0 <= metrics["accuracy"] <= 1.0
                assert metrics["n"] + metrics["n_unknown_label"] == LIMIT
            else:
                assert 0.0 <= metrics["rougeL"] <= 1.0 and not math.isnan(metrics["bleu"])


def test_in_context_examples_help_the_base_model_on_sentiment(smollm2, paper_data):
    """A sanity check on real numbers: 4 demonstrations lift SST-2 well above chance."""
    result = evaluate(smollm2, Catalogue(paper_data).test("sst2"), EvalSpec("sst2", 4, scoring="loglik", limit=60))
    assert result.metrics["accuracy"] > 0.65


def test_cli_eval_end_to_end(tmp_path, smollm2_dir, paper_data):
    out = tmp_path / "eval"
    result = subprocess.run(
        [sys.executable, "-c", "from ftscope.cli import main; main()", "eval", "-m", str(smollm2_dir),
         "-d", "sst2", "-d", "rte", "--shots", "0,2", "--limit", "3", "--template", "p1,p2",
         "--scoring", "loglik", "--out", str(out), "--data-dir", str(paper_data)],
        capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    for template in ("p1", "p2"):
        metrics = json.loads((out / template / "metrics.json").read_text())
        assert set(metrics["results"]) == {"sst2", "rte"}
        assert "accuracy_norm" in metrics["results"]["rte"]["2"]
    assert (out / "index.sqlite").is_file()  # a store: a rerun reuses every cell
    again = subprocess.run(
        [sys.executable, "-c", "from ftscope.cli import main; main()", "eval", "-m", str(smollm2_dir),
         "-d", "sst2", "--shots", "0", "--limit", "3", "--template", "p1", "--scoring", "loglik", "--out", str(out),
         "--data-dir", str(paper_data)], capture_output=True, text=True, timeout=600)
    assert again.returncode == 0 and "done" in again.stderr
