"""Choosing in-context demonstrations.

`first` is the paper's method (the first k items of the dataset's few-shot file); `random` draws k
from the pool with a seed; `balanced` draws round-robin over labels so every class is shown.
The same demonstrations serve every query of a dataset, which lets the model reuse their KV cache.
"""

from __future__ import annotations

import random
from collections import defaultdict
from typing import Literal

from ftscope.errors import DataError
from ftscope.types import Example

Selection = Literal["first", "random", "balanced"]
SELECTIONS = ("first", "random", "balanced")


def select_demos(pool: tuple[Example, ...], k: int, how: Selection = "first", seed: int = 0,
                 source: str = "the few-shot pool") -> tuple[Example, ...]:
    if k == 0:
        return ()
    if len(pool) < k:
        raise DataError(f"{source or 'dataset'}: {k}-shot needs {k} demonstrations but the pool holds "
                        f"{len(pool)}; lower the shots or give a larger fewshot_file")
    if how == "first":
        return pool[:k]
    rng = random.Random(seed)
    if how == "random":
        return tuple(rng.sample(pool, k))
    return _balanced(pool, k, rng)


def _balanced(pool: tuple[Example, ...], k: int, rng: random.Random) -> tuple[Example, ...]:
    by_label: dict[str, list[Example]] = defaultdict(list)
    for ex in pool:
        by_label[ex.target].append(ex)
    for items in by_label.values():
        rng.shuffle(items)
    picked: list[Example] = []
    while len(picked) < k:
        for label in sorted(by_label):
            if by_label[label] and len(picked) < k:
                picked.append(by_label[label].pop())
    rng.shuffle(picked)
    return tuple(picked)
