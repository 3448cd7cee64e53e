"""What FTICL and ProMoT train besides their own twist: the whole model, or LoRA adapters.

`TuneOptions` is LoRA's options plus `tune`; LoRA's settings only count (and may only be given) when
tune is lora, so two runs that train the whole model the same way resolve to the same spec.
"""

from __future__ import annotations

from typing import Any

from pydantic import model_validator

from ftscope.specs import Tune
from ftscope.training.method import Method
from ftscope.training.methods import full, lora
from ftscope.training.methods.lora import LoraOptions

TUNERS: dict[str, Method] = {"full": full.METHOD, "lora": lora.METHOD}
LORA_FIELDS = tuple(LoraOptions.model_fields)


class TuneOptions(LoraOptions):
    tune: Tune = "full"

    @model_validator(mode="after")
    def _lora_options_need_lora(self) -> "TuneOptions":
        given = [f for f in LORA_FIELDS if f in self.model_fields_set]
        if self.tune != "lora" and given:
            raise ValueError(f"{given[0]}: applies only with tune: lora (this run tunes {self.tune}); "
                             "drop it or set tune: lora")
        return self

    def relevant(self) -> dict[str, Any]:
        values = self.model_dump()
        return values if self.tune == "lora" else {k: v for k, v in values.items() if k not in LORA_FIELDS}


def tuner(options: TuneOptions) -> Method:
    """The method whose attach and save do the tuning."""
    return TUNERS[options.tune]


class TunesLikeItsTuner(Method):
    """A method with a twist on top of full or LoRA tuning (FTICL, ProMoT): what it tunes, and the learning rate
    it starts from, are its tuner's."""

    def tunes(self, options: Any) -> str:
        return options.tune

    def default_lr(self, options: Any) -> float:
        return tuner(options).default_lr(options)
