"""Items → token rows: prompt + target + EOS, cut on the right at max_length, loss on the target only.

Prompts are encoded exactly as the evaluation scorer encodes them (the tokenizer's own special
tokens, the target read off the joint encoding of prompt + target), so a model is trained on the
very token sequence it is later scored on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from ftscope.training.data import TrainItem


@dataclass(frozen=True)
class Row:
    ids: tuple[int, ...]
    n_target: int  # the last n_target ids are what the loss is taken on

    def __len__(self) -> int:
        return len(self.ids)


@dataclass(frozen=True)
class Rows:
    rows: tuple[Row, ...]
    items: tuple[int, ...]  # the item each row came from
    truncated: int  # rows cut at max_length (kept while any target token survives)
    dropped: int  # rows whose whole target was cut away: nothing to learn from, left out


def common_prefix_len(a: Sequence[int], b: Sequence[int]) -> int:
    n = min(len(a), len(b))
    return next((i for i in range(n) if a[i] != b[i]), n)


def tokenize(items: Sequence[TrainItem], tokenizer: Any, max_length: int) -> Rows:
    prompts = tokenizer([it.prompt for it in items], add_special_tokens=True).input_ids
    fulls = tokenizer([it.prompt + it.target for it in items], add_special_tokens=True).input_ids
    eos = [tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else []
    rows, kept, truncated, dropped = [], [], 0, 0
    for i, (prompt, full) in enumerate(zip(prompts, fulls)):
        # A merge across the boundary (':' + 'pos…') moves into the target, as the scorer does.
        n_prompt = max(1, common_prefix_len(prompt, full))  # the first token has nothing to predict it
        ids = (full + eos)[:max_length]
        truncated += len(full) + len(eos) > max_length
        if len(ids) <= n_prompt:
            dropped += 1
            continue
        rows.append(Row(tuple(ids), len(ids) - n_prompt))
        kept.append(i)
    return Rows(tuple(rows), tuple(kept), truncated, dropped)
