"""In-task quality of a watched stage while it trains (ProMoT's stage 1), on a few held-out examples.

The examples come from the training files themselves, minus the examples the run trains on (at most
HELDOUT_EXAMPLES in all, shared by the datasets' proportions, drawn by seed), so they are the training
task in the training format without being training data. Each measurement gives
- `loss`: the mean target-token loss (the training loss's own definition) over all of them, and
- `accuracy`: for classification examples, the share answered right by first-token label scoring.
Both come from one forward pass per example, kept cheap on CPU: the logits at the position before the
target are the ones the evaluation scorer's first-token scoring reads, when every label starts right
after the prompt's own tokens (a prompt without trailing space, no merge across the boundary: the
training templates'). An example where that does not hold is scored by models' HFLanguageModel, the
scorer's implementation (imported from the models layer, since training may not import evaluation).

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

from ftscope.models.batching import length_batches
from ftscope.prompts import render, target_text, template_for
from ftscope.specs import TrainSpec
from ftscope.tasks import Catalogue, Task
from ftscope.tasks.records import read_records, to_examples
from ftscope.training.batches import collate
from ftscope.training.data import TrainData, TrainItem, shares
from ftscope.training.loop import Monitor, summed_loss, target_logits
from ftscope.training.stages import Watch
from ftscope.training.tokens import Row, tokenize
from ftscope.types import Example

HELDOUT_EXAMPLES = 32
ACCURACY_TOLERANCE = 2.0  # accuracy points
LOSS_TOLERANCE = 0.02  # relative change of the held-out loss
BATCH_TOKENS, BATCH_ROWS = 4096, 16  # padded tokens and rows per forward pass


@dataclass(frozen=True)
class Heldout:
    items: tuple[TrainItem, ...]
    choices: tuple[tuple[str, ...] | None, ...]  # per item: its label texts (classification), else None
    sources: tuple[dict, ...]  # per dataset: its file and the held-out example ids (for the manifest)


def heldout(spec: TrainSpec, catalogue: Catalogue, data: TrainData, limit: int = HELDOUT_EXAMPLES) -> Heldout:
    """Up to `limit` examples of the training files that the run does not train on."""
    weight = dict(zip(spec.datasets, spec.proportions or (1.0,) * len(spec.datasets)))
    items, choices, sources = [], [], []
    for source, share in zip(data.sources, shares(limit, tuple(weight[s["dataset"]] for s in data.sources))):
        picked = _unused(source, catalogue, share or 0, spec.seed)
        task = catalogue.task_of(source["dataset"])
        template = template_for(task, spec.template)
        for ex in picked:
            items.append(TrainItem(source["dataset"], ex.id, render(template, ex), target_text(task, ex)))
            choices.append(_choices(task) if target_text(task, ex) in _choices(task) else None)
        sources.append({"dataset": source["dataset"], "file": source["file"], "example_ids": [e.id for e in picked]})
    return Heldout(tuple(items), tuple(choices), tuple(sources))


def _choices(task: Task) -> tuple[str, ...]:
    return tuple(task.verbalize(label) for label in task.labels) if task.is_classification else ()


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


@dataclass(frozen=True)
class Labels:
    """A classification row's labels as the first target token of each, and the gold one's index."""

    tokens: tuple[int, ...]
    gold: int


@dataclass(frozen=True)
class Probe:
    """The held-out set ready to measure: token rows, each row's labels when its own logits can score
    them, and the classification items left to the scorer (prompt, labels, gold index)."""

    rows: tuple[Row, ...]
    labels: tuple[Labels | None, ...]
    scorer: tuple[tuple[str, tuple[str, ...], int], ...]


def probe_of(held: Heldout, tokenizer: Any, max_length: int) -> Probe:
    tokenized = tokenize(held.items, tokenizer, max_length)
    labels, scorer = [], []
    for row, i in zip(tokenized.rows, tokenized.items):
        item, choices = held.items[i], held.choices[i]
        first = _first_tokens(tokenizer, item.prompt, choices, row) if choices else None
        labels.append(Labels(first, choices.index(item.target)) if first else None)
        if choices and not first:
            scorer.append((item.prompt, choices, choices.index(item.target)))
    return Probe(tokenized.rows, tuple(labels), tuple(scorer))


def _first_tokens(tokenizer: Any, prompt: str, choices: tuple[str, ...], row: Row) -> tuple[int, ...] | None:
    """Each label's first token, when the row's prompt tokens are the prompt's own encoding and every label
    starts right after them: then the scorer's first-token scoring reads exactly the row's logits there."""
    head = list(row.ids[: len(row) - row.n_target])
    if prompt != prompt.rstrip() or tokenizer(prompt, add_special_tokens=True).input_ids != head:
        return None
    firsts = []
    for choice in choices:
        ids = tokenizer(prompt + choice, add_special_tokens=True).input_ids
        if ids[: len(head)] != head or len(ids) == len(head):
            return None
        firsts.append(ids[len(head)])
    return tuple(firsts)


def monitor(watch: Watch, held: Heldout, tokenizer: Any, max_length: int) -> Monitor:
    probe = probe_of(held, tokenizer, max_length)
    return Monitor(watch.every, lambda module: measure(module, tokenizer, probe))


@torch.inference_mode()
def measure(module: Any, tokenizer: Any, probe: Probe) -> dict[str, Any]:
    loss, count, per_row = single_pass(module, tokenizer.pad_token_id, probe)
    scored = [x for x in per_row if x is not None]
    point: dict[str, Any] = {"loss": loss / count if count else float("nan"), "examples": len(probe.rows)}
    if scored or probe.scorer:
        right = sum(max(range(len(s)), key=s.__getitem__) == gold for s, gold in scored)
        right += _scored_right(module, tokenizer, probe.scorer) if probe.scorer else 0
        point.update(accuracy=right / (len(scored) + len(probe.scorer)), classified=len(scored) + len(probe.scorer))
    return point


@torch.inference_mode()
def single_pass(module: Any, pad_id: int, probe: Probe) -> tuple[float, int, list[tuple[list[float], int] | None]]:
    """(summed target-token loss, target tokens, per row: its labels' first-token logits and the gold index,
    None for a row without labels), from one forward pass per row, rows batched by length."""
    device = next(module.parameters()).device
    loss, count = 0.0, 0
    scored: list[tuple[list[float], int] | None] = [None] * len(probe.rows)
    for batch_rows in length_batches([len(r) for r in probe.rows], BATCH_TOKENS, BATCH_ROWS):
        batch = collate([probe.rows[i] for i in batch_rows], pad_id).to(device)
        logits = target_logits(module, batch, bf16=False)
        loss += float(summed_loss(logits, batch))
        count += int((batch.labels != -100).sum())
        for b, i in enumerate(batch_rows):
            labels, row = probe.labels[i], probe.rows[i]
            if labels is not None:  # the position before the target predicts its first token
                at = batch.keep - 1 - row.n_target
                scored[i] = (logits[b, at, list(labels.tokens)].float().tolist(), labels.gold)
    return loss, count, scored


def _scored_right(module: Any, tokenizer: Any, items: tuple[tuple[str, tuple[str, ...], int], ...]) -> int:
    from ftscope.models.lm import HFLanguageModel

    lm = HFLanguageModel(module, tokenizer)
    right = 0
    for choices in dict.fromkeys(c for _, c, _ in items):  # one call per label set
        group = [(p, g) for p, c, g in items if c == choices]
        scores = lm.score_choices("", [p for p, _ in group], choices, "first-token")
        right += sum(max(range(len(s)), key=s.__getitem__) == g for s, (_, g) in zip(scores, group))
    return right


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
