"""The report's per-cell statistics on constructed data: shared item draws, seeds, per-item values.

(The bootstrap, McNemar and multiplicity themselves are tested against scipy/statsmodels in test_stats_*.)"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from ftscope.report.data import paired as stats
from ftscope.report.data import resample as boot
from ftscope.report.data.values import aligned, example_value, example_values
from ftscope.stats.draws import item_counts


def test_cell_bootstrap_reads_the_shared_count_matrix():
    counts = item_counts(40, seed=2, n_boot=300)
    assert counts.shape == (40, 300) and np.all(counts.sum(axis=0) == 40)
    values = np.arange(40, dtype=float)
    assert stats.boot_means(values, counts)[0] == pytest.approx((values @ counts) / 40)


def test_seed_aggregation_mean_and_sd():
    assert stats.seed_summary([0.5, 0.7, None]) == pytest.approx((0.6, np.std([0.5, 0.7], ddof=1), 2))
    mean, sd, k = stats.seed_summary([0.4])
    assert (mean, k) == (0.4, 1) and np.isnan(sd)
    df = pd.DataFrame({"group": ["a", "a", "b"], "seed": [0, 1, 0], "delta": [0.1, 0.3, -0.2]})
    out = stats.aggregate_seeds(df, ["group"], "delta").set_index("group")
    assert out.loc["a", "delta_mean"] == pytest.approx(0.2) and out.loc["a", "seeds"] == 2
    assert out.loc["b", "delta_mean"] == pytest.approx(-0.2) and np.isnan(out.loc["b", "delta_sd"])


def test_stars_and_estimate_sign():
    assert [stats.stars(p) for p in (0.0001, 0.005, 0.03, 0.2, float("nan"))] == ["***", "**", "*", "", ""]
    assert stats.Estimate(0.1, 0.05, 0.2, 0.01, 10).sign == 1
    assert stats.Estimate(-0.1, -0.2, -0.01, 0.01, 10).sign == -1
    assert stats.Estimate(0.01, -0.02, 0.04, 0.5, 10).sign == 0


def _write(folder, rows):
    folder.mkdir(parents=True)
    (folder / "predictions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows) + "{torn", "utf-8")
    return folder


def test_values_are_read_by_id_in_every_layout(tmp_path):
    cls = _write(tmp_path / "a", [{"id": 1, "correct": True}, {"id": 2, "correct": False}, {"id": 3, "correct": None}])
    gen = _write(tmp_path / "b", [{"id": 2, "scores": {"rougeL": 0.25}}, {"id": 1, "scores": {"rougeL": 0.5}}])
    assert example_values(cls, "accuracy") == {"1": 1.0, "2": 0.0}  # the torn last line is skipped
    assert example_value({"scores": {"f1": 0.4}}, "f1") == 0.4  # RAG and generation cells
    assert example_value({"f1": 0.3}, "f1") == 0.3  # flat layout
    ids, matrix = aligned([cls, gen], "accuracy")  # generation rows carry no `correct`: nothing shared
    assert ids == () and matrix.shape == (2, 0)
    ids, matrix = aligned([gen, gen], "rougeL")
    assert ids == ("1", "2") and matrix.tolist() == [[0.5, 0.25], [0.5, 0.25]]


def test_resampler_pairs_cells_and_falls_back_to_reported_se(tmp_path):
    a = _write(tmp_path / "a", [{"id": i, "correct": i % 3 != 0} for i in range(90)])
    b = _write(tmp_path / "b", [{"id": i, "correct": i % 2 == 0} for i in range(90)])
    res = boot.Resampler(n_boot=500)
    found = res.contrast([{"dir": a, "dataset": "x"}, {"dir": b, "dataset": "x"}], "accuracy", boot.delta)
    assert found.paired and found.n == 90
    assert found.value == pytest.approx(60 / 90 - 45 / 90)
    lost = [{"dir": tmp_path / "none", "score": 0.7, "se": 0.02, "hash": "h1", "n_examples": 100},
            {"dir": b, "score": 0.5, "se": 0.03, "hash": "h2", "n_examples": 100}]
    est = res.contrast(lost, "accuracy", boot.delta).estimate()
    assert not est.paired and est.value == pytest.approx(0.2)
    assert est.lo == pytest.approx(0.2 - 1.96 * np.hypot(0.02, 0.03), abs=0.01)
