"""Bar charts with paired-bootstrap CIs (per method, RAG per corpus) and the training loss curves."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ftscope.report.render.figures import OKABE_ITO, Plot, save


def _grouped_bars(ax, rows: pd.DataFrame, x_col: str, series_col: str, order: list[str]) -> None:
    """Bars of delta (×100) with CI whiskers: groups along x, one coloured bar per series."""
    labels = sorted(rows[series_col].unique())
    width = 0.8 / max(1, len(labels))
    for k, label in enumerate(labels):
        # mean over duplicates (e.g. two retrievers on one corpus) so reindexing never fails
        part = rows[rows[series_col] == label].groupby(x_col)[["delta", "lo", "hi"]].mean().reindex(order)
        x = np.arange(len(order)) + (k - (len(labels) - 1) / 2) * width
        err = np.abs(np.vstack([part["delta"] - part["lo"], part["hi"] - part["delta"]])) * 100
        ax.bar(x, part["delta"] * 100, width, yerr=np.nan_to_num(err), capsize=3, color=OKABE_ITO[k % 8],
               label=label)
    ax.axhline(0, color="grey", lw=0.8)
    ax.legend(fontsize=7)


def method_bars(summary: pd.DataFrame, out_dir: Path) -> list[Plot]:
    """Mean delta vs the base per method and role (task kinds side by side), with 95% bootstrap CIs."""
    if summary.empty or "delta" not in summary:
        return []
    rows = summary.dropna(subset=["delta"]).assign(what=lambda d: d["role"] + "\n" + d["task_kind"])
    whats = list(dict.fromkeys(rows["what"]))
    fig = Figure(figsize=(max(5.0, 1.5 * len(whats)), 3.8), layout="constrained")
    ax = fig.add_subplot()
    _grouped_bars(ax, rows, "what", "method", whats)
    ax.set_xticks(range(len(whats)), whats)
    ax.set(ylabel="Δ vs base (points)")
    return [save(fig, out_dir, "methods", "Deltas per method",
                  "Tuned − base score (×100) pooled over cells, with paired-bootstrap 95% CIs.")]


def rag_bars(deltas: pd.DataFrame, out_dir: Path) -> list[Plot]:
    """Per corpus: tuned − base for each answer metric, one bar per tuned model."""
    if deltas.empty:
        return []
    corpora = sorted(deltas["corpus_name"].unique())
    fig = Figure(figsize=(6.0 * len(corpora), 3.8), layout="constrained")
    for k, (ax, corpus) in enumerate(zip(fig.subplots(1, len(corpora), squeeze=False)[0], corpora)):
        part = deltas[deltas["corpus_name"] == corpus]
        metrics = list(dict.fromkeys(part["metric"]))
        _grouped_bars(ax, part, "metric", "model_label", metrics)
        ax.set_xticks(range(len(metrics)), metrics, rotation=20, ha="right")
        ax.set(title=corpus, ylabel="Δ vs base (points)" if k == 0 else None)
    return [save(fig, out_dir, "rag", "RAG: tuned vs base per corpus",
                  "Tuned − base answer metrics (×100) on the same questions, with paired-bootstrap 95% CIs.")]


def loss_plot(curves: dict[str, list[float]], out_dir: Path, limit: int = 12) -> list[Plot]:
    if not curves:
        return []
    fig = Figure(figsize=(7.5, 3.6), layout="constrained")
    ax = fig.add_subplot()
    for k, (label, losses) in enumerate(list(curves.items())[:limit]):
        ax.plot(range(1, len(losses) + 1), losses, color=OKABE_ITO[k % 8], ls=("-", "--", ":")[k // 8 % 3],
                label=label)
    ax.set(xlabel="optimizer step", ylabel="training loss")
    ax.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    note = f" (first {limit} of {len(curves)})" if len(curves) > limit else ""
    return [save(fig, out_dir, "loss", "Training loss", f"Training loss per optimizer step{note}.")]
