"""Prompt tuning: a trainable soft prompt before every input; the model itself stays frozen.

Saved as a PEFT prompt-tuning adapter folder (see soft_prompt.py for why the forward pass is ours).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ftscope.training.stages import Context, Method, Stage


def attach(base: Any, ctx: Context) -> Any:
    from ftscope.training.soft_prompt import SoftPrompt, initial_prompt

    spec = ctx.spec
    base.requires_grad_(False)
    prompt = initial_prompt(base, ctx.tokenizer, spec.prompt_tokens, spec.prompt_init, spec.seed)
    return SoftPrompt(base, prompt, trainable=True)


def save(model: Any, folder: Path, ctx: Context) -> None:
    from ftscope.training.soft_prompt import save_prompt

    save_prompt(model.prompt, folder, ctx.base_path, model.config)


def stages(ctx: Context) -> list[Stage]:
    return [Stage("train", ctx.spec.lr, None, attach, save)]


METHOD = Method("prompt_tuning", "a trainable soft prompt; model frozen", stages)
