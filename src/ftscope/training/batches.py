"""The order of training: length-grouped batches, and collation that reads logits for targets only.

Speed comes from three choices here:
- batches hold rows of similar length (shuffle, then sort within mega-batches of 50 batches, as HF's
  group_by_length does, then shuffle the batches), so little compute goes to padding;
- a batch whose rows still differ in length (the long tail of a length distribution) runs as the forward
  passes that pad least (`pieces_of`): the loss is normalised over the whole optimizer step, so how a batch is
  split does not change its gradient;
- rows are left-padded, which puts every row's target at the end: the model then computes logits for
  the last few positions only (`logits_to_keep`), skipping the vocabulary projection and softmax
  for every prompt token, the largest single cost for a small model with a 49k vocabulary.
The plan is a pure function of (lengths, seed, epoch), so a resumed run replays the same batches.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Sequence

import torch

from ftscope.training.tokens import Row

MEGABATCH = 50  # batches per sorting window: enough to group lengths, few enough to keep batches mixed
# What one more forward and backward pass costs, in padded tokens. Measured on 2 cores, SmolLM2 LoRA (median
# of 4 steps): rows of 235, 209, 171, 168, 154, 147, 144 and 137 tokens in one pass (1,880 padded) 13.8 s, as
# 2 + 6 rows (1,496) 9.8 s, as 1 + 1 + 6 (1,470) 10.2 s; eight rows of 109-136 tokens in one pass 8.7 s, as
# 4 + 4 8.1 s, as 4 × 2 9.1 s. The pass itself costs little next to padding; this keeps splits to ones that
# save more than a short row.
PIECE_TOKENS = 64

Window = list[list[int]]  # one optimizer step: its micro-batches, each a list of row indices


def epoch_batches(lengths: Sequence[int], batch_size: int, seed: int, epoch: int) -> list[list[int]]:
    rng = random.Random(f"{seed}:{epoch}")
    order = list(range(len(lengths)))
    rng.shuffle(order)
    span = batch_size * MEGABATCH
    batches = []
    for start in range(0, len(order), span):
        chunk = sorted(order[start:start + span], key=lambda i: -lengths[i])
        batches += [chunk[j:j + batch_size] for j in range(0, len(chunk), batch_size)]
    rng.shuffle(batches)
    return batches


def plan(lengths: Sequence[int], batch_size: int, grad_accum: int, seed: int, epochs: int,
         updates: int | None = None) -> list[Window]:
    """Optimizer steps over `epochs` passes, or exactly `updates` steps cycling through passes.

    Each pass ends with a partial window when its batches do not divide evenly, as HF Trainer does.
    """
    windows: list[Window] = []
    epoch = 0
    while (updates is None and epoch < epochs) or (updates is not None and len(windows) < updates):
        batches = epoch_batches(lengths, batch_size, seed, epoch)
        windows += [batches[i:i + grad_accum] for i in range(0, len(batches), grad_accum)]
        epoch += 1
    return windows if updates is None else windows[:updates]


def pieces_of(batch: list[int], rows: Sequence[Row], max_tokens: int) -> list[list[int]]:
    """A batch as forward passes: none pads to more than max_tokens (one row at least), and together they pad
    the fewest tokens, counting PIECE_TOKENS for each pass.

    With the rows longest first, a pass is best a run of consecutive rows (padded to its first), so the split
    is a shortest path over the n + 1 cut points: O(n²) for a batch of n rows."""
    order = sorted(batch, key=lambda i: -len(rows[i]))  # stable: equal lengths keep the batch's order
    best, cut = [0] + [None] * len(order), [0] * (len(order) + 1)
    for end in range(1, len(order) + 1):
        for start in range(end - 1, -1, -1):
            padded = (end - start) * len(rows[order[start]])
            if padded > max_tokens and end - start > 1:
                break  # longer runs pad even more
            cost = best[start] + padded + PIECE_TOKENS
            if best[end] is None or cost < best[end]:
                best[end], cut[end] = cost, start
    pieces, end = [], len(order)
    while end:
        pieces.append(order[cut[end]:end])
        end = cut[end]
    return pieces[::-1]


@dataclass
class Batch:
    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    position_ids: torch.Tensor
    labels: torch.Tensor  # [rows, keep - 1]: targets of the last keep - 1 positions, -100 elsewhere
    keep: int  # logits to compute, counted from the end

    def to(self, device) -> "Batch":
        return Batch(self.input_ids.to(device), self.attention_mask.to(device), self.position_ids.to(device),
                     self.labels.to(device), self.keep)


def collate(rows: Sequence[Row], pad_id: int) -> Batch:
    width = max(len(r) for r in rows)
    keep = max(r.n_target for r in rows) + 1
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    labels = torch.full((len(rows), keep - 1), -100, dtype=torch.long)
    for b, r in enumerate(rows):
        ids[b, width - len(r):] = torch.tensor(r.ids)
        mask[b, width - len(r):] = 1
        labels[b, keep - 1 - r.n_target:] = torch.tensor(r.ids[len(r) - r.n_target:])
    # Positions count real tokens only, as the evaluation scorer's left-padded batches do.
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    return Batch(ids, mask, positions, labels, keep)
