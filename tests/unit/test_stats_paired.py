"""One pair of cells: McNemar (vs statsmodels), the analytic SE (vs lm-evaluation-harness) and a paired
bootstrap (vs scipy.stats.bootstrap)."""

from __future__ import annotations

import inspect
import math

import numpy as np
import pytest
from scipy import stats as sps

from ftscope.errors import DataError
from ftscope.stats import mcnemar, mean_se, paired_bootstrap

tables = pytest.importorskip("statsmodels.stats.contingency_tables")


def _correct(only_a: int, only_b: int, both: int, neither: int) -> tuple[np.ndarray, np.ndarray]:
    a = np.array([1] * only_a + [0] * only_b + [1] * both + [0] * neither, dtype=bool)
    b = np.array([0] * only_a + [1] * only_b + [1] * both + [0] * neither, dtype=bool)
    return a, b


def test_mcnemar_exact_by_hand():
    # 12 discordant pairs (< 25): two-sided binomial, 2·P(X ≤ 2 | 12, ½) = 2·(1 + 12 + 66) / 4096
    found = mcnemar(*_correct(10, 2, 20, 8))
    assert (found.only_a, found.only_b, found.method, found.statistic) == (10, 2, "exact", 2.0)
    assert found.p == pytest.approx(158 / 4096, rel=1e-12)


def test_mcnemar_chi2_by_hand_above_25_discordant_pairs():
    found = mcnemar(*_correct(30, 12, 40, 18))
    assert found.method == "chi2" and found.statistic == pytest.approx(17**2 / 42, rel=1e-12)
    assert found.p == pytest.approx(sps.chi2.sf(17**2 / 42, 1), rel=1e-12)


@pytest.mark.parametrize("counts", [(10, 2, 20, 8), (3, 3, 5, 5), (0, 0, 9, 1), (30, 12, 40, 18), (13, 12, 0, 4),
                                    (40, 41, 2, 2)])
def test_mcnemar_matches_statsmodels(counts):
    only_a, only_b, both, neither = counts
    exact = only_a + only_b < 25
    reference = tables.mcnemar([[both, only_a], [only_b, neither]], exact=exact, correction=True)
    found = mcnemar(*_correct(*counts))
    assert found.p == pytest.approx(reference.pvalue, rel=1e-9, abs=1e-15)
    assert found.statistic == pytest.approx(reference.statistic, rel=1e-12)


def test_mean_se_by_hand_and_as_lm_evaluation_harness():
    assert mean_se([1.0, 2.0, 3.0, 4.0]) == pytest.approx(math.sqrt((5 / 3) / 4), rel=1e-15)
    assert math.isnan(mean_se([1.0]))
    harness = pytest.importorskip("lm_eval.api.metrics")
    values = np.random.default_rng(0).random(257).tolist()
    # lm-eval sums in Python order, numpy pairwise: they agree to rounding (~1e-16), far inside 1e-12.
    assert mean_se(values) == pytest.approx(harness.mean_stderr(values), rel=1e-12)
    accuracy = [1.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0]
    assert mean_se(accuracy) == pytest.approx(harness.mean_stderr(accuracy), rel=1e-12)


def _scipy_rng(generator: np.random.Generator) -> dict:
    """scipy names the generator `rng` from 1.15 and `random_state` before (our lower bound is 1.11)."""
    return {"rng" if "rng" in inspect.signature(sps.bootstrap).parameters else "random_state": generator}


def test_paired_bootstrap_matches_scipy_percentile_bootstrap():
    rng = np.random.default_rng(7)
    difficulty = rng.random(200)
    a = difficulty + 0.03 + rng.normal(0, 0.05, 200)  # strongly paired: the pairing must be kept
    b = difficulty + rng.normal(0, 0.05, 200)
    found = paired_bootstrap(a, b, n_boot=10_000, seed=1)
    reference = sps.bootstrap((a, b), lambda x, y, axis=-1: x.mean(axis=axis) - y.mean(axis=axis), paired=True,
                              method="percentile", n_resamples=10_000, **_scipy_rng(np.random.default_rng(2)))
    # Each 2.5%/97.5% endpoint from 10 000 replicates has Monte-Carlo s.d. ≈ 0.027·SE; two independent
    # runs differ by ≈ 0.038·SE (s.d.): 0.15·SE is ~4 s.d.
    tolerance = 0.15 * reference.standard_error
    assert found.lo == pytest.approx(reference.confidence_interval.low, abs=tolerance)
    assert found.hi == pytest.approx(reference.confidence_interval.high, abs=tolerance)
    assert found.se == pytest.approx(reference.standard_error, rel=0.05)  # SD of 10 000 reps: ~0.7% each
    assert found.value == pytest.approx(a.mean() - b.mean(), abs=1e-12) and found.p < 0.01
    unpaired_se = math.sqrt(a.var(ddof=1) / 200 + b.var(ddof=1) / 200)
    assert found.se < unpaired_se / 3  # had the pairing been lost, the SE would be the unpaired one


def test_paired_values_must_line_up():
    with pytest.raises(DataError, match="same"):
        paired_bootstrap([0.1, 0.2], [0.1])
    with pytest.raises(DataError, match="same"):
        mcnemar([], [])
