"""How the training loop's state crosses processes under `accelerate launch`: data parallel (DDP) or fully
sharded (FSDP2), on GPUs, and on CPU over gloo.

- Checkpoints hold the trainable tensors and AdamW's state gathered whole on the main process, keyed by
  parameter name (torch.distributed.checkpoint.state_dict, which speaks DDP, FSDP2 and a plain module
  alike; accelerate's own save_state would pickle). A checkpoint is therefore the same files whatever the
  world size, and every process reads it back and takes its part.
- The final artefact is written from accelerate's `get_state_dict`, which gathers a sharded model.
- What the loop cannot do correctly is refused before training: DeepSpeed (its engine steps the optimizer
  inside backward and fixes the number of micro-batches per step, while a step here has as many pieces
  as its rows need) and FSDP1 (its wrapper hides the module the methods save and probe).
- `accelerate launch --cpu --num_processes N` starts ONE process (accelerate runs N CPU processes only
  through mpirun); that is said in a warning, with the command that does start N.
"""

from __future__ import annotations

import logging
import os
from contextlib import contextmanager
from typing import Any, Iterator

import torch

from ftscope.errors import ConfigError

log = logging.getLogger("ftscope.training")

CPU_LAUNCH = "ACCELERATE_USE_CPU=true accelerate launch --multi_gpu --num_processes N $(which ftscope) train ..."
WORLD_ENV = ("WORLD_SIZE", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE")


def check_launch(acc: Any, checkpoint_every: int) -> None:
    """Refuse what the loop cannot do right; warn when a multi-process launch started one process."""
    kind = str(acc.distributed_type).split(".")[-1]
    if kind == "DEEPSPEED":
        raise ConfigError("accelerate launch: DeepSpeed is not supported by ftscope's training loop (its engine "
                          "steps inside backward with a fixed micro-batch count); shard with FSDP2 instead: "
                          "accelerate launch --use_fsdp --fsdp_version 2 ...")
    if kind == "FSDP" and not acc.is_fsdp2:
        raise ConfigError("accelerate launch: FSDP1 is not supported; add --fsdp_version 2 "
                          "(fsdp_version: 2 in the accelerate config)")
    asked_for_more = "MASTER_ADDR" in os.environ and not any(k in os.environ for k in WORLD_ENV)
    if acc.num_processes == 1 and asked_for_more:
        log.warning("accelerate launch --cpu started one process, not N (accelerate runs several CPU processes "
                    "only through mpirun); this run trains in 1 process. For N processes on this machine: %s",
                    CPU_LAUNCH)


def world(acc: Any) -> dict[str, Any]:
    """For the manifest: how many processes trained, and how they shared the model."""
    return {"world_size": acc.num_processes, "distributed_type": str(acc.distributed_type).split(".")[-1],
            "fsdp2": bool(getattr(acc, "is_fsdp2", False))}


def sum_over_processes(acc: Any, values: list[float]) -> list[float]:
    """Each value summed over every process (float64: a loss sum must not lose the order's rounding)."""
    if acc.num_processes == 1:
        return values
    total = torch.tensor(values, dtype=torch.float64, device=acc.device)
    return acc.reduce(total, reduction="sum").tolist()


def _options(**kw: Any) -> Any:
    from torch.distributed.checkpoint.state_dict import StateDictOptions

    return StateDictOptions(**kw)


def trainable_state(model: Any) -> dict[str, torch.Tensor]:
    """The trainable tensors, whole, on the main process (empty elsewhere). Every process must call it."""
    from torch.distributed.checkpoint.state_dict import get_model_state_dict

    found = get_model_state_dict(model, options=_options(full_state_dict=True, cpu_offload=True,
                                                          ignore_frozen_params=True))
    return _untied(found)


def _untied(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """One key per storage: a tied parameter (embed_tokens and lm_head) comes back under both its names, which
    safetensors refuses to write; loading the first name restores both, since they are one Parameter."""
    seen: set[tuple[int, int]] = set()
    kept = {}
    for name, tensor in tensors.items():
        where = (tensor.untyped_storage().data_ptr(), tensor.storage_offset())
        if where not in seen:
            seen.add(where)
            kept[name] = tensor
    return kept


def optimizer_state(model: Any, optimizer: Any) -> dict:
    """AdamW's state keyed by parameter name, whole, on the main process. Every process must call it."""
    from torch.distributed.checkpoint.state_dict import get_optimizer_state_dict

    return get_optimizer_state_dict(model, _inner(optimizer), options=_options(full_state_dict=True, cpu_offload=True))


def load_state(model: Any, optimizer: Any, tensors: dict[str, torch.Tensor], optim: dict) -> None:
    """Put whole tensors and optimizer state (read by every process) back; each process keeps its part."""
    from torch.distributed.checkpoint.state_dict import set_model_state_dict, set_optimizer_state_dict

    set_model_state_dict(model, tensors, options=_options(full_state_dict=True, strict=False))
    set_optimizer_state_dict(model, _inner(optimizer), optim_state_dict=optim, options=_options(full_state_dict=True))


def _inner(optimizer: Any) -> Any:
    return getattr(optimizer, "optimizer", optimizer)  # accelerate's wrapper around the torch optimizer


@contextmanager
def unsharded(module: Any) -> Iterator[Any]:
    """The module with its own FSDP2 shard group gathered, so that a sub-module (ProMoT's model without
    its prompt) can run outside the root's forward; a no-op for an unsharded module."""
    from torch.distributed.fsdp import FSDPModule

    if not isinstance(module, FSDPModule):
        yield module
        return
    module.unshard()
    try:
        yield module
    finally:
        module.reshard()
