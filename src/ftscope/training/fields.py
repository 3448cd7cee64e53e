"""The checks on a training spec's fields, declared as pydantic constraints, and the one line a user sees
when one fails: "{where}: {field}: {what is wrong} (got {value!r})".

The common fields come from specs.TrainSpec itself (names, types, defaults), with the constraints below
added, so a field added there is validated here without a second list to keep in step. Each method's
own options are pydantic models too (training.method.MethodOptions); both go through `one_line`.
"""

from __future__ import annotations

import dataclasses
import re
import typing
from functools import cache
from typing import Annotated, Any, Mapping, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, create_model

from ftscope.errors import ConfigError
from ftscope.specs import TrainSpec

T = TypeVar("T")


def _listify(value: Any) -> Any:
    """A lone value where a list is expected stands for a list of one (`datasets: amazon`)."""
    return [value] if isinstance(value, (str, int, float)) else value


Listy = BeforeValidator(_listify)
OneOrMore = Annotated[tuple[T, ...], Listy, Field(min_length=1)]
Positive = Annotated[float, Field(gt=0)]

# The constrained common fields; every other TrainSpec field keeps its plain type.
COMMON_TYPES: dict[str, Any] = {
    "model": Annotated[str, Field(min_length=1)],
    "datasets": OneOrMore[Annotated[str, Field(min_length=1)]],
    "proportions": Annotated[tuple[Positive, ...], Listy],
    "n": Annotated[int, Field(ge=1)] | None,
    "epochs": Annotated[int, Field(ge=1)],
    "lr": Positive | None,
    "batch_size": Annotated[int, Field(ge=1)],
    "grad_accum": Annotated[int, Field(ge=1)],
    "max_length": Annotated[int, Field(ge=8)],
    "max_batch_tokens": Annotated[int, Field(ge=1)],
    "checkpoint_every": Annotated[int, Field(ge=0)],
    "weight_decay": Annotated[float, Field(ge=0)],
    "max_grad_norm": Positive,
}
NOT_COMMON = ("options",)
# TRL's SFTConfig / transformers' TrainingArguments name → ours; only names whose meaning is the same.
ALIASES = {"per_device_train_batch_size": "batch_size", "gradient_accumulation_steps": "grad_accum",
           "learning_rate": "lr", "num_train_epochs": "epochs"}  # the method's own, validated by its Options model


@cache
def common_schema() -> type[BaseModel]:
    hints = typing.get_type_hints(TrainSpec)
    fields = {f.name: (COMMON_TYPES.get(f.name, hints[f.name]), f.default)
              for f in dataclasses.fields(TrainSpec) if f.name not in NOT_COMMON}
    return create_model("TrainSpecFields", __config__=ConfigDict(extra="forbid", frozen=True), **fields)


def common_names() -> tuple[str, ...]:
    return tuple(common_schema().model_fields)


def validate(schema: type[BaseModel], values: Mapping[str, Any], where: str) -> BaseModel:
    try:
        return schema.model_validate(dict(values))
    except ValidationError as e:
        raise one_line(e, where) from None


def one_line(error: ValidationError, where: str) -> ConfigError:
    err = error.errors(include_url=False)[0]
    field = ".".join(str(x) for x in err["loc"])
    got = f" (got {err['input']!r})" if field else ""
    return ConfigError(f"{where}: {field + ': ' if field else ''}{_wording(err)}{got}")


def _wording(err: Mapping[str, Any]) -> str:
    """Pydantic's error in the project's words ("must be 1 or more"), its own message otherwise."""
    ctx = err.get("ctx") or {}
    words = {
        "greater_than": lambda: f"must be > {_num(ctx['gt'])}",
        "greater_than_equal": lambda: f"must be {_num(ctx['ge'])} or more",
        "less_than": lambda: f"must be < {_num(ctx['lt'])}",
        "less_than_equal": lambda: f"must be {_num(ctx['le'])} or less",
        "literal_error": lambda: "must be one of " + ", ".join(re.findall(r"'([^']*)'", str(ctx["expected"]))),
        "too_short": lambda: "give one or more values" if ctx["min_length"] == 1 else
        f"give at least {ctx['min_length']} values",
        "string_too_short": lambda: "must not be empty",
        "value_error": lambda: err["msg"].removeprefix("Value error, "),
    }
    make = words.get(err["type"])
    return make() if make else err["msg"][:1].lower() + err["msg"][1:]


def _num(value: Any) -> str:
    return f"{value:g}" if isinstance(value, (int, float)) else str(value)
