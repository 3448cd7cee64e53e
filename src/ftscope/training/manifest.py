"""manifest.json: everything needed to know what a training run did and to repeat it.

Written last and atomically: a folder with a manifest holds a finished run, one without does not.
"""

from __future__ import annotations

import hashlib
import json
import platform
from importlib import metadata
from pathlib import Path
from typing import Any

from ftscope.paths import cache_root
from ftscope.results import write_json
from ftscope.training.data import file_sha256

MANIFEST = "manifest.json"
FORMAT = 1


def versions() -> dict[str, str]:
    names = ("ftscope", "torch", "transformers", "peft", "accelerate", "safetensors")
    found = {"python": platform.python_version()}
    for name in names:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def model_sha256(path: str) -> str | None:
    """One hash over the base's config and weight files; None for a hub id without a local folder."""
    folder = Path(path)
    files = sorted([*folder.glob("*.safetensors"), *folder.glob("config.json")]) if folder.is_dir() else []
    if not files:
        return None
    digest = hashlib.sha256()
    for f in files:
        digest.update(f"{f.name}:{_memo_sha256(f)}\n".encode())
    return digest.hexdigest()


def _memo_sha256(path: Path) -> str:
    """Content hash, memoised by (path, size, mtime): a second run skips re-reading a large model."""
    stat = path.stat()
    key = hashlib.sha1(f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()
    memo = cache_root() / "file-hash" / key
    if memo.is_file():
        return memo.read_text().strip()
    digest = file_sha256(str(path)) or ""
    try:
        memo.parent.mkdir(parents=True, exist_ok=True)
        memo.write_text(digest)
    except OSError:
        pass  # a read-only cache only costs the next run a re-hash
    return digest


def read_manifest(out_dir: str | Path) -> dict[str, Any] | None:
    path = Path(out_dir) / MANIFEST
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def write_manifest(out_dir: Path, manifest: dict[str, Any]) -> Path:
    return write_json(out_dir / MANIFEST, {"format": FORMAT, **manifest})
