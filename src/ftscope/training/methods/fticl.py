"""FTICL: fine-tuning with in-context learning. Every training input carries k demonstrations.

`fixed` uses the first k items of the dataset's few-shot file, as the paper does; `sampled` draws k
per example from the training pool (never the example itself), seeded by (seed, dataset, index).
What trains is the whole model or LoRA adapters (`tune`), with their learning-rate defaults.
"""

from __future__ import annotations

import random
from typing import Any, Literal

from pydantic import Field

from ftscope.errors import DataError
from ftscope.prompts import select_demos
from ftscope.specs import TrainSpec
from ftscope.tasks import Catalogue, Dataset
from ftscope.training.method import Artefact, DemosOf
from ftscope.training.methods.tune import TuneOptions, TunesLikeItsTuner, tuner
from ftscope.training.stages import Context, Stage
from ftscope.types import Example


class FticlOptions(TuneOptions):
    fticl_k: int = Field(4, ge=1, description="demonstrations before every training input")
    fticl_demos: Literal["fixed", "sampled"] = "fixed"


def demos(spec: TrainSpec, options: FticlOptions, catalogue: Catalogue, dataset: Dataset) -> DemosOf:
    k = options.fticl_k
    if options.fticl_demos == "fixed":
        shots = catalogue.test(dataset.name)
        fixed = select_demos(shots.fewshot, k, "first", source=shots.fewshot_source or shots.source)
        return lambda i: fixed
    pool = dataset.examples
    if len(pool) <= k:
        raise DataError(f"{dataset.source}: fticl_k={k} sampled demonstrations need more than "
                        f"{k} training examples, the run has {len(pool)}; lower fticl_k or raise n")
    return lambda i: _sampled(pool, i, k, f"{spec.seed}:{dataset.name}:{i}")


def _sampled(pool: tuple[Example, ...], skip: int, k: int, seed: str) -> tuple[Example, ...]:
    # Draw from the pool minus one slot, then step over the example's own index.
    picks = random.Random(seed).sample(range(len(pool) - 1), k)
    return tuple(pool[j + (j >= skip)] for j in picks)


class Fticl(TunesLikeItsTuner):
    name = "fticl"
    summary = "fine-tune (full or LoRA) on inputs preceded by k demonstrations"
    Options = FticlOptions

    def stages(self, ctx: Context) -> list[Stage]:
        return tuner(ctx.options).stages(ctx)

    def artefact(self, options: Any) -> Artefact:
        return tuner(options).artefact(options)

    def demos(self, spec: TrainSpec, options: Any, catalogue: Catalogue, dataset: Dataset) -> DemosOf:
        return demos(spec, options, catalogue, dataset)


METHOD = Fticl()
