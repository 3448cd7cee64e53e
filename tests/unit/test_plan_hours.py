"""`ftscope plan --from-store` prices each needed size in hours of the whole study, at the speed the pilot store
measured: seconds per training cell and per evaluated item (loading left out), measured from a store whose cells
ran on a fake clock, then the arithmetic of study_hours by hand."""

from __future__ import annotations

import pytest

from ftscope import stats
from ftscope.experiments import store as store_module
from ftscope.experiments.config import EvalGrid, ExperimentConfig, TrainGrid
from ftscope.experiments.files import CellResult
from ftscope.experiments.grid import expand
from ftscope.experiments.planning import StudyTimes, plan_rows, study_hours, items_held
from ftscope.experiments.store import Store, worker_id
from ftscope.specs import cell_hash

TRAIN_S, LOAD_S = 30.0, 1.0  # per training cell; the part of an evaluation cell spent loading its model
ITEM_S = {"classification": 0.2, "generation": 0.5}  # per evaluated item
ITEMS = 10


@pytest.fixture
def grid(tmp_path, paper_data):
    config = ExperimentConfig(name="t", store=str(tmp_path / "store"), data_dir=str(paper_data),
                              models=["smollm2-135m"],
                              train=TrainGrid(methods=["lora"], datasets=["amazon", "socialqa"], n=[8], seeds=[0]),
                              eval=EvalGrid(datasets=["amazon", "socialqa"], shots=[0], limit=ITEMS))
    return expand(config, check_models=False)


def ran(grid, monkeypatch) -> Store:
    """Every cell of `grid` done, each taking the time the constants above say (the store's clock is faked)."""
    store, worker, clock = Store(grid.config.store), worker_id(), [1_000.0]
    monkeypatch.setattr(store_module.time, "time", lambda: clock[0])
    store.register("t", grid.cells)
    for cell in grid.cells:
        h = cell_hash(cell)
        assert store.claim(h, worker)
        if cell.kind == "train":
            clock[0] += TRAIN_S
            store.complete(h, worker)
        else:
            clock[0] += LOAD_S + ITEM_S[cell.task_kind] * ITEMS
            store.files(h).write_result(CellResult({"n": ITEMS, "accuracy": 0.5}, []))
            store.complete(h, worker, load_seconds=LOAD_S)
    return store


def test_the_pilot_speed_is_per_training_cell_and_per_item_without_loading(grid, monkeypatch):
    times = StudyTimes.measured(ran(grid, monkeypatch))
    assert times.train == {"lora": pytest.approx(TRAIN_S)}
    assert times.item == {k: pytest.approx(v) for k, v in ITEM_S.items()}
    assert times.rag == {}


def test_study_hours_scale_items_for_every_model_and_seeds_for_trained_ones(grid):
    times = StudyTimes({"lora": TRAIN_S}, dict(ITEM_S), {})
    base = [c for c in grid.eval if c.model.is_base]
    tuned = [c for c in grid.eval if not c.model.is_base]
    assert base and tuned and len(grid.train) == 2

    def evals(cells, items):
        return sum(ITEM_S[c.task_kind] * items for c in cells)

    assert study_hours(grid, times) == pytest.approx((2 * TRAIN_S + evals(base, ITEMS) + evals(tuned, ITEMS)) / 3600)
    assert study_hours(grid, times, items=300) == pytest.approx(
        (2 * TRAIN_S + evals(base, 300) + evals(tuned, 300)) / 3600)
    assert study_hours(grid, times, tuned=3) == pytest.approx(
        (3 * 2 * TRAIN_S + evals(base, ITEMS) + 3 * evals(tuned, ITEMS)) / 3600)


def test_work_the_pilot_never_did_is_not_priced(grid):
    assert study_hours(grid, StudyTimes({"lora": TRAIN_S}, {"classification": 0.2}, {})) is None  # no generation
    assert study_hours(grid, StudyTimes({"full": TRAIN_S}, dict(ITEM_S), {})) is None  # no LoRA training


def test_items_needed_never_exceed_what_the_test_sets_hold(tmp_path, paper_data):
    # A pilot where only items vary: items alone reach the power for a large effect (96 at 0.2, 368 at 0.1),
    # and a smaller one would need more items than the test sets hold, so that lever reads unreachable.
    config = ExperimentConfig(name="t", store=str(tmp_path / "store"), data_dir=str(paper_data),
                              train=TrainGrid(methods=["lora"], datasets=["amazon", "paws", "socialqa", "squad"],
                                              n=[8], seeds=[0, 1]),
                              eval=EvalGrid(datasets=["amazon", "paws", "socialqa"], shots=[0], limit=10))
    grid = expand(config, check_models=False)
    assert items_held(grid) == 500  # each of the paper's test sets holds 500 items
    pilot = {"Y(b)": stats.VarianceComponents(train=0.0, seed=0.0, item=0.45)}

    def items_needed(effect):
        return next(r.needed.items for r in plan_rows(grid, effect, pilot) if r.claim == "Y(b)")

    assert 10 < items_needed(0.2) < items_needed(0.1) <= 500
    assert items_needed(0.05) is None
