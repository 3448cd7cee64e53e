"""A TrainSpec from YAML (or any mapping), validated by pydantic; unknown keys are refused by name.

    # train.yaml — the keys are TrainSpec's fields, at the top level or under `train:`
    method: lora
    datasets: [amazon, paws]
    proportions: [0.7, 0.3]
    n: 1000
"""

from __future__ import annotations

import dataclasses
import typing
from functools import cache
from pathlib import Path
from typing import Any, Mapping

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, create_model

from ftscope.errors import ConfigError
from ftscope.training.spec import TrainSpec, check

_LISTS = ("datasets", "proportions", "lora_targets")  # a lone value stands for a list of one


@cache
def _schema() -> type[BaseModel]:
    hints = typing.get_type_hints(TrainSpec)
    fields = {f.name: (hints[f.name], f.default) for f in dataclasses.fields(TrainSpec)}
    return create_model("TrainSpecFields", __config__=ConfigDict(extra="forbid"), **fields)


def spec_from_mapping(data: Mapping[str, Any], where: str = "train spec") -> TrainSpec:
    data = {k: ([v] if k in _LISTS and isinstance(v, (str, int, float)) else v) for k, v in data.items()}
    try:
        parsed = _schema().model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        loc = ".".join(str(x) for x in err["loc"])
        hint = "; it is not a TrainSpec field" if err["type"] == "extra_forbidden" else ""
        raise ConfigError(f"{where}: {loc}: {err['msg']}{hint}") from None
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in parsed.model_dump().items()}
    return check(TrainSpec(**values), where)


def load_train_spec(path: str | Path) -> TrainSpec:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: file not found")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML ({str(e).splitlines()[0]})") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of TrainSpec fields, found {type(raw).__name__}")
    if "train" in raw and isinstance(raw["train"], dict):
        return spec_from_mapping(raw["train"], f"{path}: train")
    return spec_from_mapping(raw, str(path))
