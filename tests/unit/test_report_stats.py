"""The report's statistics on constructed data: bootstrap CIs, McNemar, seeds, per-example values."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from ftscope.report import boot, stats
from ftscope.report.values import aligned, example_value, example_values


def _paired_population(rng: np.random.Generator, n: int, true_delta: float) -> tuple[np.ndarray, np.ndarray]:
    """Two correlated per-example scores whose population means differ by exactly `true_delta`."""
    difficulty = rng.normal(0.5, 0.2, n)
    b = difficulty + rng.normal(0, 0.05, n)
    a = difficulty + true_delta + rng.normal(0, 0.05, n)
    return a, b


def test_bootstrap_ci_covers_the_true_delta_in_a_constructed_case():
    a, b = _paired_population(np.random.default_rng(7), 300, 0.03)
    est = stats.paired_bootstrap(a, b, seed=1)
    assert est.lo < 0.03 < est.hi
    assert est.lo > 0  # pairing removes the shared difficulty, so a 3-point gain is clearly seen
    assert est.value == pytest.approx(a.mean() - b.mean())
    assert est.p < 0.01 and est.n == 300


def test_bootstrap_ci_has_near_nominal_coverage():
    rng, hits = np.random.default_rng(0), 0
    for trial in range(150):
        a, b = _paired_population(rng, 120, 0.02)
        est = stats.paired_bootstrap(a, b, n_boot=800, seed=trial)
        hits += est.lo <= 0.02 <= est.hi
    assert 0.88 <= hits / 150 <= 0.99


def test_paired_bootstrap_is_seeded_and_needs_matching_examples():
    a, b = _paired_population(np.random.default_rng(3), 50, 0.0)
    assert stats.paired_bootstrap(a, b, seed=5) == stats.paired_bootstrap(a, b, seed=5)
    with pytest.raises(ValueError):
        stats.paired_bootstrap(a, b[:-1])
    assert np.isnan(stats.paired_bootstrap([], []).value)


def test_count_matrix_resamples_every_example_set_in_full():
    counts = stats.resample_counts(40, seed=2, n_boot=300)
    assert counts.shape == (40, 300)
    assert np.all(counts.sum(axis=0) == 40)
    values = np.arange(40, dtype=float)
    means = stats.boot_means(values, counts)[0]
    assert means == pytest.approx((values @ counts) / 40)


def test_mcnemar_exact_on_a_known_table():
    # 10 examples only A gets right, 2 only B, 20 both, 8 neither: two-sided binomial p = 2 * 79 / 4096
    a = np.array([1] * 10 + [0] * 2 + [1] * 20 + [0] * 8, dtype=bool)
    b = np.array([0] * 10 + [1] * 2 + [1] * 20 + [0] * 8, dtype=bool)
    result = stats.mcnemar(a, b)
    assert (result.only_a, result.only_b, result.method) == (10, 2, "exact")
    assert result.p == pytest.approx(2 * 79 / 4096)


def test_mcnemar_chi_square_with_continuity_correction():
    a = np.array([1] * 30 + [0] * 15, dtype=bool)
    result = stats.mcnemar(a, ~a)
    assert result.method == "chi2"
    assert result.statistic == pytest.approx(14**2 / 45)
    assert result.p == pytest.approx(0.03689, abs=1e-4)
    assert stats.mcnemar(a, a).p == 1.0  # no discordant pairs: no evidence of a difference


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
    assert example_value({"metrics": {"f1": 0.4}}, "f1") == 0.4  # RAG pipeline layout
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
