"""What a study can tell before it runs (`ftscope plan`): for each claim, the design the grid gives it
(groups, training sets, seeds, items, test sets per model), whether that design may carry a verdict at all
(VerdictRules), the smallest effect it would detect with the stated power, and how many seeds, items or
training sets a given effect needs — from ftscope.stats' variance-components model of the claim's statistic,
which models the very test the report runs.

The variance components are assumptions until a study has run. The defaults below are stated per kind of
measure; `ftscope plan --from-store STORE` replaces them with what a pilot store shows.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

from ftscope import stats
from ftscope.errors import FtscopeError
from ftscope.experiments.grid import Grid, catalogue_for
from ftscope.specs import EvalCell

PLAIN = ("full", "lora")
# Assumed SDs (0–1 score scale) of a claim's unit statistic: between training sets of one kind, between seeds
# of one training set, per item of a paired difference within a model, and the part of that shared by every
# model on the same items. Accuracy differences of two fine-tunes disagree on roughly 10–20% of items
# (per-item SD ≈ √0.15 ≈ 0.4); per-item ROUGE-L varies by about 0.15; seeds of one small fine-tune differ by
# about a point (Dodge et al. 2020 report more on small sets); training sets of one task kind by several.
DEFAULT_COMPONENTS = {
    "accuracy": stats.VarianceComponents(train=0.04, seed=0.01, item=0.40, item_shared=0.20),
    "rouge": stats.VarianceComponents(train=0.02, seed=0.005, item=0.15, item_shared=0.08),
    "ratio": stats.VarianceComponents(train=0.30, seed=0.10, item=0.50, item_shared=0.0),
    "grade": stats.VarianceComponents(train=0.20, seed=0.10, item=1.00, item_shared=0.50),
}


@dataclass(frozen=True)
class ClaimDesign:
    key: str
    measure: str  # a key of DEFAULT_COMPONENTS
    compares_groups: bool
    shape: stats.DesignShape | None  # None: the grid has no model this claim needs


@dataclass(frozen=True)
class PlanRow:
    claim: str
    design: str
    verdict_possible: str
    mde: float | None  # in the measure's unit (0–1 score points, a ratio, or grade points)
    power_at_effect: float | None
    needed: stats.Sizes | None


def _kind_sets(grid: Grid, methods: tuple[str, ...]) -> dict[str, int]:
    """Training sets per task kind among train cells of these methods (mixtures of kinds left out)."""
    cat, found = catalogue_for(grid.config), {}
    for cell in grid.train:
        kinds = {cat.task_of(d).kind for d in cell.spec.datasets}
        if cell.spec.method in methods and len(kinds) == 1:
            found.setdefault(kinds.pop(), set()).add(cell.spec.datasets)
    return {k: len(v) for k, v in found.items()}


def _test_sets(grid: Grid, pick: Callable[[EvalCell], bool]) -> int:
    """Test sets a base model is evaluated on that satisfy `pick` (the blocks a unit reads, roughly)."""
    return len({(c.spec.dataset, c.spec.template) for c in grid.eval if c.model.is_base and pick(c)})


def _shape(groups: int, sets: int, seeds: int, items: int, blocks: int) -> stats.DesignShape | None:
    if sets < 1 or seeds < 1 or blocks < 1:
        return None
    return stats.DesignShape(groups, sets, seeds, max(2, items), blocks)


def claim_designs(grid: Grid) -> list[ClaimDesign]:
    """The design of each claim as this grid would run it (mirrors ftscope.report.findings.claims)."""
    cfg = grid.config
    seeds = len(cfg.train.seeds) if cfg.train else 0
    items = cfg.eval.limit or 250
    plain, fticl, promot = _kind_sets(grid, PLAIN), _kind_sets(grid, ("fticl",)), _kind_sets(grid, ("promot",))
    gen = _test_sets(grid, lambda c: c.task_kind == "generation" and c.spec.shots == 0)
    cls = _test_sets(grid, lambda c: c.task_kind == "classification")
    both = min(plain.get("classification", 0), plain.get("generation", 0))
    rag = len(cfg.rag.corpora) if cfg.rag else 0
    bench = len(cfg.eval.lm_eval_tasks)
    return [
        ClaimDesign("Y(a)", "ratio", True, _shape(2, both, seeds, items, 2)),
        ClaimDesign("Y(b)", "accuracy", False, _shape(1, sum(plain.values()), seeds, items, max(1, cls // 2))),
        ClaimDesign("Y(c)", "rouge", True, _shape(1, plain.get("classification", 0), seeds, items, gen)),
        ClaimDesign("Y(d)", "rouge", True, _shape(1, fticl.get("generation", 0), seeds, items, max(1, gen // 2))),
        ClaimDesign("P(a)", "accuracy", False, _shape(1, sum(promot.values()), seeds, items, max(1, cls // 2))),
        ClaimDesign("P(b)", "accuracy", False, _shape(1, sum(promot.values()), seeds, items, 1)),
        ClaimDesign("B", "grade", False, _shape(1, sum(plain.values()), seeds, cfg.rag.limit or 100 if rag else 0,
                                                rag)),
        ClaimDesign("G", "accuracy", False, _shape(1, sum(plain.values()), seeds, items, bench)),
    ]


def _problem(design: ClaimDesign, grid: Grid) -> str | None:
    rules, shape = grid.config.verdicts, design.shape
    if shape is None:
        return "the grid has no model or test set this claim needs"
    if shape.seeds < rules.min_seeds:
        return f"{shape.seeds} seed(s), the rule asks {rules.min_seeds}"
    if design.compares_groups and shape.train_sets < rules.min_train_sets:
        return f"{shape.train_sets} training set(s) per group, the rule asks {rules.min_train_sets}"
    if shape.items < rules.min_items:
        return f"{shape.items} items per cell, the rule asks {rules.min_items}"
    return None


def plan_rows(grid: Grid, effect: float, pilot: dict[str, stats.VarianceComponents] | None = None
              ) -> list[PlanRow]:
    """One row per claim: its design, the smallest detectable effect, and what `effect` would need.

    `pilot`: claim → variance components measured on a pilot store (else the assumed defaults per measure).
    α is the rules' family-wise level over the claims' primary tests, taken at Holm's first step (α / m),
    the level the first test must reach: conservative for the others."""
    rules, designs, pilot = grid.config.verdicts, claim_designs(grid), pilot or {}
    alpha = rules.alpha / max(1, sum(d.shape is not None for d in designs))
    rows = []
    for d in designs:
        problem = _problem(d, grid)
        if d.shape is None:
            rows.append(PlanRow(d.key, "–", f"no: {problem}", None, None, None))
            continue
        c, shape = pilot.get(d.key) or DEFAULT_COMPONENTS[d.measure], d.shape
        rows.append(PlanRow(d.key, describe(shape), "yes" if problem is None else f"no: {problem}",
                            stats.mde(shape, c, alpha, rules.power), stats.power(effect, shape, c, alpha),
                            stats.sizes_for(effect, _least(shape, rules), c, alpha, rules.power)))
    return rows


def _least(shape: stats.DesignShape, rules) -> stats.DesignShape:
    """Sizes are searched from the smallest design the rules allow, so the answer is never below them."""
    return replace(shape, seeds=max(shape.seeds, rules.min_seeds), items=max(shape.items, rules.min_items))


def describe(shape: stats.DesignShape) -> str:
    """groups × training sets × seeds; test sets × items (per model)."""
    return f"{shape.groups}×{shape.train_sets}×{shape.seeds}; {shape.blocks}×{shape.items}"


@dataclass(frozen=True)
class MemoryRow:
    training: str  # "full on meta-llama/Llama-2-7b-hf"
    tunes: str
    total_gb: float | None  # None: no estimate (why says why)
    activations_gb: float | None = None
    fits: bool | None = None
    alternatives: tuple[tuple[str, float], ...] = ()  # changes that would fit, with their totals
    why: str = ""


def memory_rows(grid: Grid, capacity_gb: float, device: str) -> list[MemoryRow]:
    """Each distinct training setting's peak-memory estimate per process (the one `ftscope train --dry-run`
    prints) against `capacity_gb` of a `device` ("cuda" or "cpu": bf16 autocast is on by default on CUDA)."""
    from ftscope.models.memory import Shape, footprint, model_config, what_would_fit
    from ftscope.training import tunes
    from ftscope.training.footprint import workload

    seen, out = set(), []
    for cell in grid.train:
        s = cell.spec
        key = (s.model, tunes(s), s.dtype, s.bf16, s.batch_size, s.max_length, s.max_batch_tokens)
        if key in seen:
            continue
        seen.add(key)
        name = f"{s.method} on {s.model}"
        try:
            shape = Shape.from_config(model_config(s.model))
        except FtscopeError as e:  # a hub model whose config.json is not here and cannot be fetched
            out.append(MemoryRow(name, tunes(s), None, why=str(e)))
            continue
        work = workload(s, device)
        found = footprint(shape, work)
        fits = found.fits(capacity_gb)
        out.append(MemoryRow(name, tunes(s), found.total_gb, found.activations_gb, fits,
                             () if fits else tuple(what_would_fit(shape, work, capacity_gb))))
    return out

