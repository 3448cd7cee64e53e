"""Task kinds: what a task reads from an example and how an answer is judged.

A classification task owns a label set; each label has a verbaliser, the text the model must
produce after the prompt (the paper uses the label word itself). A generation task is scored
against reference text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from ftscope.types import TaskKind


@dataclass(frozen=True)
class Task:
    name: str
    kind: TaskKind
    input_fields: tuple[str, ...]
    labels: tuple[str, ...] = ()
    verbalizers: Mapping[str, str] = field(default_factory=dict)
    max_new_tokens: int = 60
    paper_shots: tuple[int, ...] = (0,)
    # FTICL's k (demonstrations in each training input) in the paper's repository, per task.
    paper_fticl_k: tuple[int, ...] = ()
    # The paper's training dataset for this task: evaluation sets of the same task are then
    # out-of-domain, sets of other tasks cross-task.
    train_dataset: str | None = None
    # Prompt templates by id ("p1", "p2") for tasks the paper's prompt map does not cover.
    templates: Mapping[str, str] = field(default_factory=dict)

    @property
    def is_classification(self) -> bool:
        return self.kind == "classification"

    def verbalize(self, label: str) -> str:
        return self.verbalizers.get(label, label)


def role(eval_dataset: str, eval_task: str, train_dataset: str, train_task: str) -> str:
    """The paper's three evaluation roles of a test set relative to what a model was tuned on."""
    if eval_dataset == train_dataset:
        return "in-domain"
    return "out-of-domain" if eval_task == train_task else "cross-task"
