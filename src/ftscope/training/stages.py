"""What a training method is: one or more stages, each a module to train, a schedule and a save.

Every method (full.py, lora.py, …) builds its stages from the run context; the shared loop in
loop.py trains whatever a stage attaches, and run.py strings stages together, so ProMoT's two steps
and a plain fine-tune go through the same checkpointed code.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ftscope.training.data import Demos
from ftscope.training.spec import TrainSpec


@dataclass(frozen=True)
class Context:
    spec: TrainSpec  # resolved
    base_path: str  # the local base model folder (or hub id)
    tokenizer: Any
    out_dir: Path


def artefact_dir(out_dir: Path, stage: str) -> Path:
    """Where a finished stage's artefact waits until the run assembles its output folder."""
    return out_dir / ".stages" / stage / "artefact"


@dataclass(frozen=True)
class Stage:
    name: str
    lr: float
    updates: int | None  # optimizer steps; None: spec.epochs passes over the data
    attach: Callable[[Any, Context], Any]  # base model → the module whose trainable parameters train
    save: Callable[[Any, Path, Context], None]  # trained module → artefact files in a folder
    target: str = "."  # where its artefact ends up, relative to out_dir


@dataclass(frozen=True)
class Method:
    name: str
    summary: str
    stages: Callable[[Context], list[Stage]]
    demos: Demos | None = None  # FTICL: demonstrations placed before every training input
    # The trained module as evaluated by default (ProMoT: without its soft prompt).
    evaluated: Callable[[Any], Any] = lambda module: module
