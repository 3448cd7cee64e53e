"""Copied as `utils.py` beside the task YAMLs that `export_task_yamls` writes; lm-eval imports it from
there by file path (`!function utils.NAME`), so it stands alone: datasets and rouge-score only.

It gives generation tasks the paper's answer and score, as `ftscope eval` computes them: the answer is
what comes before the first blank line *after the answer begins* (instruct models often open with a
blank line; lm-eval's `until` would then return nothing), stripped; ROUGE is rouge-score's F-measure
without stemming, averaged over items (HF evaluate's `rouge`, which lm-eval would fetch online).
"""

from __future__ import annotations

from functools import cache

PAPER_STOP = "\n\n"


def paper_answers(resps: list[list[str]], docs: list[dict]) -> list[list[str]]:
    """lm-eval `custom` filter: every generation cut as the paper cuts it."""
    return [[paper_answer(r) for r in rs] for rs in resps]


def paper_answer(text: str) -> str:
    return text.lstrip().split(PAPER_STOP, 1)[0].strip()


@cache
def _scorer():
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=False)


def rouge(doc: dict, results: list[str]) -> dict[str, float]:
    """lm-eval `process_results`: per-item ROUGE F-measures of the (filtered) answer against `output`."""
    scores = _scorer().score(str(doc["output"]), results[0])
    return {name: score.fmeasure for name, score in scores.items()}
