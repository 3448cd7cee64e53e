"""Load a base model (built-in name, HF hub id, local HF folder or .gguf file) and an optional adapter."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ftscope.errors import ModelError
from ftscope.models.gguf_cache import converted_dir
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
    """A local folder (converted from GGUF when needed) or a hub id left for transformers."""
    reference = reference or DEFAULT_MODEL
    if reference in BUILTIN_MODELS:
        return str(converted_dir(BUILTIN_MODELS[reference].locate()))
    if reference.endswith(".gguf"):
        return str(converted_dir(Path(reference)))
    if Path(reference).exists() and not (Path(reference) / "config.json").is_file():
        raise ModelError(f"{reference}: a folder without config.json is not a model; give a HF model "
                         f"folder, a .gguf file, a hub id or one of {', '.join(BUILTIN_MODELS)}")
    return reference


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
    try:
        tokenizer = AutoTokenizer.from_pretrained(path, trust_remote_code=options.trust_remote_code)
        model = AutoModelForCausalLM.from_pretrained(path, **kwargs)
    except OSError as e:
        offline = " (HF_HUB_OFFLINE is set)" if os.environ.get("HF_HUB_OFFLINE") else ""
        raise ModelError(f"model '{reference}': cannot load from {path}{offline}: {str(e).splitlines()[0]}") from None
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    if adapter:
        from ftscope.models.adapters import apply_adapter

        model = apply_adapter(model, adapter)
    model.to(device).eval()
    return LoadedModel(model, tokenizer, reference or DEFAULT_MODEL, path, device)
