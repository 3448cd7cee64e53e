"""The one training loop every stage runs: AdamW, linear decay without warm-up, gradient accumulation,
checkpoints every N steps, resumable bit for bit.

It is written on accelerate directly rather than HF Trainer so that its batches can be ours
(length-grouped, left-padded, logits for targets only) and its checkpoints pickle-free; under
`accelerate launch` the same code runs data-parallel: each process takes its share of every
optimizer step's micro-batches and only the main process writes.

The loss is the mean over every target token of the optimizer step (not a mean of micro-batch means),
so the gradient does not depend on how the step is split into micro-batches.
"""

from __future__ import annotations

import hashlib
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch
import torch.nn.functional as F

from ftscope.training import checkpoints
from ftscope.training.batches import Batch, Window, collate, pieces_of
from ftscope.training.distributed import load_state, optimizer_state, sum_over_processes, trainable_state
from ftscope.training.fused_lora import fused_lora
from ftscope.training.tokens import Row


@dataclass(frozen=True)
class Progress:
    stage: str
    step: int
    total: int
    loss: float
    lr: float
    elapsed_s: float
    tokens: int = 0  # non-padding tokens this step processed

    @property
    def eta_s(self) -> float:
        return self.elapsed_s / max(1, self.step) * (self.total - self.step)

    def line(self) -> str:
        return (f"{self.stage} step {self.step}/{self.total} · loss {self.loss:.4f} · lr {self.lr:.2e} · "
                f"{self.elapsed_s:.0f}s elapsed, ETA {self.eta_s:.0f}s")


ProgressFn = Callable[[Progress], None]


@dataclass
class Setup:
    """What the loop needs besides the module: where it runs and how."""

    accelerator: Any
    pad_id: int
    bf16: bool
    max_grad_norm: float
    weight_decay: float
    max_batch_tokens: int
    checkpoint_every: int
    spec_hash: str
    progress: ProgressFn | None = None


@dataclass
class StageResult:
    name: str
    lr: float
    updates: int
    seconds: float = 0.0
    loss_curve: list[dict] = field(default_factory=list)
    tokens: dict[str, int] = field(default_factory=dict)  # real, padded, target tokens processed
    monitor: list[dict] = field(default_factory=list)  # held-out measurements of a watched stage, by step
    monitor_heldout: list[dict] = field(default_factory=list)  # which examples those were, per dataset

    def to_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Monitor:
    """Held-out measurement of a stage in training: `measure(module)` at the start and every `every` steps.
    It runs in eval mode without gradients and draws no random numbers, so a resumed run is unchanged."""

    every: int
    measure: Callable[[Any], dict]

    def due(self, step: int, total: int) -> bool:
        return step % self.every == 0 or step == total

    def record(self, module: Any, step: int, result: "StageResult") -> float:
        """Append one measurement; returns the seconds it took (not training time)."""
        started = time.perf_counter()
        module.eval()
        point = self.measure(module)
        module.train()
        seconds = time.perf_counter() - started
        result.monitor.append({"step": step, **point, "seconds": seconds})
        return seconds


def lr_at(base: float, step: int, total: int) -> float:
    """Linear decay from `base` at the first step towards 0, no warm-up (the paper's schedule)."""
    return base * (1 - step / max(1, total))


def run_stage(module: Any, rows: tuple[Row, ...], windows: list[Window], name: str, lr: float,
              ckpt_root: Path, setup: Setup, monitor: Monitor | None = None) -> tuple[StageResult, Any]:
    """Train `module` over `windows`; returns the result and the module as accelerate prepared it (wrapped
    or sharded: what saving must gather from)."""
    acc = setup.accelerator
    optimizer = torch.optim.AdamW([p for p in module.parameters() if p.requires_grad], lr=lr,
                                  weight_decay=setup.weight_decay)
    model, optimizer = acc.prepare(module, optimizer)
    params = [p for p in model.parameters() if p.requires_grad]  # FSDP2 replaces them: read after prepare
    result = _resume(ckpt_root, model, optimizer, setup.spec_hash) or StageResult(name, lr, len(windows))
    model.train()
    if monitor and not result.monitor:
        monitor.record(acc.unwrap_model(model), 0, result)
    started, done_before, monitoring = time.perf_counter(), result.seconds, 0.0
    with fused_lora(module):
        for step in range(len(result.loss_curve), len(windows)):
            tokens = _step(model, optimizer, params, rows, windows, step, setup, result)
            result.seconds = done_before + time.perf_counter() - started - monitoring
            _report(setup, result, len(windows), tokens)
            if monitor and monitor.due(step + 1, len(windows)):
                # Every process measures (the same numbers): a sharded model's forward needs them all.
                monitoring += monitor.record(acc.unwrap_model(model), step + 1, result)
            if setup.checkpoint_every and (step + 1) % setup.checkpoint_every == 0 and step + 1 < len(windows):
                _checkpoint(ckpt_root, acc, model, optimizer, result, setup.spec_hash)
    return result, model


def _step(model: Any, optimizer: Any, params: list, rows: tuple[Row, ...], windows: list[Window], step: int,
          setup: Setup, result: StageResult) -> int:
    """One optimizer step, appended to the loss curve; returns the non-padding tokens it processed."""
    step_lr = lr_at(result.lr, step, len(windows))
    for group in optimizer.param_groups:
        group["lr"] = step_lr
    seen = result.tokens.get("real", 0)
    key = f"{setup.spec_hash}:{result.name}:{step}"
    loss = backward_step(model, rows, windows[step], setup, result.tokens, key)
    setup.accelerator.clip_grad_norm_(params, setup.max_grad_norm)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    result.loss_curve.append({"step": step + 1, "loss": loss, "lr": step_lr})
    return result.tokens["real"] - seen


def backward_step(model: Any, rows: tuple[Row, ...], window: Window, setup: Setup, tokens: dict,
                  key: str = "") -> float:
    """One optimizer step's forward and backward passes (gradients left in .grad); returns its mean
    target-token loss over the whole step, every process's micro-batches included.

    Under data parallelism the gradients are averaged over processes, so each process scales its summed
    loss by world size / the step's target tokens: the average is then the step's per-token mean, as one
    process computes it. A process without a micro-batch runs one at weight 0 to join the all-reduce.
    """
    acc = setup.accelerator
    mine, weight = _shard(window, acc)
    pieces = [(f"{key}:{k}:{p}", piece) for k, batch in mine
              for p, piece in enumerate(pieces_of(batch, rows, setup.max_batch_tokens))]
    n_target = sum(rows[i].n_target for batch in window for i in batch)
    scale = weight * acc.num_processes / n_target
    local = [0.0, 0.0, 0.0, 0.0]  # summed loss; real, padded and target tokens
    for j, (seed_key, indices) in enumerate(pieces):
        batch = collate([rows[i] for i in indices], setup.pad_id).to(acc.device)
        _seed(seed_key)
        # Gradients are all-reduced once per step, on the last piece.
        with nullcontext() if j == len(pieces) - 1 else acc.no_sync(model):
            loss_sum = target_loss(model, batch, setup.bf16)
            acc.backward(loss_sum * scale)
        local = [a + weight * b for a, b in zip(local, [loss_sum.item(), *_counts(batch)])]
    total = sum_over_processes(acc, local)
    for name, value in zip(("real", "padded", "target"), total[1:]):
        tokens[name] = tokens.get(name, 0) + int(value)
    return total[0] / n_target


def _seed(key: str) -> None:
    """Seed the RNG (dropout) from the micro-batch's place in training, not from what ran before it: the
    same piece draws the same masks in whichever process runs it, so N processes train as one, and a
    resumed run needs no RNG history."""
    if key:
        torch.manual_seed(int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "little"))


def target_loss(model: Any, batch: Batch, bf16: bool) -> torch.Tensor:
    """Summed cross-entropy over target tokens, from logits of the last `keep` positions only."""
    return summed_loss(target_logits(model, batch, bf16), batch)


def target_logits(model: Any, batch: Batch, bf16: bool) -> torch.Tensor:
    """Logits of the last `keep` positions: [rows, keep, vocab]; position j predicts labels[:, j].

    The positions are given as indices counted from the end, not as the count: the model then gathers them
    into a contiguous tensor before its LM head. The count slices them as a strided view, and a strided input
    that requires grad makes torch.matmul run the head as a batched product over a broadcast weight, forward
    and backward: on 2 cores 430 against 115 ms a step for SmolLM2's 49k-token head at 8 rows × 4 positions.
    Negative indices stay right when a soft prompt is prepended (prompt tuning, ProMoT)."""
    device = batch.input_ids.device.type
    last = torch.arange(-batch.keep, 0, device=batch.input_ids.device)
    with torch.autocast(device, dtype=torch.bfloat16, enabled=bf16):
        return model(input_ids=batch.input_ids, attention_mask=batch.attention_mask,
                     position_ids=batch.position_ids, logits_to_keep=last, use_cache=False).logits


def summed_loss(logits: torch.Tensor, batch: Batch) -> torch.Tensor:
    return F.cross_entropy(logits[:, :-1].float().flatten(0, 1), batch.labels.flatten(),
                           ignore_index=-100, reduction="sum")


def _shard(window: Window, acc: Any) -> tuple[list[tuple[int, list[int]]], float]:
    """This process's micro-batches of the step, each with its index in the step, and their weight: 0 for a
    process left without one, which repeats the step's last micro-batch only to join the all-reduce."""
    mine = list(enumerate(window))[acc.process_index::acc.num_processes]
    return (mine, 1.0) if mine else ([(len(window) - 1, window[-1])], 0.0)


def _counts(batch: Batch) -> tuple[int, int, int]:
    return int(batch.attention_mask.sum()), batch.input_ids.numel(), int((batch.labels != -100).sum())


def _report(setup: Setup, result: StageResult, total: int, tokens: int) -> None:
    if setup.progress and setup.accelerator.is_main_process:  # one progress line per step, not one per process
        last = result.loss_curve[-1]
        setup.progress(Progress(result.name, last["step"], total, last["loss"], last["lr"], result.seconds, tokens))


def _checkpoint(root: Path, acc: Any, model: Any, optimizer: Any, result: StageResult, spec_hash: str) -> None:
    # Gathering is collective (every process); writing is the main process's alone.
    tensors, optim = trainable_state(model), optimizer_state(model, optimizer)
    if acc.is_main_process:
        checkpoints.save(root, len(result.loss_curve), tensors, optim,
                         {"spec_hash": spec_hash, "result": result.to_dict()})
    acc.wait_for_everyone()


def _resume(root: Path, model: Any, optimizer: Any, spec_hash: str) -> StageResult | None:
    path = checkpoints.latest(root)
    if path is None:
        return None
    tensors, optimizer_state_, state = checkpoints.load(path)
    if state.get("spec_hash") != spec_hash:
        return None  # run.py refuses a folder of another spec before we get here; belt and braces
    load_state(model, optimizer, tensors, optimizer_state_)
    return StageResult(**state["result"])
