"""TrainSpec: resolution and stable hashes, one-line errors for bad values and keys, option routing,
the YAML loader, and data selection."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ftscope.errors import ConfigError, DataError
from ftscope.tasks import Catalogue, DatasetEntry, Task
from ftscope.training import METHODS, TrainSpec, load_train_spec, resolve, spec_from_mapping, tunes
from ftscope.training.data import build_data, shares
from ftscope.training.fields import common_names
from ftscope.training.methods import full, lora, prompt_tuning


def test_hash_is_stable_and_sees_through_defaults():
    h = lambda spec: resolve(spec).hash()  # noqa: E731
    assert h(TrainSpec()) == h(TrainSpec())
    assert h(TrainSpec(method="lora")) == h(TrainSpec(method="lora", lr=lora.DEFAULT_LR))
    assert h(TrainSpec(method="lora")) == h(TrainSpec(method="lora").with_options(lora_r=8, lora_targets="all-linear"))
    assert h(TrainSpec(datasets=("a", "b"))) == h(TrainSpec(datasets=("a", "b"), proportions=(2, 2)))
    assert h(TrainSpec(seed=1)) != h(TrainSpec(seed=0))
    assert h(TrainSpec(method="lora").with_options(lora_r=16)) != h(TrainSpec(method="lora"))
    # sha256 of canonical JSON: the same in another interpreter (no PYTHONHASHSEED involved)
    code = "from ftscope.training import TrainSpec, resolve; print(resolve(TrainSpec()).hash())"
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert other == h(TrainSpec())


@pytest.mark.parametrize("method", list(METHODS))
def test_resolving_twice_changes_nothing(method):
    once = resolve(TrainSpec(method=method, datasets=("a", "b"), proportions=(1, 2)))
    assert resolve(once) == once and once.hash() == resolve(once).hash()
    # read back as the store and a remote worker read it (JSON → mapping → spec)
    assert resolve(spec_from_mapping(json.loads(json.dumps(once.to_dict())))) == once
    assert dict(once.options).keys() == METHODS[method].Options.model_fields.keys() - _dropped(once)


def _dropped(spec: TrainSpec) -> set[str]:
    """LoRA's options are left out of a resolved FTICL/ProMoT spec that tunes the whole model."""
    return set(lora.LoraOptions.model_fields) if spec.option("tune") == "full" else set()


def test_tuning_the_whole_model_ignores_nothing_and_hashes_without_lora_settings():
    fticl = TrainSpec(method="fticl")
    assert resolve(fticl).hash() == resolve(fticl.with_options(tune="full")).hash()
    with pytest.raises(ConfigError, match=r"x: lora_r: applies only with tune: lora"):
        resolve(fticl.with_options(lora_r=16), "x")
    assert resolve(fticl.with_options(tune="lora", lora_r=16)).option("lora_r") == 16


def test_learning_rate_defaults_follow_what_is_tuned():
    assert resolve(TrainSpec()).lr == full.DEFAULT_LR == 2e-5  # the paper's script, not its text's 0.002
    assert resolve(TrainSpec(method="lora")).lr == lora.DEFAULT_LR > 2e-5
    assert resolve(TrainSpec(method="prompt_tuning")).lr == prompt_tuning.DEFAULT_LR
    assert resolve(TrainSpec(method="fticl").with_options(tune="lora")).lr == lora.DEFAULT_LR
    promot = resolve(TrainSpec(method="promot"))
    assert promot.option("promot_lr") == prompt_tuning.DEFAULT_LR > promot.lr


@pytest.mark.parametrize("method,options,expected", [
    ("full", {}, "full"), ("lora", {}, "lora"), ("prompt_tuning", {}, "prompt"),
    ("fticl", {"tune": "lora"}, "lora"), ("promot", {}, "full")])
def test_tunes_says_what_changes(method, options, expected):
    assert tunes(TrainSpec(method=method).with_options(**options)) == expected


@pytest.mark.parametrize("values,words", [
    ({"method": "promt"}, "method: must be one of full, lora, prompt_tuning, fticl, promot (got 'promt')"),
    ({"lr": 0.0}, "lr: must be > 0 (got 0.0)"),
    ({"lr": -1e-3}, "lr: must be > 0"),
    ({"n": 0}, "n: must be 1 or more (got 0)"),
    ({"epochs": "two"}, "epochs: input should be a valid integer"),
    ({"datasets": []}, "datasets: give one or more values"),
    ({"proportions": [1.0]}, "proportions: give one positive weight per dataset"),
    ({"method": "fticl", "tune": "qlora"}, "tune: must be one of full, lora (got 'qlora')"),
    ({"method": "fticl", "fticl_demos": "random"}, "fticl_demos: must be one of fixed, sampled"),
    ({"method": "lora", "lora_dropout": 1}, "lora_dropout: must be < 1 (got 1)"),
    ({"method": "promot", "promot_steps": 0}, "promot_steps: must be 1 or more"),
    ({"method": "lora", "fticl_k": 2}, "fticl_k: not an option of method lora (it is fticl's)"),
    ({"method": "full", "lora_r": 4}, "lora_r: not an option of method full (it is lora's, fticl's and promot's)"),
    ({"method": "lora", "lora_rank": 4},
     "lora_rank: not a training field or an option of method lora; did you mean lora_r?"),
    ({"method": "lora", "lora_r": 4, "options": {"lora_r": 8}}, "lora_r: given twice"),
    ({"lr": 1e-3, "learning_rate": 1e-3}, "learning_rate: means the same as lr; give one of them"),
])
def test_bad_values_and_keys_are_one_line_naming_the_field(values, words):
    with pytest.raises(ConfigError) as caught:
        spec_from_mapping({"datasets": ["amazon", "paws"], **values}, "exp.yaml")
    message = str(caught.value)
    assert words in message and message.startswith("exp.yaml: ") and "\n" not in message


def test_a_spec_built_in_code_is_checked_by_resolve_with_the_same_lines():
    with pytest.raises(ConfigError, match=r"^train spec: n: must be 1 or more \(got 0\)$"):
        resolve(TrainSpec(n=0))
    with pytest.raises(ConfigError, match=r"^train spec: fticl_k: not an option of method lora \(it is fticl's\)$"):
        resolve(TrainSpec(method="lora").with_options(fticl_k=2))


@pytest.mark.parametrize("alias,field,value", [
    ("per_device_train_batch_size", "batch_size", 4), ("gradient_accumulation_steps", "grad_accum", 2),
    ("learning_rate", "lr", 5e-4), ("num_train_epochs", "epochs", 3)])
def test_trl_and_transformers_names_are_accepted_where_they_mean_the_same(alias, field, value):
    assert getattr(spec_from_mapping({alias: value}), field) == value


def test_options_may_be_flat_or_nested_and_are_kept_as_given_until_resolved():
    flat = spec_from_mapping({"method": "lora", "lora_r": 16, "lora_targets": "q_proj"})
    nested = spec_from_mapping({"method": "lora", "options": {"lora_r": 16, "lora_targets": ["q_proj"]}})
    assert flat == nested and flat.options == (("lora_r", 16), ("lora_targets", ("q_proj",)))
    assert resolve(flat).option("lora_alpha") == 16  # completed with the method's default


def test_every_common_field_is_validated():
    assert set(common_names()) == set(TrainSpec.__dataclass_fields__) - {"options"}


def test_yaml_loader_reads_fields_and_options_and_refuses_unknown_keys(tmp_path):
    good = tmp_path / "train.yaml"
    good.write_text("train:\n  method: lora\n  datasets: amazon\n  n: 50\n  lora_targets: [q_proj, v_proj]\n")
    spec = load_train_spec(good)
    assert spec.datasets == ("amazon",) and spec.option("lora_targets") == ("q_proj", "v_proj") and spec.n == 50
    bad = tmp_path / "bad.yaml"
    bad.write_text("method: lora\nlearning_rat: 0.1\n")
    with pytest.raises(ConfigError, match=r"bad.yaml: learning_rat: not a training field .*did you mean"):
        load_train_spec(bad)
    with pytest.raises(ConfigError, match=r"^x: epochs: "):
        spec_from_mapping({"epochs": "two"}, "x")
    with pytest.raises(ConfigError, match=r"^x: lr: must be > 0"):
        spec_from_mapping({"lr": -1}, "x")


def test_importing_training_does_not_import_torch():
    code = "import sys, ftscope.training; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "False"


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
