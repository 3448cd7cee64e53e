"""Frozen value types shared by every layer. No internal imports, so anything may import this."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Mapping, Protocol, Sequence

# benchmark: an lm-evaluation-harness task run as an eval cell (general capability; scored by its own metric)
TaskKind = Literal["classification", "generation", "benchmark"]
TEXT_CHARS = 300  # of an item's input kept beside its prediction
Scoring = Literal["first-token", "loglik", "loglik-norm"]


@dataclass(frozen=True)
class Example:
    """One dataset item: its raw input fields (as the template names them) and the gold target."""

    id: str
    fields: Mapping[str, str]
    target: str


@dataclass(frozen=True)
class Prediction:
    """What a model answered for one example; `scores` holds one value per label (classification)."""

    id: str
    prediction: str
    gold: str
    correct: bool | None = None
    scores: Mapping[str, float] = field(default_factory=dict)
    text: str = ""  # the item's input (its fields joined, cut to TEXT_CHARS), so a report can show flipped items


class LanguageModel(Protocol):
    """The one small protocol evaluation, training checks and RAG talk to.

    `prefix` is text shared by every prompt (few-shot demonstrations); implementations may
    compute it once and reuse its KV cache. Results come back in the order of `prompts`.
    """

    def score_choices(
        self, prefix: str, prompts: Sequence[str], choices: Sequence[str], scoring: Scoring
    ) -> list[list[float]]: ...

    def generate(
        self, prefix: str, prompts: Sequence[str], max_new_tokens: int, stop: Sequence[str]
    ) -> list[str]: ...
