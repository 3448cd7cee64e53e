"""One-model runs for `ftscope eval` and `ftscope rag`: the same cells, store and driver as a study, then
the flat summary files a single evaluation is expected to leave (one folder per template)."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from ftscope.experiments.config import ExperimentConfig
from ftscope.experiments.grid import expand
from ftscope.experiments.runner import run_grid
from ftscope.experiments.store import Store
from ftscope.experiments.summary import summarise


def run_and_summarise(config: ExperimentConfig, console: Console) -> dict[str, dict]:
    """Run `config` into its store and write the summary: template → summary (RAG cells under "rag")."""
    run_grid(config, 1, "local", None, console, strict=True)  # one model: its first error is the answer
    store, grid = Store(config.store), expand(config)
    out, templates = Path(config.store), config.eval.templates
    summaries = {}
    for template in templates if grid.eval else []:
        cells = [c for c in grid.eval if c.spec.template == template]
        folder = out / template if len(templates) > 1 else out
        summaries[template] = summarise(store, cells, grid.unavailable, folder)
    if grid.rag:
        summaries["rag"] = summarise(store, list(grid.rag), {}, out)
    return summaries
