"""ProMoT (Wang et al. 2022): stage 1 tunes a soft prompt on the frozen model; stage 2 tunes the
model (full or LoRA) with that prompt attached and frozen, so format-specific learning stays in the
prompt. The result keeps them apart: the model (or adapter) at the top of the output folder, the
prompt in `soft_prompt/`. Evaluation leaves the prompt off by default, as the method intends;
`load_trained(DIR, keep_soft_prompt=True)` puts it back.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ftscope.training import full, lora, prompt_tuning
from ftscope.training.stages import Context, Method, Stage, artefact_dir

PROMPT_DIR = "soft_prompt"


def _tuner(ctx: Context):
    return lora if ctx.spec.tune == "lora" else full


def attach_model(base: Any, ctx: Context) -> Any:
    from ftscope.training.soft_prompt import SoftPrompt, load_prompt

    # Stage 1's prompt is read from its saved folder, so a resumed run attaches the same one.
    prompt = load_prompt(artefact_dir(ctx.out_dir, "prompt"))
    return SoftPrompt(_tuner(ctx).attach(base, ctx), prompt, trainable=False)


def save_model(model: Any, folder: Path, ctx: Context) -> None:
    _tuner(ctx).save(model.base, folder, ctx)


def stages(ctx: Context) -> list[Stage]:
    spec = ctx.spec
    return [
        Stage("prompt", spec.promot_lr, spec.promot_steps, prompt_tuning.attach, prompt_tuning.save, PROMPT_DIR),
        Stage("model", spec.lr, None, attach_model, save_model),
    ]


METHOD = Method("promot", "soft prompt first, then the model with the prompt frozen; prompt kept apart",
                stages, evaluated=lambda module: module.base)
