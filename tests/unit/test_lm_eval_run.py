"""lm-eval tasks scored by ftscope's engine come back as ftscope results: one Prediction per document,
`correct` from the task's own per-item metric, lm-eval's aggregates alongside under its names."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("lm_eval")

from ftscope.errors import ConfigError  # noqa: E402
from ftscope.evaluation.lm_eval import evaluate_lm_eval, evaluate_lm_eval_tasks  # noqa: E402
from ftscope.models import language_model  # noqa: E402
from ftscope.specs import EvalSpec  # noqa: E402

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "lm_eval"


def _docs(name: str) -> list[dict]:
    return [json.loads(line) for line in (FIXTURES / "data" / name).read_text().splitlines()]


@pytest.fixture(scope="module")
def results(tiny_loaded):
    return evaluate_lm_eval_tasks(language_model(tiny_loaded), ["ftscope_fixtures"], 2, 10, str(FIXTURES))


def test_a_tag_expands_to_its_tasks(results):
    assert sorted(results) == ["arc_like", "hellaswag_like", "qa_like", "text_like"]


def test_multiple_choice_items(results):
    result, docs = results["arc_like"], _docs("arc_like_test.jsonl")[:10]
    assert result.spec == EvalSpec("lm-eval:arc_like", 2, "lm-eval", "loglik", 10)
    assert [p.id for p in result.predictions] == [str(i) for i in range(10)]
    for p, doc in zip(result.predictions, docs):
        assert p.gold == doc["choices"]["text"][doc["choices"]["label"].index(doc["answerKey"])]
        assert p.prediction in doc["choices"]["text"]
        assert p.correct == (p.prediction == p.gold) == bool(p.scores["acc"])
        assert set(p.scores) == {"acc", "acc_norm"}


def test_accuracy_and_its_standard_error_are_lm_evals(results):
    metrics = results["hellaswag_like"].metrics
    assert metrics["accuracy"] == metrics["acc,none"]  # both the mean of the same 0/1 items
    assert metrics["accuracy_se"] == pytest.approx(metrics["acc_stderr,none"], rel=1e-12)  # same formula
    assert {"acc_norm,none", "acc_norm_stderr,none"} <= set(metrics) and metrics["n"] == 10
    assert metrics["lm_eval"] | {"higher_is_better": None} == {
        "task": "hellaswag_like", "version": 1.0, "n-shot": 2, "higher_is_better": None,
        "output_type": "multiple_choice", "metric_names": ["acc", "acc_norm"], "main_metric": "acc", "filter": "none"}


def test_hellaswag_gold_is_the_labelled_ending(results):
    docs = _docs("hellaswag_like_validation.jsonl")
    assert [p.gold for p in results["hellaswag_like"].predictions] == [d["endings"][int(d["label"])] for d in docs[:10]]


def test_generation_items_are_judged_by_exact_match_after_the_tasks_filter(results):
    result = results["qa_like"]
    assert result.metrics["lm_eval"]["main_metric"] == "exact_match"
    assert result.metrics["lm_eval"]["filter"] == "remove_whitespace"
    assert [p.gold for p in result.predictions] == [d["answer"] for d in _docs("qa_like_validation.jsonl")[:10]]
    assert all(p.correct == bool(p.scores["exact_match"]) for p in result.predictions)


def test_other_filters_join_the_scores_under_lm_evals_names(results):
    result = results["qa_like"]
    assert len(result.predictions) == 10  # one per document, though lm-eval logged one per filter
    assert all(set(p.scores) == {"exact_match", "exact_match,lowercase"} for p in result.predictions)
    assert {"exact_match,remove_whitespace", "exact_match,lowercase"} <= set(result.metrics)


def test_perplexity_task_keeps_metrics_but_no_correct(results):
    result = results["text_like"]
    assert all(p.correct is None for p in result.predictions)
    assert "accuracy" not in result.metrics and result.metrics["bits_per_byte,none"] > 0
    assert {"bits_per_byte[0]", "bits_per_byte[1]"} <= set(result.predictions[0].scores)
    assert any("no per-item right/wrong metric" in n for n in result.notes)


def test_a_task_that_fixes_its_shots_says_so(results):
    assert results["text_like"].spec.shots == 0
    assert any("ran 0-shot, not the 2-shot" in n for n in results["text_like"].notes)


def test_a_tag_is_refused_where_one_task_is_expected(tiny_loaded):
    with pytest.raises(ConfigError, match="expands to 4 tasks"):
        evaluate_lm_eval(language_model(tiny_loaded), "ftscope_fixtures", 0, 1, str(FIXTURES))


def test_one_task(tiny_loaded, results):
    one = evaluate_lm_eval(language_model(tiny_loaded), "arc_like", 2, 10, str(FIXTURES))
    assert [(p.prediction, p.correct) for p in one.predictions] == [
        (p.prediction, p.correct) for p in results["arc_like"].predictions]
