"""What a checked claim carries: a verdict, the numbers and CIs behind it, and the cells it still lacks.

The verdict is mechanical on purpose: a claim is supported or contradicted only when the 95% CI of
its measure lies wholly on one side of 0; a CI that straddles 0, or no cells to measure, is
"cannot tell", and the report then says which cells would settle it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from ftscope.report import boot, compare as C
from ftscope.report.stats import Estimate

SUPPORTED, CONTRADICTED, UNKNOWN = "supported", "contradicted", "cannot tell"


@dataclass(frozen=True)
class Evidence:
    name: str
    estimate: Estimate | None
    cells: int  # comparisons (cell pairs, quads) averaged into the estimate
    unit: str = "points"  # points: score differences ×100; ratio: relative to the base


@dataclass
class Claim:
    key: str
    statement: str
    source: str
    measure: str
    verdict: str = UNKNOWN
    evidence: list[Evidence] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def direction(est: Estimate | None, expected: int) -> str:
    """supported when the CI lies wholly on the expected side of 0, contradicted on the other side."""
    if est is None or est.sign == 0:
        return UNKNOWN
    return SUPPORTED if est.sign == expected else CONTRADICTED


def pooled(res: boot.Resampler, rows: pd.DataFrame, fn: boot.Fn,
           suffixes: tuple[str, ...] = ("_b",)) -> boot.Contrast | None:
    """The mean of fn over every complete row (cells: the row itself, then each suffix's partner)."""
    parts = [res.contrast([C.side(row), *[C.side(row, s) for s in suffixes]], row["metric"], fn)
             for row in rows.to_dict("records")]
    return boot.combine(parts)


def evidence(name: str, found: boot.Contrast | None, cells: int, unit: str = "points") -> Evidence:
    return Evidence(name, found.estimate() if found is not None else None, cells, unit)


def difference(a: boot.Contrast | None, b: boot.Contrast | None) -> boot.Contrast | None:
    """a − b for contrasts on disjoint test sets (independent replicates)."""
    if a is None or b is None:
        return None
    return boot.Contrast(a.value - b.value, a.reps - b.reps, a.n + b.n, a.paired and b.paired)


def gather(claim: Claim, pairs: pd.DataFrame, what: str, partners: dict[str, str] | None = None) -> pd.DataFrame:
    """The complete rows of `pairs`; the incomplete ones, or none at all, go to the claim's missing list."""
    if pairs.empty:
        claim.missing.append(f"{what}: none in this experiment")
        return pairs
    suffixes = tuple((partners or {"_b": ""}).keys())
    claim.missing.extend(m for m in sorted(C.missing(pairs, partners)) if m not in claim.missing)
    done = C.complete(pairs, suffixes)
    if done.empty:
        claim.notes.append(f"None of the {len(pairs)} comparisons ({what}) has all its cells done yet.")
    return done
