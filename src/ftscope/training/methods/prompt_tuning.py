"""Prompt tuning: a trainable soft prompt before every input; the model itself stays frozen.

Saved as a PEFT prompt-tuning adapter folder (see training/soft_prompt.py for why the forward pass is
ours), naming the base as the spec did so that a copied folder loads anywhere.

Default learning rate 3e-2: a soft prompt is a handful of vectors with no other weights to carry the
change, so it needs orders of magnitude more step size than the weights do (Lester et al. 2021 train
prompts at 0.3 with Adafactor; AdamW wants less).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field

from ftscope.training.method import Artefact, Method, MethodOptions, one_stage
from ftscope.training.stages import Context, Stage

DEFAULT_LR = 3e-2


class PromptOptions(MethodOptions):
    prompt_tokens: int = Field(20, ge=1, description="soft prompt length in vectors")
    prompt_init: str | None = Field(None, description="text to start the prompt from; None: random vocabulary rows")


def attach(base: Any, ctx: Context) -> Any:
    from ftscope.training.soft_prompt import SoftPrompt, initial_prompt

    base.requires_grad_(False)
    options = ctx.options
    prompt = initial_prompt(base, ctx.tokenizer, options.prompt_tokens, options.prompt_init, ctx.spec.seed)
    return SoftPrompt(base, prompt, trainable=True)


def save(model: Any, state: dict, folder: Path, ctx: Context) -> None:
    from ftscope.training.soft_prompt import save_prompt

    save_prompt(state["prompt"], folder, ctx.spec.model, model.config)


class PromptTuning(Method):
    name = "prompt_tuning"
    summary = "a trainable soft prompt; model frozen"
    Options = PromptOptions

    def tunes(self, options: Any) -> str:
        return "prompt"

    def default_lr(self, options: Any) -> float:
        return DEFAULT_LR

    def stages(self, ctx: Context) -> list[Stage]:
        return one_stage(ctx, attach, save)

    def artefact(self, options: Any) -> Artefact:
        return Artefact("prompt_adapter")


METHOD = PromptTuning()
