"""The deviation measures of a tuned model from its base, on a hand-built pair of state dicts."""

from __future__ import annotations

import pytest
import torch

from ftscope.training.measure import compare_weights


def _pair():
    ones = torch.ones(2, 2)
    base = {"model.embed_tokens.weight": ones.clone(),
            "model.layers.0.self_attn.q_proj.weight": ones.clone(),
            "model.layers.0.mlp.up_proj.weight": 3 * torch.ones(1, 4),
            "model.layers.1.self_attn.q_proj.weight": ones.clone(),
            "model.norm.weight": torch.ones(2)}
    embed = ones + torch.tensor([[1.0, 0.0], [0.0, 0.0]])
    tuned = {"model.embed_tokens.weight": embed,
             "lm_head.weight": embed,  # tied: the same tensor under a second name
             "model.layers.0.self_attn.q_proj.weight": ones + 0.5,
             "model.layers.0.mlp.up_proj.weight": torch.tensor([[3.0, 3.0, 3.0, 6.0]]),
             "model.layers.1.self_attn.q_proj.weight": ones.clone(),
             "model.norm.weight": torch.ones(2)}
    # Some checkpoints store the tied lm_head too; it must still count once.
    return tuned, [*base.items(), ("lm_head.weight", base["model.embed_tokens.weight"])]


def test_weight_change_reports_mean_abs_layer_relative_change_and_embedding_share():
    tuned, base = _pair()
    out = compare_weights(tuned, base)
    # Every input is exactly representable and every float32 sum here is exact; the tolerance only covers
    # the final divisions done in double precision.
    approx = lambda x: pytest.approx(x, rel=1e-9)  # noqa: E731
    # |Δ| sums: embedding 1, layer-0 q 4×0.5, layer-0 up 3; 18 base parameters with lm_head counted once
    assert out["params"] == 18 and out["mean_abs"] == approx(6 / 18) and out["max_abs"] == approx(3.0)
    assert out["relative"] == approx(6 / (4 + 4 + 12 + 4 + 2))
    # ||ΔW||_F/||W||_F: layer 0 has 1/2 (q) and 3/6 (up) → 0.5; layer 1 is unchanged → 0; mean 0.25
    assert out["layer_relative_change_by_layer"] == [approx(0.5), approx(0.0)]
    assert out["layer_relative_change"] == approx(0.25)
    # squared change: embedding 1 (once, though tied), q 4×0.25 = 1, up 9 → 1/11 in the embedding
    assert out["embedding_share"] == approx(1 / 11)
    assert set(out["units"]) >= {"mean_abs", "layer_relative_change", "embedding_share"}


def test_no_change_gives_zero_deviation_and_no_embedding_share():
    tuned, base = _pair()
    same = dict(base)
    out = compare_weights({**same, "lm_head.weight": same["model.embed_tokens.weight"]}, base)
    assert out["mean_abs"] == 0 and out["layer_relative_change"] == 0 and out["embedding_share"] is None


def test_the_base_held_out_loss_is_computed_once_per_weights_and_texts(tiny_loaded, monkeypatch):
    from ftscope.training import measure

    calls = []
    real = measure.lm_loss
    monkeypatch.setattr(measure, "lm_loss", lambda *a, **k: calls.append(1) or real(*a, **k))
    monkeypatch.setattr(measure, "_BASE_LOSSES", {})
    texts = ["The film was a delight from start to end.", "Is the sky blue?"]
    args = (tiny_loaded.model, tiny_loaded.tokenizer)
    first = measure.base_lm_loss(*args, texts, "folder-a", "float32")
    assert measure.base_lm_loss(*args, texts, "folder-a", "float32") == first == real(*args, texts)
    assert len(calls) == 1
    measure.base_lm_loss(*args, texts[:1], "folder-a", "float32")  # other texts, other weights: computed again
    measure.base_lm_loss(*args, texts, "folder-b", "float32")
    assert len(calls) == 3
