"""Fine-tuning methods (full, LoRA, prompt tuning, FTICL, ProMoT, one module each under methods/) behind
one training entry, and the one way to open what any of them wrote.

    from ftscope.training import TrainSpec, open_model, train
    spec = TrainSpec(method="lora", datasets=("amazon",), n=200).with_options(lora_r=16)
    out = train(spec, "out/amazon-lora")
    loaded = open_model(str(out))        # or load_trained(out)

Importing this package is light (no torch); `train`, `load_trained` and `open_model` import it when called.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ftscope.specs import ModelRef, TrainSpec
from ftscope.training.config import load_train_spec, spec_from_mapping
from ftscope.training.methods import METHODS
from ftscope.training.resolve import resolve, tunes

if TYPE_CHECKING:
    from ftscope.models import LoadedModel, LoadOptions
    from ftscope.tasks import Catalogue
    from ftscope.training.loop import ProgressFn

__all__ = ["METHODS", "TrainSpec", "is_main_process", "load_train_spec", "load_trained", "open_model", "resolve",
           "spec_from_mapping", "train", "tunes"]


def train(spec: TrainSpec, out_dir: str | Path, catalogue: "Catalogue | None" = None,
          progress: "ProgressFn | None" = None) -> Path:
    """Train as `spec` says into `out_dir` (resuming or returning a finished run); returns out_dir."""
    from ftscope.training.run import train as run_train

    return run_train(spec, out_dir, catalogue, progress)


def is_main_process() -> bool:
    """False in the other processes of an `accelerate launch`, which train alongside but write nothing."""
    from accelerate import PartialState

    return PartialState().is_main_process


def load_trained(out_dir: str | Path, keep_soft_prompt: bool = False, options: "LoadOptions | None" = None,
                 ) -> "LoadedModel":
    """What `train` wrote, loaded for evaluation (LoRA merged; ProMoT's prompt only if asked)."""
    from ftscope.models import LoadOptions
    from ftscope.training.load import load_trained as load

    return load(out_dir, keep_soft_prompt, options or LoadOptions())


def open_model(ref: "ModelRef | str", options: "LoadOptions | None" = None, folder: str | Path | None = None,
               ) -> "LoadedModel":
    """Any model ftscope evaluates: a base name, hub id, folder or .gguf, or a ModelRef (a trained one
    needs `folder`, the train cell's model folder). See training.load.open_model."""
    from ftscope.models import LoadOptions
    from ftscope.training.load import open_model as open_

    return open_(ref, options or LoadOptions(), Path(folder) if folder is not None else None)
