"""Retrieval indexes cached on disk, keyed by corpus content hash + retriever kind + embedding model.

An index is saved into a temporary folder, a manifest is written last, and the folder is renamed into
place: a crash mid-save leaves only a temp folder nobody reads, and a folder without a matching
manifest (half-copied, older format) is rebuilt rather than trusted.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable, TypeVar

import platformdirs

log = logging.getLogger(__name__)
T = TypeVar("T")
FORMAT = 1  # bump when what is saved changes, so older folders stop matching
MANIFEST = "manifest.json"


def cache_root() -> Path:
    """$FTSCOPE_CACHE/rag-index, else the user cache dir (e.g. ~/.cache/ftscope/rag-index)."""
    base = os.environ.get("FTSCOPE_CACHE") or platformdirs.user_cache_dir("ftscope")
    return Path(base) / "rag-index"


def index_key(corpus_hash: str, kind: str, model_id: str = "") -> str:
    raw = json.dumps([FORMAT, corpus_hash, kind, model_id])
    return hashlib.sha256(raw.encode()).hexdigest()[:24]


def cached_index(
    corpus_hash: str,
    kind: str,
    model_id: str,
    build: Callable[[], T],
    save: Callable[[T, Path], None],
    load: Callable[[Path], T],
) -> T:
    """Load the index for this key if a complete one is on disk, else build it and store it."""
    key = index_key(corpus_hash, kind, model_id)
    folder = cache_root() / f"{kind}-{key}"
    if _is_complete(folder, key):
        try:
            return load(folder)
        except Exception as e:  # a damaged index is rebuilt, never fatal: the corpus is still at hand
            log.warning("rag index %s is unreadable (%s); rebuilding it", folder, e)
    value = build()
    _publish(folder, {"key": key, "kind": kind, "corpus_hash": corpus_hash, "model": model_id}, value, save)
    return value


def _is_complete(folder: Path, key: str) -> bool:
    try:
        return json.loads((folder / MANIFEST).read_text())["key"] == key
    except (OSError, ValueError, KeyError, TypeError):
        return False


def _publish(folder: Path, manifest: dict, value: T, save: Callable[[T, Path], None]) -> None:
    """Save into a temp folder beside `folder`, then rename it into place; failures only warn."""
    tmp: Path | None = None
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}.tmp-"))
        save(value, tmp)
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2))
        if _is_complete(folder, manifest["key"]):  # another process got there first; keep theirs
            shutil.rmtree(tmp, ignore_errors=True)
            return
        shutil.rmtree(folder, ignore_errors=True)  # an incomplete leftover under the final name
        os.rename(tmp, folder)
    except OSError as e:
        # A read-only or full disk, or a rename race lost: the index in memory is fine, so the
        # run goes on uncached.
        log.warning("rag index not cached at %s (%s)", folder, e)
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
