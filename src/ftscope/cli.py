"""The `ftscope` command: thin subcommands that parse arguments and call the library.

Errors ftscope raises on purpose (FtscopeError) print as one line and exit 2; anything else is a
bug and keeps its traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from ftscope.errors import FtscopeError

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Fine-tune a model and measure what it did to generalization.")
console = Console(stderr=True)


def out_console() -> Console:
    """Tables go to stdout; when piped, wide enough that paths are not cut."""
    return Console(width=None if sys.stdout.isatty() else 160)


@app.command("models")
def models_cmd() -> None:
    """List the built-in model names (any HF id, local folder or .gguf path works too)."""
    from ftscope.models.registry import BUILTIN_MODELS, DEFAULT_MODEL, is_installed

    table = Table("name", "installed", "description", "install")
    for name, m in BUILTIN_MODELS.items():
        table.add_row(name + (" (default)" if name == DEFAULT_MODEL else ""), "yes" if is_installed(name) else "no",
                      m.description, m.install)
    out_console().print(table)


@app.command("datasets")
def datasets_cmd(
    data_dir: Annotated[Optional[Path], typer.Option(help="folder in the paper's layout")] = None,
    spec: Annotated[Optional[Path], typer.Option(help="YAML with a datasets: list of your own")] = None,
) -> None:
    """List the dataset catalogue: task, size and where each dataset loads from."""
    from ftscope.cli_support import catalogue, dataset_rows

    table = Table("dataset", "task", "kind", "test items", "few-shot", "train sizes", "source")
    for row in dataset_rows(catalogue(data_dir, spec)):
        table.add_row(*row)
    out_console().print(table)


@app.command("eval")
def eval_cmd(
    dataset: Annotated[list[str], typer.Option("--dataset", "-d", help="catalogue name, 'paper', a task name, or a file (with --task)")],
    model: Annotated[Optional[str], typer.Option("--model", "-m", help="built-in name, HF id, folder or .gguf")] = None,
    adapter: Annotated[Optional[str], typer.Option(help="adapter folder written by `ftscope train`")] = None,
    shots: Annotated[str, typer.Option(help="comma-separated shot counts")] = "0",
    template: Annotated[str, typer.Option(help="p1 (the paper's Prompt-1) or p2; comma-separate for both")] = "p1",
    scoring: Annotated[str, typer.Option(help="first-token | loglik | loglik-norm")] = "first-token",
    limit: Annotated[Optional[int], typer.Option(help="first N items of each dataset (the paper: 250)")] = None,
    fewshot: Annotated[str, typer.Option(help="first (the paper) | random | balanced")] = "first",
    seed: Annotated[int, typer.Option()] = 0,
    max_new_tokens: Annotated[Optional[int], typer.Option(help="generation length (task default 60)")] = None,
    out: Annotated[Path, typer.Option(help="output folder")] = Path("out/eval"),
    data_dir: Annotated[Optional[Path], typer.Option(help="folder in the paper's layout")] = None,
    spec: Annotated[Optional[Path], typer.Option(help="YAML with a datasets: list of your own")] = None,
    task: Annotated[Optional[str], typer.Option(help="task of a dataset given as a file path")] = None,
    map_: Annotated[Optional[list[str]], typer.Option("--map", help="field=column for a file dataset")] = None,
    dtype: Annotated[str, typer.Option(help="float32 | bfloat16")] = "float32",
    device: Annotated[str, typer.Option(help="auto | cpu | cuda")] = "auto",
    threads: Annotated[Optional[int], typer.Option(help="CPU threads")] = None,
    batch_tokens: Annotated[int, typer.Option(help="tokens per forward batch")] = 4096,
    trust_remote_code: Annotated[bool, typer.Option(help="run code from the model repo (off by default)")] = False,
    keep_soft_prompt: Annotated[bool, typer.Option(help="ProMoT: evaluate with its soft prompt attached")] = False,
) -> None:
    """Evaluate a model zero-/few-shot on datasets; writes predictions.jsonl and metrics.json."""
    from ftscope.cli_support import run_eval

    run_eval(locals(), console)


@app.command("train")
def train_cmd(
    config: Annotated[Optional[Path], typer.Option("--config", "-c", help="YAML of TrainSpec fields")] = None,
    model: Annotated[Optional[str], typer.Option("--model", "-m")] = None,
    method: Annotated[Optional[str], typer.Option(help="full | lora | prompt_tuning | fticl | promot")] = None,
    tune: Annotated[Optional[str], typer.Option(help="fticl/promot: full | lora")] = None,
    dataset: Annotated[Optional[list[str]], typer.Option("--dataset", "-d", help="repeat for a mixture")] = None,
    proportions: Annotated[Optional[str], typer.Option(help="mixture weights, e.g. 0.7,0.3")] = None,
    n: Annotated[Optional[int], typer.Option(help="training examples (selected by seed)")] = None,
    epochs: Annotated[Optional[int], typer.Option()] = None,
    lr: Annotated[Optional[float], typer.Option(help="default: 2e-5 full (the paper's script), 1e-3 LoRA")] = None,
    seed: Annotated[Optional[int], typer.Option()] = None,
    allow_fewer: Annotated[bool, typer.Option(help="n larger than the data: use what exists")] = False,
    override: Annotated[Optional[list[str]], typer.Option("--set", help="any TrainSpec field: key=value")] = None,
    out: Annotated[Path, typer.Option(help="output folder (resumes if it holds a checkpoint)")] = Path("out/train"),
    data_dir: Annotated[Optional[Path], typer.Option(help="folder in the paper's layout")] = None,
) -> None:
    """Fine-tune a model; the result loads with `ftscope eval --adapter OUT`."""
    from ftscope.cli_support import run_train

    run_train(locals(), console)


@app.command("rag")
def rag_cmd(
    corpus: Annotated[str, typer.Option(help="SQuAD-format .json, .jsonl or a folder of documents")],
    model: Annotated[Optional[str], typer.Option("--model", "-m")] = None,
    adapter: Annotated[Optional[str], typer.Option(help="adapter/model folder from `ftscope train`")] = None,
    retriever: Annotated[str, typer.Option(help="bm25 | dense | hybrid")] = "bm25",
    k: Annotated[int, typer.Option(help="passages per question")] = 3,
    limit: Annotated[Optional[int], typer.Option(help="first N questions")] = None,
    max_new_tokens: Annotated[int, typer.Option()] = 32,
    questions: Annotated[Optional[str], typer.Option(help="JSONL questions for a document folder")] = None,
    judge: Annotated[Optional[str], typer.Option(help="a local model that also grades answers 1-5")] = None,
    out: Annotated[Path, typer.Option()] = Path("out/rag"),
    dtype: Annotated[str, typer.Option()] = "float32",
    device: Annotated[str, typer.Option()] = "auto",
) -> None:
    """Answer questions from retrieved passages; writes predictions.jsonl and metrics.json."""
    from ftscope.cli_support import run_rag_cmd

    run_rag_cmd(locals(), console)


@app.command("audit")
def audit_cmd(
    tuned: Annotated[list[str], typer.Option(help="adapter or model folder (or hub id) of the fine-tune; repeatable")],
    base: Annotated[str, typer.Option(help="the base model it was tuned from")] = "smollm2-135m",
    trained_on: Annotated[Optional[list[str]], typer.Option(help="its training dataset(s), for the roles")] = None,
    suite: Annotated[str, typer.Option(help="'paper', task names or dataset names, comma-separated")] = "paper",
    shots: Annotated[str, typer.Option(help="shot counts")] = "0,4",
    limit: Annotated[int, typer.Option(help="items per dataset")] = 100,
    rag: Annotated[Optional[list[str]], typer.Option(help="a RAG corpus (SQuAD-format file); repeatable")] = None,
    rag_limit: Annotated[int, typer.Option(help="questions per RAG corpus")] = 100,
    store: Annotated[Path, typer.Option(help="where the cells are cached")] = Path("runs/audit"),
    out: Annotated[Path, typer.Option(help="report folder")] = Path("out/audit"),
    workers: Annotated[int, typer.Option()] = 1,
    data_dir: Annotated[Optional[Path], typer.Option()] = None,
) -> None:
    """The report card of a fine-tune you already have: it and its base on the suite, then the report."""
    from ftscope.cli_support import run_audit

    run_audit(locals(), console)


@app.command("report")
def report_cmd(
    source: Annotated[Path, typer.Argument(help="experiment YAML or store folder")],
    out: Annotated[Optional[Path], typer.Option(help="report folder (default STORE/report)")] = None,
) -> None:
    """Write report.md, report.html, tables and figures from the store (never loads a model)."""
    from ftscope.cli_support import run_report

    run_report(source, out, console)


@app.command("run")
def run_cmd(
    experiment: Annotated[Path, typer.Argument(help="experiment YAML (see configs/)")],
    workers: Annotated[int, typer.Option(help="worker processes (or Ray task slots)")] = 1,
    backend: Annotated[str, typer.Option(help="local | ray")] = "local",
    address: Annotated[Optional[str], typer.Option(help="Ray cluster address; default: start a local one")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="print the plan and a time estimate; run nothing")] = False,
    override: Annotated[Optional[list[str]], typer.Option("--set", help="key.path=value override, e.g. eval.limit=20")] = None,
) -> None:
    """Run an experiment grid into its store: cached, resumable, parallel."""
    from ftscope.cli_support import run_experiment

    run_experiment(experiment, workers, backend, address, dry_run, override or [], console)


@app.command("status")
def status_cmd(
    experiment: Annotated[Path, typer.Argument(help="experiment YAML")],
    override: Annotated[Optional[list[str]], typer.Option("--set", help="key.path=value override")] = None,
) -> None:
    """Show done / running / failed cells of an experiment, and the errors of failed ones."""
    from ftscope.cli_support import experiment_status

    experiment_status(experiment, override or [], out_console())


def main() -> None:
    try:
        app(standalone_mode=False)
    except FtscopeError as e:
        console.print(f"[red]error:[/red] {e}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except typer.Exit as e:
        sys.exit(e.exit_code)
    except Exception as e:  # click's usage errors carry their own formatting
        import click

        if isinstance(e, click.ClickException):
            e.show()
            sys.exit(e.exit_code)
        raise
