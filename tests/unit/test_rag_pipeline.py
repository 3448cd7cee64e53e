"""run_rag end to end with fake language models; prompts, truncation and the judge parser."""

import json

import pytest

from ftscope.errors import ConfigError, DataError
from ftscope.rag import RagSpec, run_rag
from ftscope.rag.judge import parse_ratings
from ftscope.rag.prompting import build_prompt, fill, truncate
from ftscope.results import read_jsonl

SQUAD = {"data": [
    {"title": "Rivers", "paragraphs": [
        {"context": "Nile is the longest river in Africa.",
         "qas": [{"id": "q1", "question": "Which river is the longest in Africa?", "answers": [{"text": "Nile"}]}]},
        {"context": "Paris is the capital of France.",
         "qas": [{"id": "q2", "question": "What is the capital of France?", "answers": [{"text": "Paris"}]},
                 {"id": "q3", "question": "No answer here?", "answers": []}]},
        {"context": "Penguins cannot fly " + "very " * 30 + "well.",
         "qas": [{"id": "q4", "question": "Can penguins fly?", "answers": [{"text": "cannot fly"}]}]},
    ]},
]}  # fmt: skip


class EchoContext:
    """A fake LM that answers with the first word of its context: deterministic, and right exactly
    when the top passage starts with the answer."""

    def __init__(self):
        self.prompts = []

    def generate(self, prefix, prompts, max_new_tokens, stop):
        self.prompts += list(prompts)
        return [p.split("Context:\n", 1)[1].split()[0] + "\nignored second line" for p in prompts]


class FixedJudge:
    def generate(self, prefix, prompts, max_new_tokens, stop):
        return ["accuracy=4 completeness=2", "no idea", "Accuracy: 5, Completeness: 5"][: len(prompts)]


@pytest.fixture
def squad(tmp_path, monkeypatch):
    monkeypatch.setenv("FTSCOPE_CACHE", str(tmp_path / "cache"))
    path = tmp_path / "rivers.json"
    path.write_text(json.dumps(SQUAD))
    return str(path)


def test_run_rag_writes_predictions_and_metrics(squad, tmp_path):
    lm = EchoContext()
    spec = RagSpec(corpus=squad, k=1, passage_budget=10)
    metrics = run_rag(spec, lm, tmp_path / "out")
    summary = metrics["rag"]["rivers"]
    assert summary["n"] == 3 and summary["skipped_no_answer"] == 1
    assert summary["truncated"] == 1  # the penguin paragraph is 35 words > 10
    assert summary["em"] == pytest.approx(2 / 3) and "em_se" in summary
    assert summary["recall@1"] == 1.0 and summary["mrr"] == 1.0
    assert json.loads((tmp_path / "out" / "metrics.json").read_text()) == metrics
    rows = read_jsonl(tmp_path / "out" / "predictions.jsonl")
    assert [(r["id"], r["prediction"], r["retrieved"]) for r in rows] == [
        ("q1", "Nile", ["0.0"]), ("q2", "Paris", ["0.1"]), ("q4", "Penguins", ["0.2"])
    ]  # fmt: skip
    assert rows[0]["answers"] == ["Nile"] and rows[0]["metrics"]["f1"] == 1.0
    assert "Question: Which river is the longest in Africa?\nAnswer:" in lm.prompts[0]


def test_limit_and_judge_ratings(squad, tmp_path):
    metrics = run_rag(RagSpec(corpus=squad, k=2, limit=3), EchoContext(), tmp_path / "o", judge=FixedJudge())
    summary = metrics["rag"]["rivers"]
    assert summary["judge_accuracy"] == pytest.approx(4.5) and summary["judge_accuracy_unparsed"] == 1
    assert summary["em"] == pytest.approx(2 / 3)  # the judge sits beside the automatic scores
    rows = read_jsonl(tmp_path / "o" / "predictions.jsonl")
    assert rows[1]["judge"] == {"accuracy": None, "completeness": None}


def test_document_corpus_needs_questions(tmp_path, monkeypatch):
    monkeypatch.setenv("FTSCOPE_CACHE", str(tmp_path / "cache"))
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.txt").write_text("Mount Everest is the highest mountain.")
    with pytest.raises(DataError, match="no questions with a gold answer"):
        run_rag(RagSpec(corpus=str(tmp_path / "docs")), EchoContext(), tmp_path / "o")
    questions = tmp_path / "q.jsonl"
    questions.write_text(json.dumps({"id": "1", "question": "Highest mountain?", "answers": ["Mount Everest"]}))
    spec = RagSpec(corpus=str(tmp_path / "docs"), questions=str(questions))
    summary = run_rag(spec, EchoContext(), tmp_path / "o")["rag"]["docs"]
    assert summary["contains"] == 0.0 and summary["completeness"] == 0.5 and "mrr" not in summary


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"retriever": "bm52"}, "retriever: 'bm52' is not one of bm25, dense, hybrid"),
        ({"k": 0}, "k: 0 must be at least 1"),
        ({"template": "Q: {question}"}, "template: missing {context}"),
        ({"judge_template": "{question}"}, "judge_template: missing {answers}, {prediction}"),
        ({"chunking": "window", "chunk_overlap": 300}, "overlap 300 must be"),
    ],
)
def test_bad_spec_is_a_config_error(kwargs, message):
    with pytest.raises(ConfigError, match=message.replace("{", r"\{").replace("}", r"\}")):
        RagSpec(corpus="x.json", **kwargs)


def test_truncate_keeps_whole_words_within_budget():
    assert truncate("a b c d e", 3) == ("a b c", True)
    assert truncate("a b", 3) == ("a b", False)
    chars = len  # a counter unlike whitespace: the binary search must still find the longest fit
    assert truncate("aa bb cc dd", 8, chars) == ("aa bb cc", True)


def test_build_prompt_and_fill_leave_other_braces_alone():
    built = build_prompt("{context}|{question}|{x}", "Q {question}?", ["p1 {context}", "p2"], 5, len)
    assert built.prompt == "p1\n\np2|Q {question}?|{x}" and built.truncated
    assert fill("{a} {b}", {"a": "{b}"}) == "{b} {b}"


@pytest.mark.parametrize(
    "reply, expected",
    [
        ("accuracy=4 completeness=3", (4, 3)),
        ("Accuracy: 2\nCompleteness: 5", (2, 5)),
        ("4, 3", (4, 3)),
        ("7 out of 10", (None, None)),
        ("3", (3, None)),
    ],
)
def test_parse_ratings(reply, expected):
    ratings = parse_ratings(reply)
    assert (ratings["accuracy"], ratings["completeness"]) == expected
