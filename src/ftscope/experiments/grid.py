"""Expand an experiment config into cells: train cells, then eval and RAG cells for every model.

Every model (the untouched base, and each trained one) is evaluated on the same suite, so every tuned
score has a base score on the same examples beside it. Unknown datasets, methods and training
parameters are caught here, with the YAML line, before any cell runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ftscope.errors import ConfigError, FtscopeError
from ftscope.experiments.cells import Cell
from ftscope.experiments.config import ExperimentConfig, _line
from ftscope.tasks import PAPER_DATASETS, Catalogue, role
from ftscope.tasks.user import UserDatasetSpec, user_entry, user_task
from ftscope.training import METHOD_NAMES, TrainSpec, check, spec_from_mapping


@dataclass(frozen=True)
class Grid:
    config: ExperimentConfig
    train: tuple[Cell, ...]
    eval: tuple[Cell, ...]
    rag: tuple[Cell, ...]

    @property
    def cells(self) -> tuple[Cell, ...]:
        return self.train + self.eval + self.rag


def catalogue_for(config: ExperimentConfig) -> Catalogue:
    base = Path(config.source).parent if config.source else Path.cwd()
    specs = [UserDatasetSpec.model_validate(d) for d in config.datasets]
    tasks = {s.task.name: user_task(s.task) for s in specs if not isinstance(s.task, str)}
    return Catalogue(config.data_dir, [user_entry(s, base) for s in specs], tasks)


def expand(config: ExperimentConfig) -> Grid:
    cat = catalogue_for(config)
    eval_datasets = _eval_datasets(config, cat)
    train_cells, models = [], []
    for base in config.models:
        models.append(_base_model(base))
        for spec in _train_specs(config, base, cat):
            cell = Cell.of("train", spec.resolved().to_dict())
            train_cells.append(cell)
            models.append(_trained_model(spec, cell.hash, cat))
    models += [_tuned_model(config, t, i, cat) for i, t in enumerate(config.tuned)]
    evals = [c for m in models for c in _eval_cells(config, m, eval_datasets, cat)]
    rags = [c for m in models for c in _rag_cells(config, m)]
    return Grid(config, tuple(train_cells), tuple(evals), tuple(rags))


def _where(config: ExperimentConfig, *loc: Any) -> str:
    try:
        root = yaml.compose(Path(config.source).read_text()) if config.source else None
    except (OSError, yaml.YAMLError):
        root = None
    return f"{config.source or 'experiment'}:{_line(root, [str(x) for x in loc])}: {'.'.join(map(str, loc))}"


def _eval_datasets(config: ExperimentConfig, cat: Catalogue) -> list[str]:
    names: list[str] = []
    for i, name in enumerate(config.eval.datasets):
        if name == "paper":
            names += [n for n in PAPER_DATASETS if cat.available(n)]
        elif name in cat.tasks and name not in cat.entries:
            names += [n for n in cat.names(name) if cat.available(n)]  # a task: what can be loaded
        elif name in cat.entries:
            names.append(name)
        else:
            raise ConfigError(f"{_where(config, 'eval', 'datasets', i)}: '{name}' is not a dataset, a task or "
                              f"'paper'; known datasets: {', '.join(cat.entries)}")
    return list(dict.fromkeys(names))


def _train_specs(config: ExperimentConfig, base: str, cat: Catalogue) -> list[TrainSpec]:
    grid = config.train
    if grid is None:
        return []
    specs = []
    for m, method in enumerate(grid.methods):
        if method not in METHOD_NAMES:
            raise ConfigError(f"{_where(config, 'train', 'methods', m)}: '{method}' is not one of "
                              f"{', '.join(METHOD_NAMES)}")
        for d, datasets in enumerate(grid.datasets):
            datasets = [datasets] if isinstance(datasets, str) else list(datasets)
            for name in datasets:
                if name not in cat.entries:
                    raise ConfigError(f"{_where(config, 'train', 'datasets', d)}: '{name}' is not in the catalogue")
            for n in grid.n:
                for seed in grid.seeds:
                    values = {**grid.params, **grid.method_params.get(method, {}), "model": base, "method": method,
                              "datasets": datasets, "n": n, "seed": seed}
                    try:
                        specs.append(check(spec_from_mapping(values, _where(config, "train")), _where(config, "train")))
                    except FtscopeError as e:
                        raise ConfigError(str(e)) from None
    return specs


def _base_model(base: str) -> dict[str, Any]:
    return {"base": base, "method": "base", "tune": None, "train_datasets": [], "train_task": None, "n": None,
            "seed": None, "hash": None, "label": f"base {base}"}


def _trained_model(spec: TrainSpec, hash_: str, cat: Catalogue) -> dict[str, Any]:
    tune = spec.tune if spec.method in ("fticl", "promot") else None
    label = f"{spec.method}{'-' + tune if tune else ''} {'+'.join(spec.datasets)} n={spec.n} seed={spec.seed}"
    return {"base": spec.model, "method": spec.method, "tune": tune, "train_datasets": list(spec.datasets),
            "train_task": cat.task_of(spec.datasets[0]).name, "n": spec.n, "seed": spec.seed, "hash": hash_,
            "label": label}


def _tuned_model(config: ExperimentConfig, tuned, index: int, cat: Catalogue) -> dict[str, Any]:
    for name in tuned.trained_on:
        if name not in cat.entries:
            raise ConfigError(f"{_where(config, 'tuned', index, 'trained_on')}: '{name}' is not in the catalogue")
    path = str(Path(tuned.path).resolve()) if Path(tuned.path).exists() else tuned.path
    return {"base": config.models[0], "method": "tuned", "tune": None, "train_datasets": list(tuned.trained_on),
            "train_task": cat.task_of(tuned.trained_on[0]).name if tuned.trained_on else None, "n": None,
            "seed": None, "hash": None, "path": path, "label": tuned.label or f"tuned {Path(tuned.path).name}"}


def _eval_cells(config: ExperimentConfig, model: dict, datasets: list[str], cat: Catalogue) -> list[Cell]:
    e = config.eval
    if model["method"] == "base" and not e.base:
        return []
    cells = []
    for name in datasets:
        task = cat.task_of(name)
        for template in e.templates:
            for shots in task.paper_shots if e.shots == "paper" else e.shots:
                spec = {"model": {k: v for k, v in model.items() if k != "label"}, "model_label": model["label"],
                        "dataset": name, "task": task.name, "task_kind": task.kind, "shots": shots,
                        "template": template, "scoring": e.scoring, "limit": e.limit, "fewshot": e.fewshot,
                        "fewshot_seed": e.fewshot_seed, "max_new_tokens": e.max_new_tokens}
                if model["train_datasets"] and model["train_task"]:
                    spec["role"] = role(name, task.name, model["train_datasets"][0], model["train_task"])
                cells.append(Cell.of("eval", spec, needs=model["hash"]))
    return cells


def _rag_cells(config: ExperimentConfig, model: dict) -> list[Cell]:
    if config.rag is None:
        return []
    r = config.rag
    return [Cell.of("rag", {"model": {k: v for k, v in model.items() if k != "label"}, "model_label": model["label"],
                            "corpus": str(Path(corpus).resolve()), "corpus_name": Path(corpus).stem,
                            "retriever": r.retriever, "k": r.k, "limit": r.limit, "max_new_tokens": r.max_new_tokens},
                    needs=model["hash"])
            for corpus in r.corpora]
