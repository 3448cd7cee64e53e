"""Run a shared token prefix once and continue many left-padded suffixes from its KV cache.

The prefix (few-shot demonstrations, often most of a prompt) is computed once per dataset. Each
batch gets a fresh cache whose prefix entries are a broadcast view of the stored ones, so the
copy happens only inside the cache's own concatenation. Suffixes are left-padded: the newest token
of every row then sits in the last position, which lets us compute logits for that position alone.
Explicit position ids keep each row's real tokens contiguous after the prefix despite the padding.

Greedy decoding reads every weight of the model once per step whatever the number of rows (on CPU a
step of 8 rows and one of 30 cost about the same), so rows are decoded together in groups as large as
their KV cache allows, while their prompts still run in pieces of the prefill budget: each piece's cache
is copied, right-aligned, into the group's. Models with sliding-window layers (whose caches keep only a
window) decode each piece on its own, as before.
"""

from __future__ import annotations

import inspect
from functools import lru_cache
from typing import Any, Callable, Sequence

import torch
from transformers import DynamicCache

from ftscope.models.batching import length_batches


@lru_cache(maxsize=32)
def _cache_keyword(forward: Any) -> str:
    """transformers 5.24 renamed forward's `past_key_values` to `cache` (the old name is removed in 5.40);
    earlier releases know only the old one, so pass whichever this model's forward declares."""
    return "cache" if "cache" in inspect.signature(forward).parameters else "past_key_values"


def run(model: Any, cache: Any, **inputs: Any) -> Any:
    """model(**inputs) continuing from `cache`, under the keyword this transformers version expects."""
    return model(**inputs, **{_cache_keyword(type(model).forward): cache})


def returned_cache(out: Any) -> Any:
    found = getattr(out, "cache", None)
    return found if found is not None else out.past_key_values


def kv_bytes_per_token(model: Any) -> int | None:
    """Bytes one token adds to a full-attention KV cache, or None where rows' caches cannot be joined (a
    sliding-window or otherwise unusual attention, or a config without the sizes)."""
    config = getattr(model, "config", None)
    if config is None or getattr(config, "sliding_window", None) or any(
            t != "full_attention" for t in (getattr(config, "layer_types", None) or ())):
        return None
    try:
        heads = config.num_attention_heads
        kv_heads = getattr(config, "num_key_value_heads", None) or heads
        head_dim = getattr(config, "head_dim", None) or config.hidden_size // heads
        layers = config.num_hidden_layers
    except (AttributeError, TypeError, ZeroDivisionError):
        return None
    size = next(model.parameters()).element_size()
    return int(layers * 2 * kv_heads * head_dim * size)


class PrefixCache:
    def __init__(self, model: Any, prefix: Sequence[int], pad_id: int, device: torch.device | str):
        self.model, self.pad_id, self.device = model, pad_id, device
        self.length = len(prefix)
        self.kv_bytes_per_token = kv_bytes_per_token(model)  # None: each prefill piece decodes on its own
        self._kv: list[tuple[torch.Tensor, torch.Tensor]] = []
        if prefix:
            out = run(model, None, input_ids=torch.tensor([list(prefix)], device=device), use_cache=True,
                      logits_to_keep=1)
            self._kv = [(k, v) for k, v, *_ in returned_cache(out)]

    def fresh(self, rows: int) -> DynamicCache | None:
        """A cache for `rows` rows that starts with the prefix (a broadcast view: no copy until it grows)."""
        if not self._kv:
            return None
        views = [(k.expand(rows, -1, -1, -1), v.expand(rows, -1, -1, -1)) for k, v in self._kv]
        return DynamicCache(ddp_cache_data=views, config=self.model.config)

    def inputs(self, suffixes: Sequence[Sequence[int]]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Left-padded ids, the attention mask over prefix + suffix, and positions that skip the padding."""
        width = max(len(s) for s in suffixes)
        ids = torch.full((len(suffixes), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(suffixes), self.length + width), dtype=torch.long)
        mask[:, : self.length] = 1
        for b, s in enumerate(suffixes):
            ids[b, width - len(s):] = torch.tensor(list(s))
            mask[b, self.length + width - len(s):] = 1
        positions = (mask.cumsum(-1) - 1).clamp(min=0)[:, self.length:]
        return ids.to(self.device), mask.to(self.device), positions.to(self.device)

    def forward(self, suffixes: Sequence[Sequence[int]], logits_to_keep: int = 1) -> torch.Tensor:
        """Logits of the last `logits_to_keep` positions of each row: [rows, keep, vocab]."""
        ids, mask, positions = self.inputs(suffixes)
        out = run(self.model, self.fresh(len(suffixes)), input_ids=ids, attention_mask=mask,
                  position_ids=positions, use_cache=True, logits_to_keep=logits_to_keep)
        return out.logits

    def greedy(self, suffixes: Sequence[Sequence[int]], max_new_tokens: int, done: Callable[[list[int]], bool],
               prefill_tokens: int | None = None, prefill_rows: int = 32) -> list[list[int]]:
        """Greedy decoding of all `suffixes` together; their prompts run in pieces of at most `prefill_tokens`
        padded tokens (None: one piece). A finished row leaves the batch so later steps cost less."""
        if self.kv_bytes_per_token is None:  # sliding-window layers: transformers' own cache, one piece
            pieces = [list(range(len(suffixes)))]
            ids, mask, positions = self.inputs(suffixes)
            out = run(self.model, self.fresh(len(suffixes)) or DynamicCache(config=self.model.config), input_ids=ids,
                      attention_mask=mask, position_ids=positions, use_cache=True, logits_to_keep=1)
            cache, positions, next_tokens = returned_cache(out), positions[:, -1:], out.logits[:, -1].argmax(-1)
        else:
            pieces = ([list(range(len(suffixes)))] if prefill_tokens is None else
                      length_batches([len(s) for s in suffixes], prefill_tokens, prefill_rows))
            layers, mask, positions, next_tokens = self._prefill(suffixes, pieces, room=max_new_tokens)
            cache = decoding_cache(layers, self.model.config)
        generated: list[list[int]] = [[] for _ in suffixes]
        alive = [i for piece in pieces for i in piece]  # the cache's row order
        for step in range(max_new_tokens):
            if step:
                out = run(self.model, cache, input_ids=ids, attention_mask=mask, position_ids=positions,
                          use_cache=True, logits_to_keep=1)
                next_tokens = out.logits[:, -1].argmax(-1)
            for row, token in zip(alive, next_tokens.tolist()):
                generated[row].append(token)
            keep = [j for j, row in enumerate(alive) if not done(generated[row])]
            if not keep:
                break
            if len(keep) < len(alive):
                index = torch.tensor(keep, device=self.device)
                cache.batch_select_indices(index)
                next_tokens, mask, positions = next_tokens[index], mask[index], positions[index]
                alive = [alive[j] for j in keep]
            ids = next_tokens[:, None]
            mask = torch.cat([mask, mask.new_ones((len(alive), 1))], dim=-1)
            positions = positions + 1
        return generated

    def _prefill(self, suffixes: Sequence[Sequence[int]], pieces: list[list[int]], room: int = 0):
        """Run the prompts piece by piece into one cache for all rows (each piece's right-aligned in it, the
        columns to its left masked), with `room` free columns after it; the cache's layers as (keys, values,
        filled length), the mask, each row's last position and its first greedy token."""
        rows, width = len(suffixes), self.length + max(len(s) for s in suffixes)
        merged: list[tuple[torch.Tensor, torch.Tensor]] = []
        mask = torch.zeros((rows, width), dtype=torch.long, device=self.device)
        last = torch.zeros((rows, 1), dtype=torch.long, device=self.device)
        first = torch.zeros(rows, dtype=torch.long, device=self.device)
        start = 0
        for piece in pieces:
            ids, piece_mask, positions = self.inputs([suffixes[i] for i in piece])
            out = run(self.model, self.fresh(len(piece)) or DynamicCache(config=self.model.config), input_ids=ids,
                      attention_mask=piece_mask, position_ids=positions, use_cache=True, logits_to_keep=1)
            layers = [(k, v) for k, v, *_ in returned_cache(out)]
            if not merged:
                merged = [(k.new_zeros((rows, k.shape[1], width + room, k.shape[3])),
                           v.new_zeros((rows, v.shape[1], width + room, v.shape[3]))) for k, v in layers]
            rows_here, cols = slice(start, start + len(piece)), slice(width - piece_mask.shape[1], width)
            for (big_k, big_v), (k, v) in zip(merged, layers):
                big_k[rows_here, :, cols] = k
                big_v[rows_here, :, cols] = v
            mask[rows_here, cols] = piece_mask
            last[rows_here] = positions[:, -1:]
            first[rows_here] = out.logits[:, -1].argmax(-1)
            start += len(piece)
            del out, layers  # the piece's own cache goes before the next piece runs
        return [(k, v, width) for k, v in merged], mask, last, first


def decoding_cache(layers: list[tuple[torch.Tensor, torch.Tensor, int]], config: Any) -> Any:
    """A DynamicCache over `(keys, values, filled)` buffers with room for the tokens to come, written in place.
    transformers' own layer concatenates each step, copying the whole cache (on CPU, 22 rows of 500 tokens: 74%
    of a decoding step, the copies landing in fresh pages); its StaticCache preallocates but cannot drop finished
    rows and attends over its whole length. A transformers without layered caches gets its DynamicCache."""
    if _InPlaceLayer is None:
        return DynamicCache(ddp_cache_data=[(k[:, :, :n], v[:, :, :n]) for k, v, n in layers], config=config)
    return _InPlaceCache([_InPlaceLayer(k, v, n) for k, v, n in layers])


try:  # transformers >= 4.56 lays a cache out as layers; the engine runs on both layouts
    from transformers.cache_utils import Cache, DynamicLayer
except ImportError:  # pragma: no cover (older transformers)
    _InPlaceLayer = None
else:
    class _InPlaceLayer(DynamicLayer):  # type: ignore[no-redef]
        """A full-attention layer whose keys and values are views of preallocated buffers."""

        def __init__(self, keys: torch.Tensor, values: torch.Tensor, filled: int):
            super().__init__()
            self.buffers, self.filled = (keys, values), filled
            self.dtype, self.device, self.is_initialized = keys.dtype, keys.device, True
            self._expose()

        def _expose(self) -> None:
            self.keys, self.values = (b[:, :, : self.filled] for b in self.buffers)

        def update(self, key_states: torch.Tensor, value_states: torch.Tensor, *args: Any, **kwargs: Any):
            end = self.filled + key_states.shape[-2]
            if end > self.buffers[0].shape[-2]:  # out of room (greedy() reserves every step, so only by misuse)
                self.buffers = tuple(torch.cat([b[:, :, : self.filled], s], dim=-2)
                                     for b, s in zip(self.buffers, (key_states, value_states)))
            else:
                self.buffers[0][:, :, self.filled:end] = key_states
                self.buffers[1][:, :, self.filled:end] = value_states
            self.filled = end
            self._expose()
            return self.keys, self.values

        def batch_select_indices(self, indices: torch.Tensor) -> None:
            self.buffers = tuple(b[indices] for b in self.buffers)
            self._expose()

    class _InPlaceCache(DynamicCache):  # type: ignore[no-redef]
        def __init__(self, layers: list[Any]):  # Cache's own constructor, with these layers
            Cache.__init__(self, layers=layers)
