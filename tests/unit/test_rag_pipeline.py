"""run_rag end to end with fake language models; prompts, truncation, the training format and the judge."""

import json

import pytest

from ftscope.errors import ConfigError, DataError
from ftscope.rag import check_spec, run_rag
from ftscope.rag.judge import LocalJudge, expected_score, judge_answers
from ftscope.rag.prompting import build_prompt, fill, truncate
from ftscope.specs import RagSpec

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


class ScoreLM:
    """A fake judge model: log-probabilities of the score tokens, favouring 4 for one criterion."""

    def __init__(self):
        self.prompts, self.choices = [], []

    def score_choices(self, prefix, prompts, choices, scoring):
        self.prompts += list(prompts)
        self.choices.append(list(choices))
        favour = 3 if "Accuracy" in prompts[0] else 1  # index of "4" or "2"
        return [[0.0 if i == favour else -50.0 for i in range(len(choices))] for _ in prompts]


@pytest.fixture
def squad(tmp_path, monkeypatch):
    monkeypatch.setenv("FTSCOPE_CACHE", str(tmp_path / "cache"))
    path = tmp_path / "rivers.json"
    path.write_text(json.dumps(SQUAD))
    return str(path)


def test_run_rag_answers_and_scores_each_question(squad):
    lm = EchoContext()
    result = run_rag(RagSpec(corpus=squad, k=1, passage_budget=10), lm)
    summary = result.metrics
    assert result.corpus == "rivers" and summary["n"] == 3 and summary["skipped_no_answer"] == 1
    assert summary["truncated"] == 1  # the penguin paragraph is 35 words > 10
    assert summary["em"] == pytest.approx(2 / 3) and "em_se" in summary
    assert summary["recall@1"] == 1.0 and summary["mrr"] == 1.0 and summary["judge"] is None
    rows = result.records
    assert [(r["id"], r["prediction"], r["retrieved"]) for r in rows] == [
        ("q1", "Nile", ["0.0"]), ("q2", "Paris", ["0.1"]), ("q4", "Penguins", ["0.2"])
    ]  # fmt: skip
    assert rows[0]["gold"] == ["Nile"] and rows[0]["scores"]["f1"] == 1.0
    assert "Question: Which river is the longest in Africa?\nAnswer:" in lm.prompts[0]
    assert "1 question(s) without a gold answer" in result.notes[0]


def test_the_training_format_asks_as_the_qa_task_was_trained(squad):
    lm = EchoContext()
    lm.generate = lambda prefix, prompts, max_new_tokens, stop: [p.split("### Context:\n", 1)[1].split()[0]
                                                                 for p in prompts if lm.prompts.append(p) or True]
    result = run_rag(RagSpec(corpus=squad, k=1, format="train"), lm)
    assert lm.prompts[0].startswith("### Context:\nNile") and lm.prompts[0].endswith("### Answer:")
    assert result.metrics["format"] == "train" and result.metrics["em"] == pytest.approx(2 / 3)


def test_the_judge_grades_beside_the_automatic_scores(squad):
    judge = ScoreLM()
    result = run_rag(RagSpec(corpus=squad, k=2, limit=3), EchoContext(), judge=LocalJudge(judge, "fake-judge"))
    assert result.metrics["judge"] == "fake-judge"
    assert result.metrics["judge_accuracy"] == pytest.approx(4.0) and result.metrics["judge_completeness"] == 2.0
    assert result.metrics["em"] == pytest.approx(2 / 3)  # the automatic scores are unchanged
    assert judge.choices[0] == [" 1", " 2", " 3", " 4", " 5"]  # plain prompts: the score follows "Score:"
    assert "Reference answers: Nile" in judge.prompts[0] and "Evaluation steps:" in judge.prompts[0]


def test_expected_score_weighs_the_score_tokens():
    assert expected_score([0.0, 0.0, -100, -100, -100]) == pytest.approx(1.5)
    assert expected_score([float("-inf")] * 5) is None
    assert expected_score([-1e9, -1e9, -1e9, -1e9, 0.0]) == pytest.approx(5.0)


def test_a_custom_rubric_is_used_and_checked(squad):
    judge = ScoreLM()
    template = "{criterion}|{steps}|{question}|{answers}|{prediction} Accuracy Score:"
    judge_answers(LocalJudge(judge, "j"), template, ["q?"], [["a"]], ["b"])
    assert judge.prompts[0].endswith("|q?|a|b Accuracy Score:")
    with pytest.raises(ConfigError, match="judge_template: missing"):
        check_spec(RagSpec(corpus=squad, judge_template="{question}"))


def test_document_corpus_needs_questions(tmp_path, monkeypatch):
    monkeypatch.setenv("FTSCOPE_CACHE", str(tmp_path / "cache"))
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.txt").write_text("Mount Everest is the highest mountain.")
    with pytest.raises(DataError, match="no questions with a gold answer"):
        run_rag(RagSpec(corpus=str(tmp_path / "docs")), EchoContext())
    questions = tmp_path / "q.jsonl"
    questions.write_text(json.dumps({"id": "1", "question": "Highest mountain?", "answers": ["Mount Everest"]}))
    summary = run_rag(RagSpec(corpus=str(tmp_path / "docs"), questions=str(questions)), EchoContext()).metrics
    assert summary["contains"] == 0.0 and summary["completeness"] == 0.5 and "mrr" not in summary


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"retriever": "bm52"}, "retriever: 'bm52' is not one of bm25, dense, hybrid"),
        ({"k": 0}, "k: 0 must be at least 1"),
        ({"template": "Q: {question}"}, "template: missing {context}"),
        ({"judge_template": "{question}"}, "judge_template: missing {criterion}, {steps}, {answers}, {prediction}"),
        ({"chunking": "window", "chunk_overlap": 300}, "overlap 300 must be"),
    ],
)
def test_bad_spec_is_a_config_error(kwargs, message):
    with pytest.raises(ConfigError, match=message.replace("{", r"\{").replace("}", r"\}")):
        check_spec(RagSpec(corpus="x.json", **kwargs))


def test_truncate_keeps_whole_words_within_budget():
    assert truncate("a b c d e", 3) == ("a b c", True)
    assert truncate("a b", 3) == ("a b", False)
    chars = len  # a counter unlike whitespace: the binary search must still find the longest fit
    assert truncate("aa bb cc dd", 8, chars) == ("aa bb cc", True)


def test_build_prompt_and_fill_leave_other_braces_alone():
    built = build_prompt("{context}|{question}|{x}", "Q {question}?", ["p1 {context}", "p2"], 5, len)
    assert built.prompt == "p1\n\np2|Q {question}?|{x}" and built.truncated
    assert fill("{a} {b}", {"a": "{b}"}) == "{b} {b}"
