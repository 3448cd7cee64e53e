"""User datasets without code: a JSON/JSONL/CSV file, a task (a paper task or a new one), a field mapping.

In YAML:

    datasets:
      - name: tweets
        task: sentiment            # a paper task, or define one:
        # task: {name: spam, kind: classification, labels: [spam, ham],
        #        template: "### Input:\\n{input}\\n### Label:"}
        test_file: data/tweets.csv
        fewshot_file: data/tweets_demos.jsonl
        fields: {input: text, output: label}   # task field: column in the file
        labels: {"1": positive, "0": negative} # raw value: label
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from ftscope.errors import ConfigError
from ftscope.tasks.catalogue import DatasetEntry
from ftscope.tasks.kinds import Task
from ftscope.yaml_files import read_yaml


class UserTaskSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    kind: Literal["classification", "generation"]
    template: str
    labels: list[str] = []
    max_new_tokens: int | None = None


class UserDatasetSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    task: str | UserTaskSpec
    test_file: str | None = None
    train_file: str | None = None
    fewshot_file: str | None = None
    fields: dict[str, str] = {}
    labels: dict[str, str] = {}


def user_task(spec: UserTaskSpec) -> Task:
    fields = tuple(dict.fromkeys(re.findall(r"{(\w+)}", spec.template)))
    if spec.kind == "classification" and len(spec.labels) < 2:
        raise ConfigError(f"task '{spec.name}': labels: a classification task needs at least two labels")
    default_tokens = 5 if spec.kind == "classification" else 60
    return Task(spec.name, spec.kind, fields, labels=tuple(spec.labels),
                max_new_tokens=spec.max_new_tokens or default_tokens,
                paper_shots=(0,), templates={"p1": spec.template, "p2": spec.template})


def user_entry(spec: UserDatasetSpec, base: Path) -> DatasetEntry:
    """Paths in a YAML file are relative to that file."""
    resolve = lambda p: str((base / p) if p and not Path(p).is_absolute() else p) if p else None  # noqa: E731
    task = spec.task if isinstance(spec.task, str) else spec.task.name
    return DatasetEntry(spec.name, task, spec.name, test_file=resolve(spec.test_file),
                        train_file=resolve(spec.train_file), fewshot_file=resolve(spec.fewshot_file),
                        field_map=spec.fields, label_map=spec.labels)


def read_user_specs(path: str | Path) -> list[UserDatasetSpec]:
    """The `datasets:` list of a YAML file, validated; errors name the file and the offending field."""
    path = Path(path)
    raw = read_yaml(path, "dataset spec") or {}
    if not isinstance(raw, dict) or not isinstance(raw.get("datasets", []), list):
        raise ConfigError(f"{path}: expected a mapping with a `datasets:` list of dataset specs")
    specs = []
    for i, item in enumerate(raw.get("datasets", [])):
        try:
            specs.append(UserDatasetSpec.model_validate(item))
        except ValidationError as e:
            err = e.errors()[0]
            loc = ".".join(str(x) for x in err["loc"])
            raise ConfigError(f"{path}: datasets[{i}].{loc}: {err['msg']}") from None
    return specs


def load_user_datasets(path: str | Path) -> tuple[list[DatasetEntry], dict[str, Task]]:
    """Catalogue entries and tasks from a `datasets:` YAML; paths in it are relative to the file."""
    specs = read_user_specs(path)
    tasks = {s.task.name: user_task(s.task) for s in specs if isinstance(s.task, UserTaskSpec)}
    return [user_entry(s, Path(path).parent) for s in specs], tasks


def absolute_specs(path: str | Path) -> list[dict]:
    """The YAML's dataset specs as dicts with absolute file paths, to embed in an experiment config."""
    base = Path(path).parent
    fix = lambda p: str((base / p).resolve()) if p and not Path(p).is_absolute() else p  # noqa: E731
    return [{**s.model_dump(exclude_none=True), **{k: fix(getattr(s, k)) for k in ("test_file", "train_file",
             "fewshot_file") if getattr(s, k)}} for s in read_user_specs(path)]


def user_catalogue(data_dir: str | Path | None, spec: str | Path | None) -> "Catalogue":
    """The catalogue with the datasets a `datasets:` YAML declares (the CLI's --spec)."""
    from ftscope.tasks import Catalogue

    entries, tasks = load_user_datasets(spec) if spec is not None else ([], {})
    return Catalogue(data_dir, entries, tasks)
