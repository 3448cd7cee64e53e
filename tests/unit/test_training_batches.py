"""Tokenized rows, the length-grouped plan and collation, on a fake tokenizer (no model)."""

from __future__ import annotations

import random

import pytest
import torch

from ftscope.training.batches import PIECE_TOKENS, collate, epoch_batches, pieces_of, plan
from ftscope.training.data import TrainItem
from ftscope.training.loop import lr_at
from ftscope.training.tokens import Row, tokenize


class CharTokenizer:
    """One token per character; EOS is 0, pad is 0."""

    eos_token_id = 0

    def __call__(self, texts, add_special_tokens=True):
        class Out:
            pass

        out = Out()
        out.input_ids = [[ord(c) for c in t] for t in texts]
        return out


def test_loss_is_on_target_and_eos_only_and_truncation_is_counted():
    items = [TrainItem("d", "0", "ab:", "yes"), TrainItem("d", "1", "abcdefgh:", "no"),
             TrainItem("d", "2", "abcdefghij:", "x")]
    rows = tokenize(items, CharTokenizer(), max_length=11)
    first = rows.rows[0]
    assert first.ids == tuple(map(ord, "ab:yes")) + (0,) and first.n_target == 4  # 'yes' + EOS
    second = rows.rows[1]
    assert len(second) == 11 and second.n_target == 2 and rows.truncated == 2  # 'n','o' kept, EOS cut
    assert rows.dropped == 1 and rows.items == (0, 1)  # the third lost its whole target


def test_each_epoch_sees_every_row_once_in_length_groups():
    lengths = [random.Random(i).randint(5, 300) for i in range(400)]
    batches = epoch_batches(lengths, 8, seed=0, epoch=0)
    assert sorted(i for b in batches for i in b) == list(range(400))
    padded = sum(len(b) * max(lengths[i] for i in b) for b in batches)
    assert 1 - sum(lengths) / padded < 0.05  # random batches of 8 would waste ~40% here
    assert batches == epoch_batches(lengths, 8, seed=0, epoch=0) != epoch_batches(lengths, 8, seed=0, epoch=1)


def test_plan_counts_optimizer_steps_per_epoch_and_cycles_for_fixed_step_counts():
    windows = plan([10] * 10, batch_size=2, grad_accum=2, seed=0, epochs=2)
    assert len(windows) == 6 and [len(w) for w in windows[:3]] == [2, 2, 1]  # 5 batches: 2 + 2 + 1
    assert len(plan([10] * 10, 2, 2, 0, epochs=1, updates=7)) == 7


def test_collate_left_pads_and_aligns_labels_with_the_kept_logits():
    rows = [Row((5, 6, 7, 8), 2), Row((9, 10), 1)]
    batch = collate(rows, pad_id=0)
    assert batch.input_ids.tolist() == [[5, 6, 7, 8], [0, 0, 9, 10]]
    assert batch.position_ids.tolist()[1][2:] == [0, 1] and batch.keep == 3
    # logits of the last 3 positions; the first two of them predict the last two tokens
    assert batch.labels.tolist() == [[7, 8], [-100, 10]]


def test_learning_rate_decays_linearly_without_warmup():
    assert lr_at(1.0, 0, 4) == 1.0 and lr_at(1.0, 2, 4) == 0.5 and lr_at(1.0, 3, 4) == 0.25
    assert torch.tensor(lr_at(2e-5, 1, 10)).item() > 0


def test_long_batches_run_in_pieces_within_the_token_budget():
    rows = (Row((1,) * 100, 1), Row((1,) * 90, 1), Row((1,) * 80, 1), Row((1,) * 10, 1))
    assert pieces_of([0, 1, 2], rows, max_tokens=200) == [[0, 1], [2]]
    assert pieces_of([3], rows, max_tokens=5) == [[3]]  # a row longer than the budget still runs
    # one pass would pad the 10-token row to 100 (400 tokens); two passes pad 300 + 10, plus one pass's cost
    assert pieces_of([0, 1, 2, 3], rows, max_tokens=10_000) == [[0, 1, 2], [3]]
    assert pieces_of([3, 2, 1, 0], rows, max_tokens=10_000) == [[0, 1, 2], [3]]  # longest first, whatever came in


def padded(pieces: list[list[int]], rows) -> int:
    return sum(len(p) * max(len(rows[i]) for i in p) + PIECE_TOKENS for p in pieces)


def splits(items: list[int]):
    """Every way to cut a list into consecutive runs."""
    if not items:
        yield []
        return
    for k in range(1, len(items) + 1):
        for rest in splits(items[k:]):
            yield [items[:k], *rest]


@pytest.mark.parametrize("seed", range(20))
def test_pieces_pad_no_more_than_any_split_of_the_sorted_batch_within_the_budget(seed):
    rng = random.Random(seed)
    rows = tuple(Row((1,) * rng.randint(1, 300), 1) for _ in range(rng.randint(1, 8)))
    budget = rng.choice([100, 400, 1_000, 100_000])
    found = pieces_of(list(range(len(rows))), rows, budget)
    assert sorted(i for p in found for i in p) == list(range(len(rows)))
    assert all(len(p) == 1 or len(p) * max(len(rows[i]) for i in p) <= budget for p in found)
    longest_first = sorted(range(len(rows)), key=lambda i: -len(rows[i]))
    allowed = [s for s in splits(longest_first)
               if all(len(p) == 1 or len(p) * len(rows[p[0]]) <= budget for p in s)]
    assert padded(found, rows) == min(padded(s, rows) for s in allowed)
