"""Greedy generation on the packaged SmolLM2 (real text: a random model repeats one token and would hide a wrong
position or a misplaced cache): prompts prefilled a few at a time and decoded together give, row by row, what
transformers' own `generate` gives each prompt alone."""

from __future__ import annotations

import pytest
import torch

from ftscope.models import language_model, load_model
from ftscope.models.batching import length_batches

pytestmark = pytest.mark.integration
PREFIX = "Q: What is 1 + 1?\nA: 2\n\nQ: Name an animal.\nA: a dog\n\n"
PROMPTS = [f"Q: {q}\nA:" for q in ["What is the capital of France?", "Name a colour of the sky.", "Write a short "
           "greeting to a friend who has just moved to a new city far away from home.", "What is 2 + 2?",
           "Who wrote Hamlet?", "List three fruits.", "Describe the sea in one sentence, as a poet would."]]


@pytest.fixture(scope="module")
def smollm2(smollm2_dir):
    return load_model(str(smollm2_dir))


@pytest.mark.parametrize("joined", [True, False], ids=["joined-cache", "transformers-cache"])
@pytest.mark.parametrize("prefix", [PREFIX, ""], ids=["prefix", "no-prefix"])
def test_rows_prefilled_in_pieces_and_decoded_together_match_generate(smollm2, prefix, joined, monkeypatch):
    """joined: SmolLM2's full-attention caches joined into one in-place cache; otherwise (as for a sliding-window
    model) each piece decodes in transformers' DynamicCache."""
    if not joined:
        monkeypatch.setattr("ftscope.models.kv_prefix.kv_bytes_per_token", lambda model: None)
    lm = language_model(smollm2, batch_tokens=48, max_rows=8)  # 48 prompt tokens a piece: padded rows in each
    rows = [lm.encode(prefix + p) for p in PROMPTS]
    cache = lm._prefix_cache(prefix, rows)
    groups = lm._decode_groups(cache, [len(r) - cache.length for r in rows], 12)
    if joined:
        [(group, per_piece)] = groups
        assert len(length_batches([len(rows[i]) - cache.length for i in group], lm.batch_tokens, per_piece)) >= 3
    else:
        assert len(groups) >= 3
    got = lm.generate(prefix, PROMPTS, max_new_tokens=12, stop=())
    assert got == reference(smollm2, prefix)
    assert len(set(got)) >= 5  # real, different answers: the comparison above can tell rows apart


_REFERENCE: dict[str, list[str]] = {}


def reference(loaded, prefix: str) -> list[str]:
    """transformers' generate on each prompt alone (computed once per prefix for the module)."""
    if prefix not in _REFERENCE:
        tok, texts = loaded.tokenizer, []
        for prompt in PROMPTS:
            ids = torch.tensor([tok(prefix + prompt).input_ids])
            with torch.inference_mode():
                out = loaded.model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=12,
                                            do_sample=False, pad_token_id=tok.pad_token_id)
            texts.append(tok.decode(out[0, ids.shape[1]:], skip_special_tokens=True))
        _REFERENCE[prefix] = texts
    return _REFERENCE[prefix]
