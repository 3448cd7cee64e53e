"""ProMoT (Wang et al. 2022): stage 1 tunes a soft prompt on the frozen model; stage 2 tunes the
model (full or LoRA) with that prompt attached and frozen, so format-specific learning stays in the
prompt. The result keeps them apart: the model (or adapter) at the top of the output folder, the
prompt in `soft_prompt/`. Evaluation leaves the prompt off by default, as the method intends;
`open_model(ref.with_prompt())` / `load_trained(DIR, keep_soft_prompt=True)` puts it back.

Stage 1 is watched: every max(1, promot_steps // 5) steps its in-task quality is measured on held-out
examples of the training file (training/monitor.py), and the manifest says so when the prompt was still
improving at the end, since a prompt that has not levelled off leaves format learning to stage 2.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from pydantic import Field

from ftscope.training.method import Artefact
from ftscope.training.methods import prompt_tuning
from ftscope.training.methods.prompt_tuning import PromptOptions
from ftscope.training.methods.tune import TuneOptions, TunesLikeItsTuner, tuner
from ftscope.training.stages import Context, Stage, Watch, artefact_dir

PROMPT_DIR = "soft_prompt"
WATCH_POINTS = 5  # stage-1 measurements after the start; cheap: ≤ 32 held-out examples each


class PromotOptions(TuneOptions, PromptOptions):
    promot_steps: int = Field(100, ge=1, description="stage 1: optimizer steps tuning the soft prompt alone")
    promot_lr: float | None = Field(None, gt=0, description="stage 1 learning rate; None: prompt tuning's")


def attach_model(base: Any, ctx: Context) -> Any:
    from ftscope.training.soft_prompt import SoftPrompt, load_prompt

    # Stage 1's prompt is read from its saved folder, so a resumed run attaches the same one.
    prompt = load_prompt(artefact_dir(ctx.out_dir, "prompt"))
    return SoftPrompt(tuner(ctx.options).stages(ctx)[0].attach(base, ctx), prompt, trainable=False)


def save_model(model: Any, state: dict, folder: Path, ctx: Context) -> None:
    base = {k.removeprefix("base."): v for k, v in state.items() if k.startswith("base.")}  # the prompt stays apart
    tuner(ctx.options).stages(ctx)[0].save(model.base, base, folder, ctx)


class Promot(TunesLikeItsTuner):
    name = "promot"
    summary = "soft prompt first, then the model with the prompt frozen; prompt kept apart"
    Options = PromotOptions

    def complete(self, options: Any) -> Any:
        return options.model_copy(update={"promot_lr": options.promot_lr or prompt_tuning.DEFAULT_LR})

    def stages(self, ctx: Context) -> list[Stage]:
        o = ctx.options
        watch = Watch(max(1, o.promot_steps // WATCH_POINTS), "ProMoT stage 1", "raise promot_steps")
        prompt = prompt_tuning.METHOD.stages(ctx)[0]
        return [replace(prompt, name="prompt", lr=o.promot_lr, updates=o.promot_steps, target=PROMPT_DIR,
                        watch=watch),
                Stage("model", ctx.spec.lr, None, attach_model, save_model)]

    def artefact(self, options: Any) -> Artefact:
        return replace(tuner(options).artefact(options), soft_prompt=PROMPT_DIR)

    def evaluated(self, module: Any) -> Any:
        return module.base  # the model without its prompt, as ProMoT evaluates


METHOD = Promot()
