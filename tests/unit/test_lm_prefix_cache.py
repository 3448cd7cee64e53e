"""The fast LM must give the same numbers as a plain full forward pass, with or without the prefix cache."""

from __future__ import annotations

import pytest
import torch

from ftscope.models import language_model

PREFIX = "### Input:\nGreat film.\n### Sentiment:positive\n\n### Input:\nDull.\n### Sentiment:negative\n\n"
PROMPTS = ["### Input:\nA wonderful, heartfelt story.\n### Sentiment:", "### Input:\nBad.\n### Sentiment:",
           "### Input:\nIt was fine I guess, nothing more, nothing less.\n### Sentiment:"]
CHOICES = ["positive", "negative", "neutral sentiment"]  # the last one is several tokens


def reference_logprob(loaded, context: str, continuation: str) -> float:
    tok, model = loaded.tokenizer, loaded.model
    ctx = tok(context).input_ids
    cont = tok(context + continuation).input_ids[len(ctx):]
    with torch.no_grad():
        logits = model(torch.tensor([ctx + cont])).logits[0]
    logprobs = torch.log_softmax(logits.float(), -1)
    return float(sum(logprobs[len(ctx) - 1 + i, t] for i, t in enumerate(cont)))


@pytest.mark.parametrize("prefix", [PREFIX, ""])
def test_loglik_matches_full_forward(tiny_loaded, prefix):
    lm = language_model(tiny_loaded, batch_tokens=64, max_rows=2)  # forces several batches
    got = lm.score_choices(prefix, PROMPTS, CHOICES, "loglik")
    want = [[reference_logprob(tiny_loaded, prefix + p, c) for c in CHOICES] for p in PROMPTS]
    assert sum(got, []) == pytest.approx(sum(want, []), abs=1e-4)


def test_first_token_reads_the_answer_position(tiny_loaded):
    lm = language_model(tiny_loaded)
    got = lm.score_choices(PREFIX, PROMPTS, CHOICES[:2], "first-token")
    want = [[reference_logprob(tiny_loaded, PREFIX + p, c) for c in CHOICES[:2]] for p in PROMPTS]
    assert sum(got, []) == pytest.approx(sum(want, []), abs=1e-4)  # both labels are single tokens


def test_greedy_generation_matches_hf_generate(tiny_loaded):
    lm = language_model(tiny_loaded, max_rows=2)
    tok, model = tiny_loaded.tokenizer, tiny_loaded.model
    got = lm.generate(PREFIX, PROMPTS, max_new_tokens=8, stop=())
    for prompt, text in zip(PROMPTS, got):
        ids = torch.tensor([tok(PREFIX + prompt).input_ids])
        out = model.generate(ids, max_new_tokens=8, do_sample=False, pad_token_id=tok.pad_token_id)
        want = tok.decode(out[0, ids.shape[1]:], skip_special_tokens=True)
        assert text == want


@pytest.mark.parametrize("prefix", [PREFIX, ""])
def test_rows_decoded_together_after_prefilling_in_pieces_match_hf_generate(tiny_loaded, prefix):
    """Prompts run a few per piece (the prefill budget), their caches joined right-aligned into one batch that
    decodes together, rows leaving it as they finish: each text is what HF's generate gives the prompt alone."""
    from ftscope.models.batching import length_batches

    lm = language_model(tiny_loaded, batch_tokens=48, max_rows=8)
    tok, model = tiny_loaded.tokenizer, tiny_loaded.model
    prompts = PROMPTS + [p.replace("Input", "Review") + " Is it?" for p in PROMPTS] + ["Hi.\n### Sentiment:"]
    rows = [lm.encode(prefix + p) for p in prompts]
    cache = lm._prefix_cache(prefix, rows)
    [(group, per_piece)] = lm._decode_groups(cache, [len(r) - cache.length for r in rows], 8)
    assert len(group) == len(prompts)
    assert len(length_batches([len(rows[i]) - cache.length for i in group], lm.batch_tokens, per_piece)) > 2
    got = lm.generate(prefix, prompts, max_new_tokens=8, stop=())
    for prompt, text in zip(prompts, got):
        ids = torch.tensor([tok(prefix + prompt).input_ids])
        out = model.generate(ids, max_new_tokens=8, do_sample=False, pad_token_id=tok.pad_token_id)
        assert text == tok.decode(out[0, ids.shape[1]:], skip_special_tokens=True)
    first_words = {t.split()[0] for t in got if t.split()}
    stop = sorted(first_words)[0] if first_words else None
    if stop:  # a stop string some rows meet at once: those leave, the rest keep decoding to the same text
        cut = lm.generate(prefix, prompts, max_new_tokens=8, stop=(stop,))
        assert cut == [t.split(stop, 1)[0] for t in got]


def test_a_sliding_window_model_decodes_each_piece_on_its_own(tiny_loaded):
    """Caches that keep only a window cannot be joined: the budget says so and each piece is its own group."""
    from types import SimpleNamespace

    from ftscope.models.kv_prefix import kv_bytes_per_token

    config = tiny_loaded.model.config
    assert kv_bytes_per_token(tiny_loaded.model) == 2 * 2 * 2 * (32 // 4) * 4  # layers × K,V × kv heads × dim × fp32
    windowed = SimpleNamespace(config=SimpleNamespace(**{**config.to_dict(), "sliding_window": 16}),
                               parameters=tiny_loaded.model.parameters)
    mixed = SimpleNamespace(config=SimpleNamespace(**{**config.to_dict(), "layer_types": ["full_attention",
                                                                                         "sliding_attention"]}),
                            parameters=tiny_loaded.model.parameters)
    assert kv_bytes_per_token(windowed) is None and kv_bytes_per_token(mixed) is None
    lm = language_model(tiny_loaded, batch_tokens=48, max_rows=8)
    cache = lm._prefix_cache("", [lm.encode(p) for p in PROMPTS])
    cache.kv_bytes_per_token = None
    groups = lm._decode_groups(cache, [40, 30, 20], 8)
    assert [g for g, _ in groups] == [[0], [1], [2]]  # 48 prompt tokens a piece: one row each


def test_generation_cuts_at_stop_string(tiny_loaded):
    lm = language_model(tiny_loaded)
    full = lm.generate("", PROMPTS[:1], max_new_tokens=12, stop=())[0]
    stop = full[3:5] if len(full) > 5 else None
    if not stop or not stop.strip():
        pytest.skip("random model produced too little text to cut")
    cut = lm.generate("", PROMPTS[:1], max_new_tokens=12, stop=(stop,))[0]
    assert cut == full.split(stop, 1)[0]


def test_overlong_prompt_is_cut_from_the_left_and_counted(tiny_loaded):
    lm = language_model(tiny_loaded)
    long_prompt = "word " * 2000 + "### Sentiment:"
    scores = lm.score_choices("", [long_prompt], CHOICES[:2], "loglik")
    assert lm.truncated == 1 and all(s > float("-inf") for s in scores[0])
