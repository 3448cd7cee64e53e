"""The HF implementation of the LanguageModel protocol, built for speed on CPU and GPU.

Four things make it fast:
- the few-shot prefix every prompt shares is run once and its KV cache reused for each batch;
- all labels of an example whose continuation is one token are read from one forward pass
  (multi-token labels each get one row: query plus label, as lm-evaluation-harness scores them);
- rows are batched longest-first and left-padded, and only the logits that are read are computed;
- generating rows decode together as far as their KV cache budget allows, written in place (kv_prefix.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import torch
from transformers import DynamicCache

from ftscope.errors import ModelError
from ftscope.models.batching import length_batches, shared_prefix_len, split_trailing_space
from ftscope.models.kv_prefix import PrefixCache, returned_cache, run
from ftscope.types import Scoring


@dataclass
class _Row:
    """One forward input: its tokens and, per choice read from it, the continuation tokens."""

    example: int
    tokens: list[int]
    reads: list[tuple[int, list[int]]] = field(default_factory=list)  # (choice index, continuation)


class HFLanguageModel:
    def __init__(self, model: Any, tokenizer: Any, batch_tokens: int = 4096, max_rows: int = 32,
                 decode_kv_bytes: int = 1 << 30):
        self.model, self.tokenizer = model, tokenizer
        self.batch_tokens, self.max_rows = batch_tokens, max_rows
        # The KV cache rows decoded together may fill (see _decode_groups), preallocated for every new token.
        self.decode_kv_bytes = decode_kv_bytes
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
        for batch, rows_per_piece in self._decode_groups(cache, [len(r) - cache.length for r in rows], max_new_tokens):
            outs = cache.greedy([rows[i][cache.length:] for i in batch], max_new_tokens,
                                self._stopper(stop), self.batch_tokens, rows_per_piece)
            for i, tokens in zip(batch, outs):
                texts[i] = _cut(self.tokenizer.decode(tokens, skip_special_tokens=True), stop)
        return texts

    def _decode_groups(self, cache: PrefixCache, lengths: list[int],
                       max_new_tokens: int) -> list[tuple[list[int], int]]:
        """Rows decoded together, each group with the rows per prefill piece. A piece holds `batch_tokens`
        padded prompt tokens (the activation budget); a group holds as many pieces as its finished KV cache
        (prompts plus every new token) fits in `decode_kv_bytes`: a decoding step costs one read of the
        weights, so fewer, fuller steps are faster (on two cores a step of 30 rows of 100 tokens takes 119 ms,
        of 8 rows 71 ms: 4.0 against 8.9 ms per row; 30 XSum items decode in 59 steps instead of 236, 9.9 s
        instead of 25). A group is never smaller than one prefill piece."""
        per_piece = min(self.max_rows, max(1, self.batch_tokens // max(1, max_new_tokens)))
        if cache.kv_bytes_per_token is None:  # caches that cannot be joined: a group is one piece
            return [(b, per_piece) for b in length_batches(lengths, self.batch_tokens, per_piece)]
        budget = max(self.batch_tokens, self.decode_kv_bytes // cache.kv_bytes_per_token)
        grown = [n + cache.length + max_new_tokens for n in lengths]
        return [(b, per_piece) for b in length_batches(grown, budget, self.max_rows)]

    def _stopper(self, stop: Sequence[str]):
        eos = {t for t in [self.tokenizer.eos_token_id, *_extra_eos(self.model)] if t is not None}

        def done(tokens: list[int]) -> bool:
            if tokens and tokens[-1] in eos:
                return True
            text = self.tokenizer.decode(tokens, skip_special_tokens=True).lstrip()
            return bool(stop) and any(s in text for s in stop)

        return done

    # ==== lm-evaluation-harness requests (the backend of ftscope.evaluation.lm_eval) ============
    # Token-level semantics follow lm-eval's HFLM (how contexts are encoded, where trailing spaces
    # go, left truncation, greedy flags, stop strings), so the numbers match `lm_eval --model hf`.
    # Requests are arbitrary (context, continuation) pairs; the speed comes from two layers of
    # reuse: each distinct context runs once and every continuation is read from its KV cache (HFLM
    # runs the whole context again for every answer choice), and the tokens a group's contexts
    # share (a task's fixed few-shot demonstrations) run once for the group.
    @property
    def prefix_token_id(self) -> int:
        """What an empty context is scored after: BOS, else EOS (HFLM's choice)."""
        bos = self.tokenizer.bos_token_id
        return bos if bos is not None else self.tokenizer.eos_token_id

    def encode_as_hflm(self, text: str, generation: bool = False) -> list[int]:
        """The tokenizer's own special tokens unless the text already starts with them: HFLM checks the
        decoded prefix token when scoring and the BOS text when generating."""
        marker = self.tokenizer.bos_token if generation else self.tokenizer.decode([self.prefix_token_id])
        return self.encode(text, bos=not (marker and text.startswith(marker)))

    def encode_pair(self, context: str, continuation: str) -> tuple[list[int], list[int]]:
        """HFLM's split: an empty context becomes the prefix token; trailing spaces join the continuation,
        whose tokens are those the whole text has beyond the context's."""
        if not context:
            cont = self.encode(continuation, bos=False)
            first = self.prefix_token_id
            return (cont[:1], cont[1:]) if cont and cont[0] == first else ([first], cont)
        context, continuation = split_trailing_space(context, continuation)
        ctx = self.encode_as_hflm(context)
        return ctx, self.encode_as_hflm(context + continuation)[len(ctx):]

    @torch.inference_mode()
    def loglikelihood(self, pairs: Sequence[tuple[str, str]], groups: Sequence[str] | None = None,
                      progress: Progress | None = None) -> list[tuple[float, bool]]:
        """(summed log-probability, is it the greedy continuation) of each continuation after its
        context. `groups` (lm-eval passes task names) marks requests that may share a KV prefix."""
        return self.loglikelihood_tokens([self.encode_pair(c, x) for c, x in pairs], groups, progress)

    @torch.inference_mode()
    def loglikelihood_tokens(self, requests: Sequence[tuple[list[int], list[int]]],
                             groups: Sequence[str] | None = None,
                             progress: Progress | None = None) -> list[tuple[float, bool]]:
        """loglikelihood() on (context tokens, continuation tokens); `progress(done, total)` hears after
        every batch how many distinct continuations are scored."""
        contexts: dict[tuple[int, ...], _Context] = {}
        keys = []
        for (ctx, cont), group in zip(requests, groups or [""] * len(requests)):
            head, cont = self._request_window(list(ctx), list(cont))
            contexts.setdefault(tuple(head), _Context(head, group)).add(cont)
            keys.append((tuple(head), tuple(cont)))
        scores: dict[tuple[tuple[int, ...], tuple[int, ...]], tuple[float, bool]] = {}
        total = sum(len(c.conts) for c in contexts.values())
        for members in _by_group([c for c in contexts.values() if c.conts]):
            for part in self._score_contexts(members):
                scores.update(part)
                if progress:
                    progress(len(scores), total)
        # An empty continuation has probability one and is trivially what greedy decoding gives.
        return [scores.get(k, (0.0, True)) for k in keys]

    def _request_window(self, ctx: list[int], cont: list[int]) -> tuple[list[int], list[int]]:
        """HFLM's left truncation (the last max_length + 1 tokens, less the last), split after the
        token whose logits predict the continuation's first token."""
        if not cont:
            return ctx, cont
        if len(cont) > self.max_length:
            raise ModelError(f"a continuation of {len(cont)} tokens does not fit the model's context window "
                             f"of {self.max_length} tokens; shorten the task's targets")
        tokens = (ctx + cont)[-(self.max_length + 1):][:-1]
        self.truncated += len(ctx) + len(cont) > self.max_length + 1
        return tokens[: len(tokens) - len(cont) + 1], cont

    def _score_contexts(self, members: list[_Context]):
        """Scores, one batch of contexts at a time, longest first (little padding)."""
        rows = [m.tokens for m in members]
        cache = PrefixCache(self.model, rows[0][: shared_prefix_len(rows[0], rows)], self.tokenizer.pad_token_id,
                            self.device)
        for batch in length_batches([len(r) - cache.length for r in rows], self.batch_tokens, self.max_rows):
            yield self._score_batch(cache, [members[i] for i in batch])

    def _score_batch(self, cache: PrefixCache, batch: list[_Context]) -> dict:
        # Forward 1: each context once (after the shared prefix); its last logits predict every
        # continuation's first token, so one-token answers need nothing more.
        ids, mask, positions = cache.inputs([m.tokens[cache.length:] for m in batch])
        out = run(self.model, cache.fresh(len(batch)), input_ids=ids, attention_mask=mask, position_ids=positions,
                  use_cache=True, logits_to_keep=1)
        first = torch.log_softmax(out.logits[:, -1].float(), dim=-1)
        first_greedy = first.argmax(-1).tolist()
        rows = [(b, c) for b, m in enumerate(batch) for c in m.conts if len(c) > 1]
        tails = iter(self._continue(returned_cache(out), mask, positions, rows))
        scores = {}
        for b, m in enumerate(batch):
            for c in m.conts:
                logprob, greedy = float(first[b, c[0]]), first_greedy[b] == c[0]
                if len(c) > 1:
                    tail_logprob, tail_greedy = next(tails)
                    logprob, greedy = logprob + tail_logprob, greedy and tail_greedy
                scores[(tuple(m.tokens), tuple(c))] = (logprob, greedy)
        return scores

    def _continue(self, kv: Any, mask: torch.Tensor, positions: torch.Tensor,
                  rows: list[tuple[int, list[int]]]) -> list[tuple[float, bool]]:
        """Forward 2: the multi-token continuations (less their last token) from copies of their
        contexts' caches, in chunks within the row and token budgets; (log-probability, greedy) of
        each continuation's tokens after the first."""
        layers = [(k, v) for k, v, *_ in kv] if rows else []
        scored: list = [None] * len(rows)
        for chunk in length_batches([len(c) - 1 for _, c in rows], self.batch_tokens, self.max_rows):
            for i, result in zip(chunk, self._continue_chunk(layers, mask, positions, [rows[i] for i in chunk])):
                scored[i] = result
        return scored

    def _continue_chunk(self, layers: list, mask: torch.Tensor, positions: torch.Tensor,
                        rows: list[tuple[int, list[int]]]) -> list[tuple[float, bool]]:
        """Right-padded: causal attention keeps the pads after a row's real tokens from touching them."""
        index = torch.tensor([b for b, _ in rows], device=self.device)
        kv = DynamicCache(ddp_cache_data=[(k[index], v[index]) for k, v in layers], config=self.model.config)
        width = max(len(c) - 1 for _, c in rows)
        ids = torch.full((len(rows), width), self.tokenizer.pad_token_id, dtype=torch.long)
        new_mask = torch.zeros((len(rows), width), dtype=torch.long)
        for r, (_, c) in enumerate(rows):
            ids[r, : len(c) - 1] = torch.tensor(c[:-1])
            new_mask[r, : len(c) - 1] = 1
        mask = torch.cat([mask[index], new_mask.to(self.device)], dim=-1)
        positions = positions[index, -1:] + 1 + torch.arange(width, device=self.device)
        logits = run(self.model, kv, input_ids=ids.to(self.device), attention_mask=mask, position_ids=positions,
                     use_cache=True).logits
        logprobs = torch.log_softmax(logits.float(), dim=-1)
        return [_read_tail(logprobs[r], c[1:]) for r, (_, c) in enumerate(rows)]

    @torch.inference_mode()
    def generate_until(self, contexts: Sequence[str], until: Sequence[str], max_new_tokens: int,
                       progress: Progress | None = None) -> list[str]:
        """Greedy continuations cut at the first stop string, as HFLM returns them: nothing stripped, the
        EOS text a stop string too, contexts left-truncated to leave room for max_new_tokens. Contexts
        that share leading tokens (a fixed few-shot prefix) run them once."""
        eos_text = self.tokenizer.decode([self.tokenizer.eos_token_id], skip_special_tokens=False)
        stops = [s for s in [*until, *([eos_text] if eos_text not in until else [])] if s]
        fitted = [self._fit(self.encode_as_hflm(c, generation=True), max_new_tokens + 1) for c in contexts]
        self.truncated += sum(cut for _, cut in fitted)
        rows = [tokens for tokens, _ in fitted]
        if not rows:
            return []
        cache = PrefixCache(self.model, rows[0][: shared_prefix_len(rows[0], rows)], self.tokenizer.pad_token_id,
                            self.device)
        texts, done = [""] * len(rows), 0
        for batch, rows_per_piece in self._decode_groups(cache, [len(r) - cache.length for r in rows], max_new_tokens):
            outs = cache.greedy([rows[i][cache.length:] for i in batch], max_new_tokens, self._until_stopper(stops),
                                self.batch_tokens, rows_per_piece)
            for i, tokens in zip(batch, outs):
                texts[i] = _cut_at_first(self.tokenizer.decode(tokens, skip_special_tokens=True), stops)
            done += len(batch)
            if progress:
                progress(done, len(rows))
        return texts

    def _until_stopper(self, stops: Sequence[str]):
        eos = {t for t in [self.tokenizer.eos_token_id, *_extra_eos(self.model)] if t is not None}

        def done(tokens: list[int]) -> bool:
            if tokens and tokens[-1] in eos:
                return True
            text = self.tokenizer.decode(tokens, skip_special_tokens=True)
            return any(s in text for s in stops)

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


# ==== lm-evaluation-harness requests: helpers ===============================================
Progress = Callable[[int, int], None]  # (done, total)


@dataclass
class _Context:
    """One distinct context (after truncation) and the distinct continuations scored after it."""

    tokens: list[int]
    group: str
    conts: list[list[int]] = field(default_factory=list)

    def add(self, cont: list[int]) -> None:
        if cont and cont not in self.conts:
            self.conts.append(cont)


def _by_group(contexts: list[_Context]) -> list[list[_Context]]:
    groups: dict[str, list[_Context]] = {}
    for c in contexts:
        groups.setdefault(c.group, []).append(c)
    return list(groups.values())


def _read_tail(logprobs: torch.Tensor, targets: list[int]) -> tuple[float, bool]:
    """Summed log-probability and greedy match of `targets` read from the first len(targets) positions."""
    positions = logprobs[: len(targets)]
    target = torch.tensor(targets, device=positions.device)
    return (float(positions.gather(-1, target[:, None]).sum()),
            bool((positions.argmax(-1) == target).all()))


def _cut_at_first(text: str, stops: Sequence[str]) -> str:
    """HFLM's post-processing: the text before the first occurrence of any stop string."""
    for s in stops:
        text = text.split(s, 1)[0]
    return text
