"""Metrics as pure functions over per-example values, with bootstrap standard errors.

ROUGE follows HF evaluate's `rouge` (rouge-score, no stemming, mean F-measure over examples); BLEU
is sacrebleu's corpus BLEU. Standard errors come from a seeded bootstrap over examples, so two runs
on the same predictions report the same numbers.
"""

from __future__ import annotations

from collections import Counter
from functools import cache
from typing import Callable, Sequence

import numpy as np

BOOTSTRAP_SAMPLES = 1000


def accuracy(pred: Sequence[str], gold: Sequence[str]) -> float:
    return float(np.mean([p == g for p, g in zip(pred, gold)])) if gold else float("nan")


def macro_f1(pred: Sequence[str], gold: Sequence[str], labels: Sequence[str]) -> float:
    scores = []
    for label in labels:
        tp = sum(p == label and g == label for p, g in zip(pred, gold))
        fp = sum(p == label and g != label for p, g in zip(pred, gold))
        fn = sum(p != label and g == label for p, g in zip(pred, gold))
        scores.append(2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0)
    return float(np.mean(scores)) if scores else float("nan")


def label_counts(pred: Sequence[str], gold: Sequence[str], labels: Sequence[str]) -> dict[str, dict[str, int]]:
    gold_n, pred_n = Counter(gold), Counter(pred)
    right = Counter(g for p, g in zip(pred, gold) if p == g)
    return {lab: {"gold": gold_n[lab], "predicted": pred_n[lab], "correct": right[lab]} for lab in labels}


@cache
def _rouge_scorer(use_stemmer: bool):
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=use_stemmer)


def rouge_per_example(pred: Sequence[str], ref: Sequence[str], use_stemmer: bool = False) -> dict[str, list[float]]:
    scorer = _rouge_scorer(use_stemmer)
    rows = [scorer.score(r, p) for p, r in zip(pred, ref)]
    return {k: [row[k].fmeasure for row in rows] for k in ("rouge1", "rouge2", "rougeL")}


def bleu(pred: Sequence[str], ref: Sequence[str]) -> float:
    import sacrebleu

    return float(sacrebleu.corpus_bleu(list(pred), [list(ref)]).score) if pred else float("nan")


def bootstrap_se(n: int, statistic: Callable[[np.ndarray], float], samples: int = BOOTSTRAP_SAMPLES,
                 seed: int = 0) -> float:
    """Standard deviation of `statistic` over resamples of example indices."""
    if n < 2:
        return float("nan")
    rng = np.random.default_rng(seed)
    values = [statistic(rng.integers(0, n, n)) for _ in range(samples)]
    return float(np.std(values, ddof=1))


def mean_se(values: Sequence[float]) -> float:
    """The bootstrap SE of a mean, computed in one vectorised draw."""
    arr = np.asarray(values, dtype=float)
    if arr.size < 2:
        return float("nan")
    idx = np.random.default_rng(0).integers(0, arr.size, (BOOTSTRAP_SAMPLES, arr.size))
    return float(arr[idx].mean(axis=1).std(ddof=1))
