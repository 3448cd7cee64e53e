"""Token-level helpers for scoring and generation: encoding pairs, shared prefixes, length batches."""

from __future__ import annotations

from typing import Sequence


def split_trailing_space(context: str, continuation: str) -> tuple[str, str]:
    """Move trailing whitespace from the context onto the continuation.

    lm-evaluation-harness does the same, so a template ending in "is " scores " entailment" as one
    word token instead of a lone space token followed by an unspaced word.
    """
    n = len(context) - len(context.rstrip())
    return (context[:-n], context[-n:] + continuation) if n else (context, continuation)


def common_prefix_len(a: Sequence[int], b: Sequence[int]) -> int:
    n = min(len(a), len(b))
    for i in range(n):
        if a[i] != b[i]:
            return i
    return n


def shared_prefix_len(prefix_ids: Sequence[int], rows: Sequence[Sequence[int]]) -> int:
    """How many leading tokens every row shares with the encoded prefix.

    Capped one short of the shortest row, so every row keeps at least one token to run (its
    logits are what we read).
    """
    if not rows:
        return 0
    shared = min(common_prefix_len(prefix_ids, r) for r in rows)
    return max(0, min(shared, min(len(r) for r in rows) - 1))


def length_batches(lengths: Sequence[int], max_tokens: int, max_rows: int) -> list[list[int]]:
    """Indices grouped longest-first so each batch pads to similar lengths (little padding waste)."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    batches: list[list[int]] = []
    current: list[int] = []
    for i in order:
        width = lengths[current[0]] if current else lengths[i]
        if current and ((len(current) + 1) * width > max_tokens or len(current) >= max_rows):
            batches.append(current)
            current = []
        current.append(i)
    if current:
        batches.append(current)
    return batches
