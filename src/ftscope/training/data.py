"""Training items: which examples a run uses and the text each is trained on.

An item is the paper's Prompt-1 rendering of an example (with FTICL's demonstrations before it) and
the target that follows; tokens.py appends EOS and masks everything but the target. A mixture of
datasets splits `n` by the spec's proportions, each share drawn by seed from its own file.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ftscope.prompts import context, render, target_text, template_for
from ftscope.specs import TrainSpec
from ftscope.tasks import Catalogue, Dataset
from ftscope.types import Example

log = logging.getLogger("ftscope.training")

# A method that puts demonstrations before each input (FTICL) supplies this: dataset → example index → demos.
Demos = Callable[[Dataset], Callable[[int], tuple[Example, ...]] | None]


@dataclass(frozen=True)
class TrainItem:
    dataset: str
    example_id: str
    prompt: str  # everything the model reads before the target
    target: str


@dataclass(frozen=True)
class TrainData:
    items: tuple[TrainItem, ...]
    sources: tuple[dict, ...]  # per dataset: file, sha256, sizes, example ids (for the manifest)
    notes: tuple[str, ...] = field(default=())

    @property
    def tasks(self) -> set[str]:
        return {s["task"] for s in self.sources}


def shares(n: int | None, proportions: tuple[float, ...]) -> list[int | None]:
    """Split n by weight with largest remainders, so the shares always add up to n."""
    if n is None:
        return [None] * len(proportions)
    exact = [n * p / sum(proportions) for p in proportions]
    counts = [int(x) for x in exact]
    by_remainder = sorted(range(len(exact)), key=lambda i: counts[i] - exact[i])
    for i in by_remainder[: n - sum(counts)]:
        counts[i] += 1
    return counts


def build_data(spec: TrainSpec, catalogue: Catalogue, demos: Demos | None = None) -> TrainData:
    items: list[TrainItem] = []
    sources, notes = [], []
    weights = spec.proportions or (1.0,) * len(spec.datasets)
    for name, share in zip(spec.datasets, shares(spec.n, weights)):
        if share == 0:
            notes.append(f"{name}: its proportion of n={spec.n} rounds to 0 examples; it was left out")
            continue
        dataset = catalogue.train(name, share, spec.seed, spec.allow_fewer)
        if share is not None and len(dataset.examples) < share:
            notes.append(f"{dataset.source}: asked for {share} examples, the file holds "
                         f"{len(dataset.examples)}; using all {len(dataset.examples)} (allow_fewer)")
        items.extend(_items(spec, dataset, demos))
        sources.append(_source(dataset, share))
    for note in notes:
        log.warning(note)
    return TrainData(tuple(items), tuple(sources), tuple(notes))


def _items(spec: TrainSpec, dataset: Dataset, demos: Demos | None) -> list[TrainItem]:
    task = dataset.task
    template = template_for(task, spec.template)
    demos_of = (demos(dataset) if demos else None) or (lambda i: ())  # a method without demos gives None
    return [TrainItem(dataset.name, ex.id, context(template, task, demos_of(i)) + render(template, ex),
                      target_text(task, ex)) for i, ex in enumerate(dataset.examples)]


def _source(dataset: Dataset, asked: int | None) -> dict:
    return {"dataset": dataset.name, "task": dataset.task.name, "file": dataset.source,
            "sha256": file_sha256(dataset.source), "n_requested": asked, "n_used": len(dataset.examples),
            "example_ids": [ex.id for ex in dataset.examples]}


def file_sha256(path: str) -> str | None:
    """The data file's content hash; None for sources that are not a local file (a hub dataset)."""
    if not Path(path).is_file():
        return None
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 22):
            digest.update(block)
    return digest.hexdigest()
