"""What the benchmarks measure a run against: this machine's matmul ceiling per dtype, a model's forward
FLOPs per token, and the positions a model actually ran forward (for achieved tokens/s and FLOP/s).

Shared by eval_vs_lm_eval.py and train_vs_trl.py (run as scripts, so this folder is on sys.path).
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Any, Iterator


def matmul_peak(dtype_name: str, largest: int = 2048, repeats: int = 5, budget_s: float = 20.0) -> dict:
    """Best FLOP/s of square matmuls in `dtype_name`, sizes doubling from 256 up to `largest` while one
    product stays under a second and the whole measurement under `budget_s`: a dtype this CPU only
    emulates (bf16 without AVX-512) stops early instead of running for minutes. Returns
    {"flops": best FLOP/s, "size": the largest size measured, "note": why it stopped early or ""}."""
    import torch

    dtype = getattr(torch, dtype_name)
    started, best, size, note = time.perf_counter(), 0.0, 256, ""
    while size <= largest:
        a, b = torch.randn(size, size).to(dtype), torch.randn(size, size).to(dtype)
        first = time.perf_counter()
        a @ b  # warm-up, and the first timing
        once = time.perf_counter() - first
        fastest = once
        for _ in range(repeats if once < 1.0 else 0):
            t = time.perf_counter()
            a @ b
            fastest = min(fastest, time.perf_counter() - t)
        best = max(best, 2 * size ** 3 / fastest)
        if once >= 1.0 or time.perf_counter() - started > budget_s:
            note = f"stopped at {size}x{size}: one product took {once:.1f} s"
            break
        size *= 2
    return {"flops": best, "size": min(size, largest), "note": note}


def linear_flops_per_token(model: Any) -> float:
    """Forward FLOPs per position in the transformer's linear layers, 2 per weight (the LM head and the
    attention scores left out: the head runs only where logits are needed, and both vary by engine)."""
    import torch

    total = 0
    for name, module in model.named_modules():
        if isinstance(module, torch.nn.Linear) and "lm_head" not in name:
            total += module.weight.numel()
    return 2.0 * total


@contextmanager
def counting_positions(model: Any) -> Iterator[list[int]]:
    """Counts the positions `model` runs forward (batch × sequence, padding included) while inside.

    Counted at the first transformer layer, which every forward passes whatever the engine calls (the whole
    model, its decoder without the head, with ids or with embeddings)."""
    import re

    first = next((m for name, m in model.named_modules() if re.search(r"\.(layers|h|blocks)\.0$", name)), model)
    seen = [0]

    def hook(_module, args, kwargs):
        x = args[0] if args else kwargs.get("hidden_states")
        if x is not None and hasattr(x, "shape") and len(x.shape) >= 2:
            seen[0] += int(x.shape[0]) * int(x.shape[1])

    handle = first.register_forward_pre_hook(hook, with_kwargs=True)
    try:
        yield seen
    finally:
        handle.remove()
