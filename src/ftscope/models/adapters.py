"""Attach what training produced to a base model: a PEFT adapter folder (LoRA, prompt tuning).

Only safetensors are read: a folder holding just a pickled `adapter_model.bin` is refused (see
models.folders), since unpickling an untrusted file can run arbitrary code.
"""

from __future__ import annotations

import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from ftscope.errors import ModelError
from ftscope.models.folders import content_kind, describe

ADAPTER_KINDS = ("lora", "prompt")


@contextmanager
def quiet_peft() -> Iterator[None]:
    """PEFT (0.17–0.21) still reads transformers' deprecated `is_gradient_checkpointing` when it wraps a
    model; the warning is about PEFT's code, not ours, and would repeat on every load."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="`is_gradient_checkpointing` is deprecated", category=FutureWarning)
        yield


def check_adapter(adapter: str | Path) -> str:
    """The adapter's kind (lora or prompt); one ModelError line for anything else."""
    kind = content_kind(adapter)
    if kind in ADAPTER_KINDS:
        return kind
    if kind == "pickle-only":
        raise ModelError(f"{adapter}: {describe(kind)}")
    fix = ("a full fine-tune is a model: pass it as the model instead" if kind == "model" else
           "give a PEFT adapter folder (adapter_config.json + adapter_model.safetensors)")
    raise ModelError(f"{adapter}: {describe(kind)}, not an adapter; {fix}")


def apply_adapter(model: Any, adapter: str | Path) -> Any:
    check_adapter(adapter)
    from peft import PeftModel

    with quiet_peft():
        return PeftModel.from_pretrained(model, Path(adapter), is_trainable=False)
