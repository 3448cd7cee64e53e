"""A spec made explicit: its fields checked, its method's options validated and completed, its learning
rate and proportions filled in, so that two specs that train the same way have the same `hash()`.

    resolve(TrainSpec(method="lora")).lr            # 1e-3, LoRA's default
    tunes(TrainSpec(method="fticl").with_options(tune="lora"))   # "lora"
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ftscope.errors import ConfigError
from ftscope.specs import TrainSpec, freeze_options
from ftscope.training.fields import ALIASES, common_names, common_schema, validate
from ftscope.training.method import Method, MethodOptions
from ftscope.training.methods import METHODS


def method_of(name: str, where: str = "train spec") -> Method:
    if name not in METHODS:
        raise ConfigError(f"{where}: method: must be one of {', '.join(METHODS)} (got {name!r})")
    return METHODS[name]


def owners(option: str) -> list[str]:
    """The methods that declare an option."""
    return [name for name, m in METHODS.items() if option in m.Options.model_fields]


def check_option_names(method: str, names: list[str], where: str) -> None:
    """One line for the first name the method does not declare, saying whose option it is if anyone's."""
    known = METHODS[method].Options.model_fields
    for name in names:
        if name in known:
            continue
        others = owners(name)
        if others:
            whose = _listed([f"{m}'s" for m in others])
            raise ConfigError(f"{where}: {name}: not an option of method {method} (it is {whose})")
        raise ConfigError(f"{where}: {name}: not a training field or an option of method {method}"
                          f"{_suggestion(name, [*common_names(), *ALIASES, *known])}")


def _listed(words: list[str]) -> str:
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"


def _suggestion(name: str, candidates: list[str]) -> str:
    import difflib

    close = difflib.get_close_matches(name, candidates, n=1)
    return f"; did you mean {close[0]}?" if close else ""


def method_options(spec: TrainSpec, where: str = "train spec") -> MethodOptions:
    """The spec's options validated by its method and completed with defaults."""
    method = method_of(spec.method, where)
    values = dict(spec.options)
    check_option_names(spec.method, list(values), where)
    return method.complete(validate(method.Options, values, where))


def resolve(spec: TrainSpec, where: str = "train spec") -> TrainSpec:
    """The spec checked and completed: one ConfigError line naming the field for the first bad value."""
    common = validate(common_schema(), _common_values(spec), where)
    spec = replace(spec, **dict(common))
    options = method_options(spec, where)
    method = METHODS[spec.method]
    return replace(spec, lr=spec.lr if spec.lr is not None else method.default_lr(options),
                   proportions=_normalised(spec.proportions, spec.datasets, where),
                   options=freeze_options(options.relevant()))


def _common_values(spec: TrainSpec) -> dict[str, Any]:
    return {name: getattr(spec, name) for name in common_names()}


def _normalised(proportions: tuple[float, ...], datasets: tuple[str, ...], where: str) -> tuple[float, ...]:
    if proportions and len(proportions) != len(datasets):
        raise ConfigError(f"{where}: proportions: give one positive weight per dataset, or none for equal shares "
                          f"(got {len(proportions)} for {len(datasets)} datasets)")
    weights = proportions or (1.0,) * len(datasets)
    return tuple(round(w / sum(weights), 12) for w in weights)


def tunes(spec: TrainSpec) -> str:
    """What the spec's training changes: full, lora, prompt, or what a newer method declares."""
    return METHODS[spec.method].tunes(method_options(spec))

