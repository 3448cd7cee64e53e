"""`ftscope models` and `ftscope datasets`: what can be named on the other commands."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from ftscope.cli.common import out_console


def models_cmd() -> None:
    """List the built-in model names (any HF id, local folder or .gguf path works too)."""
    from ftscope.models.registry import BUILTIN_MODELS, DEFAULT_MODEL, is_installed

    table = Table("name", "installed", "description", "install")
    for name, m in BUILTIN_MODELS.items():
        table.add_row(name + (" (default)" if name == DEFAULT_MODEL else ""), "yes" if is_installed(name) else "no",
                      m.description, m.install)
    out_console().print(table)


NO_DATA_DIR = ("none found (looked for --data-dir, then $FTSCOPE_DATA_DIR, then ../shared/data/generalization beside "
               "the working directory); pass --data-dir or set FTSCOPE_DATA_DIR to the folder in the paper's layout")


def datasets_cmd(
    data_dir: Annotated[Optional[Path], typer.Option(help="folder in the paper's layout")] = None,
    spec: Annotated[Optional[Path], typer.Option(help="YAML with a datasets: list of your own")] = None,
) -> None:
    """List the dataset catalogue: task, size and where each dataset loads from (this data folder first)."""
    from ftscope.tasks.listing import listing
    from ftscope.tasks.user import user_catalogue

    cat = user_catalogue(data_dir, spec)
    console = out_console()
    console.print(f"data folder: {cat.data_dir or NO_DATA_DIR}")
    table = Table("dataset", "task", "kind", "test items", "few-shot", "train sizes", "source")
    for row in listing(cat):
        table.add_row(row.name, row.task, row.kind, row.test_items, row.fewshot, row.train_sizes, row.source)
    console.print(table)


def register(app: typer.Typer) -> None:
    app.command("models")(models_cmd)
    app.command("datasets")(datasets_cmd)
