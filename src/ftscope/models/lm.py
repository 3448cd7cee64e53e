"""The HF implementation of the LanguageModel protocol, built for speed on CPU and GPU.

Three things make it fast:
- the few-shot prefix every prompt shares is run once and its KV cache reused for each batch;
- all labels of an example whose continuation is one token are read from one forward pass
  (multi-token labels each get one row: query plus label, as lm-evaluation-harness scores them);
- rows are batched longest-first and left-padded, and only the logits that are read are computed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import torch

from ftscope.models.batching import length_batches, shared_prefix_len, split_trailing_space
from ftscope.models.kv_prefix import PrefixCache
from ftscope.types import Scoring


@dataclass
class _Row:
    """One forward input: its tokens and, per choice read from it, the continuation tokens."""

    example: int
    tokens: list[int]
    reads: list[tuple[int, list[int]]] = field(default_factory=list)  # (choice index, continuation)


class HFLanguageModel:
    def __init__(self, model: Any, tokenizer: Any, batch_tokens: int = 4096, max_rows: int = 32):
        self.model, self.tokenizer = model, tokenizer
        self.batch_tokens, self.max_rows = batch_tokens, max_rows
        self.device = next(model.parameters()).device
        self.max_length = _context_length(model, tokenizer)
        self.truncated = 0  # prompts cut from the left to fit the context window, since creation

    def encode(self, text: str, bos: bool = True) -> list[int]:
        return self.tokenizer(text, add_special_tokens=bos).input_ids

    def chat_prompt(self, text: str) -> str:
        """`text` as one user turn in the model's chat template, ready for the answer; unchanged for
        a model without one (a base model)."""
        if not getattr(self.tokenizer, "chat_template", None):
            return text
        wrapped = self.tokenizer.apply_chat_template([{"role": "user", "content": text}], tokenize=False,
                                                     add_generation_prompt=True)
        bos = self.tokenizer.bos_token
        # encode() adds BOS itself where the tokenizer does; do not let the template add a second
        if bos and wrapped.startswith(bos) and self.encode("")[:1] == [self.tokenizer.bos_token_id]:
            wrapped = wrapped[len(bos):]
        return wrapped

    # ---- classification -------------------------------------------------------------------
    @torch.inference_mode()
    def score_choices(self, prefix: str, prompts: Sequence[str], choices: Sequence[str],
                      scoring: Scoring) -> list[list[float]]:
        rows = [row for i, p in enumerate(prompts) for row in self._rows(i, prefix + p, choices, scoring)]
        scores = [[float("-inf")] * len(choices) for _ in prompts]
        for row, logprobs in zip(rows, self._run_rows(prefix, rows)):
            for (choice, cont), lp in zip(row.reads, logprobs):
                scores[row.example][choice] = lp / _norm(choices[choice], scoring)
        return scores

    def _rows(self, example: int, context: str, choices: Sequence[str], scoring: Scoring) -> list[_Row]:
        # The trailing-space split depends on the context alone, so it is encoded once per example.
        ctx, space = split_trailing_space(context, "")
        ctx_ids = self.encode(ctx)
        by_input: dict[tuple[int, ...], _Row] = {}
        cut = False
        for c, choice in enumerate(choices):
            cont = self.encode(ctx + space + choice)[len(ctx_ids):] or self.encode(space + choice, bos=False)
            cont = cont[:1] if scoring == "first-token" else cont
            tokens, was_cut = self._fit(ctx_ids + cont[:-1], len(cont))
            cut |= was_cut
            row = by_input.setdefault(tuple(tokens), _Row(example, tokens))
            row.reads.append((c, cont))
        self.truncated += cut  # count the prompt once, not once per label
        return list(by_input.values())

    def _fit(self, tokens: list[int], reserve: int) -> tuple[list[int], bool]:
        """Left-truncate to the context window (the oldest demonstrations go first)."""
        room = self.max_length - reserve + 1
        return (tokens, False) if len(tokens) <= room else (tokens[-room:], True)

    def _run_rows(self, prefix: str, rows: list[_Row]) -> list[list[float]]:
        cache = self._prefix_cache(prefix, [r.tokens for r in rows])
        out: list[list[float]] = [[] for _ in rows]
        for batch in length_batches([len(r.tokens) - cache.length for r in rows], self.batch_tokens, self.max_rows):
            keep = max(len(cont) for i in batch for _, cont in rows[i].reads)
            logits = cache.forward([rows[i].tokens[cache.length:] for i in batch], logits_to_keep=keep)
            logprobs = torch.log_softmax(logits.float(), dim=-1)
            for b, i in enumerate(batch):
                out[i] = [_continuation_logprob(logprobs[b], cont) for _, cont in rows[i].reads]
        return out

    def _prefix_cache(self, prefix: str, rows: list[list[int]]) -> PrefixCache:
        shared = shared_prefix_len(self.encode(prefix), rows) if prefix else 0
        return PrefixCache(self.model, rows[0][:shared] if rows else [], self.tokenizer.pad_token_id, self.device)

    # ---- generation -----------------------------------------------------------------------
    @torch.inference_mode()
    def generate(self, prefix: str, prompts: Sequence[str], max_new_tokens: int,
                 stop: Sequence[str] = ()) -> list[str]:
        fitted = [self._fit(self.encode(prefix + p), max_new_tokens + 1) for p in prompts]
        self.truncated += sum(cut for _, cut in fitted)
        rows = [tokens for tokens, _ in fitted]
        cache = self._prefix_cache(prefix, rows)
        texts = [""] * len(rows)
        rows_per_batch = min(self.max_rows, max(1, self.batch_tokens // max(1, max_new_tokens)))
        for batch in length_batches([len(r) - cache.length for r in rows], self.batch_tokens, rows_per_batch):
            outs = cache.greedy([rows[i][cache.length:] for i in batch], max_new_tokens,
                                self._stopper(stop))
            for i, tokens in zip(batch, outs):
                texts[i] = _cut(self.tokenizer.decode(tokens, skip_special_tokens=True), stop)
        return texts

    def _stopper(self, stop: Sequence[str]):
        eos = {t for t in [self.tokenizer.eos_token_id, *_extra_eos(self.model)] if t is not None}

        def done(tokens: list[int]) -> bool:
            if tokens and tokens[-1] in eos:
                return True
            text = self.tokenizer.decode(tokens, skip_special_tokens=True).lstrip()
            return bool(stop) and any(s in text for s in stop)

        return done


def _continuation_logprob(logprobs: torch.Tensor, cont: list[int]) -> float:
    """logprobs holds the last `keep` positions; the continuation's are the last len(cont) of them."""
    positions = logprobs[logprobs.shape[0] - len(cont):]
    return float(positions[torch.arange(len(cont)), torch.tensor(cont)].sum())


def _norm(choice: str, scoring: Scoring) -> float:
    # lm-evaluation-harness's acc_norm divides by the continuation's length in bytes
    return max(1, len(choice.encode("utf-8"))) if scoring == "loglik-norm" else 1.0


def _cut(text: str, stop: Sequence[str]) -> str:
    """Cut at the first stop string after the answer begins: a model that opens with a blank line
    before answering (instruct models often do) still gets its answer, not an empty string."""
    lead = len(text) - len(text.lstrip())
    body = text[lead:]
    for s in stop:
        body = body.split(s, 1)[0]
    return text[:lead] + body


def _extra_eos(model: Any) -> list[int]:
    eos = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    return eos if isinstance(eos, list) else [eos]


def _context_length(model: Any, tokenizer: Any) -> int:
    config = model.config
    for name in ("max_position_embeddings", "n_positions", "max_sequence_length"):
        if getattr(config, name, None):
            return int(getattr(config, name))
    return int(min(tokenizer.model_max_length, 2048))
