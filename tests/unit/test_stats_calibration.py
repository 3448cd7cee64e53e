"""Calibration of `infer` by simulation: false verdicts under no effect, Holm's family-wise rate, and
observed power against `power()`'s prediction.

Designs are drawn from the variance-components model (ftscope.stats.simulate, documented there):
2 groups × 2 training sets × 2 seeds × 100 items per cell — the smallest design that replicates every
level, where a naive cluster bootstrap fails worst. 200 designs per case, 400 bootstrap replicates
each; everything is seeded, so the rates below are the same on every machine.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from ftscope.stats import DesignShape, VarianceComponents, hierarchical_bootstrap, holm, infer, mde, power
from ftscope.stats.draws import seed_of
from ftscope.stats.simulate import binary_components, simulate

ALPHA = 0.05
DESIGNS = 200
N_BOOT = 400
TWO_GROUPS = DesignShape(2, 2, 2, 100)
ONE_GROUP = DesignShape(1, 2, 2, 100)
REGIMES = {  # (components, binary 0/1 items)
    "item-dominated": (VarianceComponents(0.0, 0.005, 0.45, 0.3), False),
    "seed-dominated": (VarianceComponents(0.0, 0.08, 0.3, 0.1), False),
    "train-dominated": (VarianceComponents(0.08, 0.01, 0.3, 0.1), False),
    "mixed": (VarianceComponents(0.03, 0.03, 0.3, 0.15), False),
    "binary accuracy, mixed": (binary_components(0.03, 0.03), True),
}


def _slack(trials: int, rate: float = ALPHA) -> float:
    """The largest observed rate that a true rate of `rate` exceeds in fewer than 1% of runs (binomial)."""
    return float(sps.binom.ppf(0.99, trials, rate)) / trials


def _pvalues(shape: DesignShape, regime: str, effect: float) -> np.ndarray:
    components, binary = REGIMES[regime]
    rng = np.random.default_rng(seed_of("calibration", shape, regime, effect))
    return np.array([infer(hierarchical_bootstrap(simulate(shape, components, effect, rng, binary, f"d{r}"),
                                                  N_BOOT, r)).p for r in range(DESIGNS)])


@pytest.fixture(scope="module")
def null_pvalues() -> dict[str, np.ndarray]:
    return {regime: _pvalues(TWO_GROUPS, regime, 0.0) for regime in REGIMES}


@pytest.mark.parametrize("regime", list(REGIMES))
def test_no_effect_gives_at_most_alpha_false_verdicts(null_pvalues, regime):
    rate = float(np.mean(null_pvalues[regime] < ALPHA))
    assert rate <= _slack(DESIGNS), f"{regime}: {rate:.3f} false verdicts at α = {ALPHA}"


def test_one_group_with_dominant_training_sets_stays_at_alpha():
    # A training-set variance estimated from one spread (1 df) is sometimes tiny by chance; a method that
    # then trusts items and seeds (Satterthwaite over the estimated components) rejects ~17% here.
    rate = float(np.mean(_pvalues(ONE_GROUP, "train-dominated", 0.0) < ALPHA))
    assert rate <= _slack(DESIGNS), f"{rate:.3f} false verdicts"


def test_holm_keeps_the_family_wise_false_verdict_rate(null_pvalues):
    # Families of 6 claims, each from its own independent design (regimes mixed across a family).
    pooled = np.concatenate(list(null_pvalues.values()))
    families = pooled[: pooled.size // 6 * 6].reshape(-1, 6)
    family_wise = float(np.mean([np.any(holm(f) < ALPHA) for f in families]))
    assert family_wise <= _slack(len(families)), f"{family_wise:.3f} of {len(families)} families"
    unadjusted = float(np.mean(np.any(families < ALPHA, axis=1)))
    assert family_wise <= unadjusted  # Holm can only remove rejections


@pytest.mark.parametrize("shape", [TWO_GROUPS, ONE_GROUP], ids=["two groups", "one group"])
@pytest.mark.parametrize("regime", ["item-dominated", "mixed"])
def test_observed_power_matches_the_prediction(shape, regime):
    components, _ = REGIMES[regime]
    effect = mde(shape, components, ALPHA, power=0.7)
    predicted = power(effect, shape, components, ALPHA)
    observed = float(np.mean(_pvalues(shape, regime, effect) < ALPHA))
    # 200 designs: the observed rate has s.d. ≈ 3.2 points at 70%; ±10 points is ~3 s.d.
    assert abs(observed - predicted) <= 0.10, f"observed {observed:.3f}, predicted {predicted:.3f}"
