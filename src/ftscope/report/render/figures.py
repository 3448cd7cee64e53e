"""Figures as PNG and SVG: delta heatmaps and deltas against sample size (bars and losses: charts.py).

matplotlib's object API (Figure, no pyplot) draws on the Agg canvas without touching the global
backend, so a report built inside a notebook or a GUI process leaves its backend alone. Deltas use
a colour-blind-safe diverging palette centred at 0, lines and bars the Okabe–Ito palette.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.colors import TwoSlopeNorm
from matplotlib.figure import Figure

OKABE_ITO = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#000000", "#F0E442"]
DIVERGING = "RdBu"  # red = worse than the base, blue = better; safe for red-green colour blindness
ROLE_ORDER = ["in-domain", "out-of-domain", "cross-task"]


@dataclass(frozen=True)
class Plot:
    name: str
    title: str
    caption: str
    png: Path
    svg: Path


def save(fig: Figure, out_dir: Path, name: str, title: str, caption: str) -> Plot:
    out_dir.mkdir(parents=True, exist_ok=True)
    png, svg = out_dir / f"{name}.png", out_dir / f"{name}.svg"
    fig.savefig(png, dpi=130, bbox_inches="tight")
    fig.savefig(svg, bbox_inches="tight")
    return Plot(name, title, caption, png, svg)


def _heat_panel(ax, grid: pd.DataFrame, title: str, norm: TwoSlopeNorm, first: bool):
    values = grid.to_numpy(dtype=float) * 100
    image = ax.imshow(values, cmap=DIVERGING, norm=norm, aspect="auto")
    ax.set_xticks(range(grid.shape[1]), grid.columns, rotation=40, ha="right")
    ax.set_yticks(range(grid.shape[0]), grid.index if first else [""] * grid.shape[0])
    ax.set(title=title, xlabel="evaluation dataset", ylabel="training data" if first else None)
    for (i, j), v in np.ndenumerate(values):
        if np.isfinite(v):
            ax.text(j, i, f"{v:+.1f}", ha="center", va="center", fontsize=8,
                    color="white" if abs(v) > 0.6 * norm.vmax else "black")
    return image


def _norm(grids: list[pd.DataFrame]) -> TwoSlopeNorm:
    """One symmetric scale for every panel of a figure, so equal colours mean equal deltas."""
    values = np.concatenate([g.to_numpy(dtype=float).ravel() * 100 for g in grids])
    span = float(np.nanmax(np.abs(values))) if np.isfinite(values).any() else 1.0
    return TwoSlopeNorm(vcenter=0, vmin=-(span or 1.0), vmax=span or 1.0)


def heatmaps(gen: pd.DataFrame, out_dir: Path) -> list[Plot]:
    """Per method: training data × evaluation dataset, mean delta vs the base, 0-shot and in-context."""
    plots = []
    for method, rows in gen.groupby("method_label") if not gen.empty else []:
        order = rows.sort_values(["task", "dataset"])["dataset"].unique()
        trained = sorted(rows["train_datasets"].unique())
        panels = [("0-shot", rows[rows["shots"] == 0]), ("in-context (k > 0)", rows[rows["shots"] > 0])]
        grids = [(t, p.pivot_table("delta", "train_datasets", "dataset", aggfunc="mean")
                  .reindex(index=trained, columns=order)) for t, p in panels if len(p)]
        fig = Figure(figsize=(1.8 + 0.6 * len(order) * len(grids), 1.9 + 0.45 * len(trained)), layout="constrained")
        norm, axes = _norm([g for _, g in grids]), fig.subplots(1, len(grids), squeeze=False)[0]
        images = [_heat_panel(ax, g, f"{method}: {t}", norm, k == 0) for k, (ax, (t, g)) in enumerate(zip(axes, grids))]
        fig.colorbar(images[-1], ax=list(axes), label="Δ vs base (points)", shrink=0.9)
        plots.append(save(fig, out_dir, f"heatmap_{method}".replace("(", "_").replace(")", ""),
                           f"Deltas vs base: {method}", "Mean of tuned − base score (accuracy or ROUGE-L, "
                           "×100) over seeds, sample sizes and templates; blue is better than the base."))
    return plots


def _size_panel(ax, rows: pd.DataFrame) -> None:
    rows = rows.assign(icl=np.where(rows["shots"] > 0, "k-shot", "0-shot"))
    for c, role in enumerate(ROLE_ORDER):
        for icl, part in rows[rows["role"] == role].groupby("icl"):
            per_seed = part.groupby(["n", "seed"], dropna=False)["delta"].mean().groupby("n")
            mean, sd = per_seed.mean() * 100, per_seed.std().fillna(0) * 100
            ax.errorbar(mean.index, mean.values, yerr=sd.values, fmt=("-" if icl == "0-shot" else "--") + "o",
                        color=OKABE_ITO[c], capsize=3, label=f"{role}, {icl}")
    ax.axhline(0, color="grey", lw=0.8)


def sample_size_lines(gen: pd.DataFrame, out_dir: Path) -> list[Plot]:
    """Delta vs the base against n, one panel per method that has ≥ 2 sample sizes, one line per role."""
    sizes = gen.groupby("method_label")["n"].nunique() if not gen.empty else pd.Series(dtype=int)
    methods = sorted(sizes[sizes >= 2].index)
    if not methods:
        return []
    fig = Figure(figsize=(1.5 + 3.8 * len(methods), 4.2), layout="constrained")
    axes = fig.subplots(1, len(methods), squeeze=False, sharey=True)[0]
    for k, (ax, method) in enumerate(zip(axes, methods)):
        _size_panel(ax, gen[gen["method_label"] == method])
        ax.set(title=method, xlabel="training examples n", ylabel="Δ vs base (points)" if k == 0 else None)
    handles = {h.get_label(): h for ax in axes for h in ax.get_legend_handles_labels()[0]}
    fig.legend(list(handles.values()), list(handles), loc="outside lower center", ncols=3, fontsize=8)
    return [save(fig, out_dir, "sample_size", "Deltas against sample size",
                  "Mean tuned − base score (×100) by training sample size; solid 0-shot, dashed in-context; "
                  "bars are ± sd over seeds.")]
