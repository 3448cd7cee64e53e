"""Numbers as a reader wants them: scores and deltas in points (×100), CIs in brackets, stars for p.

The CSV/JSON tables keep raw 0–1 values; only the pages format.
"""

from __future__ import annotations

import math

import pandas as pd

from ftscope.report.stats import Estimate, stars

LEGEND = ("Scores are accuracy (classification) or ROUGE-L F1 (generation) in points (×100). Δ = tuned − base "
          "(or method − method) on the same examples; brackets hold the paired-bootstrap 95% CI (the test examples "
          "resampled 2000 times, the same draws for every model). `*` p < 0.05, `**` p < 0.01, `***` p < 0.001: "
          "McNemar's test (exact below 25 discordant pairs, else χ²) for accuracy, the bootstrap for the rest; "
          "† unpaired: a cell lacks predictions.jsonl, so the CI is a normal approximation from reported SEs.")


def _ok(x) -> bool:
    return x is not None and not (isinstance(x, float) and math.isnan(x)) and not pd.isna(x)


def pts(x, signed: bool = False) -> str:
    return "" if not _ok(x) else f"{float(x) * 100:{'+' if signed else ''}.1f}"


def integer(x) -> str:
    return "" if not _ok(x) else str(int(x))


def delta(d, lo=None, hi=None, sig: str = "") -> str:
    """'+3.2 [+1.0, +5.4]**' in points."""
    if not _ok(d):
        return ""
    ci = f" [{pts(lo, True)}, {pts(hi, True)}]" if _ok(lo) and _ok(hi) else ""
    return f"{pts(d, True)}{ci}{sig or ''}"


def estimate(est: Estimate | None, unit: str = "points") -> tuple[str, str, str]:
    """(value, CI, p) of a claim's estimate: points (×100), relative (a change in %) or ratio (to the base)."""
    if est is None or not _ok(est.value):
        return "no data", "", ""
    show = UNITS.get(unit, UNITS["points"])
    ci = f"[{show(est.lo)}, {show(est.hi)}]" if _ok(est.lo) else "n/a"
    p = pvalue(est.p) if _ok(est.p) and unit != "ratio" else ""  # a ratio to the base is tested against 1, not 0
    return show(est.value), ci + ("" if est.paired else " †"), p


UNITS = {"points": lambda v: f"{v * 100:+.1f}", "relative": lambda v: f"{v * 100:+.1f}%",
         "ratio": lambda v: f"{v:.3f}", "ratio-diff": lambda v: f"{v:+.3f}"}


def pvalue(p: float) -> str:
    """Bootstrap p-values bottom out at 2/(B+1), so anything that small is shown as a bound."""
    return f"<0.001{stars(p)}" if p < 0.001 + 1e-9 else f"{p:.3g}{stars(p)}"


def frame(df: pd.DataFrame, columns: dict[str, object]) -> pd.DataFrame:
    """A display frame: each output column a source column name, or a function of the row."""
    if df.empty:
        return pd.DataFrame(columns=list(columns))
    rows = df.to_dict("records")
    data = {name: [how(r) if callable(how) else r.get(how) for r in rows] for name, how in columns.items()}
    return pd.DataFrame(data)


def frame_from(records: list[dict], columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame.from_records(records, columns=columns)


def pm(mean, sd, signed: bool = False) -> str:
    """'+3.2 ± 1.1' in points; the sd left off for a single seed."""
    if not _ok(mean):
        return ""
    return pts(mean, signed) + (f" ± {pts(sd)}" if _ok(sd) else "")


def ratio(value, lo=None, hi=None, signed: bool = False) -> str:
    if not _ok(value):
        return ""
    fmt = "+.3f" if signed else ".3f"
    ci = f" [{lo:{fmt}}, {hi:{fmt}}]" if _ok(lo) and _ok(hi) else ""
    return f"{value:{fmt}}{ci}"


def num(value, digits: int = 2, kind: str = "f") -> str:
    """`kind` is a format type ("f", "g"); ",f" adds thousands separators."""
    if not _ok(value):
        return ""
    return f"{float(value):,.{digits}f}" if kind == ",f" else f"{float(value):.{digits}{kind}}"


def arrow(before, after) -> str:
    """'2.31 → 1.87' (either side blank when unknown)."""
    if not (_ok(before) or _ok(after)):
        return ""
    return f"{num(before, 3)} → {num(after, 3)}"
