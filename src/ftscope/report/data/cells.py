"""Store → tidy tables: one row per eval / rag / train cell, the model's fields flattened beside it.

Every file is optional: a cell marked done whose metrics.json is gone gets a `problem` note and its
score from predictions.jsonl where that survives (else NaN), so a half-finished or hand-edited store
still gives a report instead of a traceback.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable

import pandas as pd

from ftscope.experiments.cells import Cell, canonical
from ftscope.report.values import example_values
from ftscope.tasks.catalogue import PAPER_DATASETS
from ftscope.tasks.kinds import role
from ftscope.tasks.paper import PAPER_TASKS

MODEL_COLUMNS = ["model", "model_label", "group", "base", "method", "method_label", "tune", "train_datasets",
                 "train_task", "train_kind", "n", "seed"]
CELL_COLUMNS = ["hash", "status", "label", "dir", "error", "seconds", "problem"]
EVAL_COLUMNS = [*MODEL_COLUMNS, "dataset", "task", "task_kind", "role", "shots", "template", "scoring", "limit",
                "metric", "score", "se", "n_examples", "setting", "bench", *CELL_COLUMNS]
RAG_METRICS = ["em", "f1", "contains", "completeness", "faithfulness"]
RAG_COLUMNS = [*MODEL_COLUMNS, "corpus_name", "retriever", "k", "limit", *RAG_METRICS,
               *[f"{m}_se" for m in RAG_METRICS], "recall", "mrr", "n_questions", "setting", *CELL_COLUMNS]
# What makes two cells the same measurement of different models: their spec minus the model (and the
# role, which the grid writes into tuned models' eval specs only).
NOT_SETTING = ("model", "model_label", "needs", "role")


def read_json(path: str | Path) -> dict[str, Any] | None:
    try:
        found = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return found if isinstance(found, dict) else None


def primary_metric(task_kind: str) -> str:
    return "accuracy" if task_kind == "classification" else "rougeL"


def task_kinds(rows: Iterable[dict]) -> dict[str, str]:
    """Task → kind, from the paper's tasks and whatever the eval cells declare (user tasks)."""
    kinds = {name: t.kind for name, t in PAPER_TASKS.items()}
    for r in rows:
        if r["kind"] == "eval" and r["spec"].get("task") and r["spec"].get("task_kind"):
            kinds[r["spec"]["task"]] = r["spec"]["task_kind"]
    return kinds


def train_tasks(model: dict) -> list[str]:
    tasks = [model["train_task"]] if model.get("train_task") else []
    known = [PAPER_DATASETS[d].task for d in model.get("train_datasets") or [] if d in PAPER_DATASETS]
    return list(dict.fromkeys(tasks + known))


def eval_role(dataset: str, task: str, model: dict) -> str | None:
    """The paper's role of a test set for this model; multi-dataset training: first set is in-domain."""
    datasets, tasks = model.get("train_datasets") or [], train_tasks(model)
    if model.get("method", "base") == "base" or not datasets:
        return None
    return role(dataset, task, datasets[0], task if task in tasks else (tasks[0] if tasks else ""))


def method_label(model: dict) -> str:
    """The method as a reader compares it: FTICL and ProMoT name what they tune (full or LoRA)."""
    method = model.get("method") or "base"
    return f"{method}({model['tune']})" if method in ("fticl", "promot") and model.get("tune") else method


def model_key(model: dict, label: str | None) -> str:
    """One id per model: its train cell, else its folder (a model tuned elsewhere), else the base."""
    if (model.get("method") or "base") == "base":
        return f"base:{model.get('base')}"
    return model.get("hash") or model.get("path") or f"tuned:{label}"


def group_label(model: dict, label: str | None = None) -> str:
    """A model's name without its seed: the unit that seeds are averaged over."""
    if (model.get("method") or "base") == "base":
        return f"base {model.get('base', '?')}"
    if model.get("method") == "tuned":  # tuned elsewhere: no seeds to pool, its own label is its group
        return label or str(model.get("path"))
    return f"{method_label(model)} {'+'.join(model.get('train_datasets') or [])} n={model.get('n')}"


def model_columns(spec: dict, kinds: dict[str, str]) -> dict[str, Any]:
    model = spec.get("model") or {}
    tasks = train_tasks(model)
    method = model.get("method") or "base"
    label = spec.get("model_label")
    return {"model": model_key(model, label), "model_label": label, "group": group_label(model, label),
            "base": model.get("base"), "method": method,
            "method_label": method_label(model), "tune": model.get("tune"),
            "train_datasets": "+".join(model.get("train_datasets") or []), "train_task": tasks[0] if tasks else None,
            "train_kind": kinds.get(tasks[0]) if tasks else None, "n": model.get("n"), "seed": model.get("seed")}


def cell_columns(row: dict) -> dict[str, Any]:
    try:
        label = Cell.of(row["kind"], {k: v for k, v in row["spec"].items() if k != "needs"}).label()
    except (KeyError, TypeError):
        label = f"{row['kind']} {row['hash']}"
    return {"hash": row["hash"], "status": row["status"], "label": label, "dir": row["dir"],
            "error": row.get("error"), "seconds": row.get("seconds"), "problem": None}


def setting_key(spec: dict, drop: tuple[str, ...] = ()) -> str:
    return canonical({k: v for k, v in spec.items() if k not in NOT_SETTING + drop})


def _metrics(row: dict, record: dict) -> dict:
    if row["status"] != "done":
        return {}
    found = read_json(Path(row["dir"]) / "metrics.json")
    if found is None:
        record["problem"] = "done, but metrics.json is missing or unreadable"
    return found or {}


def _from_predictions(cell_dir: str, metric: str) -> dict[str, Any]:
    """Without metrics.json, the score is still the mean of the per-example values (no SE)."""
    values = list(example_values(cell_dir, metric).values())
    return {metric: sum(values) / len(values), "n": len(values)} if values else {}


def _eval_record(row: dict, kinds: dict[str, str]) -> dict[str, Any]:
    spec = row["spec"]
    kind = spec.get("task_kind") or kinds.get(spec.get("task"), "classification")
    metric, record = primary_metric(kind), cell_columns(row)
    found = _metrics(row, record)
    if record["problem"] and metric not in found:
        found = _from_predictions(row["dir"], metric)
    return {**record, **model_columns(spec, kinds), "dataset": spec.get("dataset"), "task": spec.get("task"),
            "task_kind": kind,
            "role": spec.get("role") or eval_role(spec.get("dataset"), spec.get("task"), spec.get("model") or {}),
            "shots": spec.get("shots", 0), "template": spec.get("template"), "scoring": spec.get("scoring"),
            "limit": spec.get("limit"), "metric": metric, "score": found.get(metric), "se": found.get(f"{metric}_se"),
            "n_examples": found.get("n"), "setting": setting_key(spec), "bench": setting_key(spec, ("shots",))}


def _rag_records(row: dict, kinds: dict[str, str]) -> list[dict[str, Any]]:
    spec, record = row["spec"], cell_columns(row)
    per_corpus = _metrics(row, record).get("rag") or {spec.get("corpus_name", "?"): {}}
    base = {**record, **model_columns(spec, kinds), "retriever": spec.get("retriever"), "k": spec.get("k"),
            "limit": spec.get("limit"), "setting": setting_key(spec)}
    out = []
    for corpus, vals in per_corpus.items():
        recall = next((v for key, v in vals.items() if key.startswith("recall@") and not key.endswith("_se")), None)
        out.append({**base, "corpus_name": corpus, **{m: vals.get(m) for m in RAG_METRICS},
                    **{f"{m}_se": vals.get(f"{m}_se") for m in RAG_METRICS}, "recall": recall,
                    "mrr": vals.get("mrr"), "n_questions": vals.get("n")})
    return out


def _select(rows: Iterable[dict], kind: str, done_only: bool) -> list[dict]:
    return [r for r in rows if r["kind"] == kind and (r["status"] == "done" or not done_only)]


def eval_table(rows: list[dict], done_only: bool = True) -> pd.DataFrame:
    """One row per eval cell (done ones only, unless asked), with its primary metric and role."""
    kinds = task_kinds(rows)
    records = [_eval_record(r, kinds) for r in _select(rows, "eval", done_only)]
    return pd.DataFrame.from_records(records, columns=EVAL_COLUMNS)


def rag_table(rows: list[dict], done_only: bool = True) -> pd.DataFrame:
    """One row per rag cell and corpus, every answer metric with its standard error."""
    kinds = task_kinds(rows)
    records = [rec for r in _select(rows, "rag", done_only) for rec in _rag_records(r, kinds)]
    return pd.DataFrame.from_records(records, columns=RAG_COLUMNS)
