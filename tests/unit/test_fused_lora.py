"""The fused LoRA layer computes PEFT's function: same outputs and gradients, PEFT's own path where it must."""

from __future__ import annotations

import pytest
import torch
from peft import LoraConfig, inject_adapter_in_model
from peft.tuners.lora import layer as lora

from ftscope.training.fused_lora import dropout_keep_mask, fused_lora

# float64 throughout: the fused and PEFT's orders of summation differ, so the results agree to float64
# rounding over sums of a few hundred terms (~1e-14 relative); 1e-10 leaves room and still catches any error
# of arithmetic (a missing scale or mask is off by O(1)).
RTOL = 1e-10


class Holder(torch.nn.Module):
    def __init__(self, bias: bool):
        super().__init__()
        self.layer = torch.nn.Linear(24, 40, bias=bias, dtype=torch.float64)

    def forward(self, x):
        return self.layer(x)


def adapted(p: float = 0.0, bias: bool = True, seed: int = 0) -> Holder:
    """A float64 linear layer with a LoRA adapter (r 4, alpha 8) as PEFT makes it, base frozen, B non-zero."""
    torch.manual_seed(seed)
    model = Holder(bias)
    model.requires_grad_(False)
    model = inject_adapter_in_model(LoraConfig(r=4, lora_alpha=8, lora_dropout=p, target_modules=["layer"]), model)
    model.double()
    torch.nn.init.normal_(model.layer.lora_B["default"].weight, std=0.5)  # PEFT starts B at 0: A would get none
    return model


def run(module, x: torch.Tensor, seed: int = 1) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    module.zero_grad(set_to_none=True)
    x = x.clone().requires_grad_(True)
    torch.manual_seed(seed)
    y = module(x)
    (y * torch.linspace(-1, 1, y.shape[-1], dtype=y.dtype)).square().sum().backward()
    grads = {n: p.grad.clone() for n, p in module.named_parameters() if p.requires_grad}
    return y.detach(), {**grads, "x": x.grad.clone()}


def close(a: torch.Tensor, b: torch.Tensor) -> bool:
    return bool(((a - b).abs().max() / b.abs().max()) < RTOL)


@pytest.mark.parametrize("bias", [True, False])
def test_without_dropout_the_fused_layer_is_peft(bias):
    model = adapted(bias=bias)
    x = torch.randn(3, 7, 24, dtype=torch.float64)
    expected_y, expected = run(model, x)
    with fused_lora(model) as n:
        got_y, got = run(model, x)
    assert n == 1
    assert close(got_y, expected_y)
    assert expected.keys() == got.keys() and {"x", "layer.lora_A.default.weight"} <= got.keys()
    for name in expected:
        assert close(got[name], expected[name]), name


def test_with_dropout_it_is_lora_with_the_same_mask():
    """Reference: LoRA written out with autograd, dropping what `dropout_keep_mask` drops for the same seed."""
    model = adapted(p=0.3)
    layer = model.layer
    x = torch.randn(5, 6, 24, dtype=torch.float64)
    with fused_lora(model):
        got_y, got = run(model, x, seed=7)

    a, b = layer.lora_A["default"].weight, layer.lora_B["default"].weight
    ref_x = x.clone().requires_grad_(True)
    torch.manual_seed(7)
    mask, keep = dropout_keep_mask((30, 24), 0.3)
    dropped = torch.where(mask, ref_x.reshape(30, 24), 0.0) / keep
    y = layer.base_layer(ref_x) + (dropped @ a.t() @ b.t()).view(5, 6, 40) * layer.scaling["default"]
    layer.zero_grad(set_to_none=True)
    (y * torch.linspace(-1, 1, 40, dtype=y.dtype)).square().sum().backward()
    assert 0 < (~mask).sum() < mask.numel()  # something dropped, something kept
    assert close(got_y, y.detach())
    assert close(got["x"], ref_x.grad)
    assert close(got["layer.lora_A.default.weight"], a.grad)
    assert close(got["layer.lora_B.default.weight"], b.grad)


def test_the_mask_drops_at_the_rounded_rate_in_every_lane():
    """Four 16-bit integers come from each 64-bit draw: each of the four lanes must drop at rate p."""
    torch.manual_seed(0)
    p, n = 0.05, 4_000_000
    mask, keep = dropout_keep_mask((n,), p)
    assert keep == 1 - round(p * 65536) / 65536 and abs((1 - keep) - p) < 1 / 65536
    drop_rate = (~mask).view(-1, 4).double().mean(0)
    sigma = (p * (1 - p) / (n / 4)) ** 0.5  # binomial standard error per lane: 2.2e-4
    assert ((drop_rate - (1 - keep)).abs() < 5 * sigma).all(), drop_rate  # 5 sigma: a false alarm ~1e-6
    again = dropout_keep_mask((n,), p)[0]
    torch.manual_seed(0)
    assert torch.equal(dropout_keep_mask((n,), p)[0], mask) and not torch.equal(again, mask)  # the seed decides


def test_peft_computes_where_the_fused_arithmetic_would_differ():
    model = adapted()
    layer = model.layer
    x = torch.randn(2, 3, 24, dtype=torch.float64)
    calls = []
    original = lora.Linear.forward

    def counting(self, *args, **kwargs):
        calls.append(1)
        return original(self, *args, **kwargs)

    lora.Linear.forward = counting
    try:
        with fused_lora(model):
            model(x)
            assert calls == []  # the plain case is fused
            layer.merge()
            merged = model(x)
            layer.unmerge()
            layer.enable_adapters(False)
            model(x)
            layer.enable_adapters(True)
            layer.lora_B["default"].bias = torch.nn.Parameter(torch.zeros(40, dtype=torch.float64))
            model(x)
    finally:
        lora.Linear.forward = original
    assert len(calls) == 3
    assert close(merged, adapted()(x).detach())  # merged weights: PEFT's result, not a double add


def test_the_layers_get_their_own_forward_back():
    model = adapted()
    with fused_lora(model):
        assert "forward" in model.layer.__dict__
    assert "forward" not in model.layer.__dict__
    base_trains = adapted()
    base_trains.layer.base_layer.weight.requires_grad_(True)  # the base trains too: not fused
    with fused_lora(base_trains) as n:
        assert n == 0
