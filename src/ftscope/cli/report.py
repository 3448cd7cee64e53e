"""`ftscope report`: the report of a store (or of an experiment YAML's store); never loads a model."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ftscope.cli.common import console
from ftscope.errors import ConfigError


def report_cmd(
    source: Annotated[Path, typer.Argument(help="experiment YAML or store folder")],
    out: Annotated[Optional[Path], typer.Option(help="report folder (default STORE/report)")] = None,
    mlflow: Annotated[Optional[str], typer.Option(help="also log the report to an MLflow run: a tracking URI or "
                                                       "a folder (a local file store, e.g. mlruns)")] = None,
    lm_eval_results: Annotated[bool, typer.Option(help="also write every eval cell in lm-eval's results.json "
                                                       "schema, under OUT/lm-eval/<model>/")] = False,
) -> None:
    """Write report.md, report.html, tables and figures from the store (never loads a model)."""
    experiment = None
    if source.is_file():
        from ftscope.experiments.config import load_experiment

        config = load_experiment(source)
        store, experiment = Path(config.store), config.name
    elif (source / "index.sqlite").is_file():
        store = source
    else:
        raise ConfigError(f"{source}: neither an experiment YAML nor a store folder (no index.sqlite)")
    from ftscope.report import build_report  # after the arguments are checked: it imports pandas and matplotlib

    page = build_report(store, out or store / "report", experiment)
    console.print(f"report: {page}")
    if lm_eval_results:
        from ftscope.experiments.lm_eval_io import export_lm_eval_results

        found = export_lm_eval_results(store, page.parent / "lm-eval", experiment)
        console.print(f"lm-eval results: {len(found)} file(s) under {page.parent / 'lm-eval'}")
    if mlflow:
        from ftscope.trackers import log_report

        console.print(f"mlflow: run {log_report(page.parent, mlflow, experiment)} at {mlflow}")


def register(app: typer.Typer) -> None:
    app.command("report")(report_cmd)
