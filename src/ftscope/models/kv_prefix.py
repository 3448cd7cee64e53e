"""Run a shared token prefix once and continue many left-padded suffixes from its KV cache.

The prefix (few-shot demonstrations, often most of a prompt) is computed once per dataset. Each
batch gets a fresh cache whose prefix entries are a broadcast view of the stored ones, so the
copy happens only inside the cache's own concatenation. Suffixes are left-padded: the newest token
of every row then sits in the last position, which lets us compute logits for that position alone.
Explicit position ids keep each row's real tokens contiguous after the prefix despite the padding.
"""

from __future__ import annotations

import inspect
from functools import lru_cache
from typing import Any, Callable, Sequence

import torch
from transformers import DynamicCache


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


class PrefixCache:
    def __init__(self, model: Any, prefix: Sequence[int], pad_id: int, device: torch.device | str):
        self.model, self.pad_id, self.device = model, pad_id, device
        self.length = len(prefix)
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

    def greedy(self, suffixes: Sequence[Sequence[int]], max_new_tokens: int,
               done: Callable[[list[int]], bool]) -> list[list[int]]:
        """Greedy decoding; a finished row leaves the batch so later steps cost less."""
        ids, mask, positions = self.inputs(suffixes)
        cache = self.fresh(len(suffixes)) or DynamicCache(config=self.model.config)
        generated: list[list[int]] = [[] for _ in suffixes]
        alive = list(range(len(suffixes)))
        for _ in range(max_new_tokens):
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
            positions = positions[:, -1:] + 1
        return generated
