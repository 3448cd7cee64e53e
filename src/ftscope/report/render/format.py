"""Numbers as a reader wants them: scores and deltas in points (×100), CIs in brackets, stars for p.

The CSV/JSON tables keep raw 0–1 values; only the pages format.
"""

from __future__ import annotations

import math

import pandas as pd

from ftscope.report.data.paired import stars
from ftscope.report.findings.evidence import Estimate

LEGEND = ("Scores are accuracy (classification) or ROUGE-L F1 (generation) in points (×100). Δ = tuned − base "
          "(or method − method) on the same items of one cell; brackets hold the paired-bootstrap 95% CI (the items "
          "resampled 2000 times, the same draws for every model), which speaks about these items only. Marks read "
          "Benjamini–Hochberg q-values over each table's column of tests (`*` q < 0.05, `**` q < 0.01, `***` "
          "q < 0.001); the raw p behind them is McNemar's test (exact below 25 discordant pairs, else χ²) for "
          "accuracy and the bootstrap for the rest. † unpaired: a cell lacks predictions.jsonl, so the CI is a "
          "normal approximation from reported SEs.")


def _ok(x) -> bool:
    return x is not None and not (isinstance(x, float) and math.isnan(x)) and not pd.isna(x)


def pts(x, signed: bool = False) -> str:
    return "" if not _ok(x) else f"{float(x) * 100:{'+' if signed else ''}.1f}"


def integer(x) -> str:
    return "" if not _ok(x) else str(int(x))


def delta(d, lo=None, hi=None, sig: str = "", scale: float = 100) -> str:
    """'+3.2 [+1.0, +5.4]**' in points (scale 100), or in the value's own unit (scale 1: two decimals)."""
    if not _ok(d):
        return ""
    show = (lambda x: pts(x, True)) if scale == 100 else (lambda x: f"{float(x):+.2f}")
    ci = f" [{show(lo)}, {show(hi)}]" if _ok(lo) and _ok(hi) else ""
    return f"{show(d)}{ci}{sig if isinstance(sig, str) else ''}"


def estimate(est: Estimate | None, unit: str = "points") -> tuple[str, str]:
    """(value, 95% CI) of a claim's estimate in its unit."""
    if est is None or not _ok(est.value):
        return "no data", ""
    show = UNITS.get(unit, UNITS["points"])
    return show(est.value), f"[{show(est.lo)}, {show(est.hi)}]" if _ok(est.lo) and _ok(est.hi) else "n/a"


# How each unit a claim is measured in reads: score differences in points, ratios as they are, weight changes
# and shares in per cent, judge grades on their 1–5 scale, levels (a ROUGE-L) in points.
UNITS = {"points": lambda v: f"{v * 100:+.1f}", "ratio": lambda v: f"{v:+.3f}", "relative": lambda v: f"{v * 100:+.3f}%",
         "grade": lambda v: f"{v:+.2f}", "score": lambda v: f"{v * 100:.1f}", "share": lambda v: f"{v * 100:.0f}%"}
UNIT_NAMES = {"points": "points (×100)", "ratio": "ratio", "relative": "% of the weights' norm",
              "grade": "grade points (1–5 scale)", "score": "points (×100)", "share": "% of generations"}


def pvalue(p: float) -> str:
    """p-values below 0.001 shown as a bound."""
    if not _ok(p):
        return ""
    return "<0.001" if p < 0.001 else f"{p:.3g}"


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
