"""Load what `train` wrote, ready for evaluation, whatever the method.

- a full fine-tune (also FTICL/ProMoT with tune=full) is a model folder: `load_model(DIR)`;
- LoRA is a PEFT adapter: loaded on its base and merged, so scoring runs at base-model speed;
- a soft prompt (prompt tuning, or ProMoT's kept one) is wrapped by SoftPrompt, which keeps the
  scorer's explicit positions and KV-prefix reuse correct (PEFT's own wrapper ignores both).
The folder alone says which it is; the base model comes from the manifest (or the adapter config).
"""

from __future__ import annotations

import json
from pathlib import Path

from ftscope.errors import ModelError
from ftscope.models import LoadedModel, LoadOptions, load_model
from ftscope.training.manifest import read_manifest
from ftscope.training.promot import PROMPT_DIR


def load_trained(out_dir: str | Path, keep_soft_prompt: bool = False,
                 options: LoadOptions = LoadOptions()) -> LoadedModel:
    out = Path(out_dir)
    if (out / "config.json").is_file():
        loaded = load_model(str(out), options=options)
    elif (out / "adapter_config.json").is_file():
        loaded = _load_adapter(out, options)
    else:
        raise ModelError(f"{out}: no config.json or adapter_config.json; give the folder `ftscope train` "
                         "wrote (it holds manifest.json once training finished)")
    if keep_soft_prompt:
        if not (out / PROMPT_DIR / "adapter_config.json").is_file():
            raise ModelError(f"{out}: no {PROMPT_DIR}/ folder; only ProMoT keeps a separate soft prompt "
                             "(drop keep_soft_prompt / --keep-soft-prompt)")
        loaded.model = _with_prompt(loaded, out / PROMPT_DIR)
    loaded.path = str(out)
    return loaded


def base_reference(out: Path) -> str:
    manifest = read_manifest(out) or _read_json(out / "run.json")
    if manifest and manifest.get("spec", {}).get("model"):
        return manifest["spec"]["model"]
    return _read_json(out / "adapter_config.json")["base_model_name_or_path"]


def _load_adapter(out: Path, options: LoadOptions) -> LoadedModel:
    config = _read_json(out / "adapter_config.json")
    base = base_reference(out)
    if config.get("peft_type") == "PROMPT_TUNING":
        loaded = load_model(base, options=options)
        loaded.model = _with_prompt(loaded, out)
        return loaded
    loaded = load_model(base, adapter=str(out), options=options)
    loaded.model = loaded.model.merge_and_unload()
    return loaded


def _with_prompt(loaded: LoadedModel, folder: Path):
    from ftscope.training.soft_prompt import SoftPrompt, load_prompt

    return SoftPrompt(loaded.model, load_prompt(folder), trainable=False).to(loaded.device).eval()


def _read_json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
