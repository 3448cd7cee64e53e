"""What a method's training is made of: one or more stages, each a module to train, a schedule and a save.

Every method (training/methods/*.py) builds its stages from the run context; the shared loop in
loop.py trains whatever a stage attaches, and run.py strings stages together, so ProMoT's two steps
and a plain fine-tune go through the same checkpointed code.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ftscope.specs import TrainSpec


@dataclass(frozen=True)
class Context:
    spec: TrainSpec  # resolved
    options: Any  # the method's validated Options (training.method.MethodOptions)
    tokenizer: Any
    out_dir: Path


def artefact_dir(out_dir: Path, stage: str) -> Path:
    """Where a finished stage's artefact waits until the run assembles its output folder."""
    return out_dir / ".stages" / stage / "artefact"


@dataclass(frozen=True)
class Watch:
    """Measure in-task quality on held-out examples every `every` optimizer steps of a stage, and say
    so when the last interval still moved it (the stage had not levelled off)."""

    every: int
    label: str  # names the stage in the note, e.g. "ProMoT stage 1"
    fix: str  # what to change when it had not levelled off, e.g. "raise promot_steps"


@dataclass(frozen=True)
class Stage:
    name: str
    lr: float
    updates: int | None  # optimizer steps; None: spec.epochs passes over the data
    attach: Callable[[Any, Context], Any]  # base model → the module whose trainable parameters train
    # (trained module, its state dict gathered whole, folder, context) → artefact files in the folder. Write the
    # state's values, not the module's: under sharding the module holds this process's shard only.
    save: Callable[[Any, dict, Path, Context], None]
    target: str = "."  # where its artefact ends up, relative to out_dir
    watch: Watch | None = None
