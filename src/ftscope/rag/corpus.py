"""Corpora for RAG: passages to retrieve from and questions with gold answers.

Two sources: a SQuAD v1.1-format JSON file (every paragraph is a passage and every question points
at its own paragraph, so retrieval can be scored) or plain documents (see `documents.py`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from ftscope.errors import ConfigError, DataError
from ftscope.rag.documents import Chunking, jsonl_rows, load_documents

SOURCES_HINT = "give a SQuAD-format .json file, a .jsonl file or a folder of .txt/.md/.jsonl documents"


@dataclass(frozen=True)
class Passage:
    id: str
    title: str
    text: str


@dataclass(frozen=True)
class RagQuestion:
    id: str
    question: str
    answers: tuple[str, ...]
    gold_passage_id: str | None = None


@dataclass(frozen=True)
class Corpus:
    """Passages in a fixed order (retrievers answer with positions in it) and the questions asked of it."""

    name: str
    passages: tuple[Passage, ...]
    questions: tuple[RagQuestion, ...] = ()
    skipped_no_answer: int = 0

    @cached_property
    def content_hash(self) -> str:
        """Key of the on-disk index: any change in passage text or order builds a new index."""
        h = hashlib.sha256()
        for p in self.passages:
            data = p.text.encode("utf-8")
            # Length prefix, so ["ab", "c"] and ["a", "bc"] never collide.
            h.update(len(data).to_bytes(8, "little") + data)
        return h.hexdigest()

    @cached_property
    def position(self) -> dict[str, int]:
        return {p.id: i for i, p in enumerate(self.passages)}

    @property
    def texts(self) -> list[str]:
        return [p.text for p in self.passages]


def load_corpus(path: str | Path, chunking: Chunking = Chunking()) -> Corpus:
    """Read a corpus from a SQuAD-format .json file, a .jsonl file or a folder of documents."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: not found; {SOURCES_HINT}")
    if path.is_dir() or path.suffix == ".jsonl":
        corpus = Corpus(path.stem, tuple(Passage(*row) for row in load_documents(path, chunking)))
    elif path.suffix == ".json":
        if chunking.mode != "paragraph":
            raise ConfigError(
                f"{path}: chunking: SQuAD files keep their own paragraphs; use chunking='paragraph'"
            )
        corpus = load_squad(path)
    else:
        raise DataError(f"{path}: unknown corpus format '{path.suffix}'; {SOURCES_HINT}")
    if not corpus.passages:
        raise DataError(f"{path}: the corpus has no passages; add text or point to another file")
    return corpus


def load_questions(path: str | Path) -> tuple[list[RagQuestion], int]:
    """Questions for a document corpus from JSONL: {"id", "question", "answers": [...], "gold_passage_id"?}.

    Returns the questions and how many were skipped for having no gold answer.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: questions file not found; give a .jsonl file, one question per line")
    questions, skipped = [], 0
    for n, row in jsonl_rows(path):
        question = _squad_question(row, row.get("gold_passage_id"), path, f"line {n}")
        questions.extend([question] if question else [])
        skipped += question is None
    return questions, skipped


def load_squad(path: Path) -> Corpus:
    data = _field(_read_json(path), "data", path, "top level")
    passages: list[Passage] = []
    questions: list[RagQuestion] = []
    skipped = 0
    for ai, article in enumerate(data):
        title = str(article.get("title", f"article {ai}"))
        for pi, paragraph in enumerate(_field(article, "paragraphs", path, f"data[{ai}]")):
            where = f"data[{ai}].paragraphs[{pi}]"
            passage = Passage(f"{ai}.{pi}", title, _text(paragraph, "context", path, where))
            passages.append(passage)
            for qi, qa in enumerate(paragraph.get("qas", [])):
                question = _squad_question(qa, passage.id, path, f"{where}.qas[{qi}]")
                skipped += question is None
                questions.extend([question] if question else [])
    return Corpus(path.stem, tuple(passages), tuple(questions), skipped)


def _squad_question(qa: Any, passage_id: str | None, path: Path, where: str) -> RagQuestion | None:
    """None for a question without any non-empty gold answer: it cannot be scored, so it is skipped."""
    qid, text = str(_field(qa, "id", path, where)), _text(qa, "question", path, where)
    # SQuAD answers are {"text", "answer_start"}; a questions JSONL may give plain strings.
    golds = (a.get("text", "") if isinstance(a, dict) else a for a in qa.get("answers") or [])
    answers = tuple(g.strip() for g in golds if isinstance(g, str) and g.strip())
    return RagQuestion(qid, text, answers, passage_id) if answers else None


def _read_json(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise DataError(f"{path}: not UTF-8 (byte {e.start}); re-save the file as UTF-8") from None
    if not text.strip():
        raise DataError(f"{path}: the file is empty; give a SQuAD v1.1-format file") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise DataError(f"{path}: not valid JSON ({e}); give a SQuAD v1.1-format file") from None


def _text(obj: Any, key: str, path: Path, where: str) -> str:
    value = _field(obj, key, path, where)
    if not isinstance(value, str):
        raise DataError(f"{path}: {where}.{key}: expected text, found {type(value).__name__}; make it a string")
    return value


def _field(obj: Any, key: str, path: Path, where: str) -> Any:
    if not isinstance(obj, dict) or key not in obj:
        raise DataError(f"{path}: {where}: missing field '{key}'; add it (layout: SQuAD v1.1)")
    return obj[key]
