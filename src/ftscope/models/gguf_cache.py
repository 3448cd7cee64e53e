"""Convert a GGUF file once into a cached safetensors folder.

transformers de-quantizes GGUF to float on every load (~20 s for SmolLM2); a saved safetensors copy
loads in about a second. The entry is keyed by the GGUF's content hash, written to a temporary
folder and renamed into place, so a crash mid-conversion leaves nothing that looks finished.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import struct
from pathlib import Path
from typing import Any, Iterator

from ftscope.errors import ModelError
from ftscope.paths import cache_root


def file_sha256(path: Path, chunk: int = 1 << 22) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def _fingerprint(path: Path) -> str:
    """The content hash, memoised by (path, size, mtime) so a warm load skips re-hashing 100 MB."""
    stat = path.stat()
    memo = cache_root() / "gguf-hash" / hashlib.sha1(f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()
    if memo.is_file():
        return memo.read_text().strip()
    digest = file_sha256(path)
    memo.parent.mkdir(parents=True, exist_ok=True)
    memo.write_text(digest)
    return digest


def _transformers_major() -> str:
    from importlib.metadata import version

    return version("transformers").split(".")[0]


def converted_dir(gguf: str | Path) -> Path:
    """The cached safetensors folder for `gguf`, converting it first if needed."""
    gguf = Path(gguf)
    if not gguf.is_file():
        raise ModelError(f"{gguf}: GGUF file not found")
    # Keyed by transformers' major version too: a folder converted under 5.x names tokenizer classes 4.x lacks.
    target = cache_root() / "models" / f"{_fingerprint(gguf)[:32]}-transformers{_transformers_major()}"
    if (target / "config.json").is_file():
        return target
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        _convert(gguf, tmp)
    except (ValueError, KeyError, IndexError, struct.error) as e:  # what gguf's parser raises on a torn file
        shutil.rmtree(tmp, ignore_errors=True)
        first = (str(e).strip().splitlines() or [""])[0]
        raise ModelError(f"{gguf}: cannot convert this GGUF file ({type(e).__name__}: {first}); it is truncated or "
                         "of an architecture transformers does not read; re-download or re-export it") from None
    try:
        tmp.rename(target)
    except OSError:  # another process finished first; its copy is as good as ours
        shutil.rmtree(tmp, ignore_errors=True)
    return target


@contextlib.contextmanager
def one_reader_per_file() -> Iterator[None]:
    """Within the block, gguf.GGUFReader opens each file once: transformers parses the whole file three times
    per conversion (tokenizer, config, weights), and parsing a large vocabulary's metadata is most of the
    work (Gemma 3's 262k tokens: ~20 s a parse on two cores; the de-quantization is ~6 s). transformers
    imports the class from the package at each call, so replacing the package attribute reaches it; the
    readers are read-only memory maps, dropped with their memo when the block ends."""
    import gguf as gguf_package

    original, readers = gguf_package.GGUFReader, {}

    def reader(path: Any, mode: str = "r") -> Any:
        key = (str(Path(path).resolve()), mode)
        if key not in readers:
            readers[key] = original(path, mode)
        return readers[key]

    gguf_package.GGUFReader = reader
    try:
        yield
    finally:
        gguf_package.GGUFReader = original
        readers.clear()


def _convert(gguf: Path, out: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    with one_reader_per_file():  # Gemma 3 270M: 64 -> 31 s, SmolLM2: 21 -> 16 s (measured on two cores)
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype="float32")
    # The weights are already de-quantized to float; drop the GGUF marker that blocks saving.
    model.hf_quantizer = None
    model.is_quantized = False
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    (out / "ftscope_source.json").write_text(json.dumps({"gguf": str(gguf), "sha256": _fingerprint(gguf)}))
