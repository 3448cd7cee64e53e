"""Checkpoints a SIGKILL cannot tear: written to a temporary folder, then renamed into place.

One checkpoint holds what a resumed run needs to continue bit for bit: the trainable tensors, the
optimizer state keyed by parameter name (the same files whatever the number of processes that wrote them:
training/distributed.py gathers them whole), the torch RNG state and the step and loss curve so far.
Everything tensor-valued is safetensors and the rest JSON, so no checkpoint is ever unpickled. The
learning rate is a pure function of the step (loop.py), so there is no scheduler state to keep.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
from collections import defaultdict
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import torch
from safetensors.torch import load_file, save_file

from ftscope.errors import FtscopeError

KEEP = 2  # finished checkpoints kept: the newest, and one more in case the newest is the bad one


class TrainingError(FtscopeError):
    """A run that cannot go on for a reason outside the spec (a full disk)."""


@contextmanager
def disk_guard(where: Path, what: str, kept: Path | None = None) -> Iterator[None]:
    """A full disk becomes one line naming what was being saved and the checkpoint still intact."""
    try:
        yield
    except OSError as e:
        if e.errno != errno.ENOSPC:
            raise
        intact = f"the last finished checkpoint {kept} is kept" if kept else "no checkpoint was lost"
        raise TrainingError(f"{where}: disk full while saving {what}; {intact}; "
                            "free space and run the same command again to resume") from None


@contextmanager
def atomic_dir(final: Path, what: str, kept: Path | None = None) -> Iterator[Path]:
    """Yield a temporary folder; on success it replaces `final` in one rename."""
    tmp = final.with_name(f".tmp-{final.name}-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        with disk_guard(final.parent, what, kept):
            tmp.mkdir(parents=True)
            yield tmp
            if final.exists():
                shutil.rmtree(final)
            os.replace(tmp, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def save(root: Path, step: int, trainable: dict[str, torch.Tensor], optimizer_state: dict,
         state: dict[str, Any]) -> Path:
    final = root / f"step-{step:06d}"
    with atomic_dir(final, f"the step-{step} checkpoint", latest(root)) as tmp:
        save_file({k: v.detach().cpu().contiguous() for k, v in trainable.items()}, tmp / "trainable.safetensors")
        tensors, meta = _flatten(optimizer_state)
        save_file(tensors, tmp / "optimizer.safetensors")
        save_file(_rng_state(), tmp / "rng.safetensors")
        (tmp / "state.json").write_text(json.dumps({**state, "optimizer": meta}))
    prune(root)
    return final


def latest(root: Path) -> Path | None:
    found = sorted(p for p in root.glob("step-*") if (p / "state.json").is_file()) if root.is_dir() else []
    return found[-1] if found else None


def load(path: Path) -> tuple[dict[str, torch.Tensor], dict, dict[str, Any]]:
    """(trainable tensors, optimizer state dict, run state); the RNG state is restored on the way."""
    state = json.loads((path / "state.json").read_text())
    if any(isinstance(i, int) for g in state["optimizer"]["param_groups"] for i in g["params"]):
        raise TrainingError(f"{path}: a checkpoint of an older ftscope (optimizer state by position); delete "
                            f"{path.parent} to train this stage again from its start")
    optimizer = _unflatten(load_file(path / "optimizer.safetensors"), state.pop("optimizer"))
    _restore_rng(load_file(path / "rng.safetensors"))
    return load_file(path / "trainable.safetensors"), optimizer, state


def prune(root: Path, keep: int = KEEP) -> None:
    done = sorted(p for p in root.glob("step-*") if (p / "state.json").is_file())
    for old in done[:-keep]:
        shutil.rmtree(old, ignore_errors=True)


def _flatten(optimizer_state: dict) -> tuple[dict[str, torch.Tensor], dict]:
    tensors, scalars = {}, {}
    for name, values in optimizer_state["state"].items():
        for key, value in values.items():
            if torch.is_tensor(value):
                tensors[f"{name}.{key}"] = value.detach().cpu().contiguous()
            else:
                scalars[f"{name}.{key}"] = value
    return tensors, {"param_groups": optimizer_state["param_groups"], "scalars": scalars}


def _unflatten(tensors: dict[str, torch.Tensor], meta: dict) -> dict:
    state: dict[str, dict[str, Any]] = defaultdict(dict)
    for name, value in [*tensors.items(), *meta["scalars"].items()]:
        parameter, key = name.rsplit(".", 1)  # parameter names hold dots; AdamW's keys (exp_avg, step) do not
        state[parameter][key] = value
    return {"state": dict(state), "param_groups": meta["param_groups"]}


def _rng_state() -> dict[str, torch.Tensor]:
    states = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        states.update({f"cuda.{i}": s for i, s in enumerate(torch.cuda.get_rng_state_all())})
    return states


def _restore_rng(states: dict[str, torch.Tensor]) -> None:
    torch.set_rng_state(states["torch"])
    cuda = [states[k] for k in sorted(states) if k.startswith("cuda.")]
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(cuda)
