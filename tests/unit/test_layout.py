"""Column-major linear weights for inference (models/layout.py): same values, same outputs, tied weights once."""

from __future__ import annotations

import torch

from ftscope.models import language_model, load_model
from ftscope.models.layout import column_major_linears


def test_column_major_weights_change_the_layout_not_the_model(tiny_model_dir):
    loaded = load_model(str(tiny_model_dir))
    model = loaded.model
    ids = torch.tensor([[1, 5, 9, 23, 7], [3, 3, 8, 2, 11]])
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    with torch.inference_mode():
        logits = model(input_ids=ids).logits
    changed = column_major_linears(model)
    # 2 layers × 7 projections + the lm_head, which is the tied embedding (converted once, seen once)
    assert changed == 2 * 7 + 1
    assert model.lm_head.weight is model.model.embed_tokens.weight
    for name, p in model.named_parameters():
        assert torch.equal(p, before[name]), name  # not one value moved
        if p.dim() == 2:
            assert p.stride() == (1, p.shape[0]), name
    with torch.inference_mode():
        again = model(input_ids=ids).logits
    # Another sgemm kernel sums in another order: fp32 logits of a 32-wide model agree to ~1e-6 of their scale.
    assert torch.allclose(again, logits, rtol=0, atol=1e-5 * float(logits.abs().max()))
    assert column_major_linears(model) == 0  # already laid out: nothing to do twice


def test_the_evaluation_model_is_laid_out_for_inference(tiny_model_dir):
    lm = language_model(load_model(str(tiny_model_dir)))
    assert lm.model.model.layers[0].mlp.up_proj.weight.stride() == (1, 64)


def _mapped(path) -> bool:
    return str(path) in open("/proc/self/maps").read()


def test_the_inference_model_lets_go_of_its_weights_file(tiny_model_dir, tmp_path):
    """safetensors maps the weights file; once the weights are copied, no tensor may keep the mapping alive,
    or the process holds its weights twice (the file's pages and the copies)."""
    import os
    import shutil

    import pytest

    if not os.path.isfile("/proc/self/maps"):
        pytest.skip("reads the process's mappings from /proc")
    folder = shutil.copytree(tiny_model_dir, tmp_path / "model")  # a file of its own: other tests' models map theirs
    weights = folder / "model.safetensors"
    loaded = load_model(str(folder))
    if not _mapped(weights):
        pytest.skip("this transformers read the file without mapping it")
    lm = language_model(loaded)
    import gc

    gc.collect()
    assert not _mapped(weights)
    ids = torch.tensor([[1, 5, 9]])
    with torch.inference_mode():
        assert torch.isfinite(lm.model(input_ids=ids).logits).all()  # the copies are the model
