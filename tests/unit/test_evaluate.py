"""The evaluation engine on a deterministic fake LM: bookkeeping, unknown labels, outputs on disk."""

from __future__ import annotations

import json

import pytest

from ftscope.errors import DataError
from ftscope.evaluation import evaluate
from ftscope.specs import EvalSpec
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


def test_a_dataset_without_any_known_label_is_one_line(paper_data, tmp_path):
    (tmp_path / "meh.jsonl").write_text('{"input": "fine", "output": "meh"}\n')
    cat = Catalogue(paper_data).resolve([str(tmp_path / "meh.jsonl")], "sentiment").catalogue
    with pytest.raises(DataError, match="none of its labels is one of positive, negative"):
        evaluate(KeywordLM(), cat.test("meh"), EvalSpec("meh"))


class CuttingLM(KeywordLM):
    """A fake that, like the real scorer, counts prompts it had to cut to fit its context."""

    max_length, truncated = 16, 0

    def score_choices(self, prefix, prompts, choices, scoring):
        self.truncated += sum(len((prefix + p).split()) > self.max_length for p in prompts)
        return super().score_choices(prefix, prompts, choices, scoring)


def test_inputs_longer_than_the_context_are_a_note_or_an_error(paper_data, tmp_path):
    rows = [{"input": "word " * (30 if i < 2 else 3), "output": "positive"} for i in range(4)]
    (tmp_path / "mix.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    cat = Catalogue(paper_data).resolve([str(tmp_path / "mix.jsonl")], "sentiment").catalogue
    result = evaluate(CuttingLM(), cat.test("mix"), EvalSpec("mix"))
    assert result.metrics["n_truncated"] == 2 and "longer than the model's context (16 tokens)" in result.notes[0]
    (tmp_path / "long.jsonl").write_text(json.dumps(rows[0]) + "\n")
    cat = Catalogue(paper_data).resolve([str(tmp_path / "long.jsonl")], "sentiment").catalogue
    with pytest.raises(DataError, match="every input is longer than the model's context"):
        evaluate(CuttingLM(), cat.test("long"), EvalSpec("long"))


def test_summary_gathers_done_cells_into_two_files(tmp_path):
    from ftscope.experiments.files import CellResult
    from ftscope.experiments.store import Store
    from ftscope.experiments.summary import summarise
    from ftscope.specs import EvalCell, ModelRef, cell_hash

    store = Store(tmp_path / "store")
    cells = [EvalCell(ModelRef("m"), EvalSpec(d, shots=k, limit=2), "sentiment", "classification")
             for d in ("sst2", "amazon") for k in (0, 1)]
    store.register("e", cells)
    for cell in cells[:3]:  # the last one never ran
        rows = [{"id": str(i), "prediction": "positive", "gold": "positive", "correct": True} for i in range(2)]
        store.files(cell_hash(cell)).write_result(CellResult({"accuracy": 1.0, "n": 2}, rows))
    summary = summarise(store, cells, {"gptnli": "no file"}, tmp_path / "out")
    assert set(summary["results"]) == {"sst2", "amazon"} and set(summary["results"]["amazon"]) == {"0"}
    assert summary["missing"] == {"gptnli": "no file"}
    lines = [json.loads(x) for x in (tmp_path / "out" / "predictions.jsonl").read_text().splitlines()]
    assert len(lines) == 6 and {"dataset", "shots", "template", "id", "prediction"} <= set(lines[0])
    assert json.loads((tmp_path / "out" / "metrics.json").read_text())["results"]["sst2"]["1"]["n"] == 2
