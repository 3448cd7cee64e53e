"""Finding and loading a catalogue dataset: the paper's folder first, then the HF hub, else a clear line."""

from __future__ import annotations

import os
import random
from dataclasses import dataclass, replace
from pathlib import Path

from ftscope.errors import DataError
from ftscope.tasks.catalogue import DatasetEntry
from ftscope.tasks.kinds import Task
from ftscope.tasks.records import read_records, to_examples
from ftscope.types import Example

DATA_DIR_ENV = "FTSCOPE_DATA_DIR"
_REPO_ROOT = Path(__file__).resolve().parents[3]


@dataclass(frozen=True)
class Dataset:
    """Loaded examples of one split, with the demonstration pool used for in-context prompts."""

    name: str
    task: Task
    examples: tuple[Example, ...]
    source: str
    fewshot: tuple[Example, ...] = ()
    fewshot_source: str = ""

    def head(self, limit: int | None) -> "Dataset":
        return self if limit is None else replace(self, examples=self.examples[:limit])


def default_data_dir() -> Path | None:
    """--data-dir, else $FTSCOPE_DATA_DIR, else ../shared/data/generalization when it exists."""
    if os.environ.get(DATA_DIR_ENV):
        return Path(os.environ[DATA_DIR_ENV])
    for base in (Path.cwd().parent, _REPO_ROOT.parent):
        candidate = base / "shared" / "data" / "generalization"
        if candidate.is_dir():
            return candidate
    return None


def _resolve(path: str, data_dir: Path | None) -> Path:
    """`@data/x` is relative to the shared data folder (the paper folder's parent)."""
    if path.startswith("@data/"):
        return (data_dir.parent if data_dir else Path("../shared/data")) / path[len("@data/"):]
    return Path(path)


def test_path(entry: DatasetEntry, data_dir: Path | None) -> Path | None:
    if entry.test_file:
        return _resolve(entry.test_file, data_dir)
    return data_dir / entry.task / f"{entry.name}_test_500.json" if data_dir else None


def fewshot_path(entry: DatasetEntry, data_dir: Path | None) -> Path | None:
    if entry.fewshot_file:
        return _resolve(entry.fewshot_file, data_dir)
    return data_dir / entry.task / "few_shot" / f"{entry.name}_few_shot.json" if data_dir else None


def train_paths(entry: DatasetEntry, data_dir: Path | None) -> list[Path]:
    """The training files, smallest first (the paper ships 2000/4000/6000-example samples)."""
    if entry.train_file:
        return [_resolve(entry.train_file, data_dir)]
    if data_dir is None or not (data_dir / entry.task).is_dir():
        return []
    found = (data_dir / entry.task).glob(f"{entry.name}_train_*.json")
    return sorted(found, key=lambda p: int(p.stem.rsplit("_", 1)[1]) if p.stem.rsplit("_", 1)[1].isdigit() else 0)


def load_test(entry: DatasetEntry, task: Task, data_dir: Path | None) -> Dataset:
    path = test_path(entry, data_dir)
    if path is not None and path.is_file():
        examples, source = _examples_from_file(path, entry, task), str(path)
    elif entry.hub is not None:
        examples, source = _examples_from_hub(entry, task, path), f"hf:{entry.hub.path}"
    else:
        raise DataError(
            f"dataset '{entry.name}': no file {path or '(no data dir)'} and no hub copy; "
            f"pass --data-dir pointing at the paper's data folder or set {DATA_DIR_ENV}"
        )
    _check_some_label(examples, task, source)
    fs_path = fewshot_path(entry, data_dir)
    if fs_path is not None and fs_path.is_file():
        return Dataset(entry.name, task, examples, source, _examples_from_file(fs_path, entry, task), str(fs_path))
    return Dataset(entry.name, task, examples, source)


def load_train(entry: DatasetEntry, task: Task, data_dir: Path | None, n: int | None, seed: int = 0,
               allow_fewer: bool = False) -> Dataset:
    """n training examples, chosen deterministically by seed from the smallest file that holds n."""
    paths = train_paths(entry, data_dir)
    if not paths:
        raise DataError(f"dataset '{entry.name}': no training file {entry.name}_train_N.json under "
                        f"{data_dir}/{entry.task}; give one with train_file: in the dataset spec")
    pool = [(p, _train_part(entry, data_dir, p, read_records(p))) for p in paths]
    path, records = next(((p, r) for p, r in pool if n is None or len(r) >= n), pool[-1])
    if not records:
        raise DataError(_no_train_records(entry, data_dir, path))
    if n is not None and len(records) < n and not allow_fewer:
        raise DataError(f"{path}: asked for n={n} training examples but the largest file holds "
                        f"{len(records)}; lower n or pass --allow-fewer to use all {len(records)}")
    examples = to_examples(records, task, str(path), entry.field_map, entry.label_map)
    _check_labels(examples, task, path)
    return Dataset(entry.name, task, _sample(examples, n, seed), str(path))


TEST_HEAD = 500  # the test part of a file that serves both splits: its first items, as the paper's _test_500


def _train_part(entry: DatasetEntry, data_dir: Path | None, path: Path, records: list) -> list:
    """A file that is also the dataset's test file (SQuAD's dev set, in the RAG study) trains only on what
    follows its first TEST_HEAD items, so no test item is ever trained on."""
    test = test_path(entry, data_dir)
    if test is not None and test.resolve() == path.resolve():
        return records[TEST_HEAD:]
    return records


def _no_train_records(entry: DatasetEntry, data_dir: Path | None, path: Path) -> str:
    test = test_path(entry, data_dir)
    if test is not None and test.resolve() == path.resolve():
        return (f"{path}: it is also the test file, whose first {TEST_HEAD} items are kept for testing, and holds "
                "no more; give a separate train_file: in the dataset spec")
    return f"{path}: the training file holds no examples; it needs one record per example"


def _check_labels(examples: tuple[Example, ...], task: Task, path: Path) -> None:
    """Training on a label the task does not have would teach the model a word it is never scored on."""
    if not task.is_classification:
        return
    bad = next((ex for ex in examples if ex.target not in task.labels), None)
    if bad is not None:
        raise DataError(f"{path}: item {bad.id} has the label '{bad.target}', which is not one of "
                        f"{', '.join(task.labels)}; map raw values onto labels with `labels:` in the dataset spec")


def _check_some_label(examples: tuple[Example, ...], task: Task, source: str) -> None:
    """A test set may carry a few labels outside the task (they are left out of the scores, with a note);
    one with none of the task's labels would score nothing, which the loader says before any model loads."""
    if task.is_classification and not any(ex.target in task.labels for ex in examples):
        raise DataError(f"{source}: none of its labels is one of {', '.join(task.labels)} (task '{task.name}'); "
                        "map raw values onto labels with `labels:` in the dataset spec")


def _sample(examples: tuple[Example, ...], n: int | None, seed: int) -> tuple[Example, ...]:
    if n is None or n >= len(examples):
        return examples
    keep = sorted(random.Random(seed).sample(range(len(examples)), n))
    return tuple(examples[i] for i in keep)


def _examples_from_file(path: Path, entry: DatasetEntry, task: Task) -> tuple[Example, ...]:
    return to_examples(read_records(path), task, str(path), entry.field_map, entry.label_map)


def _examples_from_hub(entry: DatasetEntry, task: Task, missing: Path | None) -> tuple[Example, ...]:
    hub = entry.hub
    try:
        import datasets

        rows = datasets.load_dataset(hub.path, hub.config, split=hub.split)
    except Exception as e:  # offline, gated, renamed: all mean "not available here"
        raise DataError(
            f"dataset '{entry.name}': no file {missing or '(no data dir)'} and the hub copy {hub.path} "
            f"could not be loaded ({type(e).__name__}); pass --data-dir with the paper's files or go online"
        ) from None
    records = [{**hub.convert(r), "idx": i} for i, r in enumerate(rows.select(range(min(500, len(rows)))))]
    return to_examples(records, task, f"hf:{hub.path}")
