"""Weights laid out for CPU inference.

torch runs `nn.Linear` on CPU through MKL's sgemm with the weight stored [out, in] row-major and read
transposed. For a few rows — decoding, one new token per row of a batch of 1–32 — that layout is 2–2.6×
slower than the same weight stored [in, out] (measured here, SmolLM2's 576 × 1536 projections: 15 rows 0.61
vs 0.26 ms, 30 rows 1.21 vs 0.56 ms; its 49k-row lm_head at 15 rows 32 vs 11 ms); at hundreds of rows
(prefill, scoring) the two are within ±10%. So a model that only infers keeps each weight column-major: the
same [out, in] tensor with strides (1, out), which hands sgemm the layout it is fast with. No value changes;
the cost is one copy per weight at load. Training keeps PyTorch's layout (`language_model` alone applies this).

The copies leave the weights file behind: safetensors maps it into memory, and the pages the copies read stay
resident for as long as any tensor still points into the mapping (a norm weight is enough). So the tensors
that were not copied are copied too (a few MB), the mapping is released, and an inference process holds its
weights once instead of twice (SmolLM2: 1.39 -> 0.9 GB RSS after load).
"""

from __future__ import annotations

from typing import Any

import torch


def column_major_linears(model: Any) -> int:
    """Store every CPU `nn.Linear` weight column-major, in place; the number changed. A weight already laid out
    (a tied one met twice, a model passed twice) is no longer contiguous and is left alone."""
    changed = 0
    for module in model.modules():
        weight = module.weight if isinstance(module, torch.nn.Linear) else None
        if weight is None or weight.device.type != "cpu" or not weight.is_contiguous():
            continue
        with torch.no_grad():
            weight.data = weight.data.t().contiguous().t()
        changed += 1
    _copy_the_rest(model)
    return changed


def _copy_the_rest(model: Any) -> None:
    """Every CPU parameter and buffer not laid out above, copied into memory of its own (see the docstring)."""
    with torch.no_grad():
        for module in model.modules():
            for name, tensor in [*module.named_parameters(recurse=False), *module.named_buffers(recurse=False)]:
                if tensor is None or tensor.device.type != "cpu" or not tensor.is_contiguous():
                    continue  # laid out above (a column-major weight is not contiguous), or not on the CPU
                if isinstance(tensor, torch.nn.Parameter):
                    tensor.data = tensor.data.clone()
                else:
                    module._buffers[name] = tensor.clone()
