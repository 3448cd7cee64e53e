"""The experiment runner: two workers share a store without duplicated work; the Ray backend on a local
cluster; a rerun computes nothing and a changed parameter only its cells. Kills and Ctrl-C: test_crash_safety.py.
The grid and its uninterrupted reference run: tests/grid_runs.py and integration/conftest.py."""

from __future__ import annotations

import shutil

import pytest
from grid_runs import finish, ftscope_run, results, rows, write_experiment

from ftscope.experiments.config import load_experiment

pytestmark = pytest.mark.integration


def test_two_workers_share_one_store_without_duplicated_work(tmp_path, tiny_model_dir, paper_data, reference):
    path = write_experiment(tmp_path, "pair", tiny_model_dir, paper_data)
    finish(ftscope_run(path, "--workers", "2"))
    done = rows(tmp_path / "pair")
    assert all(r["status"] == "done" and r["attempts"] == 1 for r in done)
    assert len({r["worker"] for r in done}) == 2  # both workers took cells
    assert results(tmp_path / "pair") == reference


@pytest.mark.slow  # starts a Ray instance: ~15 s; the two-node cluster tests run beside it
def test_ray_backend_on_a_local_cluster(tmp_path, tiny_model_dir, paper_data, reference):
    ray = pytest.importorskip("ray")
    from ftscope.experiments.runner import run_grid

    config = load_experiment(write_experiment(tmp_path, "ray", tiny_model_dir, paper_data))
    try:
        final = run_grid(config, workers=2, backend="ray")
    finally:
        ray.shutdown()
    assert final.counts["eval"]["done"] == len(reference), (final.counts, [(r["status"], r["error"]) for r in rows(tmp_path / "ray")][:4])
    assert results(tmp_path / "ray") == reference


def test_rerun_computes_nothing_and_one_changed_parameter_recomputes_only_its_cells(tmp_path, tiny_model_dir,
                                                                                  paper_data, reference_store):
    shutil.copytree(reference_store, tmp_path / "cache")  # a finished grid, as a first run leaves it
    path = write_experiment(tmp_path, "cache", tiny_model_dir, paper_data)
    before = {r["hash"]: r["attempts"] for r in rows(tmp_path / "cache")}
    out, err = finish(ftscope_run(path))
    # where the time went, per kind of cell (the finished cells keep their original seconds)
    printed = out + err
    assert "time by cell kind" in printed and "base 0-shot" in printed and "lora" in printed, printed[-2000:]
    assert {r["hash"]: r["attempts"] for r in rows(tmp_path / "cache")} == before
    path.write_text(path.read_text().replace("shots: [0, 1]", "shots: [0, 2]"))
    finish(ftscope_run(path))
    after = {r["hash"]: r["attempts"] for r in rows(tmp_path / "cache")}
    new = set(after) - set(before)
    assert len(new) == 6 and all(after[h] == 1 for h in new)  # 3 datasets × 2 models at 2-shot
    assert all(after[h] == before[h] for h in before)  # nothing recomputed, the train cell included


def test_the_report_reads_the_weight_change_training_wrote(reference_store):
    # The report's training table and claim Y(e) read the deviation measures from the manifest a real
    # training wrote; a renamed field there once left every layer change empty and Y(e) without data.
    from ftscope.report.build import read_rows
    from ftscope.report.findings.overview import train_summary

    found, _, _ = read_rows(reference_store, None)
    table = train_summary(found)
    assert len(table) == 1 and table["status"].tolist() == ["done"]
    for column in ("weight_change", "layer_change", "embedding_share", "heldout_tuned_loss", "tokens_per_second"):
        value = table[column].iloc[0]
        assert value is not None and value == value, (column, table.iloc[0].to_dict())
    assert 0 < float(table["layer_change"].iloc[0]) < 1
