"""What a study can tell before it runs (`ftscope plan`): for each claim, the design the grid gives it
(groups, training sets, seeds, items, test sets per model), whether that design may carry a verdict at all
(VerdictRules), the smallest effect it would detect with the stated power, and how many seeds, items or
training sets a given effect needs — from ftscope.stats' variance-components model of the claim's statistic,
which models the very test the report runs.

The variance components are assumptions until a study has run. The defaults below are stated per kind of
measure; `ftscope plan --from-store STORE` replaces them with what a pilot store shows, and also prices each
lever: the hours of compute the whole study would take with that many seeds, items or training sets, at the
speed the pilot measured on this machine (`StudyTimes`, `study_hours`).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from typing import Callable

from ftscope import stats
from ftscope.errors import FtscopeError
from ftscope.experiments.grid import Grid, catalogue_for
from ftscope.experiments.store import Store
from ftscope.specs import EvalCell

PLAIN = ("full", "lora")
UNLIMITED_ITEMS = 500  # items per test set assumed where eval.limit is unset: each of the paper's test sets holds 500
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
    hours: stats.Sizes | None = None  # the study's compute hours with each needed size (StudyTimes); None: unpriced


@dataclass(frozen=True)
class StudyTimes:
    """What a study that ran spent on this machine: seconds per training cell (by method), per evaluated item
    (by task kind; model loading left out, since a study loads each model once whatever its size) and per RAG
    cell (by format). Evaluation time is close to proportional to items: each is its own prompt, and a shared
    few-shot prefix is run once per cell."""

    train: dict[str, float]
    item: dict[str, float]
    rag: dict[str, float]

    @classmethod
    def measured(cls, store: Store) -> "StudyTimes":
        from ftscope.experiments.files import CellFiles

        sums: dict[tuple[str, str], list[float]] = {}
        for row in store.rows():
            if row["status"] != "done" or not row["seconds"]:
                continue
            cell, seconds = row["cell"], row["seconds"] - (row["load_seconds"] or 0.0)
            if cell.kind == "train":
                key, amount = ("train", cell.spec.method), 1.0
            elif cell.kind == "eval":
                items = (CellFiles(row["dir"]).metrics() or {}).get("n")
                if not items:
                    continue
                key, amount = ("item", cell.task_kind), float(items)
            else:
                key, amount = ("rag", cell.spec.format), 1.0
            total = sums.setdefault(key, [0.0, 0.0])
            total[0], total[1] = total[0] + max(0.0, seconds), total[1] + amount
        rate = {k: t / n for k, (t, n) in sums.items() if n}
        return cls(*({name: r for (part, name), r in rate.items() if part == wanted}
                     for wanted in ("train", "item", "rag")))


def study_hours(grid: Grid, times: StudyTimes, items: int | None = None, tuned: float = 1.0) -> float | None:
    """Compute hours of the whole grid at the measured speed, summed over cells (a wall clock divides them by
    the workers): with `items` per evaluation cell instead of the grid's, and every trained model's part
    (its training and its evaluation) times `tuned` (more seeds or training sets, each costing what the present
    ones do). None where the grid has work of a kind the measured study never did."""
    total = 0.0
    for cell in grid.train:
        if cell.spec.method not in times.train:
            return None
        total += times.train[cell.spec.method] * tuned
    for cell in grid.eval:
        if cell.task_kind not in times.item:
            return None
        n = items or cell.spec.limit or UNLIMITED_ITEMS
        total += times.item[cell.task_kind] * n * (1.0 if cell.model.is_base else tuned)
    for rag in grid.rag:
        if rag.spec.format not in times.rag:
            return None
        total += times.rag[rag.spec.format] * (1.0 if rag.model.is_base else tuned)
    return total / 3600


def _kind_sets(grid: Grid, methods: tuple[str, ...]) -> dict[str, int]:
    """Training sets per task kind among train cells of these methods (mixtures of kinds left out)."""
    cat, found = catalogue_for(grid.config), {}
    for cell in grid.train:
        kinds = {cat.task_of(d).kind for d in cell.spec.datasets}
        if cell.spec.method in methods and len(kinds) == 1:
            found.setdefault(kinds.pop(), set()).add(cell.spec.datasets)
    return {k: len(v) for k, v in found.items()}


def items_held(grid: Grid) -> int:
    """Items in the smallest test set the grid evaluates (paper and user datasets; lm-eval tasks and what
    cannot be loaded left out): items per cell cannot grow past it."""
    cat = catalogue_for(grid.config)
    names = {c.spec.dataset for c in grid.eval if c.task_kind != "benchmark"}
    sizes = []
    for name in names:
        try:
            sizes.append(len(cat.test(name).examples))
        except FtscopeError:
            continue
    return min(sizes, default=UNLIMITED_ITEMS)


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
    items = cfg.eval.limit or UNLIMITED_ITEMS
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


def plan_rows(grid: Grid, effect: float, pilot: dict[str, stats.VarianceComponents] | None = None,
              times: StudyTimes | None = None) -> list[PlanRow]:
    """One row per claim: its design, the smallest detectable effect, and what `effect` would need.

    `pilot`: claim → variance components measured on a pilot store (else the assumed defaults per measure);
    `times`: that store's speed, to price each needed size in hours of the whole study.
    α is the rules' family-wise level over the claims' primary tests, taken at Holm's first step (α / m),
    the level the first test must reach: conservative for the others."""
    rules, designs, pilot = grid.config.verdicts, claim_designs(grid), pilot or {}
    alpha = rules.alpha / max(1, sum(d.shape is not None for d in designs))
    rows, held = [], functools.cache(lambda: items_held(grid))  # reads the test sets, so only when asked
    for d in designs:
        problem = _problem(d, grid)
        if d.shape is None:
            rows.append(PlanRow(d.key, "–", f"no: {problem}", None, None, None))
            continue
        c, shape = pilot.get(d.key) or DEFAULT_COMPONENTS[d.measure], d.shape
        needed = stats.sizes_for(effect, _least(shape, rules), c, alpha, rules.power)
        if needed.items and needed.items > held():  # more items than the test sets hold: not a lever here
            needed = replace(needed, items=None)
        rows.append(PlanRow(d.key, describe(shape), "yes" if problem is None else f"no: {problem}",
                            stats.mde(shape, c, alpha, rules.power), stats.power(effect, shape, c, alpha), needed,
                            _priced(grid, times, shape, needed) if times else None))
    return rows


def _priced(grid: Grid, times: StudyTimes, shape: stats.DesignShape, needed: stats.Sizes) -> stats.Sizes:
    """The study's hours with each needed size in place of the grid's (the Sizes fields hold hours here)."""
    def hours(**change) -> float | None:
        return study_hours(grid, times, **change)

    return stats.Sizes(
        seeds=hours(tuned=needed.seeds / shape.seeds) if needed.seeds else None,
        items=hours(items=needed.items) if needed.items else None,
        train_sets=hours(tuned=needed.train_sets / shape.train_sets) if needed.train_sets else None)


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

