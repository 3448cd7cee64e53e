"""Per-question scores of one RAG answer, and their summary over a corpus."""

from __future__ import annotations

from typing import Sequence

from ftscope.rag import metrics as m
from ftscope.rag.corpus import RagQuestion


def score_question(
    question: RagQuestion, prediction: str, retrieved_ids: Sequence[str], shown: Sequence[str], k: int
) -> dict[str, float]:
    """Answer scores against the gold answers, grounding in the passages shown, and retrieval scores
    when the question names its gold passage (documents corpora may not)."""
    golds = question.answers
    scores = {
        "em": m.exact_match(prediction, golds),
        "f1": m.token_f1(prediction, golds),
        "contains": m.contains_answer(prediction, golds),
        "completeness": m.completeness(prediction, golds),
        "faithfulness": m.faithfulness(prediction, shown),
    }
    if question.gold_passage_id is not None:
        scores[f"recall@{k}"] = m.recall_at_k(retrieved_ids, question.gold_passage_id, k)
        scores["mrr"] = m.reciprocal_rank(retrieved_ids[:k], question.gold_passage_id)
    return scores


def aggregate(rows: Sequence[dict[str, float]]) -> dict[str, float | int]:
    """Means with standard errors, each metric over the questions that have it (n_<metric> if fewer).
    Judge grades (judge_accuracy, judge_completeness) are missing where the judge could not grade."""
    names = list(dict.fromkeys(name for row in rows for name in row))
    out: dict[str, float | int] = {"n": len(rows)}
    for name in names:
        values = [row[name] for row in rows if name in row]
        out[name], out[f"{name}_se"] = m.mean_and_se(values)
        if len(values) != len(rows):
            out[f"n_{name}"] = len(values)
    return out
