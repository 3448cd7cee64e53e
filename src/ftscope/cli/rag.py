"""`ftscope rag`: one model answers questions from retrieved passages (optionally graded by a judge)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from ftscope.cli.common import console, one_of, split, writable
from ftscope.errors import ConfigError
from ftscope.specs import DType, RagFormat, RetrieverName

METRICS = ("em", "f1", "contains", "completeness", "faithfulness", "judge_accuracy", "judge_completeness")


def rag_cmd(
    corpus: Annotated[str, typer.Option(help="SQuAD-format .json, .jsonl or a folder of documents")],
    model: Annotated[Optional[str], typer.Option("--model", "-m")] = None,
    adapter: Annotated[Optional[str], typer.Option(help="adapter/model folder from `ftscope train`")] = None,
    retriever: Annotated[str, typer.Option(help="bm25 | dense | hybrid")] = "bm25",
    k: Annotated[int, typer.Option(help="passages per question")] = 3,
    limit: Annotated[Optional[int], typer.Option(help="first N questions")] = None,
    max_new_tokens: Annotated[int, typer.Option()] = 32,
    questions: Annotated[Optional[str], typer.Option(help="JSONL questions for a document folder")] = None,
    format_: Annotated[str, typer.Option("--format", help="instruct, train, or both: instruct,train")] = "instruct",
    judge: Annotated[Optional[str], typer.Option(help="grades answers 1-5: a local model, or an OpenAI-compatible URL (http://host:port/v1#model)")] = None,
    judge_template: Annotated[Optional[Path], typer.Option(help="a file with your own rubric prompt")] = None,
    out: Annotated[Path, typer.Option(help="output folder (a store)")] = Path("out/rag"),
    dtype: Annotated[str, typer.Option()] = "float32",
    device: Annotated[str, typer.Option()] = "auto",
) -> None:
    """Answer questions from retrieved passages; writes predictions.jsonl and metrics.json."""
    from ftscope.experiments.adhoc import run_and_summarise
    from ftscope.experiments.config import EvalGrid, ExperimentConfig, RagGrid, TunedModel

    base = model or "smollm2-135m"
    if judge and judge in (base, adapter):
        raise ConfigError(f"--judge {judge}: that is the model under test; a judge must be another model")
    if limit is not None and limit < 1:
        raise ConfigError(f"--limit: {limit}: give 1 or more questions (or leave it out for all)")
    config = ExperimentConfig(
        name="rag", store=str(writable(out)), models=[base], dtype=one_of("--dtype", dtype, DType), device=device,
        tuned=[TunedModel(path=adapter)] if adapter else [], eval=EvalGrid(datasets=[], base=not adapter),
        rag=RagGrid(corpora=[corpus], retriever=one_of("--retriever", retriever, RetrieverName), k=k, limit=limit,
                    max_new_tokens=max_new_tokens, questions=questions, judge=judge,
                    judge_template=_read(judge_template),
                    formats=[one_of("--format", f, RagFormat) for f in split(format_)]))
    summary = run_and_summarise(config, console).get("rag", {})
    console.print(_table(summary))
    console.print(f"wrote {out}/metrics.json and {out}/predictions.jsonl")


def _read(path: Path | None) -> str | None:
    if path is None:
        return None
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"--judge-template {path}: cannot read it ({e}); give a UTF-8 text file") from None


def _table(summary: dict) -> Table:
    table = Table("corpus", *METRICS, "n")
    for name, m in summary.get("rag", {}).items():
        table.add_row(name, *(f"{m[key]:.3f}" if key in m else "" for key in METRICS), str(m.get("n", "")))
    return table


def register(app: typer.Typer) -> None:
    app.command("rag")(rag_cmd)
