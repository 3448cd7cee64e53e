"""Experiment YAML errors name file:line and the key; the store's claims are exclusive and crash-safe."""

from __future__ import annotations

import pytest

from ftscope.errors import ConfigError
from ftscope.experiments.config import load_experiment
from ftscope.experiments.grid import expand
from ftscope.specs import cell_hash

GOOD = """\
name: t
store: {store}
train:
  methods: [lora, fticl]
  datasets: [amazon]
  n: [50]
  method_params: {{fticl: {{fticl_k: 2}}}}
eval:
  datasets: [sentiment, socialqa]
  shots: [0, 2]
"""


def write(tmp_path, text):
    path = tmp_path / "exp.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("edit, message", [
    (("  n: [50]", "  n: [50]\n  epochz: 2"), "exp.yaml:7: train.epochz: unknown key"),
    (("  shots: [0, 2]", "  shots: [0, two]"), "exp.yaml:10: eval.shots.1"),
    (("[lora, fticl]", "[lora, fticll]"), "exp.yaml:4: train.methods.1: 'fticll' is not one of"),
    (("[sentiment, socialqa]", "[sentiment, socialqb]"), "exp.yaml:9: eval.datasets.1: 'socialqb'"),
    (("{fticl_k: 2}", "{fticl_k: 0}"), "fticl_k: must be 1 or more"),
    (("name: t", "name: [t"), "exp.yaml:1: not valid YAML"),  # the line of the unclosed [
    (("  shots: [0, 2]", "  shots: [0, 2]\n  role_shots: {cross-tusk: [0]}"), "exp.yaml:11: eval.role_shots.cross-tusk"),
    (("  shots: [0, 2]", "  shots: [0, 2]\n  role_shots: {cross-task: []}"), "eval.role_shots: Value error, each role"),
    (("name: t", "name: t\ndecode_kv_mb: 0"), "exp.yaml:2: decode_kv_mb: Input should be greater than or equal to 16"),
])
def test_bad_yaml_gets_file_line_and_key(tmp_path, edit, message):
    text = GOOD.format(store=tmp_path / "s").replace(*edit)
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace(".", r"\.")):
        expand(load_experiment(write(tmp_path, text)))


def test_grid_shape_and_stable_hashes(tmp_path, paper_data):
    config = load_experiment(write(tmp_path, GOOD.format(store=tmp_path / "s")), [f"data_dir={paper_data}"])
    grid = expand(config)
    assert len(grid.train) == 2
    # 3 models (base, lora, fticl) × 4 datasets (3 sentiment + socialqa) × 2 shot counts
    assert len(grid.eval) == 3 * 4 * 2
    assert [cell_hash(c) for c in expand(config).cells] == [cell_hash(c) for c in grid.cells]
    roles = {c.spec.dataset: c.role for c in grid.eval if c.needs == cell_hash(grid.train[0])}
    assert roles == {"amazon": "in-domain", "amazonfood": "out-of-domain", "sst2": "out-of-domain",
                     "socialqa": "cross-task"}


def test_role_shots_drop_k_shot_cross_task_cells_and_keep_every_base_partner(tmp_path, paper_data):
    text = GOOD.format(store=tmp_path / "s").replace("  shots: [0, 2]", "  shots: [0, 2]\n  role_shots: {cross-task: [0]}")
    grid = expand(load_experiment(write(tmp_path, text), [f"data_dir={paper_data}"]))
    tuned = [c for c in grid.eval if c.role is not None]
    assert {(c.spec.dataset, c.spec.shots) for c in tuned if c.role == "cross-task"} == {("socialqa", 0)}
    assert {c.spec.shots for c in tuned if c.role != "cross-task"} == {0, 2}
    base = {(c.spec.dataset, c.spec.shots) for c in grid.eval if c.role is None}
    assert {(c.spec.dataset, c.spec.shots) for c in tuned} <= base
    assert len(grid.eval) == 8 + 2 * (3 * 2 + 1)  # the base: 4 × 2; each tuned model: 3 sentiment × 2 + socialqa 0-shot


def test_override_changes_only_dependent_hashes(tmp_path, paper_data):
    path = write(tmp_path, GOOD.format(store=tmp_path / "s"))
    a = expand(load_experiment(path, [f"data_dir={paper_data}"]))
    b = expand(load_experiment(path, [f"data_dir={paper_data}", "train.method_params.fticl.fticl_k=3"]))
    changed = {cell_hash(c) for c in b.cells} - {cell_hash(c) for c in a.cells}
    assert len(changed) == 1 + 4 * 2  # the fticl train cell and its evaluations


def test_lm_eval_cells_rerun_when_their_task_definition_changes(tmp_path, paper_data):
    """A benchmark cell's hash follows its include folder's content (an edited YAML must not reuse the stored
    score, nor pair a stale base with a fresh tuned model); ftscope's own cells keep the hash they always had."""
    import shutil
    from pathlib import Path

    from ftscope.experiments.grid import lm_eval_cells
    from ftscope.specs import ModelRef

    include = tmp_path / "tasks"
    shutil.copytree(Path(__file__).parents[1] / "fixtures" / "lm_eval", include)
    text = GOOD.format(store=tmp_path / "s") + f"  lm_eval_tasks: [arc_like]\n  lm_eval_include: {include}\n"
    config = load_experiment(write(tmp_path, text), [f"data_dir={paper_data}"])
    base = ModelRef("smollm2-135m")
    first = [cell_hash(c) for c in lm_eval_cells(config, base)]
    assert len(first) == 2 and "include folder sha256" in lm_eval_cells(config, base)[0].spec.task_source
    assert [cell_hash(c) for c in lm_eval_cells(config, base)] == first  # stable while nothing changes
    (include / "__pycache__").mkdir(exist_ok=True)
    (include / "__pycache__" / "x.pyc").write_bytes(b"compiled")  # Python's own byproduct changes nothing
    assert [cell_hash(c) for c in lm_eval_cells(config, base)] == first
    yaml_file = include / "arc_like.yaml"
    yaml_file.write_text(yaml_file.read_text() + "\n# edited\n")
    assert not set(first) & {cell_hash(c) for c in lm_eval_cells(config, base)}
    ordinary = expand(config).eval[0]
    assert "task_source" not in ordinary.spec.to_dict()  # absent, not null: the hash of every store's cells
