"""What a study can tell before it runs: for each claim, the design the grid gives it (groups, training sets,
seeds, items, cells per model), whether that design may carry a verdict at all (VerdictRules), the smallest
effect it would detect with the stated power, and how many seeds, items or training sets a given effect
needs — from ftscope.stats' variance-components model of the claim's statistic.

The variance components are assumptions until a study has run: the defaults below are stated per kind of
measure, and `ftscope plan --from-store` replaces them with the components a pilot store shows.
"""

from __future__ import annotations

from dataclasses import dataclass

from ftscope import stats
from ftscope.experiments.config import ExperimentConfig
from ftscope.experiments.grid import Grid
from ftscope.specs import EvalCell, TrainCell

PLAIN = ("full", "lora")
# Assumed SDs (0–1 score scale) of a claim's unit statistic: between training sets of one kind, between
# seeds of one training set, per item of a paired difference within a model, and the part of the item
# variance every model on the same items shares. Accuracy differences of two fine-tunes disagree on about
# 10–20% of items (per-item SD √0.15 ≈ 0.4); ROUGE-L per item varies by about 0.15; seeds of one small
# fine-tune differ by about a point (Dodge et al. 2020 report more on small sets), training sets of one
# task kind by several.
DEFAULT_COMPONENTS = {
    "accuracy": stats.VarianceComponents(train=0.04, seed=0.01, item=0.40, item_shared=0.20),
    "rouge": stats.VarianceComponents(train=0.02, seed=0.005, item=0.15, item_shared=0.08),
    "ratio": stats.VarianceComponents(train=0.30, seed=0.10, item=0.50, item_shared=0.0),
    "grade": stats.VarianceComponents(train=0.20, seed=0.10, item=1.00, item_shared=0.50),
}


@dataclass(frozen=True)
class ClaimPlan:
    key: str
    measure: str  # what kind of statistic (a key of DEFAULT_COMPONENTS)
    shape: stats.DesignShape | None
    one_sided: bool
    problem: str | None  # why the design cannot carry a verdict (None when it can)


def _trained(grid: Grid, methods: tuple[str, ...]) -> list[TrainCell]:
    return [c for c in grid.train if c.spec.method in methods]


def _sets_by_kind(cells: list[TrainCell], grid: Grid, kind: str) -> int:
    from ftscope.experiments.grid import catalogue_for

    cat = catalogue_for(grid.config)
    return len({c.spec.datasets for c in cells if {cat.task_of(d).kind for d in c.spec.datasets} == {kind}})


def _items(grid: Grid) -> int:
    return grid.config.eval.limit or 250


def _cells_per_model(grid: Grid, pick) -> int:
    base = [c for c in grid.eval if isinstance(c, EvalCell) and c.model.is_base and pick(c)]
    return max(1, len(base))


def claim_plans(grid: Grid) -> list[ClaimPlan]:
    """The design of each claim as this grid would run it (mirrors ftscope.report.findings.claims)."""
    seeds, items, cfg = len(grid.config.train.seeds) if grid.config.train else 0, _items(grid), grid.config
    plain, fticl = _trained(grid, PLAIN), _trained(grid, ("fticl",))
    gen = lambda c: c.task_kind == "generation"  # noqa: E731
    plans = []
    for key, measure, groups, cells, kinds, one_sided in (
            ("Y(a)", "ratio", 2, plain, ("classification", "generation"), False),
            ("Y(b)", "accuracy", 1, plain, None, True),
            ("Y(c)", "rouge", 1, plain, ("classification",), True),
            ("Y(d)", "rouge", 1, fticl, ("generation",), False)):
        sets = [_sets_by_kind(cells, grid, k) for k in kinds] if kinds else [len({c.spec.datasets for c in cells})]
        blocks = _cells_per_model(grid, gen if measure == "rouge" else (lambda c: True))
        shape = stats.DesignShape(groups=groups, train_sets=min(sets) if sets else 0, seeds=seeds, items=items,
                                  blocks=blocks) if cells else None
        plans.append(ClaimPlan(key, measure, shape, one_sided, _problem(shape, cfg, kinds is not None and groups > 1
                                                                        or key in ("Y(c)", "Y(d)"))))
    return plans


def _problem(shape: stats.DesignShape | None, config: ExperimentConfig, compares_groups: bool) -> str | None:
    rules = config.verdicts
    if shape is None:
        return "no model of the kind this claim needs in the grid"
    if shape.seeds < rules.min_seeds:
        return f"{shape.seeds} seed(s), the rule asks {rules.min_seeds}: train.seeds: [0, 1]"
    if compares_groups and shape.train_sets < rules.min_train_sets:
        return f"{shape.train_sets} training set(s) per group, the rule asks {rules.min_train_sets}"
    if shape.items < rules.min_items:
        return f"{shape.items} items per cell, the rule asks {rules.min_items}: raise eval.limit"
    return None


@dataclass(frozen=True)
class PlanRow:
    claim: str
    design: str
    verdict_possible: str
    mde: float | None
    power_at_effect: float | None
    seeds_needed: int | None
    items_needed: int | None
    train_sets_needed: int | None


def plan_rows(grid: Grid, effect: float, components: dict[str, stats.VarianceComponents] | None = None,
              tests: int = 9) -> list[PlanRow]:
    """One row per claim: its design, the smallest detectable effect, and what `effect` would need.

    α is the rules' family-wise level divided by the number of primary tests (Holm's first step): the
    conservative level each test must reach."""
    comps, rules = {**DEFAULT_COMPONENTS, **(components or {})}, grid.config.verdicts
    alpha = rules.alpha / tests
    rows = []
    for p in claim_plans(grid):
        if p.shape is None:
            rows.append(PlanRow(p.key, "–", f"no ({p.problem})", None, None, None, None, None))
            continue
        c = comps[p.measure]
        needed = stats.sizes_for(effect, p.shape, c, alpha, rules.power)
        rows.append(PlanRow(p.key, _describe(p.shape), "yes" if p.problem is None else f"no ({p.problem})",
                            stats.mde(p.shape, c, alpha, rules.power), stats.power(effect, p.shape, c, alpha),
                            needed.seeds, needed.items, needed.train_sets))
    return rows


def _describe(shape: stats.DesignShape) -> str:
    return (f"{shape.groups} group(s) × {shape.train_sets} training set(s) × {shape.seeds} seed(s), "
            f"{shape.blocks} cell(s) × {shape.items} items per model")
