"""Store → tidy tables: one row per eval / RAG / train cell, the model's fields flattened beside it.

Cells are read through CellFiles, their specs are the typed cells of ftscope.specs. Every file is
optional: a cell marked done whose metrics.json is gone gets a `problem` note and its score from
predictions.jsonl where that survives (else NaN), so a half-finished or hand-edited store still gives a
report instead of a traceback.
"""

from __future__ import annotations

from typing import Any, Iterable

import pandas as pd

from ftscope.experiments.files import CellFiles
from ftscope.report.data.values import example_values
from ftscope.specs import EvalCell, ModelRef, RagCell, TrainCell, canonical

MODEL_COLUMNS = ["model", "model_label", "group", "base", "method", "method_label", "tune", "train_datasets",
                 "train_task", "train_kind", "train_labels", "n", "seed", "soft_prompt"]
CELL_COLUMNS = ["hash", "status", "label", "dir", "error", "seconds", "problem"]
FACT_COLUMNS = ["model_params", "model_quant", "model_dtype", "model_instruct"]  # the model as it ran
EVAL_COLUMNS = [*MODEL_COLUMNS, "dataset", "task", "task_kind", "role", "shots", "template", "scoring", "limit",
                "metric", "score", "se", "n_examples", "setting", "bench", *FACT_COLUMNS, *CELL_COLUMNS]
RAG_METRICS = ["em", "f1", "contains", "completeness", "faithfulness", "judge_accuracy", "judge_completeness"]
RAG_COLUMNS = [*MODEL_COLUMNS, "corpus_name", "format", "retriever", "k", "limit", "judge", *RAG_METRICS,
               *[f"{m}_se" for m in RAG_METRICS], "recall", "mrr", "n_questions", "setting", *CELL_COLUMNS]


def primary_metric(task_kind: str) -> str:
    """Accuracy for classification (and benchmarks scored per item), ROUGE-L F1 for generation."""
    return "rougeL" if task_kind == "generation" else "accuracy"


def model_columns(model: ModelRef) -> dict[str, Any]:
    return {"model": model.key, "model_label": model.label, "group": model.group, "base": model.base,
            "method": model.method, "method_label": model.method_label, "tune": model.tune,
            "train_datasets": "+".join(model.train_datasets),
            "train_task": "+".join(dict.fromkeys(model.train_tasks)) or None, "train_kind": model.train_kind,
            "train_labels": tuple(model.train_labels), "n": model.n, "seed": model.seed,
            "soft_prompt": model.soft_prompt}


def cell_columns(row: dict) -> dict[str, Any]:
    return {"hash": row["hash"], "status": row["status"], "label": row["cell"].label(), "dir": row["dir"],
            "error": row.get("error"), "seconds": row.get("seconds"), "problem": None}


def setting_key(cell: EvalCell | RagCell, drop: tuple[str, ...] = ()) -> str:
    """What makes two cells the same measurement of different models: everything but the model."""
    spec = {k: v for k, v in cell.spec.to_dict().items() if k not in drop}
    extra = {"task": cell.task} if isinstance(cell, EvalCell) else {"corpus": cell.corpus_name}
    return canonical({**spec, **extra})


def _metrics(row: dict, record: dict) -> dict:
    if row["status"] != "done":
        return {}
    found = CellFiles(row["dir"]).metrics()
    if found is None:
        record["problem"] = "done, but metrics.json is missing or unreadable"
    return found or {}


def _from_predictions(cell_dir: str, metric: str) -> dict[str, Any]:
    """Without metrics.json, the score is still the mean of the per-example values (no SE)."""
    values = list(example_values(cell_dir, metric).values())
    return {metric: sum(values) / len(values), "n": len(values)} if values else {}


def _eval_record(row: dict) -> dict[str, Any]:
    cell: EvalCell = row["cell"]
    metric, record = primary_metric(cell.task_kind), cell_columns(row)
    found = _metrics(row, record)
    if record["problem"] and metric not in found:
        found = _from_predictions(row["dir"], metric)
    s = cell.spec
    return {**record, **model_columns(cell.model), "dataset": s.dataset, "task": cell.task,
            "task_kind": cell.task_kind, "role": cell.role, "shots": s.shots, "template": s.template,
            "scoring": s.scoring, "limit": s.limit, "metric": metric, "score": found.get(metric),
            "se": found.get(f"{metric}_se"), "n_examples": found.get("n"), "setting": setting_key(cell),
            "bench": setting_key(cell, ("shots",)), **_facts(found.get("model"))}


def _facts(model: dict | None) -> dict[str, Any]:
    model = model if isinstance(model, dict) else {}
    return {"model_params": model.get("params"), "model_quant": model.get("quantized_source"),
            "model_dtype": model.get("dtype"), "model_instruct": model.get("instruct")}


def _rag_record(row: dict) -> dict[str, Any]:
    cell: RagCell = row["cell"]
    record = cell_columns(row)
    vals = _metrics(row, record)
    recall = next((v for key, v in vals.items() if key.startswith("recall@") and not key.endswith("_se")), None)
    s = cell.spec
    return {**record, **model_columns(cell.model), "corpus_name": cell.corpus_name, "format": s.format,
            "retriever": s.retriever, "k": s.k, "limit": s.limit, "judge": s.judge,
            **{m: vals.get(m) for m in RAG_METRICS}, **{f"{m}_se": vals.get(f"{m}_se") for m in RAG_METRICS},
            "recall": recall, "mrr": vals.get("mrr"), "n_questions": vals.get("n"), "setting": setting_key(cell)}


def _select(rows: Iterable[dict], kind: type, done_only: bool) -> list[dict]:
    return [r for r in rows if isinstance(r["cell"], kind) and (r["status"] == "done" or not done_only)]


def eval_table(rows: list[dict], done_only: bool = True) -> pd.DataFrame:
    """One row per eval cell (done ones only, unless asked), with its primary metric and role."""
    return pd.DataFrame.from_records([_eval_record(r) for r in _select(rows, EvalCell, done_only)],
                                     columns=EVAL_COLUMNS)


def rag_table(rows: list[dict], done_only: bool = True) -> pd.DataFrame:
    """One row per RAG cell, every answer metric with its standard error."""
    return pd.DataFrame.from_records([_rag_record(r) for r in _select(rows, RagCell, done_only)],
                                     columns=RAG_COLUMNS)


def train_rows(rows: list[dict]) -> list[dict]:
    return [r for r in rows if isinstance(r["cell"], TrainCell)]
