"""Full fine-tuning: every weight trains; the result is a complete safetensors model folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ftscope.training.stages import Context, Method, Stage


def attach(base: Any, ctx: Context) -> Any:
    base.requires_grad_(True)
    return base


def save(model: Any, folder: Path, ctx: Context) -> None:
    # A folder `load_model(DIR)` opens on its own: weights, config and the tokenizer.
    model.save_pretrained(folder, safe_serialization=True)
    ctx.tokenizer.save_pretrained(folder)


def stages(ctx: Context) -> list[Stage]:
    return [Stage("train", ctx.spec.lr, None, attach, save)]


METHOD = Method("full", "fine-tune every weight (the paper's setting)", stages)
