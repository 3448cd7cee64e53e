"""Multiplicity: Holm's step-down family-wise adjustment and Benjamini–Hochberg q-values, NaN-aware.

Written by hand (a few lines each) so the report needs no statsmodels at run time; the tests check
both against statsmodels' `multipletests`. A NaN p-value (a claim that could not be measured) stays
NaN and is not counted in the family: only tests that were run can produce a false verdict.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ftscope.errors import DataError


def holm(pvalues: Sequence[float]) -> np.ndarray:
    """Holm-adjusted p-values: reject where adjusted ≤ α to keep the family-wise error rate at α."""
    p, finite = _checked(pvalues)
    found = p[finite]
    m = found.size
    order = np.argsort(found, kind="stable")
    stepped = np.maximum.accumulate((m - np.arange(m)) * found[order])  # p_(i) × (m − i + 1), kept monotone
    adjusted = np.empty(m)
    adjusted[order] = np.minimum(stepped, 1.0)
    out = np.full(p.shape, np.nan)
    out[finite] = adjusted
    return out


def benjamini_hochberg(pvalues: Sequence[float]) -> np.ndarray:
    """BH q-values: reject where q ≤ α to keep the expected false-discovery proportion at α."""
    p, finite = _checked(pvalues)
    found = p[finite]
    m = found.size
    order = np.argsort(found, kind="stable")
    ranked = found[order] * m / np.arange(1, m + 1)
    stepped = np.minimum.accumulate(ranked[::-1])[::-1]  # q_(i) = min over j ≥ i of p_(j) m / j
    adjusted = np.empty(m)
    adjusted[order] = np.minimum(stepped, 1.0)
    out = np.full(p.shape, np.nan)
    out[finite] = adjusted
    return out


def _checked(pvalues: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(pvalues, dtype=float).ravel()
    finite = ~np.isnan(p)
    if np.any((p[finite] < 0) | (p[finite] > 1)):
        raise DataError(f"p-values must lie in [0, 1] (NaN for an unmeasured test); got {p[finite].tolist()}")
    return p, finite
