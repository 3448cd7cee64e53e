"""A TrainSpec from YAML, `--set` pairs or any mapping: common fields and the method's options side by side.

    # train.yaml — at the top level or under `train:`
    method: lora
    datasets: [amazon, paws]
    proportions: [0.7, 0.3]
    n: 1000
    lora_r: 16                  # the method's options flat, as users know them ...
    options: {lora_alpha: 32}   # ... or under `options:`
    learning_rate: 5e-4         # TRL/transformers names are accepted where they mean the same

Each bad key or value is one ConfigError line naming the file and the field; an option of another
method says whose it is.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from ftscope.errors import ConfigError
from ftscope.specs import TrainSpec, freeze_options
from ftscope.training.fields import ALIASES, common_names, common_schema, validate
from ftscope.training.resolve import check_option_names, method_of, resolve
from ftscope.yaml_files import read_yaml


def spec_from_mapping(data: Mapping[str, Any], where: str = "train spec") -> TrainSpec:
    """The spec the mapping describes, every field and option checked (its options as given; `resolve`
    completes them)."""
    flat = _unalias(data, where)
    nested = flat.pop("options", None) or {}
    if not isinstance(nested, Mapping):
        raise ConfigError(f"{where}: options: give a mapping of option: value (got {nested!r})")
    names = set(common_names())
    common = {k: v for k, v in flat.items() if k in names}
    options = _merged({k: v for k, v in flat.items() if k not in names}, dict(nested), where)
    fields = validate(common_schema(), common, where)
    method = method_of(fields.method, where)
    check_option_names(fields.method, list(options), where)
    given = validate(method.Options, options, where)
    chosen = {k: v for k, v in given.model_dump().items() if k in given.model_fields_set}
    spec = TrainSpec(**dict(fields), options=freeze_options(chosen))
    resolve(spec, where)  # the checks across fields (a weight per dataset), with the same one line
    return spec


def _unalias(data: Mapping[str, Any], where: str) -> dict[str, Any]:
    out = dict(data)
    for alias, name in ALIASES.items():
        if alias not in out:
            continue
        if name in out:
            raise ConfigError(f"{where}: {alias}: means the same as {name}; give one of them")
        out[name] = out.pop(alias)
    return out


def _merged(top: dict[str, Any], nested: dict[str, Any], where: str) -> dict[str, Any]:
    twice = sorted(top.keys() & nested.keys())
    if twice:
        raise ConfigError(f"{where}: {twice[0]}: given twice, at the top level and under options; keep one")
    return {**top, **nested}


def load_train_spec(path: str | Path) -> TrainSpec:
    path = Path(path)
    raw = read_yaml(path, "training config") or {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of training fields, found {type(raw).__name__}")
    if "train" in raw and isinstance(raw["train"], dict):
        return spec_from_mapping(raw["train"], f"{path}: train")
    return spec_from_mapping(raw, str(path))
