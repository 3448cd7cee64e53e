"""The order of training: length-grouped batches, and collation that reads logits for targets only.

Speed comes from two choices here:
- batches hold rows of similar length (shuffle, then sort within mega-batches of 50 batches, as HF's
  group_by_length does, then shuffle the batches), so almost no compute goes to padding;
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
