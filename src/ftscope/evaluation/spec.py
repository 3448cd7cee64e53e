"""What one evaluation cell is: a dataset, a template, a shot count and how answers are scored."""

from __future__ import annotations

from dataclasses import dataclass

from ftscope.types import Scoring

SCORINGS = ("first-token", "loglik", "loglik-norm")


@dataclass(frozen=True)
class EvalSpec:
    dataset: str
    shots: int = 0
    template: str = "p1"
    scoring: Scoring = "first-token"
    limit: int | None = None
    fewshot: str = "first"  # first (the paper) | random | balanced
    seed: int = 0
    max_new_tokens: int | None = None  # None: the task's (60 generation, 5 classification)
    stop: tuple[str, ...] = ("\n\n",)  # the paper cuts generations at the first blank line
