"""LoRA: low-rank adapters on the chosen linear layers (all of them by default); the base stays frozen.

Saved as a PEFT adapter folder, which `load_model(base, adapter=DIR)` attaches.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ftscope.training.spec import TrainSpec
from ftscope.training.stages import Context, Method, Stage


def lora_config(spec: TrainSpec) -> Any:
    from peft import LoraConfig, TaskType

    targets = "all-linear" if tuple(spec.lora_targets) == ("all-linear",) else list(spec.lora_targets)
    return LoraConfig(task_type=TaskType.CAUSAL_LM, r=spec.lora_r, lora_alpha=spec.lora_alpha,
                      lora_dropout=spec.lora_dropout, target_modules=targets)


def attach(base: Any, ctx: Context) -> Any:
    import torch
    from peft import get_peft_model

    torch.manual_seed(ctx.spec.seed)  # A's initial values: same seed, same adapter
    return get_peft_model(base, lora_config(ctx.spec))


def save(model: Any, folder: Path, ctx: Context) -> None:
    model.save_pretrained(folder, safe_serialization=True)


def stages(ctx: Context) -> list[Stage]:
    return [Stage("train", ctx.spec.lr, None, attach, save)]


METHOD = Method("lora", "low-rank adapters on linear layers; base frozen", stages)
