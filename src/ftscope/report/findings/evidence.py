"""What a checked claim carries, and the rules that turn its tests into a verdict.

A claim has one or more *primary tests* (its hypotheses, each with the inference behind it) and
*evidence* (secondary and descriptive numbers). A verdict is a statistical decision at the family-wise
level α, Holm-adjusted across every primary test of the report:

- direction: the effect differs from 0 in the expected direction (two-sided test);
- below / above: the effect lies below (above) a stated threshold (one-sided test);
- non-superiority: the effect is below +margin ("gains little", "does not help");
- equivalence: the effect lies within ±margin (TOST: both one-sided tests reject).

A claim is *supported* when all its primary tests are, *contradicted* when one of them is decided the
other way, and *cannot tell* otherwise — always when its design is inadequate (ftscope.specs.VerdictRules),
with the reason and the smallest addition that would fix it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from scipy import stats as sps

SUPPORTED, CONTRADICTED, UNKNOWN = "supported", "contradicted", "cannot tell"
Kind = Literal["direction", "below", "above", "non-superiority", "equivalence"]


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its standard error, t degrees of freedom and two-sided CI at `level`."""

    value: float
    se: float
    df: float
    lo: float
    hi: float
    level: float = 0.95
    n: int = 0  # paired items (for cell-level comparisons) or units (for claims)
    method: str = ""

    @property
    def finite(self) -> bool:
        # df may be infinite (a normal reference); the value and SE must be numbers
        return math.isfinite(self.value) and math.isfinite(self.se) and self.se >= 0 and not math.isnan(self.df)

    def p_above(self, threshold: float) -> float:
        """One-sided p of H0: effect ≤ threshold (small when the effect is clearly above it)."""
        if not self.finite:
            return math.nan
        if self.se == 0:  # no variation at any level (e.g. every generation is a label): the value decides
            return 0.0 if self.value > threshold else 1.0
        return float(sps.t.sf((self.value - threshold) / self.se, self.df))

    def p_below(self, threshold: float) -> float:
        """One-sided p of H0: effect ≥ threshold (small when the effect is clearly below it)."""
        if not self.finite:
            return math.nan
        if self.se == 0:
            return 0.0 if self.value < threshold else 1.0
        return float(sps.t.cdf((self.value - threshold) / self.se, self.df))

    @property
    def p(self) -> float:
        """Two-sided p of H0: effect = 0."""
        return min(1.0, 2 * min(self.p_above(0.0), self.p_below(0.0))) if self.finite else math.nan


@dataclass(frozen=True)
class Hypothesis:
    """One primary test: `name` says the hypothesis in words, `kind` and `threshold` how it is tested."""

    name: str
    kind: Kind
    estimate: Estimate | None
    expected: int = +1  # direction tests: the sign the claim expects
    threshold: float = 0.0  # below/above: the threshold; non-superiority/equivalence: the margin
    unit: str = "points"
    p_holm: float = math.nan  # filled when the report adjusts the family

    @property
    def p(self) -> float:
        """The raw p-value of the claim's hypothesis (what Holm adjusts)."""
        e = self.estimate
        if e is None or not e.finite:
            return math.nan
        return {"direction": lambda: e.p_above(0.0) if self.expected > 0 else e.p_below(0.0),
                "below": lambda: e.p_below(self.threshold), "above": lambda: e.p_above(self.threshold),
                "non-superiority": lambda: e.p_below(self.threshold),
                "equivalence": lambda: max(e.p_above(-self.threshold), e.p_below(self.threshold))}[self.kind]()

    def p_against(self) -> float:
        """The p-value of the opposite decision (the claim decided the other way)."""
        e = self.estimate
        if e is None or not e.finite:
            return math.nan
        return {"direction": lambda: e.p_below(0.0) if self.expected > 0 else e.p_above(0.0),
                "below": lambda: e.p_above(self.threshold), "above": lambda: e.p_below(self.threshold),
                "non-superiority": lambda: e.p_above(self.threshold),
                "equivalence": lambda: min(e.p_above(self.threshold), e.p_below(-self.threshold))}[self.kind]()

    def decide(self, alpha: float, scale: float) -> str:
        """Supported / contradicted / cannot tell at level alpha, with p-values scaled by Holm's factor."""
        if math.isnan(self.p):
            return UNKNOWN
        if min(1.0, self.p * scale) < alpha:
            return SUPPORTED
        return CONTRADICTED if min(1.0, self.p_against() * scale) < alpha else UNKNOWN


@dataclass(frozen=True)
class Evidence:
    """A secondary or descriptive number behind a claim."""

    name: str
    estimate: Estimate | None
    cells: int  # comparisons (cell pairs, units) behind it
    unit: str = "points"  # points: score differences ×100; ratio: unitless; relative; grade (1–5)


@dataclass
class Claim:
    key: str
    statement: str
    source: str
    measure: str
    verdict: str = UNKNOWN
    tests: list[Hypothesis] = field(default_factory=list)
    evidence: list[Evidence] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)  # why cannot tell, each with its fix
    missing: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    scope: str = ""
    mde: float | None = None  # smallest effect the design detects with the stated power, in the test's unit
    adequate: bool = False
    design: Any = None  # the ftscope.stats Design behind the first primary test (for planning from a pilot)


def holm_scales(claims: list[Claim]) -> dict[int, float]:
    """Holm's step-down factor for each primary test of an adequate claim (by id), over the whole family."""
    tests = [t for c in claims if c.adequate for t in c.tests if not math.isnan(t.p)]
    order = sorted(tests, key=lambda t: t.p)
    scales, running = {}, 0.0
    for rank, t in enumerate(order):  # adjusted p_(i) = max_{j ≤ i} (m − j + 1) p_(j)
        running = max(running, (len(order) - rank) * t.p)
        scales[id(t)] = running / t.p if t.p > 0 else float(len(order) - rank)
    return scales


def decide(claims: list[Claim], alpha: float) -> list[Claim]:
    """Holm across every adequate claim's primary tests, then each claim's verdict."""
    scales = holm_scales(claims)
    for c in claims:
        decisions = [t.decide(alpha, scales.get(id(t), math.inf)) for t in c.tests]
        c.tests = [replace(t, p_holm=min(1.0, t.p * scales[id(t)])) if id(t) in scales else t for t in c.tests]
        if not c.adequate or not c.tests:
            c.verdict = UNKNOWN
            continue
        c.verdict = CONTRADICTED if CONTRADICTED in decisions else SUPPORTED if all(
            d == SUPPORTED for d in decisions) else UNKNOWN
        if c.verdict == UNKNOWN and not c.reasons:
            c.reasons.append(f"the tests do not reach α = {alpha} after Holm's correction; the design detects "
                             "effects of about the minimum detectable effect shown")
    return claims
