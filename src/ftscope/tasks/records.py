"""Reading raw records from JSON, JSONL and CSV files, and turning them into Examples."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any, Iterable, Mapping

from ftscope.errors import DataError
from ftscope.tasks.kinds import Task
from ftscope.types import Example


def read_records(path: str | Path) -> list[dict[str, Any]]:
    """A JSON list, JSONL (one object a line) or CSV with a header row."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found; check the path")
    try:
        text = path.read_text(encoding="utf-8-sig")  # -sig: a byte-order mark is not part of the first field
    except UnicodeDecodeError as e:
        raise DataError(f"{path}: not UTF-8 (byte {e.start}); re-save the file as UTF-8") from None
    if not text.strip():
        raise DataError(f"{path}: the file is empty; it needs one record per example")
    if path.suffix.lower() == ".csv":
        return list(csv.DictReader(text.splitlines()))
    if path.suffix.lower() == ".jsonl":
        return [_object(path, _json(path, line, i + 1), i + 1) for i, line in enumerate(text.splitlines())
                if line.strip()]
    data = _json(path, text, None)
    if isinstance(data, dict) and isinstance(data.get("data"), list):
        try:
            return squad_records(data)
        except (KeyError, IndexError, TypeError, AttributeError) as e:
            raise DataError(f"{path}: a `data:` list that is not in the SQuAD v1.1 layout ({type(e).__name__}: {e}); "
                            "give articles with paragraphs of context and qas") from None
    if not isinstance(data, list):
        raise DataError(f"{path}: expected a JSON list of objects, found {type(data).__name__}")
    return [_object(path, item, None, i) for i, item in enumerate(data)]


def _object(path: Path, item: Any, line: int | None, index: int | None = None) -> dict[str, Any]:
    if not isinstance(item, dict):
        where = f"line {line}" if line else f"item {index}"
        raise DataError(f"{path}:{where}: expected a JSON object (one record), found {type(item).__name__}")
    return item


def squad_records(data: dict) -> list[dict[str, Any]]:
    """SQuAD v1.1 format, flattened: one record per question with its paragraph and first answer."""
    return [{"idx": qa["id"], "context": para["context"], "question": qa["question"],
             "output": qa["answers"][0]["text"]}
            for article in data["data"] for para in article.get("paragraphs", [])
            for qa in para.get("qas", []) if qa.get("answers")]


def _json(path: Path, text: str, line: int | None) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        where = f"line {line}" if line else f"line {e.lineno}"
        raise DataError(f"{path}:{where}: invalid JSON ({e.msg}); fix the file or convert it to JSONL") from None


def to_examples(
    records: Iterable[Mapping[str, Any]],
    task: Task,
    source: str,
    field_map: Mapping[str, str] | None = None,
    label_map: Mapping[str, str] | None = None,
) -> tuple[Example, ...]:
    """Map each record onto the task's fields (`field_map`: task field → record column)."""
    field_map = dict(field_map or {})
    label_map = {str(k): v for k, v in (label_map or {}).items()}
    needed = (*task.input_fields, "output")
    examples = []
    for i, rec in enumerate(records):
        missing = [f for f in needed if field_map.get(f, f) not in rec]
        if missing:
            f = missing[0]
            raise DataError(
                f"{source}: item {i} has no field '{field_map.get(f, f)}' needed by task '{task.name}' "
                f"(it has {sorted(k for k in rec if k is not None)}); map a column onto it, e.g. --map {f}=COLUMN"
            )
        # A CSV row cut short (None), or a blank label: never a label "None" or "". An input may be empty text:
        # one of the paper's 2,000 XSum training articles is (a photo gallery), and its summary is a real target.
        empty = [f for f in needed if rec[field_map.get(f, f)] is None
                 or (f == "output" and rec[field_map.get(f, f)] == "")]
        if empty:
            raise DataError(f"{source}: row {i + 1} has no value for '{field_map.get(empty[0], empty[0])}'; fill it "
                            "in or drop the row")
        if not all(isinstance(rec[field_map.get(f, f)], (str, int, float, bool)) for f in needed):
            bad = next(f for f in needed if not isinstance(rec[field_map.get(f, f)], (str, int, float, bool)))
            raise DataError(f"{source}: item {i} field '{field_map.get(bad, bad)}' is a "
                            f"{type(rec[field_map.get(bad, bad)]).__name__}, not text")
        fields = {f: str(rec[field_map.get(f, f)]) for f in task.input_fields}
        target = str(rec[field_map.get("output", "output")])
        examples.append(Example(str(rec.get("idx", i)), fields, label_map.get(target, target)))
    if not examples:
        raise DataError(f"{source}: no examples; the file must hold at least one record")
    return tuple(examples)
