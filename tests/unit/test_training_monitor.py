"""ProMoT's stage-1 watch: held-out examples come from the training file minus the training sample, and
a stage that had not levelled off gets a note naming the change and the fix."""

from __future__ import annotations

import json

import pytest

from ftscope.specs import TrainSpec
from ftscope.tasks import Catalogue, DatasetEntry, Task
from ftscope.training.data import build_data
from ftscope.training.monitor import heldout, levelling_note, measure, probe_of, single_pass
from ftscope.training.stages import Watch

WATCH = Watch(20, "ProMoT stage 1", "raise promot_steps")


@pytest.fixture
def catalogue(tmp_path):
    rows = [{"idx": i, "input": f"text {i}", "output": "positive" if i % 2 else "negative"} for i in range(60)]
    (tmp_path / "small.json").write_text(json.dumps(rows))
    entry = DatasetEntry("small", "sentiment", "Small", train_file=str(tmp_path / "small.json"))
    return Catalogue(data_dir=tmp_path, extra=[entry])


def test_heldout_examples_are_unseen_in_training_and_at_most_32(catalogue):
    spec = TrainSpec(datasets=("small",), n=20, seed=3)
    data = build_data(spec, catalogue)
    held = heldout(spec, catalogue, data)
    trained = {it.example_id for it in data.items}
    ids = [it.example_id for it in held.items]
    assert len(ids) == 32 and not set(ids) & trained and len(set(ids)) == 32
    assert held.sources[0]["example_ids"] == ids and heldout(spec, catalogue, data) == held  # seeded
    assert all(c == ("positive", "negative") for c in held.choices)
    assert held.items[0].prompt.endswith("### Sentiment:") and held.items[0].target in held.choices[0]


def test_heldout_is_empty_when_training_takes_the_whole_file(catalogue):
    spec = TrainSpec(datasets=("small",), n=None)
    held = heldout(spec, catalogue, build_data(spec, catalogue))
    assert held.items == () and held.choices == ()


def test_one_forward_pass_reads_the_scorers_first_token_scores(catalogue, tiny_loaded):
    """The monitor's accuracy comes from the loss pass's logits; they must be what the evaluation scorer
    (HFLanguageModel, first-token) compares. Label scores are compared as differences, since the scorer
    returns log-probabilities and the pass raw logits (softmax normalisation cancels in a difference).
    Different batch shapes change only fp32 rounding (measured below 1e-6, also on SmolLM2-135M); 1e-4 leaves
    margin and still fails on a wrong position or token, which moves these differences by the logits' own
    scale (~1e-1)."""
    from ftscope.models.lm import HFLanguageModel

    spec = TrainSpec(datasets=("small",), n=20)
    held = heldout(spec, catalogue, build_data(spec, catalogue))
    model, tokenizer = tiny_loaded.model, tiny_loaded.tokenizer
    probe = probe_of(held, tokenizer, 1024)
    assert len(probe.rows) == 32 and all(x is not None for x in probe.labels) and probe.scorer == ()
    _, _, ours = single_pass(model, tokenizer.pad_token_id, probe)
    theirs = HFLanguageModel(model, tokenizer).score_choices("", [it.prompt for it in held.items],
                                                              held.choices[0], "first-token")
    for (scores, gold), reference, item in zip(ours, theirs, held.items):
        assert abs((scores[0] - scores[1]) - (reference[0] - reference[1])) < 1e-4
        assert held.choices[0][gold] == item.target
    point = measure(model, tokenizer, probe)
    assert point["classified"] == 32 and 0 <= point["accuracy"] <= 1 and point["loss"] > 0


def test_labels_after_a_trailing_space_go_to_the_scorer(tmp_path, tiny_loaded):
    """A prompt ending in a space puts the space into the label's first token (the scorer moves it there,
    as lm-evaluation-harness does), so the loss pass's logits cannot score it; HFLanguageModel does."""
    rows = [{"input": f"is {i} odd?", "output": "yes" if i % 2 else "no"} for i in range(40)]
    (tmp_path / "yn.json").write_text(json.dumps(rows))
    task = Task("yn", "classification", ("input",), labels=("yes", "no"), templates={"p1": "Q: {input}\nA: "})
    catalogue = Catalogue(data_dir=tmp_path, extra_tasks={"yn": task},
                          extra=[DatasetEntry("yn", "yn", "YN", train_file=str(tmp_path / "yn.json"))])
    spec = TrainSpec(datasets=("yn",), n=10)
    probe = probe_of(heldout(spec, catalogue, build_data(spec, catalogue)), tiny_loaded.tokenizer, 1024)
    assert len(probe.scorer) == 30 and all(x is None for x in probe.labels)
    point = measure(tiny_loaded.model, tiny_loaded.tokenizer, probe)
    assert point["classified"] == 30 and 0 <= point["accuracy"] <= 1


def test_accuracy_still_rising_gets_the_note():
    curve = [{"step": 80, "loss": 1.0, "accuracy": 0.70, "classified": 32},
             {"step": 100, "loss": 0.9, "accuracy": 0.75, "classified": 32}]
    assert levelling_note(WATCH, curve) == ("ProMoT stage 1: held-out accuracy still rose 5.0 points over its "
                                            "last interval; raise promot_steps")


def test_one_flipped_answer_of_32_is_noise_not_a_trend():
    curve = [{"step": 80, "loss": 1.0, "accuracy": 22 / 32, "classified": 32},
             {"step": 100, "loss": 0.5, "accuracy": 23 / 32, "classified": 32}]
    assert levelling_note(WATCH, curve) is None  # 3.1 points is one example; the loss is not consulted


def test_without_classification_the_loss_decides_at_two_percent():
    flat = [{"step": 1, "loss": 2.00}, {"step": 2, "loss": 1.97}]
    falling = [{"step": 1, "loss": 2.00}, {"step": 2, "loss": 1.90}]
    assert levelling_note(WATCH, flat) is None
    assert levelling_note(WATCH, falling) == ("ProMoT stage 1: held-out loss still fell 5.0% over its last "
                                              "interval; raise promot_steps")
    assert levelling_note(WATCH, falling[:1]) is None
