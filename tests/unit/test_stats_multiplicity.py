"""Holm, Benjamini–Hochberg, TOST and non-superiority: hand-computed cases and statsmodels as the golden reference."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from ftscope.errors import ConfigError, DataError
from ftscope.stats import Inference, benjamini_hochberg, holm, non_superiority, tost

multitest = pytest.importorskip("statsmodels.stats.multitest")

P = [0.01, 0.04, 0.03, 0.005]
EXACT = 1e-12  # the same few multiplications as statsmodels; only float rounding may differ


def test_holm_by_hand():
    # sorted 0.005·4, 0.01·3, 0.03·2, 0.04·1 → 0.02, 0.03, 0.06, 0.04 → monotone: 0.02, 0.03, 0.06, 0.06
    np.testing.assert_allclose(holm(P), [0.03, 0.06, 0.06, 0.02], atol=EXACT)


def test_benjamini_hochberg_by_hand():
    # sorted p·m/rank: 0.02, 0.02, 0.04, 0.04 (already monotone from the top)
    np.testing.assert_allclose(benjamini_hochberg(P), [0.02, 0.04, 0.04, 0.02], atol=EXACT)


def test_nans_stay_nan_and_do_not_count_in_the_family():
    np.testing.assert_allclose(holm([0.01, np.nan, 0.04]), [0.02, np.nan, 0.04], atol=EXACT)
    np.testing.assert_allclose(benjamini_hochberg([0.01, np.nan, 0.04]), [0.02, np.nan, 0.04], atol=EXACT)
    assert holm([]).size == 0 and np.isnan(holm([np.nan])).all()


@pytest.mark.parametrize("seed", range(5))
def test_adjustments_match_statsmodels(seed):
    rng = np.random.default_rng(seed)
    p = np.concatenate([rng.uniform(0, 0.1, 6), rng.uniform(0, 1, 6), [0.02, 0.02, 1.0]])  # ties and a 1
    rng.shuffle(p)
    np.testing.assert_allclose(holm(p), multitest.multipletests(p, method="holm")[1], atol=EXACT)
    np.testing.assert_allclose(benjamini_hochberg(p), multitest.multipletests(p, method="fdr_bh")[1], atol=EXACT)


def test_p_values_outside_0_1_are_refused():
    with pytest.raises(DataError, match=r"\[0, 1\]"):
        holm([0.2, 1.5])


def test_tost_by_hand_on_a_normal_reference():
    # value 0.01, se 0.02: the one-sided p-values are Φ(−3) and Φ(−2); the 90% CI is 0.01 ± 1.645·0.02.
    found = tost((0.01, 0.02, math.inf), margin=0.05)
    assert found.holds and found.p == pytest.approx(sps.norm.cdf(-2.0), rel=1e-12)
    assert (found.lo, found.hi) == pytest.approx((0.01 - 1.6448536 * 0.02, 0.01 + 1.6448536 * 0.02), abs=1e-8)
    narrow = tost((0.01, 0.02, math.inf), margin=0.04)  # 0.0429 > 0.04: the CI pokes out, p = Φ(−1.5)
    assert not narrow.holds and narrow.p == pytest.approx(sps.norm.cdf(-1.5), rel=1e-12)


def test_tost_decision_is_the_ci_inside_the_margin_and_uses_the_t_df():
    inference = Inference(-0.01, 0.02, -0.05, 0.03, 0.6, 6.0, 0.95, "t", ("item",))
    found = tost(inference, margin=0.06)
    q = sps.t.ppf(0.95, 6.0)
    assert found.lo == pytest.approx(-0.01 - q * 0.02, abs=1e-12)
    assert found.holds == (found.lo > -0.06 and found.hi < 0.06) == (found.p < 0.05)


def test_non_superiority_is_one_sided():
    found = non_superiority((0.01, 0.02, math.inf), margin=0.05)
    assert found.holds and found.p == pytest.approx(sps.norm.cdf(-2.0), rel=1e-12)
    assert found.lo == -math.inf and found.hi == pytest.approx(0.01 + 1.6448536 * 0.02, abs=1e-8)
    assert not non_superiority((0.04, 0.02, math.inf), margin=0.05).holds
    # A large *negative* effect is not superior, though it is not equivalent either.
    assert non_superiority((-0.2, 0.02, math.inf), 0.05).holds and not tost((-0.2, 0.02, math.inf), 0.05).holds


def test_equivalence_needs_a_positive_margin():
    with pytest.raises(ConfigError, match="margin"):
        tost((0.0, 0.1, 5.0), margin=0.0)
