"""Open any model ftscope evaluates, and what `train` wrote whatever the method.

What a path holds is decided by models.folders, once:
- a full fine-tune (also FTICL/ProMoT with tune=full) is a model folder: `load_model(DIR)`;
- LoRA is a PEFT adapter: loaded on its base and merged, so scoring runs at base-model speed;
- a soft prompt (prompt tuning, or ProMoT's kept one) is wrapped by SoftPrompt, which keeps the
  scorer's explicit positions and KV-prefix reuse correct (PEFT's own wrapper ignores both).
The base of a trained folder is the one its manifest names (a built-in name or hub id, portable); the
manifest's content hash of that base is checked against the base found here.
"""

from __future__ import annotations

import logging
from pathlib import Path

from ftscope.errors import ModelError
from ftscope.models import BUILTIN_MODELS, LoadedModel, LoadOptions, load_model
from ftscope.models.folders import adapter_config, content_kind, describe, folder_kind, local_snapshot_kind
from ftscope.models.hub import is_hub_id, local_snapshot
from ftscope.specs import ModelRef
from ftscope.training.manifest import model_sha256, read_manifest

log = logging.getLogger("ftscope.training")

ADAPTERS = ("lora", "prompt")


def open_model(ref: ModelRef | str, options: LoadOptions = LoadOptions(), folder: Path | None = None) -> LoadedModel:
    """A base name / hub id / folder / .gguf string, or a ModelRef: the base; a trained model from
    `folder` (the train cell's model folder); a fine-tune made elsewhere from `ref.path` (on `ref.base`
    when it is an adapter). `ref.soft_prompt` attaches ProMoT's kept prompt."""
    if isinstance(ref, str):
        return _open_path(ref, options)
    if ref.is_base:
        if ref.soft_prompt:
            raise ModelError(f"model {ref.label}: the base model has no soft prompt to attach; drop soft_prompt")
        return load_model(ref.base, options=options)
    if ref.train_cell:
        if folder is None:
            raise ModelError(f"model {ref.label}: trained by cell {ref.train_cell}; pass folder=, the train "
                             "cell's model folder")
        return load_trained(folder, ref.soft_prompt, options)
    if not ref.path:
        raise ModelError(f"model {ref.label}: neither a train cell nor a path; give the fine-tune's folder or hub id")
    return _open_path(ref.path, options, ref.soft_prompt, base=ref.base)


def _open_path(path: str, options: LoadOptions, keep_soft_prompt: bool = False, base: str | None = None,
               ) -> LoadedModel:
    if is_hub_id(path) and local_snapshot_kind(path) in ("trained", *ADAPTERS):
        path = str(local_snapshot(path))  # an adapter on the hub: its snapshot folder, as any local folder
    kind = folder_kind(path)
    if kind == "trained":
        return load_trained(path, keep_soft_prompt, options)
    if keep_soft_prompt:
        raise ModelError(f"{path}: {describe(kind)}; only a ProMoT folder written by `ftscope train` keeps a soft "
                         "prompt to attach (drop the soft prompt)")
    if kind in ADAPTERS:
        return load_adapter(Path(path), base or adapter_base(Path(path)), kind, options)
    if kind in ("model", "gguf") or (kind == "missing" and not _looks_like_path(path)):
        return load_model(path, options=options)  # a missing path that is no path: a name or hub id
    raise ModelError(f"{path}: {describe(kind)}{_unfinished(Path(path))}; give a model folder, a .gguf file, an "
                     f"adapter folder, a folder `ftscope train` wrote, a hub id or one of {', '.join(BUILTIN_MODELS)}")


def _looks_like_path(reference: str) -> bool:
    return reference.startswith(("/", ".", "~")) or reference.lower().endswith(".gguf")


def _unfinished(folder: Path) -> str:
    if (folder / "run.json").is_file():
        return " (a training run that has not finished: run the same train command again)"
    return ""


def adapter_base(folder: Path) -> str:
    """The base an adapter folder names (ftscope writes the spec's model there, a portable name)."""
    base = adapter_config(folder).get("base_model_name_or_path")
    if not base:
        raise ModelError(f"{folder}: adapter_config.json names no base model; pass the base it was trained on")
    if _looks_like_path(base) and not Path(base).expanduser().exists():
        raise ModelError(f"{folder}: its base {base} is not on this machine; pass the base model it was trained on")
    return base


def load_trained(out_dir: str | Path, keep_soft_prompt: bool = False,
                 options: LoadOptions = LoadOptions()) -> LoadedModel:
    out = Path(out_dir)
    kind = folder_kind(out)
    if kind != "trained":
        raise ModelError(f"{out}: {describe(kind)}{_unfinished(out)}, not a finished `ftscope train` folder "
                         "(no manifest.json); give the output folder of a finished run")
    manifest = read_manifest(out) or {}
    loaded = load_artefact(out, manifest["spec"]["model"], options)
    if content_kind(out) in ADAPTERS:
        _check_base(out, loaded.path, manifest.get("base_model") or {})
    if keep_soft_prompt:
        loaded.model = _with_prompt(loaded, _kept_prompt(out, manifest))
    loaded.path = str(out)
    return loaded


def load_artefact(out: Path, base: str, options: LoadOptions) -> LoadedModel:
    """The model at the top of a trained folder: the folder itself, or its adapter on `base`."""
    kind = content_kind(out)
    if kind == "model":
        return load_model(str(out), options=options)
    if kind in ADAPTERS:
        return load_adapter(out, base, kind, options)
    raise ModelError(f"{out}: {describe(kind)}; the run's model or adapter files are missing (train it again)")


def load_adapter(folder: Path, base: str, kind: str, options: LoadOptions) -> LoadedModel:
    if kind == "prompt":
        loaded = load_model(base, options=options)
        loaded.model = _with_prompt(loaded, folder)
        return loaded
    loaded = load_model(base, adapter=str(folder), options=options)
    loaded.model = loaded.model.merge_and_unload()
    return loaded


def _check_base(out: Path, base_path: str, recorded: dict) -> None:
    """Warn when the base found here is not the one the adapter was trained on (same name, other weights)."""
    if not recorded.get("sha256"):
        return
    here = model_sha256(base_path)
    if here and here != recorded["sha256"]:
        log.warning("%s: its base %s here differs from the one it was trained on (sha256 %s…, trained on %s…); "
                    "scores may not be the fine-tune's", out, recorded.get("reference"), here[:12],
                    recorded["sha256"][:12])


def _kept_prompt(out: Path, manifest: dict) -> Path:
    sub = (manifest.get("artefact") or {}).get("soft_prompt")
    if not sub or content_kind(out / sub) != "prompt":
        raise ModelError(f"{out}: no soft prompt kept apart; only ProMoT keeps one (drop keep_soft_prompt / "
                         "--keep-soft-prompt)")
    return out / sub


def _with_prompt(loaded: LoadedModel, folder: Path):
    from ftscope.training.soft_prompt import SoftPrompt, load_prompt

    return SoftPrompt(loaded.model, load_prompt(folder), trainable=False).to(loaded.device).eval()
