"""Attach what training produced to a base model: a PEFT adapter folder (LoRA, prompt tuning).

Only safetensors are read: a folder holding just a pickled `adapter_model.bin` is refused, since
unpickling an untrusted file can run arbitrary code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ftscope.errors import ModelError


def apply_adapter(model: Any, adapter: str | Path) -> Any:
    adapter = Path(adapter)
    if not (adapter / "adapter_config.json").is_file():
        raise ModelError(f"{adapter}: no adapter_config.json; give the folder `ftscope train` wrote "
                         "(a full fine-tune is a model: pass it with --model instead)")
    if not (adapter / "adapter_model.safetensors").is_file():
        raise ModelError(f"{adapter}: no adapter_model.safetensors; ftscope loads safetensors only "
                         "(re-save the adapter with safe_serialization=True)")
    from peft import PeftModel

    return PeftModel.from_pretrained(model, adapter, is_trainable=False)
