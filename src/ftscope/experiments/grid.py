"""Expand an experiment config into cells: train cells, then eval and RAG cells for every model.

Every model (the untouched base, and each trained one) is evaluated on the same suite, so every tuned
score has a base score on the same examples beside it. Unknown datasets, methods and training
parameters are caught here, with the YAML line, before any cell runs; datasets whose files cannot be
loaded are left out and named (`Grid.unavailable`), as the CLI names them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping

import yaml

from ftscope.errors import ConfigError, FtscopeError
from ftscope.experiments.config import ExperimentConfig, TunedModel, _line
from ftscope.specs import (TUNED_ELSEWHERE, Cell, EvalCell, EvalSpec, ModelRef, RagCell, RagSpec, TrainCell,
                           TrainSpec, cell_hash)
from ftscope.tasks import Catalogue, Task
from ftscope.tasks.user import UserDatasetSpec, user_entry, user_task
from ftscope.training import METHODS, resolve, spec_from_mapping

LM_EVAL_PREFIX = "lm-eval:"  # an eval cell's dataset and task when it is an lm-evaluation-harness task


@dataclass(frozen=True)
class Grid:
    config: ExperimentConfig
    train: tuple[TrainCell, ...]
    eval: tuple[EvalCell, ...]
    rag: tuple[RagCell, ...]
    unavailable: Mapping[str, str] = field(default_factory=dict)  # eval dataset → why it cannot be loaded

    @property
    def cells(self) -> tuple[Cell, ...]:
        return self.train + self.eval + self.rag


def catalogue_for(config: ExperimentConfig) -> Catalogue:
    base = Path(config.source).parent if config.source else Path.cwd()
    specs = [UserDatasetSpec.model_validate(d) for d in config.datasets]
    tasks = {s.task.name: user_task(s.task) for s in specs if not isinstance(s.task, str)}
    return Catalogue(config.data_dir, [user_entry(s, base) for s in specs], tasks)


def expand(config: ExperimentConfig, check_models: bool = True) -> Grid:
    """The grid's cells; `check_models=False` (planning) accepts a model this machine cannot load yet."""
    if check_models:
        _check_models(config)
    cat = catalogue_for(config)
    names, unavailable = _eval_datasets(config, cat)
    train_cells, models = [], []
    for base in config.models:
        models.append(ModelRef(base=base))
        for spec in _train_specs(config, base, cat):
            cell = TrainCell(spec)
            train_cells.append(cell)
            models.append(trained_ref(spec, cell_hash(cell), cat))
    models += [_tuned_ref(config, t, i, cat) for i, t in enumerate(config.tuned)]
    _check_judge(config, models)
    _check_lm_eval(config)
    evals = [c for m in models for c in [*_eval_cells(config, m, names, cat), *lm_eval_cells(config, m)]]
    rags = [c for m in models for c in _rag_cells(config, m)]
    return Grid(config, tuple(train_cells), tuple(evals), tuple(rags), unavailable)


def _check_models(config: ExperimentConfig) -> None:
    """An unknown model is refused before anything runs (a --dry-run included), not when its cell starts."""
    from ftscope.models.loading import reference_problem

    for i, base in enumerate(config.models):
        problem = reference_problem(base)
        if problem:
            raise ConfigError(f"{_where(config, 'models', i)}: {problem}")


def _where(config: ExperimentConfig, *loc: Any) -> str:
    try:
        root = yaml.compose(Path(config.source).read_text()) if config.source else None
    except (OSError, yaml.YAMLError):
        root = None
    return f"{config.source or 'experiment'}:{_line(root, [str(x) for x in loc])}: {'.'.join(map(str, loc))}"


def _eval_datasets(config: ExperimentConfig, cat: Catalogue) -> tuple[list[str], dict[str, str]]:
    for i, name in enumerate(config.eval.datasets):  # unknown names: one line with the YAML line
        try:
            cat.resolve([name])
        except ConfigError:
            raise ConfigError(f"{_where(config, 'eval', 'datasets', i)}: '{name}' is not a dataset, a task or "
                              f"'paper'; known datasets: {', '.join(cat.entries)}") from None
    found = cat.resolve(config.eval.datasets)
    return list(found.names), dict(found.unavailable)


# ---- training -------------------------------------------------------------------------------
def _train_specs(config: ExperimentConfig, base: str, cat: Catalogue) -> list[TrainSpec]:
    grid = config.train
    if grid is None:
        return []
    specs = []
    for m, method in enumerate(grid.methods):
        if method not in METHODS:
            raise ConfigError(f"{_where(config, 'train', 'methods', m)}: '{method}' is not one of "
                              f"{', '.join(METHODS)}")
        for d, datasets in enumerate(grid.datasets):
            datasets = [datasets] if isinstance(datasets, str) else list(datasets)
            for name in datasets:
                if name not in cat.entries:
                    raise ConfigError(f"{_where(config, 'train', 'datasets', d)}: '{name}' is not in the catalogue")
            specs += [_spec(config, values) for values in _variants(config, base, method, datasets, cat)]
    return specs


def _variants(config: ExperimentConfig, base: str, method: str, datasets: list[str],
              cat: Catalogue) -> Iterator[dict[str, Any]]:
    grid = config.train
    for n in grid.n:
        for seed in grid.seeds:
            values = {**grid.params, **grid.method_params.get(method, {}), "model": base, "method": method,
                      "datasets": datasets, "n": n, "seed": seed}
            for k in _paper_k(config, values, datasets, cat):
                yield {**values, "fticl_k": k} if k is not None else values


def _paper_k(config: ExperimentConfig, values: dict, datasets: list[str], cat: Catalogue) -> list[int | None]:
    """`fticl_k: paper` trains once per k the paper's repository uses for the training task."""
    if values.get("fticl_k") != "paper":
        return [None]
    ks = {cat.task_of(d).paper_fticl_k for d in datasets}
    if len(ks) != 1 or not next(iter(ks)):
        raise ConfigError(f"{_where(config, 'train', 'method_params')}: fticl_k: paper needs training data of one "
                          f"paper task (got {', '.join(datasets)}); give a number instead")
    return list(next(iter(ks)))


def _spec(config: ExperimentConfig, values: dict[str, Any]) -> TrainSpec:
    where = _where(config, "train")
    try:
        return resolve(spec_from_mapping(values, where))
    except FtscopeError as e:
        raise ConfigError(str(e)) from None


def _tasks(datasets: tuple[str, ...], cat: Catalogue) -> list[Task]:
    return [cat.task_of(d) for d in datasets]


def trained_ref(spec: TrainSpec, hash_: str, cat: Catalogue) -> ModelRef:
    """The model a train cell produces, as every eval and RAG cell of it names it."""
    tasks = _tasks(spec.datasets, cat)
    return ModelRef(base=spec.model, method=spec.method, tune=spec.option("tune"), train_datasets=spec.datasets,
                    train_tasks=tuple(t.name for t in tasks), train_kinds=tuple(t.kind for t in tasks),
                    train_labels=_labels(tasks), n=spec.n, seed=spec.seed, train_cell=hash_)


def _labels(tasks: list[Task]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(label for t in tasks if t.is_classification for label in t.labels))


def _tuned_ref(config: ExperimentConfig, tuned: TunedModel, index: int, cat: Catalogue) -> ModelRef:
    for name in tuned.trained_on:
        if name not in cat.entries:
            raise ConfigError(f"{_where(config, 'tuned', index, 'trained_on')}: '{name}' is not in the catalogue")
    path = str(Path(tuned.path).resolve()) if Path(tuned.path).exists() else tuned.path
    tasks = _tasks(tuple(tuned.trained_on), cat)
    return ModelRef(base=config.models[0], method=TUNED_ELSEWHERE, train_datasets=tuple(tuned.trained_on),
                    train_tasks=tuple(t.name for t in tasks), train_kinds=tuple(t.kind for t in tasks),
                    train_labels=_labels(tasks), path=path, name=tuned.label or f"tuned {Path(tuned.path).name}",
                    soft_prompt=tuned.soft_prompt)


# ---- evaluation -----------------------------------------------------------------------------
def _keeps_prompt_in_domain(model: ModelRef) -> bool:
    """A method that saves a removable soft prompt (ProMoT) is evaluated with it on its own task."""
    method = METHODS.get(model.method)
    return bool(method and method.artefact(method.Options()).soft_prompt)


def _eval_cells(config: ExperimentConfig, model: ModelRef, datasets: list[str], cat: Catalogue) -> list[EvalCell]:
    e = config.eval
    if model.is_base and not e.base:
        return []
    cells = []
    for name in datasets:
        task = cat.task_of(name)
        _check_pool(config, cat, name, task)
        evaluated = model.with_prompt() if _keeps_prompt_in_domain(model) and name in model.train_datasets else model
        for template in e.templates:
            for shots in e.shots_for(task.paper_shots, model.role(name, task.name)):
                spec = EvalSpec(name, shots, template, e.scoring, e.limit, e.fewshot, e.fewshot_seed, e.max_new_tokens)
                cells.append(EvalCell(evaluated, spec, task.name, task.kind))
    return cells


def lm_eval_cells(config: ExperimentConfig, model: ModelRef) -> list[EvalCell]:
    """One benchmark cell per lm-eval task and shot count (`shots: paper` runs them 0-shot: the paper's
    shot counts are per paper task). Benchmarks have no template of ours and belong to no training task."""
    e = config.eval
    if model.is_base and not e.base:
        return []
    shots = [0] if e.shots == "paper" else e.shots
    source = lm_eval_source(e.lm_eval_include) if e.lm_eval_tasks else None
    return [EvalCell(model, EvalSpec(dataset=f"{LM_EVAL_PREFIX}{task}", shots=k, template="lm-eval", scoring="loglik",
                                     limit=e.limit, task_source=source), task=f"{LM_EVAL_PREFIX}{task}",
                     task_kind="benchmark")
            for task in e.lm_eval_tasks for k in shots]


def lm_eval_source(include: str | None) -> str:
    """What an lm-eval task's definition depends on beyond its name: the harness's version (its stock YAMLs and
    metrics change between releases) and, with an include folder, a digest of every file in it (YAMLs, the
    `!function` Python, local data). The whole folder, not the one task's YAML: a YAML may `include:` a sibling
    and a task may import any module there, and re-running too much is safe where re-using a stale cell is not.
    Files a YAML names outside the folder (an absolute `data_files` path) are not followed."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        source = f"lm-eval {version('lm_eval')}"
    except PackageNotFoundError:  # _check_lm_eval says how to install it; the grid itself need not fail here
        source = "lm-eval (not installed)"
    if include:
        root = Path(include)
        digest = hashlib.sha256()
        for path in sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts
                           and not any(part.startswith(".") for part in p.relative_to(root).parts)):
            digest.update(f"{path.relative_to(root).as_posix()}\0{path.stat().st_size}\0".encode())
            digest.update(path.read_bytes())
        source += f"; include folder sha256 {digest.hexdigest()[:16]}"
    return source


def _check_lm_eval(config: ExperimentConfig) -> None:
    """lm-eval installed and every task known, before anything runs."""
    if not config.eval.lm_eval_tasks:
        return
    from ftscope.evaluation.lm_eval import check_tasks

    include = config.eval.lm_eval_include
    if include and not Path(include).is_dir():
        raise ConfigError(f"{_where(config, 'eval', 'lm_eval_include')}: {include} is not a folder; give the folder "
                          "of your lm-eval task YAMLs")
    try:
        check_tasks(config.eval.lm_eval_tasks, include)
    except FtscopeError as e:
        raise ConfigError(f"{_where(config, 'eval', 'lm_eval_tasks')}: {e}") from None


def _check_pool(config: ExperimentConfig, cat: Catalogue, name: str, task: Task) -> None:
    """k-shot needs k demonstrations: say so before anything runs, not after the model loaded."""
    shots = config.eval.shots_for(task.paper_shots, None)  # the base's: every count any role runs
    data = cat.test(name)
    used = min(len(data.examples), config.eval.limit or len(data.examples))
    pool = len(data.fewshot) if data.fewshot else len(data.examples) - used  # else: the items after the limit
    if shots and max(shots) > pool:
        field = "shots" if max(shots) in config.eval.plain_shots(task.paper_shots) else "role_shots"
        raise ConfigError(f"{_where(config, 'eval', field)}: {max(shots)}-shot needs {max(shots)} demonstrations "
                          f"but {name}'s few-shot pool holds {pool}; lower the shots or give a larger fewshot_file")


def _check_judge(config: ExperimentConfig, models: list[ModelRef]) -> None:
    judge = config.rag.judge if config.rag else None
    under_test = {m.base for m in models} | {m.path for m in models if m.path}
    if judge and (judge in under_test or str(Path(judge).resolve()) in under_test):
        raise ConfigError(f"{_where(config, 'rag', 'judge')}: '{judge}' is a model under test; a judge must be "
                          "another model (e.g. gemma3-270m for smollm2-135m)")


def _rag_cells(config: ExperimentConfig, model: ModelRef) -> list[RagCell]:
    r = config.rag
    if r is None or (model.is_base and not config.eval.base):
        return []
    return [RagCell(model, RagSpec(corpus=str(Path(corpus).resolve()), retriever=r.retriever, k=r.k, limit=r.limit,
                                   max_new_tokens=r.max_new_tokens, format=fmt, judge=r.judge,
                                   judge_template=r.judge_template, questions=r.questions), Path(corpus).stem)
            for corpus in r.corpora for fmt in r.formats]
