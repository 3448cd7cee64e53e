"""Tasks and the dataset catalogue: which dataset belongs to which task and where it loads from."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from ftscope.errors import ConfigError, DataError
from ftscope.tasks.catalogue import PAPER_DATASETS, SQUAD_DATASETS, DatasetEntry
from ftscope.tasks.datasets import Dataset, default_data_dir, load_test, load_train
from ftscope.tasks.kinds import Task, role
from ftscope.tasks.paper import PAPER_TASKS, TASKS

__all__ = ["Catalogue", "Dataset", "DatasetEntry", "PAPER_DATASETS", "PAPER_TASKS", "Resolved", "Task", "role"]

FILE_SUFFIXES = (".json", ".jsonl", ".csv")


@dataclass(frozen=True)
class Resolved:
    """Dataset names as the user gave them, expanded: what can be evaluated, and what cannot (with why)."""

    names: tuple[str, ...]
    unavailable: Mapping[str, str] = field(default_factory=dict)  # name → the one-line reason
    catalogue: "Catalogue | None" = None  # the catalogue with any file datasets added


class Catalogue:
    """The paper's datasets plus any the user declared, resolved against one data folder."""

    def __init__(
        self,
        data_dir: str | Path | None = None,
        extra: Iterable[DatasetEntry] = (),
        extra_tasks: Mapping[str, Task] | None = None,
    ):
        self.data_dir = Path(data_dir) if data_dir else default_data_dir()
        self.tasks = {**TASKS, **(extra_tasks or {})}
        self.entries = {**PAPER_DATASETS, **SQUAD_DATASETS, **{e.name: e for e in extra}}
        self._tests: dict[str, Dataset] = {}  # test sets read once per catalogue (the grid checks each)
        for e in self.entries.values():
            if e.task not in self.tasks:
                raise ConfigError(f"dataset '{e.name}': task '{e.task}' is not one of {', '.join(self.tasks)}")

    def entry(self, name: str) -> DatasetEntry:
        if name not in self.entries:
            raise ConfigError(f"dataset '{name}' is not in the catalogue ({', '.join(self.entries)}); "
                              "declare it in a datasets: YAML or give a file path with --task")
        return self.entries[name]

    def task_of(self, name: str) -> Task:
        return self.tasks[self.entry(name).task]

    def test(self, name: str) -> Dataset:
        if name not in self._tests:
            self._tests[name] = self._load_test(name)
        return self._tests[name]

    def _load_test(self, name: str) -> Dataset:
        dataset = load_test(self.entry(name), self.task_of(name), self.data_dir)
        home = self.task_of(name).train_dataset
        if dataset.fewshot or home in (None, name) or home not in self.entries:
            return dataset
        # No demonstrations of its own (SNLI in the paper's data): borrow the task's in-domain ones.
        try:
            donor = load_test(self.entry(home), self.task_of(home), self.data_dir)
        except DataError:
            return dataset
        return replace(dataset, fewshot=donor.fewshot, fewshot_source=donor.fewshot_source)

    def train(self, name: str, n: int | None = None, seed: int = 0, allow_fewer: bool = False) -> Dataset:
        return load_train(self.entry(name), self.task_of(name), self.data_dir, n, seed, allow_fewer)

    def names(self, task: str | None = None) -> list[str]:
        return [n for n, e in self.entries.items() if task is None or e.task == task]

    def available(self, name: str) -> bool:
        return self.unavailable_reason(name) is None

    def unavailable_reason(self, name: str) -> str | None:
        """None when the test set loads, else the one line saying why not."""
        try:
            self.test(name)
        except DataError as e:
            return str(e)
        return None

    def resolve(self, names: Sequence[str], file_task: str | None = None,
                field_map: Mapping[str, str] | None = None) -> Resolved:
        """One meaning of dataset names for the CLI, the grid and audit: `paper` (every paper dataset), a task
        name (its datasets), a catalogue name, or a .json/.jsonl/.csv file (with `file_task`). Unknown names
        raise one line; known datasets whose test set cannot be loaded are returned in `unavailable` with the
        reason, so every caller reports them the same way and goes on with the rest."""
        catalogue, expanded = self, []
        for name in names:
            if Path(name).suffix.lower() in FILE_SUFFIXES:
                entry = file_entry(name, file_task, field_map or {}, catalogue)
                catalogue = Catalogue(self.data_dir, [*catalogue.entries.values(), entry], catalogue.tasks)
                expanded.append(entry.name)
            else:
                expanded += catalogue._expand(name)
        expanded = list(dict.fromkeys(expanded))
        reasons = {n: r for n in expanded if (r := catalogue.unavailable_reason(n)) is not None}
        return Resolved(tuple(n for n in expanded if n not in reasons), reasons, catalogue)

    def _expand(self, name: str) -> list[str]:
        if name == "paper":
            return [n for n in self.entries if n in PAPER_DATASETS]
        if name in self.tasks and name not in self.entries:
            return self.names(name)
        self.entry(name)  # raises one line for an unknown name
        return [name]


def file_entry(path: str, task: str | None, field_map: Mapping[str, str], catalogue: Catalogue) -> DatasetEntry:
    """A dataset given as a file path on the command line: it needs its task (and maybe a field mapping)."""
    if task is None or task not in catalogue.tasks:
        raise ConfigError(f"--dataset {path}: a file dataset needs --task, one of {', '.join(catalogue.tasks)}")
    return DatasetEntry(Path(path).stem, task, Path(path).name, test_file=path, field_map=dict(field_map))
