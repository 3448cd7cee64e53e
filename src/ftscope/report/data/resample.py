"""Bootstrap replicates per cell, shared by every comparison that cell takes part in.

Each test set (dataset name + its example ids) gets one seeded count matrix, so every model evaluated
on it is resampled with the same examples: differences, ratios and differences of differences
between any cells on that set are then paired, and averages across test sets (independent draws)
combine replicate by replicate. A cell without predictions falls back to normal draws around its
mean with its reported SE, and everything it touches is marked unpaired.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Callable, Mapping, Sequence

import numpy as np

from ftscope.report.data import paired as stats
from ftscope.stats.draws import item_counts, seed_of
from ftscope.report.data.values import aligned

Fn = Callable[[np.ndarray], np.ndarray]  # m means (or m × B replicate means) → one value (or B values)


@dataclass(frozen=True)
class Contrast:
    value: float
    reps: np.ndarray
    n: int
    paired: bool = True

    def estimate(self) -> stats.Estimate:
        return replace(stats.estimate(self.value, self.reps, self.n), paired=self.paired)


def combine(parts: Sequence[Contrast]) -> Contrast | None:
    """The mean of several contrasts, replicate by replicate (their own pairing kept inside each)."""
    parts = [p for p in parts if math.isfinite(p.value)]
    if not parts:
        return None
    reps = np.nanmean(np.stack([p.reps for p in parts]), axis=0)
    return Contrast(float(np.mean([p.value for p in parts])), reps, sum(p.n for p in parts),
                    all(p.paired for p in parts))


class Resampler:
    def __init__(self, n_boot: int = stats.N_BOOT):
        self.n_boot = n_boot
        self._counts: dict[tuple, np.ndarray] = {}

    def counts(self, test_set: str, ids: tuple[str, ...]) -> np.ndarray:
        key = (test_set, seed_of(test_set, ids), len(ids))
        if key not in self._counts:
            if len(self._counts) > 16:  # one test set at a time is typical; keep memory flat
                self._counts.pop(next(iter(self._counts)))
            self._counts[key] = item_counts(len(ids), key[1], self.n_boot)
        return self._counts[key]

    def contrast(self, cells: Sequence[Mapping], metric: str, fn: Fn) -> Contrast:
        """fn of the cells' means over the examples all of them share, with its bootstrap replicates.

        `cells` are table rows (dir, and dataset or corpus_name naming the test set, score, se)."""
        return self.contrasts(cells, metric, lambda m: np.stack([fn(m)]))[0]

    def contrasts(self, cells: Sequence[Mapping], metric: str, fn: Fn) -> list[Contrast]:
        """Several statistics of the same cells at once: fn returns one row per statistic."""
        ids, values = aligned([c["dir"] for c in cells], metric)
        if ids:
            reps = fn(stats.boot_means(values, self.counts(_test_set(cells[0]), ids)))
            points, n, paired = fn(values.mean(axis=1)[:, None])[:, 0], len(ids), True
        else:
            points, reps, n = self._unpaired(cells, fn)
            paired = False
        return [Contrast(float(p), np.asarray(r, dtype=float), n, paired) for p, r in zip(points, reps)]

    def _unpaired(self, cells: Sequence[Mapping], fn: Fn) -> tuple[np.ndarray, np.ndarray, int]:
        mean = np.array([_num(c.get("score")) for c in cells])
        se = np.array([_num(c.get("se")) for c in cells])
        rng = np.random.default_rng(seed_of(*[c.get("hash") for c in cells]))
        draws = mean[:, None] + se[:, None] * rng.standard_normal((len(cells), self.n_boot))
        n = min(int(_num(c.get("n_examples"), 0)) for c in cells) if cells else 0
        return fn(mean[:, None])[:, 0], fn(draws), n


def _num(value, default: float = float("nan")) -> float:
    try:
        found = float(value)
    except (TypeError, ValueError):
        return default
    return found if math.isfinite(found) else default


def _test_set(cell: Mapping) -> str:
    return str(cell.get("dataset") or cell.get("corpus_name") or "")


def delta(m: np.ndarray) -> np.ndarray:
    return m[0] - m[1]


def ratio(m: np.ndarray) -> np.ndarray:
    # A base score of 0 leaves the ratio undefined: NaN, which the averages then skip.
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(m[1] != 0, m[0] / m[1], np.nan)


def gain_gap(m: np.ndarray) -> np.ndarray:
    """(A_k − A_0) − (B_k − B_0): how much less model A gains from in-context examples than B."""
    return (m[0] - m[1]) - (m[2] - m[3])
