"""What a path on disk holds, decided in one place, so every loader refuses the same things the same way.

    folder_kind("out/amazon-lora")   # "trained": a folder `ftscope train` finished (manifest.json)
    content_kind("out/amazon-lora")  # "lora": what its files are, the manifest aside

Only the files are looked at (names and, for a PEFT adapter, its adapter_config.json); nothing is
loaded or unpickled. A folder whose only weights are pickles (.bin, .pt, .pth, .ckpt) is its own kind,
"pickle-only", so that loaders refuse it by name instead of letting transformers or PEFT unpickle it.
`files_problem` reads a little further (safetensors headers, the GGUF magic) to refuse a broken folder
before any run starts rather than when its model loads.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Literal

FolderKind = Literal["trained", "lora", "prompt", "model", "gguf", "pickle-only", "empty", "missing"]

MANIFEST = "manifest.json"  # written last by `ftscope train`: its presence means the run finished
ADAPTER_CONFIG = "adapter_config.json"
ADAPTER_WEIGHTS = "adapter_model.safetensors"
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt")
PROMPT_PEFT_TYPE = "PROMPT_TUNING"

_DESCRIPTIONS: dict[str, str] = {
    "trained": "a folder written by `ftscope train`",
    "lora": "a PEFT weight adapter (LoRA or kin) that goes on its base model",
    "prompt": "a PEFT prompt-tuning adapter (a soft prompt) that goes on its base model",
    "model": "a model folder (config.json and safetensors weights)",
    "gguf": "a GGUF model file",
    "pickle-only": "a folder whose weights are pickles only (.bin/.pt/.pth/.ckpt), which ftscope never "
                   "unpickles; re-save them as safetensors (save_pretrained(..., safe_serialization=True))",
    "empty": "a folder holding no model, adapter or finished training run",
    "missing": "not found",
}


def describe(kind: FolderKind) -> str:
    """The kind in words, for messages."""
    return _DESCRIPTIONS[kind]


def folder_kind(path: str | Path) -> FolderKind:
    """`trained` when `ftscope train` finished the folder, else what its files are (`content_kind`)."""
    path = Path(path)
    if path.is_dir() and (path / MANIFEST).is_file():
        return "trained"
    return content_kind(path)


def content_kind(path: str | Path) -> FolderKind:
    """What the files at `path` are, whoever wrote them (a trained folder holds a model or an adapter)."""
    path = Path(path)
    if not path.exists():
        return "missing"
    if path.is_file():
        return "gguf" if path.suffix.lower() == ".gguf" else "empty"
    if (path / ADAPTER_CONFIG).is_file():
        return _adapter_kind(path)
    if (path / "config.json").is_file() and any(path.glob("*.safetensors")):
        return "model"
    return "pickle-only" if _pickles(path) else "empty"


def _adapter_kind(folder: Path) -> FolderKind:
    if not (folder / ADAPTER_WEIGHTS).is_file():
        return "pickle-only" if _pickles(folder) else "empty"
    return "prompt" if adapter_config(folder).get("peft_type") == PROMPT_PEFT_TYPE else "lora"


def _pickles(folder: Path) -> bool:
    return any(p.suffix.lower() in PICKLE_SUFFIXES for p in folder.iterdir() if p.is_file())


def adapter_config(folder: str | Path) -> dict:
    """A PEFT adapter folder's adapter_config.json ({} when absent or unreadable as JSON)."""
    path = Path(folder) / ADAPTER_CONFIG
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def files_problem(path: str | Path) -> str | None:
    """Why the model, adapter or training folder at `path` cannot load, from its files alone; None when it
    looks loadable. Cheap enough to ask before every run: headers are read, weights are not."""
    path, kind = Path(path), folder_kind(path)
    if kind == "gguf":
        return _gguf_problem(path)
    if kind == "empty" and path.is_file():
        return (f"{path}: a file that is neither a .gguf model nor a folder; give a model folder, an adapter "
                "folder, a folder `ftscope train` wrote or a .gguf file")
    if kind in ("empty", "pickle-only", "missing"):
        unfinished = " (a training run that has not finished: run the same train command again)" \
            if (path / "run.json").is_file() else ""
        return f"{path}: {describe(kind)}{unfinished}"
    return next((p for f in sorted(path.glob("*.safetensors")) if (p := _safetensors_problem(f))), None)


def _safetensors_problem(file: Path) -> str | None:
    from safetensors import safe_open

    try:
        with safe_open(file, framework="numpy"):  # reads the JSON header only; tensors stay on disk
            return None
    except Exception as e:  # SafetensorError and OSError alike mean the same thing here: a broken file
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        return f"{file}: cannot load: not a readable safetensors file ({first}); re-save or re-download it"


def _gguf_problem(file: Path) -> str | None:
    """The 8-byte GGUF header by hand: gguf.GGUFReader would check more but indexes every tensor (seconds
    for a 100 MB model), and a truncated body still fails, with one line, when the file is converted."""
    try:
        with open(file, "rb") as f:
            head = f.read(8)
    except OSError as e:
        return f"{file}: cannot read the GGUF file ({e.strerror})"
    if len(head) < 8 or head[:4] != b"GGUF" or struct.unpack("<I", head[4:])[0] not in (1, 2, 3):
        return f"{file}: not a GGUF file (bad magic or version in its header); re-download or re-export it"
    return None


def local_snapshot_kind(reference: str) -> FolderKind:
    """What a hub id's snapshot holds (resolved through the hub cache; offline, the cache alone)."""
    from ftscope.models.hub import local_snapshot

    return folder_kind(local_snapshot(reference))


def _local(reference: str) -> Path | None:
    """A reference's folder on this machine: the path itself, or a hub id's snapshot; None otherwise."""
    from ftscope.models.hub import is_hub_id, local_snapshot

    if Path(reference).exists():
        return Path(reference)
    return local_snapshot(reference) if is_hub_id(reference) else None


def _manifest(folder: Path) -> dict:
    try:
        return json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def recorded_base(reference: str) -> str | None:
    """The base a fine-tune says it was tuned from (an ftscope manifest, else a PEFT adapter's config);
    None for a full model that records none, a built-in name or anything that is not a fine-tune."""
    folder = _local(reference)
    if folder is None or not folder.is_dir():
        return None
    spec = _manifest(folder).get("spec") or {}
    if spec.get("model"):
        return str(spec["model"])
    return adapter_config(folder).get("base_model_name_or_path") or None


def recorded_training_data(reference: str) -> list[str]:
    """The training datasets an ftscope manifest records ([] for fine-tunes made elsewhere)."""
    folder = _local(reference)
    spec = _manifest(folder).get("spec") or {} if folder is not None and folder.is_dir() else {}
    return list(spec.get("datasets") or [])


def same_model(a: str, b: str) -> bool:
    """Whether two references name the same base: equal names, or the same folder once resolved (an
    adapter written before ftscope recorded portable names holds the machine's cache path)."""
    if a == b:
        return True
    from ftscope.errors import FtscopeError
    from ftscope.models.loading import resolve_model_path

    try:
        return Path(resolve_model_path(a)).resolve() == Path(resolve_model_path(b)).resolve()
    except FtscopeError:
        return False
