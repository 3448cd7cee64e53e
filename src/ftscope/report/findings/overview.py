"""What the store holds: cells by kind and status, the models, the training runs, and what is missing.

Manifest fields are all optional: older or partial runs lack some, and a missing number is a blank
in the table, never an error.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from ftscope.experiments.files import CellFiles
from ftscope.report.data.cells import cell_columns, train_rows

STATUSES = ["done", "running", "stalled", "pending", "failed"]
TRAIN_COLUMNS = ["label", "status", "method", "tune", "datasets", "n", "seed", "epochs", "wall_seconds", "tokens",
                 "tokens_per_second", "first_loss", "last_loss", "heldout_base_loss", "heldout_tuned_loss",
                 "weight_change", "layer_change", "embedding_share", "notes", "hash"]


def status_counts(rows: list[dict]) -> pd.DataFrame:
    """Cells per kind (train, eval, rag) and status, with totals."""
    counts = pd.DataFrame(0, index=["train", "eval", "rag"], columns=STATUSES)
    for row in rows:
        if row["kind"] in counts.index and row["status"] in counts.columns:
            counts.loc[row["kind"], row["status"]] += 1
    counts["total"] = counts.sum(axis=1)
    return counts.rename_axis("kind").reset_index()


def models(evals: pd.DataFrame, rags: pd.DataFrame) -> pd.DataFrame:
    """Every model the experiment evaluates, with how many of its eval and rag cells are done."""
    cells = pd.concat([evals.assign(kind="eval"), rags.assign(kind="rag")], ignore_index=True)
    if cells.empty:
        return pd.DataFrame(columns=["model_label", "method", "train_datasets", "n", "seed", "eval", "rag"])
    cells = cells.drop_duplicates(["hash"])
    keys = ["model_label", "method", "train_datasets", "n", "seed"]
    summary = cells.groupby([*keys, "kind"], dropna=False)["status"].agg(
        lambda s: f"{(s == 'done').sum()}/{len(s)}").unstack("kind")
    return summary.reindex(columns=["eval", "rag"]).fillna("0/0").reset_index()


def not_done(rows: list[dict]) -> pd.DataFrame:
    """Failed, running and pending cells by name, failures first with their error's first line."""
    order = {"failed": 0, "stalled": 1, "running": 2, "pending": 3}
    records = [{**cell_columns(r), "kind": r["kind"]} for r in rows if r["status"] in order]
    for rec in records:
        rec["error"] = (rec["error"] or "").strip().splitlines()[0][:200] if rec["error"] else ""
    records.sort(key=lambda r: (order[r["status"]], r["kind"], r["label"]))
    return pd.DataFrame.from_records(records, columns=["status", "kind", "label", "error", "hash"])


def _get(found: dict, *paths: str) -> Any:
    """The first of several dotted paths that exists (manifests name a few fields two ways)."""
    for path in paths:
        value: Any = found
        for part in path.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if value is not None and not isinstance(value, dict):
            return value
    return None


def _loss(point: Any) -> float | None:
    return point.get("loss") if isinstance(point, dict) else point


def manifest_of(row: dict) -> dict:
    """A train cell's manifest (empty when it has none yet)."""
    return CellFiles(row["dir"]).manifest() or {}


def train_record(row: dict) -> dict[str, Any]:
    spec, manifest = row["cell"].spec, manifest_of(row)
    curve = manifest.get("loss_curve") or []
    return {"label": cell_columns(row)["label"], "status": row["status"], "method": spec.method,
            "tune": spec.option("tune"), "datasets": "+".join(spec.datasets), "n": spec.n,
            "seed": spec.seed, "epochs": spec.epochs, "hash": row["hash"],
            "wall_seconds": _get(manifest, "wall_seconds") or row.get("seconds"),
            "tokens": _get(manifest, "tokens.processed", "tokens.total", "tokens"),
            "tokens_per_second": _get(manifest, "tokens.tokens_per_second"),
            "first_loss": _loss(curve[0]) if curve else None, "last_loss": _loss(curve[-1]) if curve else None,
            "heldout_base_loss": _get(manifest, "heldout.base_loss", "base_heldout_loss"),
            "heldout_tuned_loss": _get(manifest, "heldout.tuned_loss", "heldout_loss", "tuned_loss"),
            "weight_change": _get(manifest, "weight_change.mean_abs", "weight_change"),
            "layer_change": _get(manifest, "weight_change.layer_relative_change"),
            "embedding_share": _get(manifest, "weight_change.embedding_share"),
            "notes": "; ".join(manifest.get("notes") or [])}


def train_summary(rows: list[dict]) -> pd.DataFrame:
    records = sorted((train_record(r) for r in train_rows(rows)), key=lambda r: r["label"])
    return pd.DataFrame.from_records(records, columns=TRAIN_COLUMNS)


def loss_curves(rows: list[dict]) -> dict[str, list[float]]:
    """label → training losses, for the done train cells whose manifest has a curve."""
    curves = {}
    for row in rows:
        if row["kind"] == "train" and row["status"] == "done":
            manifest = manifest_of(row)
            losses = [_loss(p) for p in manifest.get("loss_curve") or []]
            if losses and all(isinstance(v, (int, float)) for v in losses):
                curves[cell_columns(row)["label"]] = losses
    return curves
