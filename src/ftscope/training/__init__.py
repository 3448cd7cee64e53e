"""Fine-tuning methods (full, LoRA, prompt tuning, FTICL, ProMoT) behind one training entry.

    from ftscope.training import TrainSpec, train, load_trained
    out = train(TrainSpec(method="lora", datasets=("amazon",), n=200), "out/amazon-lora")
    loaded = load_trained(out)          # or models.load_model("smollm2-135m", adapter=str(out))

Importing this package is light (no torch); `train` and `load_trained` import it when called.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ftscope.training import fticl, full, lora, prompt_tuning, promot
from ftscope.training.config import load_train_spec, spec_from_mapping
from ftscope.training.spec import DEFAULT_LR, METHOD_NAMES, TrainSpec, check
from ftscope.training.stages import Method

if TYPE_CHECKING:
    from ftscope.models import LoadedModel, LoadOptions
    from ftscope.tasks import Catalogue
    from ftscope.training.loop import ProgressFn

METHODS: dict[str, Method] = {m.name: m for m in (full.METHOD, lora.METHOD, prompt_tuning.METHOD,
                                                   fticl.METHOD, promot.METHOD)}
assert tuple(METHODS) == METHOD_NAMES  # the spec's check and the registry name the same methods

__all__ = ["DEFAULT_LR", "METHODS", "TrainSpec", "check", "load_train_spec", "load_trained",
           "spec_from_mapping", "train"]


def train(spec: TrainSpec, out_dir: str | Path, catalogue: "Catalogue | None" = None,
          progress: "ProgressFn | None" = None) -> Path:
    """Train as `spec` says into `out_dir` (resuming or returning a finished run); returns out_dir."""
    from ftscope.training.run import train as run_train

    return run_train(spec, out_dir, catalogue, progress)


def load_trained(out_dir: str | Path, keep_soft_prompt: bool = False, options: "LoadOptions | None" = None,
                 ) -> "LoadedModel":
    """What `train` wrote, loaded for evaluation (LoRA merged; ProMoT's prompt only if asked)."""
    from ftscope.models import LoadOptions
    from ftscope.training.load import load_trained as load

    return load(out_dir, keep_soft_prompt, options or LoadOptions())
