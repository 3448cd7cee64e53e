"""The evaluation engine on a deterministic fake LM: bookkeeping, unknown labels, outputs on disk."""

from __future__ import annotations

import json

from ftscope.evaluation import EvalSpec, SuiteSpec, evaluate, run_suite
from ftscope.tasks import Catalogue


class KeywordLM:
    """Scores a label by whether the prompt mentions it: a real, if simple, decision rule."""

    def __init__(self):
        self.prefixes: list[str] = []

    def score_choices(self, prefix, prompts, choices, scoring):
        self.prefixes.append(prefix)
        return [[float(c in p.lower()) - i * 1e-3 for i, c in enumerate(choices)] for p in prompts]

    def generate(self, prefix, prompts, max_new_tokens, stop):
        self.prefixes.append(prefix)
        return [" ".join(p.split()[2:8]) + "\n\nignored" for p in prompts]


def test_classification_counts_and_excludes_unknown_labels(paper_data):
    snli = Catalogue(paper_data).test("snli")
    result = evaluate(KeywordLM(), snli, EvalSpec("snli", shots=0, limit=None))
    assert result.metrics["n_unknown_label"] == 7
    assert result.metrics["n"] == 493
    assert "left out of every score" in result.notes[0]
    counts = result.metrics["labels"]
    assert sum(c["gold"] for c in counts.values()) == 493


def test_fewshot_prefix_is_shared_and_built_from_demos(paper_data):
    lm = KeywordLM()
    evaluate(lm, Catalogue(paper_data).test("sst2"), EvalSpec("sst2", shots=2, limit=5))
    assert lm.prefixes[0].count("### Sentiment:") == 2 and lm.prefixes[0].endswith("\n\n")


def test_generation_is_stripped_and_scored(paper_data):
    result = evaluate(KeywordLM(), Catalogue(paper_data).test("xsum"), EvalSpec("xsum", limit=3))
    assert result.metrics["n"] == 3 and 0 <= result.metrics["rougeL"] <= 1
    assert all("rougeL" in p.scores for p in result.predictions)


def test_suite_writes_files_and_survives_a_missing_dataset(paper_data, tmp_path):
    said: list[str] = []
    suite = SuiteSpec(("sst2", "gptnli", "xsum"), shots=(0, 1), limit=4)
    summary = run_suite(KeywordLM(), Catalogue(paper_data), suite, tmp_path, {"model": "fake"}, say=said.append)
    assert "gptnli" in summary["missing"] and any("gptnli" in s for s in said)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert set(metrics["results"]) == {"sst2", "xsum"} and set(metrics["results"]["sst2"]) == {"0", "1"}
    rows = (tmp_path / "predictions.jsonl").read_text().splitlines()
    assert len(rows) == 2 * 4 * 2
    row = json.loads(rows[0])
    assert {"id", "prediction", "gold", "correct", "scores", "dataset", "shots"} <= set(row)
