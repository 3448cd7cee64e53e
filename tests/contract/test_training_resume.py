"""Killed with SIGKILL mid-run, the same call resumes from the last checkpoint and ends with exactly
the weights of an uninterrupted run. A full disk while checkpointing is one line and loses nothing.

The killed run and its resumption happen in subprocesses (a real SIGKILL cannot be caught or cleaned
up after); the uninterrupted reference runs here, with the same single thread.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from ftscope.training import TrainSpec, checkpoints, train
from ftscope.training.checkpoints import TrainingError

SCRIPT = """
import json, sys, time, torch
torch.set_num_threads(1)
from ftscope.training import TrainSpec, train
spec = TrainSpec.from_dict(json.loads(sys.argv[1]))
def report(p):
    print(f"step {p.step}", flush=True)
    time.sleep(float(sys.argv[3]))
train(spec, sys.argv[2], progress=report)
"""


def spec_for(tiny: Path, **kw) -> TrainSpec:
    # LoRA dropout makes the run draw random numbers every step: resuming must restore the RNG too.
    base = dict(model=str(tiny), method="lora", n=8, epochs=3, batch_size=2, grad_accum=1, lr=1e-2,
                checkpoint_every=3)
    return TrainSpec(**{**base, **kw}).with_options(lora_dropout=0.1)


def start(spec: TrainSpec, out: Path, delay: float) -> subprocess.Popen:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.Popen([sys.executable, "-c", SCRIPT, json.dumps(spec.to_dict()), str(out), str(delay)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def finish(proc: subprocess.Popen) -> list[int]:
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr[-2000:]
    return [int(line.split()[1]) for line in stdout.splitlines() if line.startswith("step ")]


def test_sigkill_then_rerun_ends_with_the_uninterrupted_weights(tiny, tmp_path):
    spec = spec_for(tiny)
    victim = start(spec, tmp_path / "killed", delay=0.4)
    marker = tmp_path / "killed" / "checkpoints" / "train" / "step-000006"
    deadline = time.time() + 240
    while not marker.is_dir() and victim.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    assert marker.is_dir(), "the run never wrote its step-6 checkpoint"
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    assert not (tmp_path / "killed" / "manifest.json").exists()
    resumed_from = int(checkpoints.latest(marker.parent).name.split("-")[1])

    steps = finish(start(spec, tmp_path / "killed", delay=0))
    assert steps[0] == resumed_from + 1 and steps[-1] == 12
    train(spec, tmp_path / "clean")  # the reference, uninterrupted (one thread here as in the subprocess)

    a = load_file(tmp_path / "killed" / "adapter_model.safetensors")
    b = load_file(tmp_path / "clean" / "adapter_model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    curve = lambda d: json.loads((tmp_path / d / "manifest.json").read_text())["loss_curve"]  # noqa: E731
    assert curve("killed") == curve("clean")


def test_full_disk_while_checkpointing_is_one_line_and_keeps_the_last_checkpoint(tiny, tmp_path, monkeypatch):
    real_save, calls = checkpoints.save_file, []

    def save_file(tensors, path, *args, **kwargs):
        calls.append(path)
        if len(calls) > 3:  # the second checkpoint's first file
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_save(tensors, path, *args, **kwargs)

    monkeypatch.setattr(checkpoints, "save_file", save_file)
    out = tmp_path / "run"
    with pytest.raises(TrainingError) as caught:
        train(spec_for(tiny, checkpoint_every=2), out)
    message = str(caught.value)
    assert "\n" not in message and "disk full" in message and "step-000002" in message
    ckpt = out / "checkpoints" / "train"
    assert [p.name for p in ckpt.iterdir()] == ["step-000002"]  # no half-written folder left behind
    monkeypatch.setattr(checkpoints, "save_file", real_save)
    assert (train(spec_for(tiny, checkpoint_every=2), out) / "manifest.json").is_file()
