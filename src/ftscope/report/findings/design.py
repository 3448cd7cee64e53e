"""From a claim's cells to the design its statistic lives in, and the inference that design supports.

A claim about *fine-tuning on a task kind* or about *a method* varies over training sets and seeds, not
only over test items. Each trained model is a *unit* (its group, training set and seed) with *parts*: the
cells its statistic reads, as per-item values matched by id. The estimate is the mean over a group's
training sets of the mean over their seeds of the unit statistic (or the difference of two groups').
Its uncertainty comes from ftscope.stats' hierarchical bootstrap — training sets resampled within each
group, seeds within a training set, items with the same draws for every unit on the same test set, so
paired designs stay paired — and its inference (see that package for the method and its calibration).

Whether a design can carry a verdict at all is decided here too (`adequacy`), against VerdictRules.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from ftscope import stats
from ftscope.errors import ConfigError, DataError
from ftscope.experiments.files import CellFiles
from ftscope.report.data.values import aligned
from ftscope.report.findings.evidence import Estimate
from ftscope.specs import VerdictRules
from ftscope.tasks.paper import PAPER_TASKS

N_BOOT = 2000


@dataclass(frozen=True)
class Part:
    """Cells one unit statistic reads on one test set: per-item values of `metric`, one row per cell."""

    tag: str  # which block of the unit it feeds (parts with the same tag are joined item by item)
    test_set: str
    dirs: tuple[str, ...]
    metric: str
    labels: tuple[str, ...] = ()  # for metric "format_rate": the training task's labels
    value: tuple[float, ...] | None = None  # a part with one number per cell and no items (weights)


@dataclass(frozen=True)
class UnitPlan:
    group: str
    train_set: str
    seed: str
    config: str  # the model configuration that seeds repeat (for the seed rule)
    parts: tuple[Part, ...]


Stat = Callable[[Sequence[np.ndarray]], np.ndarray]  # each block's row means (m, or m × B) → the unit's value(s)


@dataclass
class Result:
    estimate: Estimate | None
    units: int
    min_items: int | None  # the fewest paired items in any part (None: parts without items)
    levels: tuple[str, ...] = ()  # the levels that varied: train_set, seed, item
    notes: list[str] = field(default_factory=list)
    design: stats.Design | None = None  # what the estimate was computed from (planning reads its components)


def format_values(cell_dir: str, labels: Sequence[str]) -> dict[str, float]:
    """Per item: 1 when the generation is, or starts with, one of the training task's labels."""
    wanted = [lab.lower() for lab in labels]
    out = {}
    for row in CellFiles(cell_dir).predictions():
        text = str(row.get("prediction") or "").strip().lower()
        out[str(row["id"])] = float(any(text == w or text.startswith(w) for w in wanted if w))
    return out


def _values(part: Part) -> tuple[tuple[str, ...], np.ndarray]:
    """The part's item ids (shared by all its cells) and its m × n values."""
    if part.value is not None:
        # weights have no items: one value per model, written twice so that the item level (which needs two
        # items) contributes exactly zero variance and the inference rests on training sets and seeds alone
        return ("value", "value-copy"), np.repeat(np.asarray(part.value, dtype=float)[:, None], 2, axis=1)
    if part.metric == "format_rate":
        found = [format_values(d, part.labels) for d in part.dirs]
        ids = tuple(sorted(set.intersection(*(set(f) for f in found)))) if found else ()
        return ids, np.array([[f[i] for i in ids] for f in found], dtype=float).reshape(len(found), len(ids))
    return aligned(list(part.dirs), part.metric)


def _block(parts: Sequence[Part]) -> tuple[stats.Block, int] | None:
    """One block from parts of one tag: each part's items (prefixed by its test set) side by side."""
    ids, columns, fewest = [], [], None
    for part in parts:
        found_ids, values = _values(part)
        if len(found_ids) == 0:
            continue
        ids += [f"{part.test_set}:{i}" for i in found_ids]
        columns.append(values)
        fewest = len(found_ids) if fewest is None else min(fewest, len(found_ids))
    if not columns or len(ids) < 2:
        return None
    name = "+".join(dict.fromkeys(p.test_set for p in parts))
    return stats.Block(name, tuple(ids), np.hstack(columns)), fewest


def _unit(plan: UnitPlan, tags: Sequence[str]) -> tuple[stats.Unit | None, int | None]:
    """A stats unit from a plan: one block per part, or one block per tag in the order of `tags`."""
    groups = [[p for p in plan.parts if p.tag == tag] for tag in tags] if tags else [[p] for p in plan.parts]
    blocks, fewest = [], None
    for parts in groups:
        found = _block(parts)
        if found is None:
            return None, None  # a unit missing one of its blocks cannot give its statistic
        blocks.append(found[0])
        if all(p.value is None for p in parts):
            fewest = found[1] if fewest is None else min(fewest, found[1])
    return stats.Unit(plan.group, plan.train_set, plan.seed, tuple(blocks)), fewest


def estimate(plans: Sequence[UnitPlan], stat: Stat, groups: Sequence[str], seed: str,
             by_tag: Sequence[str] = ()) -> Result:
    """The claim statistic over units: one group's mean, or groups[0] − groups[1].

    by_tag: the statistic reads one block per tag, in this order (the unit's parts of a tag joined item by
    item) — for a statistic that is not a mean over test sets, such as a ratio of two roles."""
    units, fewest = [], None
    for plan in (p for p in plans if p.group in groups):
        unit, items = _unit(plan, by_tag)
        if unit is not None:
            units.append(unit)
            fewest = items if fewest is None or (items is not None and items < fewest) else fewest
    if not units or {u.group for u in units} != set(groups):
        return Result(None, len(units), fewest)
    try:
        design = stats.Design(tuple(units), stat, tuple(groups) if len(groups) == 2 else ())
        found = stats.infer(stats.hierarchical_bootstrap(design, n_boot=N_BOOT, seed=seed))
    except (DataError, ConfigError) as e:  # e.g. a ratio over a zero in-domain change
        return Result(None, len(units), fewest, notes=[str(e)])
    est = Estimate(found.value, found.se, found.df, found.lo, found.hi, found.level, len(units), found.method)
    return Result(est, len(units), fewest, tuple(found.levels_varied), design=design)


# ---- unit statistics ------------------------------------------------------------------------
def mean_of(fn: Callable[[np.ndarray], np.ndarray]) -> Stat:
    """The mean over a unit's blocks of fn(row means)."""
    return lambda means: np.mean([fn(m) for m in means], axis=0)


def delta(m: np.ndarray) -> np.ndarray:
    return m[0] - m[1]


def level(m: np.ndarray) -> np.ndarray:
    return m[0]


def transfer_ratio(means: Sequence[np.ndarray]) -> np.ndarray:
    """Out-of-domain change over in-domain change, both vs the base: blocks [in-domain, out-of-domain]."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return delta(means[1]) / delta(means[0])


# ---- adequacy -------------------------------------------------------------------------------
def training_sources(kind: str) -> list[str]:
    """The paper's training datasets of a task kind (what to add for a second training set)."""
    return [t.train_dataset for t in PAPER_TASKS.values() if t.kind == kind and t.train_dataset]


def adequacy(plans: Sequence[UnitPlan], groups: Sequence[str], result: Result, rules: VerdictRules,
             compares_groups: bool) -> list[str]:
    """Why this design cannot carry a verdict (each reason with the smallest fix); empty when it can."""
    reasons = []
    for group in groups:
        mine = [p for p in plans if p.group == group]
        if not mine:
            reasons.append(f"no {group} model in this run; {_add_model(group)}")
            continue
        sets = {p.train_set for p in mine}
        if compares_groups and len(sets) < rules.min_train_sets:
            reasons.append(f"{group}: {len(sets)} training set(s) ({', '.join(sorted(sets))}), the rule asks "
                           f"{rules.min_train_sets}; add a {group} training set: {_suggest(group, sets)}")
    seeds: dict[str, set[str]] = {}
    for p in plans:
        seeds.setdefault(p.config, set()).add(p.seed)
    few = {c: s for c, s in seeds.items() if len(s) < rules.min_seeds}
    if few:
        config, found = sorted(few.items())[0]
        reasons.append(f"{config}: {len(found)} seed(s), the rule asks {rules.min_seeds}; add a second seed "
                       f"(train.seeds: [0, 1]){f' ({len(few) - 1} more configuration(s) likewise)' if len(few) > 1 else ''}")
    if result.min_items is not None and result.min_items < rules.min_items:
        reasons.append(f"some cells have only {result.min_items} paired items, the rule asks {rules.min_items}; "
                       f"raise eval.limit to at least {rules.min_items}")
    return reasons


def _add_model(group: str) -> str:
    if group in ("classification", "generation"):
        return f"add a {group} training set ({_suggest(group, set())})"
    if group == "fine-tuned":
        return "add train.methods: [lora] (or full), or a fine-tune under tuned:"
    return f"add {group} to train.methods (with its plain fine-tuning partner)"


def _suggest(group: str, present: set[str]) -> str:
    names = [d for d in training_sources(group) if d not in present]
    return " or ".join(names) if names else "a dataset of that kind (declare it under datasets:)"


def mde(est: Estimate | None, tests: int, alpha: float, power: float, one_sided: bool) -> float | None:
    """The smallest effect this design detects with `power`, at Holm's first-step level α/m (conservative)."""
    if est is None or not est.finite:
        return None
    from scipy import stats as sps

    a = alpha / max(1, tests) / (1 if one_sided else 2)
    return float((sps.t.ppf(1 - a, est.df) + sps.t.ppf(power, est.df)) * est.se)


def only(plans: Sequence[UnitPlan], tag: str) -> list[UnitPlan]:
    """The same units reading only their parts tagged `tag`."""
    return [UnitPlan(p.group, p.train_set, p.seed, p.config, tuple(x for x in p.parts if x.tag == tag))
            for p in plans if any(x.tag == tag for x in p.parts)]


def plans_from_pairs(rows: pd.DataFrame, group_of: Callable[[dict], str], parts_of: Callable[[dict], list[Part]],
                     ) -> list[UnitPlan]:
    """One unit per tuned model among `rows` (pair rows of one claim), with each row's parts."""
    plans: dict[str, UnitPlan] = {}
    for row in rows.to_dict("records"):
        key = row["model"]
        parts = tuple(parts_of(row))
        if key in plans:
            plans[key] = UnitPlan(plans[key].group, plans[key].train_set, plans[key].seed, plans[key].config,
                                  plans[key].parts + parts)
        else:
            seed = "-" if row.get("seed") is None or (isinstance(row.get("seed"), float) and math.isnan(row["seed"])) \
                else str(int(row["seed"]))
            plans[key] = UnitPlan(group_of(row), str(row["train_datasets"]), seed, str(row["group"]), parts)
    return list(plans.values())
