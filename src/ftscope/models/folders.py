"""What a path on disk holds, decided in one place, so every loader refuses the same things the same way.

    folder_kind("out/amazon-lora")   # "trained": a folder `ftscope train` finished (manifest.json)
    content_kind("out/amazon-lora")  # "lora": what its files are, the manifest aside

Only the files are looked at (names and, for a PEFT adapter, its adapter_config.json); nothing is
loaded or unpickled. A folder whose only weights are pickles (.bin, .pt, .pth, .ckpt) is its own kind,
"pickle-only", so that loaders refuse it by name instead of letting transformers or PEFT unpickle it.
"""

from __future__ import annotations

import json
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
