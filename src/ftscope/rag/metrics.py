"""RAG metrics as pure functions: answer quality against gold answers, grounding in the retrieved
passages, retrieval quality against the gold passage, and their mean with its standard error.

Answer metrics follow the official SQuAD v1.1 script (normalise, then max over the gold answers), so
numbers compare with published ones.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from typing import Sequence

import numpy as np

_PUNCT = set(string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b")


def normalize_answer(text: str) -> str:
    """Lowercase, drop punctuation and the articles a/an/the, collapse whitespace (SQuAD v1.1)."""
    text = "".join(ch for ch in text.lower() if ch not in _PUNCT)
    return " ".join(_ARTICLES.sub(" ", text).split())


def _tokens(text: str) -> list[str]:
    return normalize_answer(text).split()


def exact_match(prediction: str, golds: Sequence[str]) -> float:
    return max((float(normalize_answer(prediction) == normalize_answer(g)) for g in golds), default=0.0)


def _f1(prediction: str, gold: str) -> float:
    pred, ref = _tokens(prediction), _tokens(gold)
    if not pred or not ref:
        # As the SQuAD script: two empty answers agree, one empty answer scores nothing.
        return float(pred == ref)
    common = sum((Counter(pred) & Counter(ref)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


def token_f1(prediction: str, golds: Sequence[str]) -> float:
    return max((_f1(prediction, g) for g in golds), default=0.0)


def contains_answer(prediction: str, golds: Sequence[str]) -> float:
    """1.0 when some normalised gold answer appears whole inside the normalised prediction.

    Matched on word boundaries, so the gold '1' is not found inside '1990'. Kinder than EM to a model
    that answers in a sentence, as fine-tuned chat models tend to.
    """
    padded = f" {normalize_answer(prediction)} "
    return max((float(f" {g} " in padded) for g in map(normalize_answer, golds) if g), default=0.0)


def completeness(prediction: str, golds: Sequence[str]) -> float:
    """Fraction of the gold answer's tokens found in the prediction, for the gold that fares best."""
    said = set(_tokens(prediction))
    fractions = (sum(t in said for t in gold) / len(gold) for gold in map(_tokens, golds) if gold)
    return max(fractions, default=0.0)


def faithfulness(prediction: str, passages: Sequence[str]) -> float:
    """Fraction of the prediction's tokens found in the retrieved passages: a cheap grounding proxy.

    An empty prediction scores 0.0 rather than a vacuous 1.0, so silence is never rewarded.
    """
    said = _tokens(prediction)
    if not said:
        return 0.0
    seen = set(_tokens(" ".join(passages)))
    return sum(t in seen for t in said) / len(said)


def recall_at_k(ranked_ids: Sequence[str], gold_id: str, k: int) -> float:
    return float(gold_id in ranked_ids[:k])


def reciprocal_rank(ranked_ids: Sequence[str], gold_id: str) -> float:
    """1/rank of the gold passage within the ranked list, 0.0 when it was not retrieved."""
    return next((1.0 / r for r, pid in enumerate(ranked_ids, start=1) if pid == gold_id), 0.0)


def mean_and_se(values: Sequence[float]) -> tuple[float, float]:
    """Mean and its analytic standard error sqrt(var/n) with ddof=1, as lm-evaluation-harness reports it."""
    x = np.asarray(values, dtype=float)
    if x.size == 0:
        return float("nan"), float("nan")
    if x.size == 1:
        return float(x[0]), float("nan")
    return float(x.mean()), float(x.std(ddof=1) / np.sqrt(x.size))
