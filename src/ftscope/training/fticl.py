"""FTICL: fine-tuning with in-context learning. Every training input carries k demonstrations.

`fixed` uses the first k items of the dataset's few-shot file, as the paper does; `sampled` draws k
per example from the training pool (never the example itself), seeded by (seed, dataset, index).
What trains is the whole model or LoRA adapters (`tune`).
"""

from __future__ import annotations

import random
from typing import Callable

from ftscope.errors import DataError
from ftscope.prompts import select_demos
from ftscope.tasks import Catalogue, Dataset
from ftscope.training import full, lora
from ftscope.training.spec import TrainSpec
from ftscope.training.stages import Context, Method, Stage
from ftscope.types import Example


def demos(spec: TrainSpec, catalogue: Catalogue, dataset: Dataset) -> Callable[[int], tuple[Example, ...]]:
    if spec.fticl_demos == "fixed":
        shots = catalogue.test(dataset.name)
        fixed = select_demos(shots.fewshot, spec.fticl_k, "first", source=shots.fewshot_source or shots.source)
        return lambda i: fixed
    pool = dataset.examples
    if len(pool) <= spec.fticl_k:
        raise DataError(f"{dataset.source}: fticl_k={spec.fticl_k} sampled demonstrations need more than "
                        f"{spec.fticl_k} training examples, the run has {len(pool)}; lower fticl_k or raise n")
    return lambda i: _sampled(pool, i, spec.fticl_k, f"{spec.seed}:{dataset.name}:{i}")


def _sampled(pool: tuple[Example, ...], skip: int, k: int, seed: str) -> tuple[Example, ...]:
    # Draw from the pool minus one slot, then step over the example's own index.
    picks = random.Random(seed).sample(range(len(pool) - 1), k)
    return tuple(pool[j + (j >= skip)] for j in picks)


def stages(ctx: Context) -> list[Stage]:
    return (lora if ctx.spec.tune == "lora" else full).stages(ctx)


METHOD = Method("fticl", "fine-tune (full or LoRA) on inputs preceded by k demonstrations", stages, demos)
