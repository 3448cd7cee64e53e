import pytest

from ftscope.evaluation import metrics as M


def test_accuracy_and_macro_f1():
    pred, gold = ["a", "a", "b", "b"], ["a", "b", "b", "b"]
    assert M.accuracy(pred, gold) == 0.75
    # F1(a) = 2/3, F1(b) = 0.8
    assert M.macro_f1(pred, gold, ["a", "b"]) == pytest.approx((2 / 3 + 0.8) / 2)
    assert M.label_counts(pred, gold, ["a", "b"])["b"] == {"gold": 3, "predicted": 2, "correct": 2}


def test_rouge_and_bleu_known_values():
    rouge = M.rouge_per_example(["the cat sat"], ["the cat sat on the mat"])
    assert rouge["rouge1"][0] == pytest.approx(2 * 1 * 0.5 / 1.5)
    assert M.bleu(["the cat sat on the mat"], ["the cat sat on the mat"]) == pytest.approx(100.0)


def test_bootstrap_is_seeded_and_sane():
    values = [0, 1] * 50
    assert M.mean_se(values) == M.mean_se(values)
    assert M.mean_se(values) == pytest.approx(0.05, abs=0.01)  # sqrt(.25/100)
    assert M.mean_se([1.0]) != M.mean_se([1.0])  # nan for a single example
