"""What a training method declares. Each method is one module under training/methods/ holding a
subclass of `Method`, registered by one line in training.methods.METHODS; nothing else names methods.

A method declares
- `Options`: its own settings, a frozen pydantic model whose field constraints are the checks (the
  option names are flat and unique across methods: `lora_r`, `fticl_k`, ...);
- `tunes(options)`: what gets its weights changed ("full", "lora", "prompt", ...);
- `default_lr(options)`: the learning rate when a spec leaves `lr` unset (justified in its module);
- `complete(options)`: defaults that depend on other values (ProMoT's prompt learning rate);
- `stages(ctx)`: what trains, in order (training.stages.Stage);
- `artefact(options)`: what the output folder holds, and so how it loads;
- `demos(...)`: demonstrations placed before each training input (FTICL); None for the others;
- `evaluated(module)`: the trained module as evaluated by default (ProMoT: without its prompt).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Literal

from pydantic import BaseModel, ConfigDict

from ftscope.specs import TrainSpec
from ftscope.training.stages import Context, Stage

if TYPE_CHECKING:
    from ftscope.tasks import Catalogue, Dataset
    from ftscope.types import Example

ArtefactKind = Literal["model", "lora_adapter", "prompt_adapter"]
DemosOf = Callable[[int], "tuple[Example, ...]"]  # a training example's index → its demonstrations


class MethodOptions(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    def relevant(self) -> dict[str, Any]:
        """The options that change how the method trains: what a resolved spec keeps and hashes."""
        return self.model_dump()


@dataclass(frozen=True)
class Artefact:
    """What the top of a trained folder holds, and a sub-folder with a soft prompt kept apart (ProMoT)."""

    kind: ArtefactKind
    soft_prompt: str | None = None

    def to_dict(self, model: str) -> dict[str, Any]:
        load = {"model": "load_model(DIR)", "lora_adapter": f"load_model('{model}', adapter=DIR)"}
        return {"kind": self.kind, "soft_prompt": self.soft_prompt,
                "load": load.get(self.kind, "ftscope.training.open_model(DIR)")}


class Method(ABC):
    name: str
    summary: str
    Options: type[MethodOptions] = MethodOptions

    @abstractmethod
    def tunes(self, options: Any) -> str: ...

    @abstractmethod
    def default_lr(self, options: Any) -> float: ...

    @abstractmethod
    def stages(self, ctx: Context) -> list[Stage]: ...

    @abstractmethod
    def artefact(self, options: Any) -> Artefact: ...

    def complete(self, options: Any) -> Any:
        return options

    def demos(self, spec: TrainSpec, options: Any, catalogue: "Catalogue", dataset: "Dataset") -> DemosOf | None:
        return None

    def evaluated(self, module: Any) -> Any:
        return module


def one_stage(ctx: Context, attach: Callable, save: Callable) -> list[Stage]:
    """The stages of a method that trains one module over spec.epochs passes."""
    return [Stage("train", ctx.spec.lr, None, attach, save)]
