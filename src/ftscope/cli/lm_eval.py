"""`ftscope import-lm-eval` and `ftscope export lm-eval-tasks`: lm-evaluation-harness runs in, ftscope's tasks out.

    ftscope import-lm-eval runs/base runs/tuned --store runs/lm     # two `lm_eval … --log_samples` folders
    ftscope report runs/lm                                          # paired CIs, McNemar, flipped items
    ftscope export lm-eval-tasks tasks/ -d sst2 -d rte --limit 250   # then: lm_eval --include_path tasks/ …
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ftscope.cli.common import console, one_of, split, writable
from ftscope.specs import TemplateId


def import_cmd(
    base_dir: Annotated[Path, typer.Argument(help="the base model's lm-eval --output_path (run with --log_samples)")],
    tuned_dir: Annotated[Path, typer.Argument(help="the fine-tune's lm-eval --output_path (same tasks, limit, shots)")],
    store: Annotated[Path, typer.Option(help="the store the cells go into")] = Path("runs/lm-eval"),
    experiment: Annotated[str, typer.Option(help="the experiment name in the store")] = "lm-eval",
    tuned_name: Annotated[Optional[str], typer.Option(help="how the report names the fine-tune")] = None,
) -> None:
    """Two lm-eval runs (a base and its fine-tune) as eval cells of a store, for `ftscope report STORE`."""
    from ftscope.experiments.lm_eval_io import import_lm_eval_runs

    done = import_lm_eval_runs(base_dir, tuned_dir, writable(store, "--store"), experiment, tuned_name)
    kept = f"; {len(done.kept)} already in the store, kept" if done.kept else ""
    console.print(f"imported {len(done.written)} cell(s) into {store} (experiment {done.experiment}){kept}; "
                  f"report: ftscope report {store}")


def export_tasks_cmd(
    out: Annotated[Path, typer.Argument(help="folder for the task YAMLs and their data")],
    dataset: Annotated[Optional[list[str]], typer.Option("--dataset", "-d",
                                                         help="datasets, task names or 'paper'")] = None,
    template: Annotated[str, typer.Option(help="p1 or p2")] = "p1",
    limit: Annotated[Optional[int], typer.Option(help="the first N items of each test set")] = None,
    data_dir: Annotated[Optional[Path], typer.Option(help="folder in the paper's layout")] = None,
    spec: Annotated[Optional[Path], typer.Option(help="YAML with a datasets: list of your own")] = None,
) -> None:
    """ftscope's datasets as lm-eval tasks (`ftscope_<dataset>`) with the items and prompts `ftscope eval` uses."""
    from ftscope.evaluation.lm_eval import TAG, export_task_yamls
    from ftscope.tasks.user import user_catalogue

    found = user_catalogue(data_dir, spec).resolve(split(dataset) or ["paper"])
    for name, reason in found.unavailable.items():
        console.print(f"skipped dataset {name}: {reason}")
    paths = export_task_yamls(writable(out), found.catalogue, found.names, one_of("--template", template, TemplateId),
                              limit)
    console.print(f"wrote {len(paths)} lm-eval task(s) to {out} (tag {TAG}); run them with: lm_eval --include_path "
                  f"{out} --tasks {','.join(p.stem for p in paths[:3])}{',…' if len(paths) > 3 else ''} …")


def register(app: typer.Typer) -> None:
    app.command("import-lm-eval")(import_cmd)
    export = typer.Typer(no_args_is_help=True, help="ftscope's tasks in other tools' formats.")
    export.command("lm-eval-tasks")(export_tasks_cmd)
    app.add_typer(export, name="export")
