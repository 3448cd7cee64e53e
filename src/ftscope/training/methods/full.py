"""Full fine-tuning: every weight trains; the result is a complete safetensors model folder.

Default learning rate 2e-5: the paper's published script (LHRYANG/Generalization_of_FT-LLM,
run_train.sh) trains at 2e-5 with a linear schedule and no warm-up. The paper's *text* says 0.002;
the script is what produced its numbers, so the script's value is the default.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ftscope.training.method import Artefact, Method, MethodOptions, one_stage
from ftscope.training.stages import Context, Stage

DEFAULT_LR = 2e-5


def attach(base: Any, ctx: Context) -> Any:
    base.requires_grad_(True)
    return base


def save(model: Any, state: dict, folder: Path, ctx: Context) -> None:
    # A folder `load_model(DIR)` opens on its own: weights, config and the tokenizer.
    model.save_pretrained(folder, state_dict=_untied(model, state), safe_serialization=True)
    ctx.tokenizer.save_pretrained(folder)


def _untied(model: Any, state: dict) -> dict:
    """A tied output layer saved once, under the input embeddings' name, as save_pretrained does for a model in
    memory: gathered from FSDP2 shards, the two names arrive as separate tensors it would not recognise."""
    if not getattr(model.config, "tie_word_embeddings", False):
        return state
    tied = [name for name in state if name.endswith("lm_head.weight")]
    return {k: v for k, v in state.items() if k not in tied} if len(tied) < len(state) else state


class Full(Method):
    name = "full"
    summary = "fine-tune every weight (the paper's setting)"
    Options = MethodOptions  # nothing of its own: the common fields say it all

    def tunes(self, options: Any) -> str:
        return "full"

    def default_lr(self, options: Any) -> float:
        return DEFAULT_LR

    def stages(self, ctx: Context) -> list[Stage]:
        return one_stage(ctx, attach, save)

    def artefact(self, options: Any) -> Artefact:
        return Artefact("model")


METHOD = Full()
