"""A training spec's memory estimate (models.memory) and the device it would run on: what
`ftscope train --dry-run` prints and `ftscope plan` can show, before any weight is loaded."""

from __future__ import annotations

import os
from dataclasses import dataclass

from ftscope.models.memory import MemoryEstimate, Shape, Workload, footprint, model_config, what_would_fit
from ftscope.specs import TrainSpec
from ftscope.training.resolve import resolve, tunes


@dataclass(frozen=True)
class Footprint:
    spec: TrainSpec  # resolved
    workload: Workload
    estimate: MemoryEstimate
    device: str  # what the capacity is: "CUDA <name>" or "CPU RAM"
    capacity_gb: float
    alternatives: tuple[tuple[str, float], ...]  # changes that would fit, with their totals, when it does not

    @property
    def fits(self) -> bool:
        return self.estimate.fits(self.capacity_gb)


def workload(spec: TrainSpec, device: str, processes: int = 1, sharded: bool = False) -> Workload:
    """The spec's largest stage as the estimate sees it (ProMoT's second stage reads its prompt too)."""
    spec = resolve(spec)
    extra = spec.option("prompt_tokens", 0) if spec.method == "promot" else 0
    bf16 = spec.bf16 if spec.bf16 is not None else device == "cuda"
    return Workload(tunes(spec), spec.dtype, bf16, spec.batch_size, spec.max_length + extra, spec.max_batch_tokens,
                    lora_r=spec.option("lora_r", 8), lora_dropout=spec.option("lora_dropout", 0.05),
                    prompt_tokens=spec.option("prompt_tokens", 20), processes=processes, sharded=sharded,
                    device=device)


def launched_world() -> tuple[int, bool]:
    """(processes, sharded) of the `accelerate launch` this runs under, read from its environment."""
    processes = int(os.environ.get("WORLD_SIZE", "1"))
    return processes, os.environ.get("ACCELERATE_USE_FSDP", "false").lower() == "true"


def spec_footprint(spec: TrainSpec) -> Footprint:
    from ftscope.models.memory import device_memory

    device, capacity = device_memory()
    work = workload(spec, "cuda" if device.startswith("CUDA") else "cpu", *launched_world())
    shape = Shape.from_config(model_config(spec.model))
    found = footprint(shape, work)
    alternatives = () if found.fits(capacity) else tuple(what_would_fit(shape, work, capacity))
    return Footprint(resolve(spec), work, found, device, capacity, alternatives)
