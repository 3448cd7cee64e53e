"""In-task quality of a watched stage while it trains (ProMoT's stage 1), on a few held-out examples.

The examples come from the training files themselves, minus the examples the run trains on (at most
HELDOUT_EXAMPLES in all, shared by the datasets' proportions, drawn by seed), so they are the training
task in the training format without being training data. Each measurement gives
- `loss`: the mean target-token loss (the training loss's own definition) over all of them, and
- `accuracy`: for classification examples, the share answered right by first-token label scoring,
  through models' HFLanguageModel, the implementation the evaluation scorer runs (imported from the
  models layer, since training may not import evaluation).

A stage "had not levelled off" when its last two measurements differ by more than the tolerance:
ACCURACY_TOLERANCE points of accuracy, or one example's worth when that is larger (with 32 examples one
flipped answer moves accuracy 3.1 points, which is noise, not a trend); without classification
examples, LOSS_TOLERANCE of the loss, relative.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ftscope.prompts import render, target_text, template_for
from ftscope.specs import TrainSpec
from ftscope.tasks import Catalogue
from ftscope.tasks.records import read_records, to_examples
from ftscope.training.batches import collate
from ftscope.training.data import TrainData, TrainItem, shares
from ftscope.training.loop import Monitor, target_loss
from ftscope.training.stages import Watch
from ftscope.training.tokens import Row, tokenize
from ftscope.types import Example

HELDOUT_EXAMPLES = 32
ACCURACY_TOLERANCE = 2.0  # accuracy points
LOSS_TOLERANCE = 0.02  # relative change of the held-out loss
LOSS_ROWS = 8  # rows per forward pass for the loss


@dataclass(frozen=True)
class Question:
    dataset: str
    prompt: str
    choices: tuple[str, ...]
    gold: int


@dataclass(frozen=True)
class Heldout:
    items: tuple[TrainItem, ...]
    questions: tuple[Question, ...]  # the classification items, as label choices
    sources: tuple[dict, ...]  # per dataset: its file and the held-out example ids (for the manifest)


def heldout(spec: TrainSpec, catalogue: Catalogue, data: TrainData, limit: int = HELDOUT_EXAMPLES) -> Heldout:
    """Up to `limit` examples of the training files that the run does not train on."""
    weight = dict(zip(spec.datasets, spec.proportions or (1.0,) * len(spec.datasets)))
    items, questions, sources = [], [], []
    for source, share in zip(data.sources, shares(limit, tuple(weight[s["dataset"]] for s in data.sources))):
        picked = _unused(source, catalogue, share or 0, spec.seed)
        task = catalogue.task_of(source["dataset"])
        template = template_for(task, spec.template)
        for ex in picked:
            items.append(TrainItem(source["dataset"], ex.id, render(template, ex), target_text(task, ex)))
            if task.is_classification and target_text(task, ex) in _choices(task):
                questions.append(Question(source["dataset"], items[-1].prompt, _choices(task),
                                          _choices(task).index(target_text(task, ex))))
        sources.append({"dataset": source["dataset"], "file": source["file"], "example_ids": [e.id for e in picked]})
    return Heldout(tuple(items), tuple(questions), tuple(sources))


def _choices(task: Any) -> tuple[str, ...]:
    return tuple(task.verbalize(label) for label in task.labels)


def _unused(source: dict, catalogue: Catalogue, k: int, seed: int) -> list[Example]:
    """k examples of the source's training file not in its training sample, in file order."""
    if k == 0 or not Path(source["file"]).is_file():
        return []  # a hub dataset has no file to draw from
    entry = catalogue.entry(source["dataset"])
    every = to_examples(read_records(source["file"]), catalogue.task_of(source["dataset"]), source["file"],
                        entry.field_map, entry.label_map)
    used = set(source["example_ids"])
    pool = [i for i, ex in enumerate(every) if ex.id not in used]
    picks = sorted(random.Random(f"{seed}:{source['dataset']}:heldout").sample(pool, min(k, len(pool))))
    return [every[i] for i in picks]


def monitor(watch: Watch, held: Heldout, tokenizer: Any, max_length: int) -> Monitor:
    rows = tokenize(held.items, tokenizer, max_length).rows
    pad = tokenizer.pad_token_id
    return Monitor(watch.every, lambda module: measure(module, tokenizer, rows, held.questions, pad))


@torch.inference_mode()
def measure(module: Any, tokenizer: Any, rows: tuple[Row, ...], questions: tuple[Question, ...],
            pad_id: int) -> dict[str, Any]:
    point: dict[str, Any] = {"loss": _loss(module, rows, pad_id), "examples": len(rows)}
    if questions:
        point.update(accuracy=_accuracy(module, tokenizer, questions), classified=len(questions))
    return point


def _loss(module: Any, rows: tuple[Row, ...], pad_id: int) -> float:
    device = next(module.parameters()).device
    total, count = 0.0, 0
    for start in range(0, len(rows), LOSS_ROWS):
        batch = collate(rows[start:start + LOSS_ROWS], pad_id).to(device)
        total += float(target_loss(module, batch, bf16=False))
        count += int((batch.labels != -100).sum())
    return total / count if count else float("nan")


def _accuracy(module: Any, tokenizer: Any, questions: tuple[Question, ...]) -> float:
    from ftscope.models.lm import HFLanguageModel

    lm = HFLanguageModel(module, tokenizer)
    right = 0
    for dataset in dict.fromkeys(q.dataset for q in questions):  # one label set per dataset
        group = [q for q in questions if q.dataset == dataset]
        scores = lm.score_choices("", [q.prompt for q in group], group[0].choices, "first-token")
        right += sum(max(range(len(s)), key=s.__getitem__) == q.gold for s, q in zip(scores, group))
    return right / len(questions)


def levelling_note(watch: Watch, curve: list[dict]) -> str | None:
    """A note when the last interval still moved the held-out measure by more than its tolerance."""
    if len(curve) < 2:
        return None
    before, last = curve[-2], curve[-1]
    if last.get("accuracy") is not None and before.get("accuracy") is not None:
        change = 100 * (last["accuracy"] - before["accuracy"])
        if abs(change) <= max(ACCURACY_TOLERANCE, 100 / last["classified"]):
            return None
        moved = f"held-out accuracy still {'rose' if change > 0 else 'fell'} {abs(change):.1f} points"
    else:
        change = (last["loss"] - before["loss"]) / before["loss"]
        if not abs(change) > LOSS_TOLERANCE:
            return None
        moved = f"held-out loss still {'fell' if change < 0 else 'rose'} {100 * abs(change):.1f}%"
    return f"{watch.label}: {moved} over its last interval; {watch.fix}"
