"""What a claim's statistic is computed from: items in blocks, blocks in units (trained models), units in groups.

A *unit* is one trained model (a training set × a seed). Its statistic reads the row means of its blocks
(one block per test set it was evaluated on; rows are cells such as [tuned, base]). Units nest in
training sets, training sets in the compared groups: the three sampling levels a verdict about
"fine-tuning on a task kind" generalizes over, besides the test items.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from ftscope.errors import ConfigError, DataError

UnitStat = Callable[[Sequence[np.ndarray]], np.ndarray]
"""Per block, its m row means (shape m) or m × B replicate row means → the unit's value (or B values)."""


@dataclass(frozen=True, eq=False)  # eq off: numpy arrays have no single truth value
class Block:
    """The per-item values one unit statistic reads on one test set."""

    test_set: str  # blocks with the same test_set and ids share bootstrap item draws, across units
    ids: tuple[str, ...]
    values: np.ndarray  # m × n: one row per cell read (e.g. [tuned, base]) over the n items, same order

    def __post_init__(self) -> None:
        values = np.atleast_2d(np.asarray(self.values, dtype=float))
        ids = tuple(str(i) for i in self.ids)
        where = f"block on test set {self.test_set!r}"
        if values.ndim != 2 or values.shape[1] != len(ids):
            raise DataError(f"{where}: values have shape {values.shape} but there are {len(ids)} ids; "
                            "give one row per cell and one column per id")
        if len(ids) < 2:
            raise DataError(f"{where}: {len(ids)} item(s); item-level uncertainty needs at least 2 items")
        if not np.isfinite(values).all():
            raise DataError(f"{where}: values contain NaN or inf; drop the items a cell lacks from every row")
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "ids", ids)

    @property
    def key(self) -> tuple[str, tuple[str, ...]]:
        return self.test_set, self.ids


@dataclass(frozen=True, eq=False)
class Unit:
    """One trained model (a training set × a seed) and the blocks its statistic reads."""

    group: str  # the compared group (e.g. "classification"); one group for a one-sample claim
    train_set: str  # cluster level 1
    seed: str  # cluster level 2, within its train_set
    blocks: tuple[Block, ...]

    def __post_init__(self) -> None:
        if not self.blocks:
            raise DataError(f"unit {self.name}: no blocks; give at least one test set's values")
        object.__setattr__(self, "blocks", tuple(self.blocks))

    @property
    def name(self) -> str:
        return f"{self.group}/{self.train_set}/seed {self.seed}"


@dataclass(frozen=True, eq=False)
class Design:
    """Units, the statistic each reads, and the contrast's group order (first − second)."""

    units: tuple[Unit, ...]
    stat: UnitStat
    groups: tuple[str, ...] = ()  # () for a one-group design; two names for a difference first − second

    def __post_init__(self) -> None:
        object.__setattr__(self, "units", tuple(self.units))
        object.__setattr__(self, "groups", tuple(self.groups))
        if not self.units:
            raise DataError("design: no units; a claim needs at least one trained model's values")

    def layout(self) -> Layout:
        return layout_of(self.units, self.groups)


@dataclass(frozen=True)
class Layout:
    """Where each unit sits: per group (contrast order), per training set, the indices of its seeds' units."""

    groups: tuple[str, ...]
    trains: tuple[tuple[tuple[int, ...], ...], ...]
    size: int  # number of units

    def weights(self) -> np.ndarray:
        """Signed weight of each unit in the contrast: ±1 / (training sets × seeds of its training set)."""
        out = np.zeros(self.size)
        for g, trains in enumerate(self.trains):
            for seeds in trains:
                out[list(seeds)] = (1.0 if g == 0 else -1.0) / (len(trains) * len(seeds))
        return out

    def levels_varied(self) -> tuple[str, ...]:
        """The levels replicated in every group, i.e. whose variance the SE measures; items always are.

        With one seed per training set, seed variance is still inside the spread of training sets (and
        so in the SE) but cannot be told apart from it: "seed" is then absent."""
        train = all(len(trains) > 1 for trains in self.trains)
        seed = all(any(len(seeds) > 1 for seeds in trains) for trains in self.trains)
        return (*(("train_set",) if train else ()), *(("seed",) if seed else ()), "item")


def layout_of(units: Sequence[Unit], groups: Sequence[str]) -> Layout:
    order = _group_order(units, groups)
    seen: set[tuple[str, str, str]] = set()
    trains: list[dict[str, list[int]]] = [{} for _ in order]
    for index, unit in enumerate(units):
        key = (unit.group, unit.train_set, unit.seed)
        if key in seen:
            raise DataError(f"unit {unit.name} appears twice; each training set × seed is one unit")
        seen.add(key)
        trains[order.index(unit.group)].setdefault(unit.train_set, []).append(index)
    nested = tuple(tuple(tuple(seeds) for seeds in by_train.values()) for by_train in trains)
    return Layout(order, nested, len(units))


def _group_order(units: Sequence[Unit], groups: Sequence[str]) -> tuple[str, ...]:
    present = list(dict.fromkeys(u.group for u in units))
    if not groups:
        if len(present) > 1:
            raise ConfigError(f"design: units come from groups {present}; name the contrast's order "
                              "in Design.groups (first − second)")
        return tuple(present)
    if len(groups) > 2 or len(set(groups)) != len(groups):
        raise ConfigError(f"design.groups {tuple(groups)}: give one group, or two distinct ones (first − second)")
    stray = [g for g in present if g not in groups]
    absent = [g for g in groups if g not in present]
    if stray or absent:
        raise DataError(f"design: groups {absent} have no units and units name groups {stray} not in "
                        f"Design.groups {tuple(groups)}; make them match")
    return tuple(groups)
