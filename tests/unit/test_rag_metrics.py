"""RAG metrics on known cases (values checked by hand against the SQuAD v1.1 definitions)."""

import math

import numpy as np
import pytest

from ftscope.rag import metrics as m


def test_normalize_answer_like_squad():
    assert m.normalize_answer("The  Quick, brown FOX!") == "quick brown fox"
    assert m.normalize_answer("an apple a day") == "apple day"
    assert m.normalize_answer("theater") == "theater"  # articles only as whole words


def test_exact_match_takes_the_best_gold():
    assert m.exact_match("the Nile.", ["Amazon", "Nile"]) == 1.0
    assert m.exact_match("Nile river", ["Nile"]) == 0.0
    assert m.exact_match("anything", []) == 0.0


@pytest.mark.parametrize(
    "prediction, golds, expected",
    [
        ("Denver Broncos", ["Denver Broncos"], 1.0),
        # 1 common token; precision 1/2, recall 1/1 -> 2/3
        ("Broncos team", ["Broncos"], 2 / 3),
        # common {denver}: precision 1/3, recall 1/2 -> 0.4; the second gold scores 0.5 and wins
        ("Denver in 2016", ["Denver Broncos", "Denver"], 0.5),
        ("", ["x"], 0.0),
        ("the", ["a"], 1.0),  # both normalise to empty: agree, as the official script
        ("cats", ["dogs"], 0.0),
    ],
)
def test_token_f1_known_pairs(prediction, golds, expected):
    assert m.token_f1(prediction, golds) == pytest.approx(expected)


def test_f1_matches_repeated_tokens_by_count():
    # common = min(2,1) x's + min(1,2) y's = 2 of 3 on each side -> precision = recall = 2/3
    assert m.token_f1("x x y", ["x y y"]) == pytest.approx(2 / 3)


def test_contains_answer_on_word_boundaries():
    assert m.contains_answer("It was the Denver Broncos, in 2016.", ["Denver Broncos"]) == 1.0
    assert m.contains_answer("In 1990.", ["1"]) == 0.0
    assert m.contains_answer("no idea", ["Paris", "France"]) == 0.0


def test_completeness_uses_the_best_gold():
    assert m.completeness("fined", ["fined and benched"]) == pytest.approx(1 / 3)
    assert m.completeness("fined", ["fined and benched", "fined"]) == 1.0
    assert m.completeness("", ["x"]) == 0.0


def test_faithfulness_is_the_share_of_answer_tokens_in_passages():
    passages = ["The Nile flows north.", "Cairo sits on it."]
    assert m.faithfulness("Nile flows to Cairo", passages) == pytest.approx(3 / 4)
    assert m.faithfulness("", passages) == 0.0


def test_recall_and_reciprocal_rank():
    ranked = ["p3", "p1", "p2"]
    assert m.recall_at_k(ranked, "p1", 2) == 1.0
    assert m.recall_at_k(ranked, "p2", 2) == 0.0
    assert m.reciprocal_rank(ranked, "p1") == 0.5
    assert m.reciprocal_rank(ranked, "p9") == 0.0


def test_mean_and_se_is_the_analytic_standard_error():
    values = np.random.default_rng(1).random(400)
    mean, se = m.mean_and_se(values)
    # Same formula as numpy's, so only summation order differs: 1e-12 relative is far above fp64 rounding.
    assert mean == pytest.approx(values.mean(), rel=1e-12)
    assert se == pytest.approx(values.std(ddof=1) / math.sqrt(400), rel=1e-12)
    assert m.mean_and_se([0.5])[0] == 0.5 and math.isnan(m.mean_and_se([0.5])[1])  # one item: no spread to measure
    assert all(math.isnan(v) for v in m.mean_and_se([]))
