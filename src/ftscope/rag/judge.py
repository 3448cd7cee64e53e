"""An optional LLM judge that rates each answer's accuracy and completeness from 1 to 5.

Barnett et al. graded answers with an LLM; its ratings are reported beside the automatic scores,
never instead of them, since a small judge is noisy and may favour its own style.
"""

from __future__ import annotations

import re
from typing import Sequence

from ftscope.rag.prompting import fill, generate_all
from ftscope.types import LanguageModel

DEFAULT_JUDGE_TEMPLATE = (
    "Grade the answer to the question against the reference answers.\n\n"
    "Question: {question}\nReference answers: {answers}\nAnswer: {prediction}\n\n"
    "Rate accuracy (is it correct?) and completeness (does it say all the reference says?) "
    "from 1 (worst) to 5 (best). Reply as: accuracy=<1-5> completeness=<1-5>\nRating:"
)
JUDGE_FIELDS = ("question", "answers", "prediction")
_LABELLED = {name: re.compile(rf"{name}\W{{0,3}}([1-5])\b", re.I) for name in ("accuracy", "completeness")}
_SCORE = re.compile(r"\b([1-5])\b")


def parse_ratings(reply: str) -> dict[str, int | None]:
    """Labelled values ('accuracy=4', 'Completeness: 3') when both are present, else the first two
    integers 1-5 in order ('4, 3'); None for each rating that cannot be read."""
    labelled = {name: pattern.search(reply) for name, pattern in _LABELLED.items()}
    if all(labelled.values()):
        return {name: int(m.group(1)) for name, m in labelled.items() if m}
    numbers = [int(n) for n in _SCORE.findall(reply)][:2]
    numbers += [None] * (2 - len(numbers))
    return {"accuracy": numbers[0], "completeness": numbers[1]}


def judge_answers(
    judge: LanguageModel,
    template: str,
    questions: Sequence[str],
    answers: Sequence[Sequence[str]],
    predictions: Sequence[str],
) -> list[dict[str, int | None]]:
    prompts = [
        fill(template, {"question": q, "answers": " | ".join(golds), "prediction": p})
        for q, golds, p in zip(questions, answers, predictions)
    ]
    replies = generate_all(judge, prompts, max_new_tokens=16, stop=["\n\n"], desc="rag judge")
    return [parse_ratings(reply) for reply in replies]
