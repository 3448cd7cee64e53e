"""Plain documents as a corpus: a folder of .txt/.md/.jsonl files or one .jsonl file, cut into passages.

Rows come back as (id, title, text) so `corpus.py` owns the Passage type. A document that yields one
chunk keeps its own id, so a user's gold_passage_id for an unsplit document still matches.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from ftscope.errors import ConfigError, DataError

TEXT_SUFFIXES = {".txt", ".md"}
Row = tuple[str, str, str]


@dataclass(frozen=True)
class Chunking:
    """'paragraph' splits at blank lines; 'window' takes `size` whitespace tokens, `overlap` shared."""

    mode: str = "paragraph"  # checked below rather than typed Literal: it arrives from YAML/CLI strings
    size: int = 200
    overlap: int = 50

    def __post_init__(self) -> None:
        if self.mode not in ("paragraph", "window"):
            raise ConfigError(f"chunking: '{self.mode}' is not one of paragraph, window")
        if self.mode == "window" and not 0 <= self.overlap < self.size:
            raise ConfigError(
                f"chunking: overlap {self.overlap} must be at least 0 and below the window size {self.size}"
            )


def split_paragraphs(text: str) -> list[str]:
    return [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]


def split_windows(text: str, size: int, overlap: int) -> list[str]:
    words = text.split()
    step = size - overlap
    # The last window starts where the remaining words fit; no tail window made only of overlap.
    starts = range(0, max(len(words) - overlap, 1), step)
    return [" ".join(words[s : s + size]) for s in starts if words[s : s + size]]


def chunk(text: str, chunking: Chunking) -> list[str]:
    if chunking.mode == "window":
        return split_windows(text, chunking.size, chunking.overlap)
    return split_paragraphs(text)


def load_documents(path: Path, chunking: Chunking) -> list[Row]:
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    rows: list[Row] = []
    for file in files:
        docs = _jsonl_docs(file) if file.suffix == ".jsonl" else _text_doc(file, path)
        for doc_id, title, text in docs:
            pieces = chunk(text, chunking)
            ids = [doc_id] if len(pieces) == 1 else [f"{doc_id}#{i}" for i in range(len(pieces))]
            rows.extend((pid, title, piece) for pid, piece in zip(ids, pieces))
    return rows


def _text_doc(file: Path, root: Path) -> Iterator[Row]:
    if file.suffix in TEXT_SUFFIXES:
        doc_id = str(file.relative_to(root)) if root.is_dir() else file.name
        yield doc_id, file.stem, file.read_text(encoding="utf-8", errors="replace")


def _jsonl_docs(file: Path) -> Iterator[Row]:
    for n, row in jsonl_rows(file):
        if not isinstance(row.get("text"), str):
            raise DataError(f"{file}:{n}: missing field 'text'; give each line a text (id, title optional)")
        yield str(row.get("id", f"{file.stem}:{n}")), str(row.get("title", file.stem)), row["text"]


def jsonl_rows(file: Path) -> Iterator[tuple[int, dict]]:
    """(line number, object) for each non-blank line; a line that is not a JSON object is named."""
    try:
        lines = file.read_text(encoding="utf-8").split("\n")  # "\n" only: as iterating the file would split
    except UnicodeDecodeError as e:
        raise DataError(f"{file}: not UTF-8 (byte {e.start}); re-save the file as UTF-8") from None
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise DataError(f"{file}:{n}: not valid JSON ({e.msg}); write one object per line") from None
        if not isinstance(row, dict):
            raise DataError(f"{file}:{n}: expected a JSON object {{...}}; write one object per line")
        yield n, row
