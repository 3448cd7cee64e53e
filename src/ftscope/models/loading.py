"""Load a base model (built-in name, HF hub id, local HF folder or .gguf file) and an optional adapter."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ftscope.errors import ModelError
from ftscope.models.folders import files_problem
from ftscope.models.gguf_cache import converted_dir
from ftscope.models.hub import cached, is_hub_id, local_snapshot, offline
from ftscope.models.registry import BUILTIN_MODELS, DEFAULT_MODEL

DType = Literal["float32", "bfloat16"]


@dataclass(frozen=True)
class LoadOptions:
    dtype: DType = "float32"
    device: str = "auto"  # auto picks CUDA when present
    threads: int | None = None
    trust_remote_code: bool = False  # off unless the user asks: it runs code from the model repo


@dataclass
class LoadedModel:
    model: Any
    tokenizer: Any
    reference: str
    path: str
    device: str


def resolve_model_path(reference: str | None) -> str:
    """The local folder of a model reference: a built-in name or a .gguf (converted once), a hub id
    (resolved through the hub cache), or a folder, which must hold config.json and safetensors."""
    reference = reference or DEFAULT_MODEL
    if reference in BUILTIN_MODELS:
        return str(converted_dir(BUILTIN_MODELS[reference].locate()))
    if reference.endswith(".gguf"):
        return str(converted_dir(Path(reference)))
    folder = local_snapshot(reference) if is_hub_id(reference) else Path(reference)
    if not folder.exists():
        raise ModelError(f"model '{reference}': no such folder or file, and not a hub id (org/name); give a "
                         f"model folder, a .gguf file, a hub id or one of {', '.join(BUILTIN_MODELS)}")
    if not (folder / "config.json").is_file():
        raise ModelError(f"{folder}: a folder without config.json is not a model; give a HF model "
                         f"folder, a .gguf file, a hub id or one of {', '.join(BUILTIN_MODELS)}")
    if not any(folder.glob("*.safetensors")):
        raise ModelError(f"{folder}: no *.safetensors weights (ftscope never unpickles .bin/.pt checkpoints, "
                         "which can run code); convert them with save_pretrained(safe_serialization=True)")
    return str(folder)


def reference_problem(reference: str) -> str | None:
    """Why `reference` names no model this machine can load — checked without loading or converting
    anything (the grid asks before a run starts); None when it looks loadable."""
    if reference in BUILTIN_MODELS:
        return None
    path = Path(reference).expanduser()
    if path.exists():
        return files_problem(path)
    if not is_hub_id(reference):
        return (f"'{reference}': no such folder or file, and not a built-in name ({', '.join(BUILTIN_MODELS)}) "
                "or a hub id (org/name); check the path")
    if offline() and not cached(reference):
        return f"'{reference}' is not in the local hub cache and the hub is off (HF_HUB_OFFLINE is set)"
    return None


def pick_device(device: str) -> str:
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def load_model(reference: str | None = None, adapter: str | None = None,
               options: LoadOptions = LoadOptions()) -> LoadedModel:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # our own progress shows; per-tensor bars are noise
    if options.threads:
        torch.set_num_threads(options.threads)
    path, device = resolve_model_path(reference), pick_device(options.device)
    kwargs = dict(dtype=getattr(torch, options.dtype), trust_remote_code=options.trust_remote_code,
                  use_safetensors=True)
    from safetensors import SafetensorError

    try:
        tokenizer = AutoTokenizer.from_pretrained(path, trust_remote_code=options.trust_remote_code)
        model = AutoModelForCausalLM.from_pretrained(path, **kwargs)
    except (OSError, ValueError, RuntimeError, SafetensorError) as e:  # missing, corrupt or foreign files
        offline = " (HF_HUB_OFFLINE is set)" if os.environ.get("HF_HUB_OFFLINE") else ""
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ModelError(f"model '{reference}': cannot load from {path}{offline}: {first}") from None
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    if adapter:
        from ftscope.models.adapters import apply_adapter

        model = apply_adapter(model, adapter)
    model.to(device).eval()
    return LoadedModel(model, tokenizer, reference or DEFAULT_MODEL, path, device)


def model_facts(loaded: LoadedModel) -> dict[str, Any]:
    """What a report's scope line says of a model: its size, precision, where its weights came from
    (a quantized GGUF is de-quantized on load, so its weights carry the quantization's rounding) and
    whether it is an instruct model (it has a chat template)."""
    import json
    import re

    source = Path(loaded.path) / "ftscope_source.json"
    gguf = json.loads(source.read_text())["gguf"] if source.is_file() else None
    found = re.search(r"(I?Q\d+_[A-Z0-9_]+|BF16|F16|F32)", Path(gguf).name, re.I) if gguf else None
    quant = found.group(1).upper() if found else ("unknown" if gguf else None)
    inner = getattr(loaded.model, "base", loaded.model)  # a soft-prompt wrapper holds the model as .base
    return {"reference": loaded.reference, "params": sum(p.numel() for p in inner.parameters()),
            "dtype": str(next(inner.parameters()).dtype).replace("torch.", ""), "device": loaded.device,
            "quantized_source": f"{quant} GGUF" if quant else None,
            "instruct": bool(getattr(loaded.tokenizer, "chat_template", None))}
