"""LoRA layers trained as one autograd node each: PEFT's arithmetic in fewer passes over memory.

PEFT's `lora.Linear` computes base(x) + B(A(dropout(x))) · scaling as five separate operations, each writing an
activation-sized tensor, and draws its dropout mask with torch's Bernoulli sampler (one 32-bit draw per element,
on one core). Measured on 2 CPU cores, SmolLM2-135M with LoRA on every linear layer, one forward and backward of
8 rows × 100 tokens (the fastest of 6): PEFT 2.80 s without dropout and 4.50 s with dropout 0.05, against 2.45 s
for the same pass with no adapter at all. The function below does the same arithmetic with
- the adapter's product added into the base layer's output in place (`addmm_`, alpha = scaling), and the same
  for the input's gradient in the backward pass: no separate scale, add and intermediate tensors;
- a dropout mask from 16 random bits per element (four per 64-bit draw), so that the drop probability is p
  rounded to a multiple of 1/65536 (0.05 -> 0.0500031); kept values are scaled by 1 / (1 - that rounded p), so
  the expectation is exactly unchanged. The mask costs 0.9 ms against torch's 3.0 ms for 800 × 576 elements;
- the mask (one byte per element) kept for the backward pass instead of the dropped-out copy of the input
  (four bytes), the input itself being shared by the layers that read it (q, k and v; gate and up).
Measured the same way: 2.40 s without dropout and 3.58 s with it; gradients equal to PEFT's to 1e-5 (relative,
float32 summation order) without dropout (tests/unit/test_fused_lora.py). On an H100 (fp32, 8 × 256 tokens,
benchmarks/cuda_paths.py): 198 -> 175 ms and 270 -> 247 ms, gradients equal to 1.6e-6. Under bf16 autocast
(ftscope's default on CUDA) PEFT computes.

This is written by hand because neither PEFT nor torch offers it on the CPU (torch.compile could fuse the
element-wise part, but compiles for minutes on 2 cores for every new sequence length). PEFT still owns the
adapter: its parameters, config, saving, loading and merging. Only layers where the result is PEFT's arithmetic
take this path, checked at every call: one active plain LoRA adapter (no DoRA or other variant), not merged or
disabled, a frozen `nn.Linear` base, adapters without bias, no autocast, one dtype throughout. Any other call
goes through PEFT's own forward.
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from typing import Any, Iterator

import torch

MASK_BITS = 16  # resolution of the dropout probability: multiples of 1 / 2**16


def dropout_keep_mask(shape: torch.Size | tuple[int, ...], p: float, device: torch.device | str = "cpu"
                      ) -> tuple[torch.Tensor, float]:
    """A boolean mask that keeps each element with probability 1 - p' (p' = p rounded to 1/65536), and 1 - p'.

    Each 64-bit draw of torch's generator (so `torch.manual_seed` makes it reproducible) is read as four
    independent 16-bit integers, uniform over [-2**15, 2**15); an element is dropped when its integer falls in
    the lowest round(p · 2**16) values."""
    n = math.prod(shape)
    dropped = round(p * 2 ** MASK_BITS)
    words = torch.empty((n + 3) // 4, dtype=torch.int64, device=device).random_(-2 ** 63, None)
    mask = words.view(torch.int16)[:n].view(shape) >= (-2 ** 15 + dropped)
    return mask, 1.0 - dropped / 2 ** MASK_BITS


class LoraLinear(torch.autograd.Function):
    """y = x Wᵀ (+ bias) + scaling · dropout(x) Aᵀ Bᵀ, with gradients for A and B (W and the bias frozen)."""

    @staticmethod
    def forward(ctx, x, weight, bias, lora_a, lora_b, scaling: float, p: float):
        shape = x.shape
        x2 = x.reshape(-1, shape[-1])
        y = torch.addmm(bias, x2, weight.t()) if bias is not None else torch.mm(x2, weight.t())
        if p > 0:
            mask, keep = dropout_keep_mask(x2.shape, p, x2.device)
            xa = torch.mm(torch.where(mask, x2, 0.0), lora_a.t()).div_(keep)
        else:
            mask, keep = None, 1.0
            xa = torch.mm(x2, lora_a.t())
        y.addmm_(xa, lora_b.t(), alpha=scaling)
        ctx.save_for_backward(x2, weight, lora_a, lora_b, xa, mask)
        ctx.scaling, ctx.keep, ctx.shape = scaling, keep, shape
        return y.view(*shape[:-1], y.shape[-1])

    @staticmethod
    def backward(ctx, grad):
        x2, weight, lora_a, lora_b, xa, mask = ctx.saved_tensors
        s, keep = ctx.scaling, ctx.keep
        g = grad.reshape(-1, grad.shape[-1])
        gb = torch.mm(g, lora_b)  # the gradient at A's output (before scaling): [rows, r]
        grad_b = torch.mm(xa.t(), g).t().mul_(s).contiguous() if ctx.needs_input_grad[4] else None
        grad_a = None
        if ctx.needs_input_grad[3]:
            dropped_x = torch.where(mask, x2, 0.0) if mask is not None else x2
            grad_a = torch.mm(gb.t(), dropped_x).mul_(s / keep)
        grad_x = None
        if ctx.needs_input_grad[0]:
            grad_x = torch.mm(g, weight)
            if mask is None:
                grad_x.addmm_(gb, lora_a, alpha=s)
            else:
                grad_x.add_(torch.where(mask, torch.mm(gb, lora_a), 0.0), alpha=s / keep)
            grad_x = grad_x.view(ctx.shape)
        return grad_x, None, None, grad_a, grad_b, None, None


def _fusable(layer: Any, lora_linear: type) -> bool:
    """What holds for the layer's lifetime: a plain PEFT LoRA layer over a frozen nn.Linear."""
    base = getattr(layer, "base_layer", None)
    return (type(layer) is lora_linear and isinstance(base, torch.nn.Linear) and not layer.fan_in_fan_out
            and not base.weight.requires_grad and (base.bias is None or not base.bias.requires_grad))


def _fused_call(layer: Any, x: torch.Tensor, args: tuple, kwargs: dict) -> torch.Tensor | None:
    """The fused result, or None where this call is not PEFT's plain arithmetic (then PEFT's forward runs)."""
    if args or kwargs or layer.disable_adapters or layer.merged or len(layer.active_adapters) != 1:
        return None
    name = layer.active_adapters[0]
    if name not in layer.lora_A or name in getattr(layer, "lora_variant", {}):
        return None
    a, b, dropout = layer.lora_A[name], layer.lora_B[name], layer.lora_dropout[name]
    weight = layer.base_layer.weight
    if (a.bias is not None or b.bias is not None or torch.is_autocast_enabled(x.device.type)
            or not (x.dtype == weight.dtype == a.weight.dtype == b.weight.dtype)):
        return None
    if isinstance(dropout, torch.nn.Dropout):
        p = dropout.p if dropout.training else 0.0
    elif isinstance(dropout, torch.nn.Identity):
        p = 0.0
    else:
        return None
    return LoraLinear.apply(x, weight, layer.base_layer.bias, a.weight, b.weight, float(layer.scaling[name]), p)


@contextmanager
def fused_lora(model: Any) -> Iterator[int]:
    """Inside, every plain PEFT LoRA layer of `model` computes through `LoraLinear`; yields how many layers.
    The layers get their own forward back on the way out, so what is saved, merged or evaluated is untouched."""
    from peft.tuners.lora.layer import Linear as LoraLinearLayer

    patched = []  # (layer, the forward its instance held before, if any: a hook's wrapper, say)
    for layer in model.modules():
        if not _fusable(layer, LoraLinearLayer):
            continue
        peft_forward = layer.forward
        patched.append((layer, layer.__dict__.get("forward")))

        def forward(x, *args, _layer=layer, _peft=peft_forward, **kwargs):
            fused = _fused_call(_layer, x, args, kwargs)
            return fused if fused is not None else _peft(x, *args, **kwargs)

        layer.forward = forward
    try:
        yield len(patched)
    finally:
        for layer, before in patched:
            if before is None:
                del layer.forward  # the class's forward, PEFT's, is the layer's again
            else:
                layer.forward = before
