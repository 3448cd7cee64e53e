"""Run by the distributed contract tests under `accelerate launch` (every process runs it): trains each job
of a JSON list in turn with ftscope's train(), one thread per process.

Each checkpoint write is logged with the rank that made it (the real `checkpoints.save` does the writing);
each job's wall time is printed by the main process. With FTSCOPE_TEST_FSDP2=1 accelerate's state is set to
FSDP2 before training: accelerate offers FSDP on GPUs only (its launcher refuses --cpu with --use_fsdp and
its CPU state never becomes FSDP), while torch's fully_shard runs on gloo; the state set here is the one a
GPU launch with --use_fsdp --fsdp_version 2 creates, so accelerate's and torch's real FSDP2 code runs.

    python launched_training.py JOBS.json CHECKPOINT_LOG
    JOBS.json: [{"spec": {...TrainSpec...}, "out": "...", "delay": seconds after each step (main process)}]
"""

from __future__ import annotations

import json
import os
import sys
import time

import torch

torch.set_num_threads(1)

from ftscope.training import TrainSpec, checkpoints, train  # noqa: E402


def log_checkpoints(path: str) -> None:
    real_save, rank = checkpoints.save, os.environ.get("RANK", "0")

    def save(root, step, *args, **kwargs):
        with open(path, "a") as log:
            log.write(f"{rank} {root.parents[1].name} {root.name} {step}\n")
        return real_save(root, step, *args, **kwargs)

    checkpoints.save = save


def force_fsdp2() -> None:
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState, PartialState
    from accelerate.utils import DistributedType, FullyShardedDataParallelPlugin

    Accelerator()  # the process group, on gloo
    PartialState._shared_state["distributed_type"] = DistributedType.FSDP
    state = AcceleratorState()
    state.distributed_type = DistributedType.FSDP
    state.fsdp_plugin = FullyShardedDataParallelPlugin(
        fsdp_version=2, auto_wrap_policy="transformer_based_wrap", transformer_cls_names_to_wrap=["LlamaDecoderLayer"],
        state_dict_type="FULL_STATE_DICT", reshard_after_forward=True)


def main() -> None:
    jobs, log = json.loads(open(sys.argv[1]).read()), sys.argv[2]
    log_checkpoints(log)
    if os.environ.get("FTSCOPE_TEST_FSDP2") == "1":
        force_fsdp2()
    for job in jobs:
        started = time.perf_counter()

        def progress(p, delay=job.get("delay", 0.0)):
            print(f"step {p.step}", flush=True)
            time.sleep(delay)

        train(TrainSpec.from_dict(job["spec"]), job["out"], progress=progress)
        if os.environ.get("RANK", "0") == "0":
            print(f"TIME {job['out']} {time.perf_counter() - started:.2f}", flush=True)


if __name__ == "__main__":
    main()
