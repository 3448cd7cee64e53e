"""Tokenized rows, the length-grouped plan and collation, on a fake tokenizer (no model)."""

from __future__ import annotations

import random

import torch

from ftscope.training.batches import collate, epoch_batches, plan
from ftscope.training.data import TrainItem
from ftscope.training.loop import lr_at, pieces_of
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
    assert pieces_of([0, 1, 2, 3], rows, max_tokens=10_000) == [[0, 1, 2, 3]]
