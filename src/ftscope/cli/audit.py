"""`ftscope audit [BASE] TUNED [TUNED …]`: the report card of fine-tunes you already have.

Every tuned model and its base (loaded once) on the paper's suite — in-domain, out-of-domain, cross-task,
0-shot and in-context — plus RAG corpora and lm-evaluation-harness tasks when asked, cached in a store;
then the report, with paired CIs, McNemar tests and the items that flipped. BASE may be left out when the
tuned folders record it (a PEFT adapter's base_model_name_or_path, or an ftscope manifest).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ftscope.cli.common import console, one_of, shots, split, writable
from ftscope.errors import ConfigError
from ftscope.specs import DType, Scoring, TemplateId


def audit_cmd(
    models: Annotated[Optional[list[str]], typer.Argument(help="[BASE] TUNED [TUNED …]: folders, hub ids (org/name@rev) or built-in names")] = None,
    base: Annotated[Optional[str], typer.Option(help="the base model (instead of the first argument)")] = None,
    tuned: Annotated[Optional[list[str]], typer.Option(help="a tuned model (instead of arguments); repeatable")] = None,
    trained_on: Annotated[Optional[list[str]], typer.Option(help="its training dataset(s), for the roles (read from an ftscope manifest when left out)")] = None,
    suite: Annotated[str, typer.Option(help="'paper', task names or dataset names, comma-separated; 'none' for "
                                             "lm-eval tasks or RAG alone")] = "paper",
    shots_: Annotated[str, typer.Option("--shots", help="shot counts")] = "0,4",
    template: Annotated[str, typer.Option(help="p1, p2 or p1,p2")] = "p1",
    scoring: Annotated[str, typer.Option(help="first-token | loglik | loglik-norm")] = "first-token",
    limit: Annotated[int, typer.Option(help="items per dataset")] = 100,
    rag: Annotated[Optional[list[str]], typer.Option(help="a RAG corpus (SQuAD-format file); repeatable")] = None,
    rag_limit: Annotated[int, typer.Option(help="questions per RAG corpus")] = 100,
    judge: Annotated[Optional[str], typer.Option(help="grades RAG answers: a local model or an OpenAI-compatible URL")] = None,
    lm_eval_task: Annotated[Optional[list[str]], typer.Option(help="an lm-evaluation-harness task; repeatable")] = None,
    lm_eval_include: Annotated[Optional[Path], typer.Option(help="a folder of lm-eval task YAMLs (local tasks)")] = None,
    dtype: Annotated[str, typer.Option(help="float32 | bfloat16")] = "float32",
    device: Annotated[str, typer.Option(help="auto | cpu | cuda")] = "auto",
    trust_remote_code: Annotated[bool, typer.Option(help="run code from the model repos (off by default)")] = False,
    store: Annotated[Path, typer.Option(help="where the cells are cached")] = Path("runs/audit"),
    out: Annotated[Path, typer.Option(help="report folder")] = Path("out/audit"),
    workers: Annotated[int, typer.Option()] = 1,
    data_dir: Annotated[Optional[Path], typer.Option()] = None,
) -> None:
    """The report card of a fine-tune you already have: it and its base on the suite, then the report."""
    from ftscope.experiments.config import EvalGrid, ExperimentConfig, RagGrid, TunedModel
    from ftscope.experiments.runner import run_grid
    from ftscope.report import build_report

    base_ref, tuned_refs = split_models(models or [], base, tuned or [])
    config = ExperimentConfig(
        name=_name(base_ref, tuned_refs), store=str(writable(store, "--store")), models=[base_ref],
        tuned=[TunedModel(path=t, trained_on=split(trained_on) or _recorded_data(t)) for t in tuned_refs],
        data_dir=str(data_dir) if data_dir else None, dtype=one_of("--dtype", dtype, DType), device=device,
        trust_remote_code=trust_remote_code,
        eval=EvalGrid(datasets=[] if suite == "none" else split(suite), shots=shots(shots_),
                      templates=[one_of("--template", t, TemplateId) for t in split(template)],
                      scoring=one_of("--scoring", scoring, Scoring), limit=limit,
                      lm_eval_tasks=split(lm_eval_task),
                      lm_eval_include=str(lm_eval_include) if lm_eval_include else None),
        rag=RagGrid(corpora=rag, limit=rag_limit, judge=judge) if rag else None)
    run_grid(config, workers, "local", None, console)
    console.print(f"report: {build_report(config.store, writable(out), config.name)}")


def split_models(refs: list[str], base: str | None, tuned: list[str]) -> tuple[str, list[str]]:
    """BASE is the first argument unless it is itself a fine-tune (an adapter or an ftscope run)."""
    from ftscope.models.folders import recorded_base

    if base is None and len(refs) >= 2 and recorded_base(refs[0]) is None:
        base, refs = refs[0], refs[1:]
    tuned = [*refs, *tuned]
    if not tuned:
        raise ConfigError("audit: give the tuned model(s): ftscope audit [BASE] TUNED [TUNED …]")
    recorded = {t: recorded_base(t) for t in tuned}
    if base is None:
        found = set(recorded.values())
        if None in found or len(found) != 1:
            unknown = [t for t, b in recorded.items() if b is None]
            raise ConfigError(f"audit: {', '.join(unknown) or 'the tuned models'} "
                              f"{'record no base model' if unknown else 'record different bases: ' + ', '.join(map(str, found))}"
                              "; give it first: ftscope audit BASE TUNED")
        base = found.pop()
    for t, b in recorded.items():
        if b is not None and not _same_model(b, base):
            raise ConfigError(f"audit: {t} was tuned from '{b}', not '{base}'; give its own base "
                              f"(ftscope audit {b} {t}) or leave BASE out")
    return base, tuned


def _same_model(a: str, b: str) -> bool:
    from ftscope.models.folders import same_model

    return same_model(a, b)


def _recorded_data(reference: str) -> list[str]:
    from ftscope.models.folders import recorded_training_data

    return recorded_training_data(reference)


def _name(base: str, tuned: list[str]) -> str:
    """One experiment per set of models, so audits sharing a store (and its cached base cells) each report
    only their own models."""
    import hashlib

    return "audit-" + hashlib.sha256("|".join([base, *tuned]).encode()).hexdigest()[:8]


def register(app: typer.Typer) -> None:
    app.command("audit")(audit_cmd)
