"""train(spec, out_dir): data → tokens → each stage of the method → artefacts, measurements, manifest.

The output folder is the run's identity. A finished folder (manifest.json with the same spec hash)
is returned at once; an unfinished one of the same spec resumes: finished stages are skipped, the
stage in flight continues from its last checkpoint. A folder of another spec is refused.

Layout while running: run.json (the spec), checkpoints/<stage>/step-N, .stages/<stage>/ (a finished
stage's artefact and loss curve). At the end the artefacts move to the top (ProMoT's prompt to
soft_prompt/), manifest.json is written, and the scaffolding goes.

Under `accelerate launch` every process runs this function: all of them train (the loop shares each step's
micro-batches out) and take part in gathering what is saved; the main process alone writes, measures the
result and writes the manifest, which records the world size.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ftscope import trackers
from ftscope.errors import ConfigError, DataError
from ftscope.models import LoadOptions, load_model
from ftscope.models.release import release_freed_memory
from ftscope.results import write_json
from ftscope.specs import TrainSpec
from ftscope.tasks import Catalogue
from ftscope.training import checkpoints, monitor
from ftscope.training.batches import plan
from ftscope.training.data import TrainData, build_data
from ftscope.training.distributed import check_launch, unsharded, world
from ftscope.training.load import load_artefact
from ftscope.training.loop import ProgressFn, Setup, StageResult, run_stage
from ftscope.training.manifest import model_sha256, read_manifest, versions, write_manifest
from ftscope.training.measure import base_lm_loss, heldout_texts, lm_loss, probe, reload_check, weight_change
from ftscope.training.method import Method, MethodOptions
from ftscope.training.methods import METHODS
from ftscope.training.resolve import method_options, resolve
from ftscope.training.stages import Context, Stage, artefact_dir
from ftscope.training.tokens import Rows, tokenize

log = logging.getLogger("ftscope.training")

SCAFFOLD = ("run.json", "checkpoints", ".stages")
PROBE_ROWS = 3


@dataclass
class Prepared:
    """Everything a run builds before its first stage."""

    spec: TrainSpec
    method: Method
    options: MethodOptions
    catalogue: Catalogue
    data: TrainData
    rows: Rows
    loaded: Any  # LoadedModel of the base
    ctx: Context
    setup: Setup
    notes: list[str] = field(default_factory=list)  # for the manifest, besides the data's


def train(spec: TrainSpec, out_dir: str | Path, catalogue: Catalogue | None = None,
          progress: ProgressFn | None = None) -> Path:
    started = time.time()
    spec, out = resolve(spec), Path(out_dir)
    if _finished(out, spec):
        return out
    _check_folder(out, spec)
    catalogue = catalogue or Catalogue()
    run = _prepare(spec, out, catalogue, progress)  # bad data or model fail here, before the folder is touched
    acc = run.setup.accelerator
    if acc.is_main_process:
        _claim(out, spec)
    acc.wait_for_everyone()
    texts, text_sources = heldout_texts(catalogue, run.data.tasks)
    run.loaded.model.to(acc.device)
    base_heldout = (base_lm_loss(run.loaded.model, run.loaded.tokenizer, texts, str(run.loaded.path), spec.dtype)
                    if acc.is_main_process else {})
    stages = run.method.stages(run.ctx)
    results, module = [], None
    for index, stage in enumerate(stages):
        result, module = _stage(run, stage, index)
        results.append(result)
    run.notes += _watch_notes(stages, results)
    before = _probe_before_saving(run, module)  # every process: a sharded model's forward needs them all
    if not acc.is_main_process:
        return out
    before = _kept_probe(out, before)
    base_path = run.loaded.path
    del module, run.loaded.model
    acc.free_memory()  # accelerate keeps every prepared model and optimizer: without this the model stays
    release_freed_memory()  # the stage's activations and the trained model: not on top of the reload below
    _assemble(out, stages)
    measured = _measure(out, run, before, texts, base_path)
    measured["heldout"] = {"base_loss": base_heldout["loss"], "tuned_loss": measured.pop("tuned_loss"),
                           "tokens": base_heldout["tokens"], "texts": len(texts), "sources": text_sources}
    _write(out, run, results, measured, base_path, time.time() - started)
    trackers.finish(run.setup.accelerator, {f"heldout/{k}": v for k, v in measured["heldout"].items()})
    return out


def _kept_probe(out: Path, before: torch.Tensor | None) -> torch.Tensor | None:
    """The pre-save probe, kept beside the finished stages: a run killed while measuring resumes with every
    stage done and nothing in memory, and still checks the reload against what training ended with."""
    from safetensors.torch import load_file, save_file

    path = out / ".stages" / "probe.safetensors"
    if before is None:
        return load_file(path)["logits"] if path.is_file() else None
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    save_file({"logits": before.contiguous()}, tmp)
    os.replace(tmp, path)
    return before


def _probe_before_saving(run: Prepared, module: Any) -> Any:
    """The trained model's predictions in memory, for the reload check (None when every stage was already
    finished by an earlier call and nothing is in memory)."""
    if module is None:
        return None
    with unsharded(module):
        return probe(run.method.evaluated(module), _probe_ids(run.rows))


def _finished(out: Path, spec: TrainSpec) -> bool:
    manifest = read_manifest(out)
    if manifest is None:
        return False
    if manifest.get("spec_hash") != spec.hash():
        raise ConfigError(f"{out}: holds a finished run of another spec (hash {manifest.get('spec_hash', '?')[:12]}); "
                          "choose a new output folder or delete this one")
    return True


def _check_folder(out: Path, spec: TrainSpec) -> None:
    """Refuse a folder holding something else; an unfinished run of another spec only if it got anywhere."""
    run_file = out / "run.json"
    if run_file.is_file():
        other = json.loads(run_file.read_text()).get("spec_hash") != spec.hash()
        if other and ((out / "checkpoints").exists() or (out / ".stages").exists()):
            raise ConfigError(f"{out}: holds an unfinished run of another spec; choose a new output folder "
                              "or delete this one")
    elif out.is_dir() and any(p.name not in SCAFFOLD for p in out.iterdir()):
        raise ConfigError(f"{out}: the folder is not empty and holds no ftscope training run; "
                          "choose an empty or new output folder")


def _claim(out: Path, spec: TrainSpec) -> None:
    with checkpoints.disk_guard(out, "run.json"):
        write_json(out / "run.json", {"spec_hash": spec.hash(), "spec": spec.to_dict()})


def _prepare(spec: TrainSpec, out: Path, catalogue: Catalogue, progress: ProgressFn | None) -> Prepared:
    from accelerate import Accelerator

    method, options = METHODS[spec.method], method_options(spec)
    data = build_data(spec, catalogue, lambda dataset: method.demos(spec, options, catalogue, dataset))
    if not data.items:
        raise DataError(f"train spec: datasets {', '.join(spec.datasets)} gave no examples; raise n")
    loaded = load_model(spec.model, options=LoadOptions(dtype=spec.dtype, device="cpu"))
    rows = tokenize(data.items, loaded.tokenizer, spec.max_length)
    if not rows.rows:
        raise DataError(f"train spec: max_length={spec.max_length} cuts every example's target away; raise it")
    accelerator = Accelerator(**trackers.accelerator_options(spec, out))
    check_launch(accelerator, spec.checkpoint_every)
    bf16 = spec.bf16 if spec.bf16 is not None else accelerator.device.type == "cuda"
    progress = trackers.start(accelerator, spec, progress)  # also logs each step when FTSCOPE_LOG_WITH is set
    setup = Setup(accelerator, loaded.tokenizer.pad_token_id, bf16, spec.max_grad_norm, spec.weight_decay,
                  spec.max_batch_tokens, spec.checkpoint_every, spec.hash(), progress)
    ctx = Context(spec, options, loaded.tokenizer, out)
    return Prepared(spec, method, options, catalogue, data, rows, loaded, ctx, setup)


def _stage(run: Prepared, stage: Stage, index: int) -> tuple[StageResult, Any]:
    """Train one stage, or read its result when an earlier call finished it."""
    folder, acc = artefact_dir(run.ctx.out_dir, stage.name), run.setup.accelerator
    info = folder.parent / "stage.json"
    if info.is_file():
        return StageResult(**json.loads(info.read_text())), None
    torch.manual_seed(run.spec.seed + index)  # each stage starts from its own seed, resumed or not
    module = stage.attach(run.loaded.model, run.ctx)
    windows = plan([len(r) for r in run.rows.rows], run.spec.batch_size, run.spec.grad_accum, run.spec.seed,
                   run.spec.epochs, stage.updates)
    ckpt = run.ctx.out_dir / "checkpoints" / stage.name
    held = monitor.heldout(run.spec, run.catalogue, run.data) if stage.watch else None
    watch = monitor.monitor(stage.watch, held, run.loaded.tokenizer, run.spec.max_length) if held else None
    result, prepared = run_stage(module, run.rows.rows, windows, stage.name, stage.lr, ckpt, run.setup, watch)
    result.monitor_heldout = list(held.sources) if held else []
    state = acc.get_state_dict(prepared)  # gathered whole on the main process when the model is sharded
    if acc.is_main_process:
        with checkpoints.atomic_dir(folder, f"the {stage.name} stage's result", checkpoints.latest(ckpt)) as tmp:
            stage.save(acc.unwrap_model(prepared), state, tmp, run.ctx)
        with checkpoints.disk_guard(folder.parent, "stage.json", checkpoints.latest(ckpt)):
            write_json(info, result.to_dict())
    del state
    acc.wait_for_everyone()
    return result, acc.unwrap_model(prepared)


def _watch_notes(stages: list[Stage], results: list[StageResult]) -> list[str]:
    """A note (and a warning) for each watched stage that had not levelled off."""
    notes = [monitor.levelling_note(s.watch, r.monitor) for s, r in zip(stages, results) if s.watch]
    for note in filter(None, notes):
        log.warning(note)
    return [n for n in notes if n]


def _probe_ids(rows: Rows) -> list[list[int]]:
    """The prompts (target cut off) of the first training rows."""
    return [list(r.ids[: len(r) - r.n_target]) for r in rows.rows[:PROBE_ROWS]]


def _assemble(out: Path, stages: list[Stage]) -> None:
    """Move each stage's artefact to its place; file by file, so a crash here is simply redone."""
    for stage in stages:
        source, target = artefact_dir(out, stage.name), out / stage.target
        target.mkdir(parents=True, exist_ok=True)
        for f in sorted(source.iterdir()) if source.is_dir() else []:
            os.replace(f, target / f.name)


def _measure(out: Path, run: Prepared, before: Any, texts: list[str], base_path: str) -> dict[str, Any]:
    """Reload what was saved, as evaluation will, and measure it."""
    options = LoadOptions(dtype=run.spec.dtype, device=str(run.setup.accelerator.device))
    loaded = load_artefact(out, run.spec.model, options)
    after = probe(loaded.model, _probe_ids(run.rows))
    measured = {"tuned_loss": lm_loss(loaded.model, loaded.tokenizer, texts)["loss"],
                "reload_check": reload_check(before, after) if before is not None else None,
                "weight_change": weight_change(loaded.model, base_path)}
    del loaded
    gc.collect()
    return measured


def _write(out: Path, run: Prepared, results: list[StageResult], measured: dict, base_path: str,
           wall: float) -> None:
    spec = run.spec
    with checkpoints.disk_guard(out, "manifest.json"):
        write_manifest(out, {
            "spec_hash": spec.hash(), "spec": spec.to_dict(), "method": spec.method,
            "tuned": run.method.tunes(run.options), "artefact": run.method.artefact(run.options).to_dict(spec.model),
            "seed": spec.seed,
            "base_model": {"reference": spec.model, "path": base_path, "sha256": model_sha256(base_path)},
            "data": list(run.data.sources), "versions": versions(),
            "device": str(run.setup.accelerator.device), **world(run.setup.accelerator),
            "bf16_autocast": run.setup.bf16,
            "wall_seconds": wall, "train_seconds": sum(r.seconds for r in results),
            "tokens": _tokens(run.rows, results), "stages": [r.to_dict() for r in results],
            "loss_curve": [{"stage": r.name, **point} for r in results for point in r.loss_curve],
            **measured, "notes": [*run.data.notes, *_row_notes(run.rows, spec), *run.notes],
        })
    for name in SCAFFOLD:
        path = out / name
        shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)


def _tokens(rows: Rows, results: list[StageResult]) -> dict[str, Any]:
    real = sum(r.tokens.get("real", 0) for r in results)
    padded = sum(r.tokens.get("padded", 0) for r in results)
    seconds = sum(r.seconds for r in results)
    return {"examples": len(rows.rows), "example_tokens": sum(len(r) for r in rows.rows),
            "processed": real, "processed_with_padding": padded,
            "target": sum(r.tokens.get("target", 0) for r in results),
            "pad_fraction": 1 - real / padded if padded else 0.0,
            "tokens_per_second": real / seconds if seconds else None,
            "truncated_examples": rows.truncated, "dropped_examples": rows.dropped}


def _row_notes(rows: Rows, spec: TrainSpec) -> list[str]:
    notes = []
    if rows.truncated:
        notes.append(f"{rows.truncated} example(s) longer than max_length={spec.max_length} were cut on the right")
    if rows.dropped:
        notes.append(f"{rows.dropped} example(s) lost their whole target to max_length and were left out")
    return notes
