"""Tasks and the dataset catalogue: which dataset belongs to which task and where it loads from."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Iterable, Mapping

from ftscope.errors import ConfigError, DataError
from ftscope.tasks.catalogue import PAPER_DATASETS, SQUAD_DATASETS, DatasetEntry
from ftscope.tasks.datasets import Dataset, default_data_dir, load_test, load_train
from ftscope.tasks.kinds import Task, role
from ftscope.tasks.paper import PAPER_TASKS, TASKS

__all__ = ["Catalogue", "Dataset", "DatasetEntry", "PAPER_DATASETS", "PAPER_TASKS", "Task", "role"]


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
        try:
            self.test(name)
        except DataError:
            return False
        return True
