"""The catalogue as a table: each dataset's task, size and where it would load from (local files only:
listing never downloads from the hub)."""

from __future__ import annotations

from dataclasses import dataclass

from ftscope.errors import DataError
from ftscope.tasks import Catalogue, DatasetEntry
from ftscope.tasks.datasets import DATA_DIR_ENV, test_path, train_paths


@dataclass(frozen=True)
class Listed:
    name: str
    task: str
    kind: str
    test_items: str
    fewshot: str
    train_sizes: str
    source: str


def listing(cat: Catalogue) -> list[Listed]:
    return [_row(name, entry, cat) for name, entry in cat.entries.items()]


def _row(name: str, entry: DatasetEntry, cat: Catalogue) -> Listed:
    path = test_path(entry, cat.data_dir)
    size = shots = "-"
    if path is not None and path.is_file():
        try:
            data = cat.test(name)
            size, shots, source = str(len(data.examples)), str(len(data.fewshot)), data.source
        except DataError as e:
            source = f"unreadable: {e}"
    else:
        local = str(path) if path else f"${DATA_DIR_ENV}/{entry.task}/{entry.name}_test_500.json"
        source = f"hub: {entry.hub.path} (not local: {local})" if entry.hub else f"missing: {local}"
    return Listed(name, entry.task, cat.tasks[entry.task].kind, size, shots, _train_sizes(entry, cat), source)


def _train_sizes(entry: DatasetEntry, cat: Catalogue) -> str:
    if entry.train_file:
        return "file"
    return ",".join(p.stem.rsplit("_", 1)[1] for p in train_paths(entry, cat.data_dir)) or "-"
