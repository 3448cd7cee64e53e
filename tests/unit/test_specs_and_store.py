"""Typed cells: one canonical hash, a lossless round trip, and the store that keeps them (claims, dead
workers, torn files, old formats)."""

from __future__ import annotations

import json
import os
import socket
import sqlite3

import pytest

from ftscope.errors import ConfigError
from ftscope.experiments.files import CellFiles, CellResult
from ftscope.experiments.store import Store
from ftscope.specs import (EvalCell, EvalSpec, ModelRef, RagCell, RagSpec, TrainCell, TrainSpec, cell_from_dict,
                           cell_hash)

TRAINED = ModelRef("smollm2-135m", "fticl", "lora", ("amazon", "paws"), ("sentiment", "detection"),
                   ("classification", "classification"), ("positive", "negative", "yes", "no"), 200, 1, "abc123")


def eval_cell(i: int = 0, model: ModelRef = TRAINED) -> EvalCell:
    return EvalCell(model, EvalSpec("sst2", shots=i, limit=50), "sentiment", "classification")


def test_every_cell_kind_round_trips_and_keeps_its_hash():
    cells = [TrainCell(TrainSpec(method="lora", datasets=("amazon",), n=200).with_options(lora_r=8)),
             eval_cell(2), RagCell(ModelRef("smollm2-135m"), RagSpec(corpus="/c.json", judge="gemma3-270m"), "c")]
    for cell in cells:
        back = cell_from_dict(json.loads(json.dumps(cell.to_dict())))
        assert back == cell and cell_hash(back) == cell_hash(cell)


def test_a_hash_is_fixed_by_content_and_moves_with_any_field():
    assert cell_hash(eval_cell(2)) == cell_hash(eval_cell(2))
    assert cell_hash(eval_cell(2)) != cell_hash(eval_cell(4))
    assert cell_hash(eval_cell(0, TRAINED.with_prompt())) != cell_hash(eval_cell(0))
    # a fixed value, so a change to the canonical form (which would orphan every store) fails here
    assert cell_hash(EvalCell(ModelRef("m"), EvalSpec("d"), "t", "classification")) == "0760b02e7138b1cb"


def test_model_ref_roles_labels_and_keys():
    assert TRAINED.role("amazon", "sentiment") == TRAINED.role("paws", "detection") == "in-domain"  # mixture
    assert TRAINED.role("sst2", "sentiment") == "out-of-domain"
    assert TRAINED.role("xsum", "summary") == "cross-task"
    assert ModelRef("b").role("sst2", "sentiment") is None
    assert TRAINED.label == "fticl(lora) amazon+paws n=200 seed=1" and TRAINED.group.endswith("n=200")
    assert TRAINED.key == TRAINED.with_prompt().key != TRAINED.with_prompt().load_key
    mixed = ModelRef("b", "lora", train_datasets=("amazon", "xsum"), train_kinds=("classification", "generation"))
    assert mixed.train_kind == "mixed" and TRAINED.train_kind == "classification"


def test_claims_are_exclusive_and_a_dead_workers_claim_is_taken_over(tmp_path):
    store, other = Store(tmp_path), Store(tmp_path)
    me = f"{socket.gethostname()}:{os.getpid()}"
    cells = [eval_cell(i) for i in range(3)]
    store.register("e", cells)
    live, dead = cell_hash(cells[0]), cell_hash(cells[1])
    assert store.claim(live, me) and not other.claim(live, "someone-else:2")
    assert store.claim(dead, f"{socket.gethostname()}:999999")  # a pid that does not exist
    assert store.status_of([dead]) == {dead: "stalled"}  # status shows it, and a new run takes it over
    assert other.claim(dead, me)
    store.complete(dead, me, load_seconds=1.5)
    assert store.status_of([dead]) == {dead: "done"} and not store.claim(dead, me)
    store.release(live, me)
    assert store.status_of([live]) == {live: "pending"}



def test_a_claim_limit_counts_live_claims_of_the_cells_kind(tmp_path):
    store = Store(tmp_path)
    me, dead = f"{socket.gethostname()}:{os.getpid()}", f"{socket.gethostname()}:999999"
    trains = [TrainCell(TrainSpec(method="lora", datasets=("amazon",), n=200, seed=s)) for s in range(3)]
    store.register("e", [*trains, eval_cell(0)])
    a, b, c = (cell_hash(t) for t in trains)
    assert store.claim(a, me, limit=1)
    assert not store.claim(b, me, limit=1)  # one training runs: the slot is taken
    assert store.claim(cell_hash(eval_cell(0)), me, limit=1)  # another kind has its own count
    assert store.status_of([b]) == {b: "pending"}  # a refused claim leaves the cell as it was
    assert store.claim(b, me, limit=2) and not store.claim(c, me, limit=2)
    store.complete(a, me)
    assert store.claim(c, me, limit=2)
    store.release(b, me), store.release(c, me)
    assert store.claim(b, dead)  # a dead worker's claim holds no slot
    assert store.claim(c, me, limit=1)


def test_register_is_idempotent_and_keeps_the_config(tmp_path):
    store = Store(tmp_path)
    cells = [eval_cell(i) for i in range(3)]
    store.register("e", cells, json.dumps({"verdicts": {"min_seeds": 3}}))
    store.register("e", cells)
    assert len(store.rows("e")) == 3 and store.config_of("e") == {"verdicts": {"min_seeds": 3}}
    assert {r["cell"] for r in store.rows("e")} == set(cells)


def test_an_edited_grid_replaces_the_experiments_members_and_keeps_the_old_cells(tmp_path):
    store = Store(tmp_path)
    before, after = [eval_cell(i) for i in range(3)], [eval_cell(i) for i in range(2, 5)]
    store.register("e", before, "{}")
    store.register("other", before[:1], "{}")
    store.register("e", after, "{}")  # the YAML was edited: cells 0 and 1 left the grid, 3 and 4 joined
    assert {r["cell"] for r in store.rows("e")} == set(after)
    assert {r["cell"] for r in store.rows("other")} == set(before[:1])  # another experiment keeps its own
    assert {r["cell"] for r in store.rows()} == set(before) | set(after)  # nothing done is lost


def test_a_done_cell_with_torn_files_goes_back_to_pending(tmp_path):
    store, me = Store(tmp_path), f"{socket.gethostname()}:{os.getpid()}"
    good, torn = eval_cell(0), eval_cell(1)
    store.register("e", [good, torn])
    for cell in (good, torn):
        store.claim(cell_hash(cell), me)
        store.files(cell_hash(cell)).write_result(CellResult({"accuracy": 1.0, "n": 1}, [{"id": "a", "correct": True}]))
        store.complete(cell_hash(cell), me)
    metrics = store.files(cell_hash(torn)).folder / "metrics.json"
    metrics.write_text(metrics.read_text()[:10])  # a crash mid-write on a filesystem without atomic rename
    assert store.reset_broken([cell_hash(good), cell_hash(torn)]) == \
        [(cell_hash(torn), f"{metrics} is missing, truncated or not a metrics object")]
    assert store.status_of([cell_hash(torn), cell_hash(good)]) == {cell_hash(torn): "pending", cell_hash(good): "done"}
    assert not metrics.exists()


def test_cell_files_name_what_is_wrong(tmp_path):
    files = CellFiles(tmp_path)
    files.write_result(CellResult({"accuracy": 0.5, "n": 3}, [{"id": "a"}, {"id": "b"}]))
    assert "holds 2 items, metrics.json says 3" in files.problem("eval")
    assert "manifest.json is missing" in files.problem("train")


def test_a_store_of_the_old_format_is_refused_in_one_line(tmp_path):
    db = sqlite3.connect(tmp_path / "index.sqlite")
    db.execute("CREATE TABLE cells (hash TEXT PRIMARY KEY)")
    db.commit()
    db.close()
    with pytest.raises(ConfigError, match="written by an older ftscope .*rerun"):
        Store(tmp_path)


def test_an_unwritable_store_is_one_line(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ConfigError, match="not writable"):
        Store(blocker / "store")


def test_a_worker_that_may_not_train_evaluates_meanwhile(tmp_path):
    from ftscope.experiments.worker import _next_cell

    store, me = Store(tmp_path), f"{socket.gethostname()}:{os.getpid()}"
    trains = [TrainCell(TrainSpec(method="lora", datasets=("amazon",), n=200, seed=s)) for s in range(2)]
    base_eval = eval_cell(0, ModelRef("smollm2-135m"))
    cells = [(cell_hash(c), c) for c in [*trains, base_eval]]
    store.register("e", [c for _, c in cells])
    first, _ = _next_cell(store, cells, None, me, train_at_once=1)
    assert first[1] == trains[0]  # training goes first
    second, _ = _next_cell(store, cells, None, me, train_at_once=1)
    assert second[1] == base_eval  # the slot is taken: evaluate instead of training beside it
    third, waiting = _next_cell(store, cells, None, me, train_at_once=1)
    assert third is None and waiting  # only the second training is left, and it waits for the slot
    fourth, _ = _next_cell(store, cells, None, me)  # no cap: one training per worker
    assert fourth[1] == trains[1]
