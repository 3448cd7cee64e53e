"""TrainSpec: stable hashes, one-line errors for bad values, the YAML loader, and data selection."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ftscope.errors import ConfigError, DataError
from ftscope.tasks import Catalogue, DatasetEntry, Task
from ftscope.training import DEFAULT_LR, TrainSpec, check, load_train_spec, spec_from_mapping
from ftscope.training.data import build_data, shares


def test_hash_is_stable_and_sees_through_defaults():
    assert TrainSpec().hash() == TrainSpec().hash()
    assert TrainSpec(method="lora").hash() == TrainSpec(method="lora", lr=DEFAULT_LR["lora"]).hash()
    assert TrainSpec(datasets=("a", "b")).hash() == TrainSpec(datasets=("a", "b"), proportions=(2, 2)).hash()
    assert TrainSpec(seed=1).hash() != TrainSpec(seed=0).hash()
    # sha256 of canonical JSON: the same in another interpreter (no PYTHONHASHSEED involved)
    other = subprocess.run([sys.executable, "-c", "from ftscope.training import TrainSpec; print(TrainSpec().hash())"],
                           capture_output=True, text=True, check=True).stdout.strip()
    assert other == TrainSpec().hash()


def test_learning_rate_defaults_follow_what_is_tuned():
    assert TrainSpec().resolved().lr == 2e-5  # the paper's script, not its text's 0.002
    assert TrainSpec(method="lora").resolved().lr == DEFAULT_LR["lora"] > 2e-5
    assert TrainSpec(method="fticl", tune="lora").resolved().lr == DEFAULT_LR["lora"]
    assert TrainSpec(method="promot").resolved().promot_lr > TrainSpec(method="promot").resolved().lr


@pytest.mark.parametrize("field,value,words", [
    ("method", "promt", "must be one of full, lora, prompt_tuning, fticl, promot"),
    ("lr", 0.0, "lr: must be > 0"),
    ("lr", -1e-3, "lr: must be > 0"),
    ("n", 0, "n: must be 1 or more"),
    ("tune", "qlora", "tune: must be one of full, lora"),
    ("fticl_demos", "random", "fticl_demos"),
    ("proportions", (1.0,), "one positive weight per dataset"),
])
def test_bad_values_are_one_line_naming_the_field(field, value, words):
    spec = TrainSpec(datasets=("amazon", "paws"), **{field: value})
    with pytest.raises(ConfigError) as caught:
        check(spec, "exp.yaml")
    assert words in str(caught.value) and str(caught.value).startswith("exp.yaml: ") and "\n" not in str(caught.value)


def test_yaml_loader_reads_fields_and_refuses_unknown_keys(tmp_path):
    good = tmp_path / "train.yaml"
    good.write_text("train:\n  method: lora\n  datasets: amazon\n  n: 50\n  lora_targets: [q_proj, v_proj]\n")
    spec = load_train_spec(good)
    assert spec.datasets == ("amazon",) and spec.lora_targets == ("q_proj", "v_proj") and spec.n == 50
    bad = tmp_path / "bad.yaml"
    bad.write_text("method: lora\nlearning_rate: 0.1\n")
    with pytest.raises(ConfigError, match=r"bad.yaml: learning_rate: .*not a TrainSpec field"):
        load_train_spec(bad)
    with pytest.raises(ConfigError, match=r"x: epochs: "):
        spec_from_mapping({"epochs": "two"}, "x")
    with pytest.raises(ConfigError, match=r"x: lr: must be > 0"):
        spec_from_mapping({"lr": -1}, "x")


def test_shares_add_up_to_n():
    assert shares(10, (0.5, 0.5)) == [5, 5]
    assert sum(shares(7, (0.2, 0.3, 0.5))) == 7
    assert shares(None, (1.0, 1.0)) == [None, None]


# ---- data selection on small user files (no model needed) -----------------------------------

def write(path: Path, records) -> str:
    path.write_text(json.dumps(records))
    return str(path)


@pytest.fixture
def small(tmp_path):
    rows = [{"input": f"text {i}", "output": "positive" if i % 2 else "negative"} for i in range(5)]
    entry = DatasetEntry("small", "sentiment", "Small", train_file=write(tmp_path / "small.json", rows))
    return Catalogue(data_dir=tmp_path, extra=[entry])


def test_n_larger_than_the_file_stops_or_uses_what_exists(small):
    with pytest.raises(DataError, match=r"asked for n=9 .* holds 5.*--allow-fewer"):
        build_data(TrainSpec(datasets=("small",), n=9), small)
    data = build_data(TrainSpec(datasets=("small",), n=9, allow_fewer=True), small)
    assert len(data.items) == 5 and "using all 5" in data.notes[0]


def test_selection_is_deterministic_by_seed(small):
    def ids(seed):
        return [it.example_id for it in build_data(TrainSpec(datasets=("small",), n=3, seed=seed), small).items]

    assert ids(0) == ids(0) and len(set(ids(0))) == 3
    assert any(ids(0) != ids(s) for s in range(1, 6))


def test_items_are_prompt_one_with_the_target_after_the_colon(small):
    item = build_data(TrainSpec(datasets=("small",), n=1), small).items[0]
    assert item.prompt.startswith("### Input:\n") and item.prompt.endswith("### Sentiment:")
    assert item.target in ("positive", "negative")


def test_mixture_splits_n_by_proportions(tmp_path):
    rows = [{"input": "x", "output": "positive"}] * 10
    a = DatasetEntry("a", "sentiment", "A", train_file=write(tmp_path / "a.json", rows))
    b = DatasetEntry("b", "sentiment", "B", train_file=write(tmp_path / "b.json", rows))
    catalogue = Catalogue(data_dir=tmp_path, extra=[a, b])
    data = build_data(TrainSpec(datasets=("a", "b"), proportions=(3, 1), n=8), catalogue)
    assert [s["n_used"] for s in data.sources] == [6, 2] and all(s["sha256"] for s in data.sources)


def test_empty_dataset_and_missing_template_are_one_line(tmp_path):
    empty = tmp_path / "empty.json"
    empty.write_text("[]")
    cat = Catalogue(data_dir=tmp_path, extra=[DatasetEntry("e", "sentiment", "E", train_file=str(empty))])
    with pytest.raises(DataError, match="holds no examples"):
        build_data(TrainSpec(datasets=("e",), n=1), cat)
    with pytest.raises(DataError, match="no examples"):
        build_data(TrainSpec(datasets=("e",), n=1, allow_fewer=True), cat)
    odd = Task("odd", "generation", ("input",))  # no template of its own and none in the paper's map
    cat = Catalogue(data_dir=tmp_path, extra_tasks={"odd": odd}, extra=[
        DatasetEntry("o", "odd", "O", train_file=write(tmp_path / "o.json", [{"input": "x", "output": "y"}]))])
    with pytest.raises(ConfigError, match="task 'odd' has no template 'p1'"):
        build_data(TrainSpec(datasets=("o",), n=1), cat)
