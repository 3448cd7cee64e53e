"""`ftscope run`, `ftscope status`, `ftscope plan`: a study's grid, its progress, and what it can tell."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from ftscope.cli.common import console, out_console
from ftscope.errors import ConfigError

Overrides = Annotated[Optional[list[str]], typer.Option("--set", help="key.path=value override, e.g. eval.limit=20")]


def run_cmd(
    experiment: Annotated[Path, typer.Argument(help="experiment YAML (see configs/)")],
    workers: Annotated[int, typer.Option(help="worker processes (or Ray task slots)")] = 1,
    backend: Annotated[str, typer.Option(help="local | ray")] = "local",
    address: Annotated[Optional[str], typer.Option(help="Ray cluster address; default: start a local one")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="print the plan; run nothing")] = False,
    override: Overrides = None,
) -> None:
    """Run an experiment grid into its store: cached, resumable, parallel; then its report."""
    from ftscope.experiments.config import load_experiment
    from ftscope.experiments.memory_use import PeakMemory
    from ftscope.experiments.runner import cell_kind_seconds, phase_seconds, run_grid

    if backend not in ("local", "ray"):
        raise ConfigError(f"--backend: '{backend}' is not one of local, ray")
    if workers < 1:
        raise ConfigError("--workers: must be 1 or more")
    config = load_experiment(experiment, override or [])
    if dry_run:
        return _print_plan(config, workers)
    started = time.perf_counter()
    with PeakMemory() as memory:
        run_grid(config, workers, backend, address, console)
    ran = time.perf_counter() - started
    report_started = time.perf_counter()
    html = _report(config)
    store, grid = _open(config)
    phases = phase_seconds(store, grid)
    console.print(f"finished in {ran:.0f} s; store: {config.store}")
    console.print(_by_cell_kind(cell_kind_seconds(store, grid)))
    console.print(_phases(phases, time.perf_counter() - report_started, memory, workers))
    console.print(f"report: {html}")
    _exit_on_failures(config)


def _open(config):
    from ftscope.experiments.grid import expand
    from ftscope.experiments.store import Store

    return Store(config.store), expand(config)


def _phases(phases: dict, report_s: float, memory, workers: int = 1) -> str:
    parts = [f"{kind} {p['seconds'] - p['load_seconds']:.0f} s ({int(p['cells'])} cells)" for kind, p in phases.items()]
    load = sum(p["load_seconds"] for p in phases.values())
    single = f"largest one process {memory.largest_process_gb:.2f} GB"
    peak = (f"{single} RSS (no /proc here to sum worker processes)" if memory.tree_gb is None else
            f"{memory.tree_gb:.2f} GB RSS summed over ftscope's processes (sampled each {memory.every:g} s; {single})")
    summed = f"; cell time summed over {workers} workers, which ran side by side" if workers > 1 else ""
    return (f"time by phase: model loading {load:.0f} s, {', '.join(parts) or 'no cells run'}, report {report_s:.0f} s "
            f"(cells done by earlier runs count their original time{summed}); peak memory {peak}")


def _by_cell_kind(rows: list[dict]) -> Table:
    table = Table("phase", "cell kind", "cells", "seconds", "s per cell", title="time by cell kind (load included)")
    for r in rows:
        table.add_row(r["phase"], r["kind"], str(r["cells"]), f"{r['seconds']:.0f}", f"{r['mean_seconds']:.1f}")
    return table


def _report(config) -> Path:
    from ftscope.report import build_report

    return build_report(config.store, Path(config.store) / "report", config.name)


def _exit_on_failures(config) -> None:
    from ftscope.experiments.store import Store

    failed = [r for r in Store(config.store).rows(config.name) if r["status"] == "failed"]
    for row in failed[:20]:
        console.print(f"[red]failed[/red] {row['cell'].label()} [{row['hash']}]: "
                      f"{(row['error'] or '').splitlines()[0]}", highlight=False)
    if failed:
        console.print(f"{len(failed)} cell(s) failed; `ftscope status {config.source}` shows their errors; "
                      "fix the cause and run again (failed cells are retried)")
        raise typer.Exit(1)


def _print_plan(config, workers: int) -> None:
    from ftscope.experiments.grid import expand
    from ftscope.experiments.preflight import check_inputs
    from ftscope.experiments.runner import plan, progress_table
    from ftscope.experiments.store import Store

    grid = expand(config)
    check_inputs(config, (c.spec for c in grid.rag))  # what a real run refuses, a dry run refuses too
    store = Store(config.store)  # reads what exists; registers nothing
    p = plan(store, grid, workers)
    console.print(progress_table(p, 0.0))
    guessed = [k for k, measured in p.measured.items() if not measured]
    if guessed:
        console.print(f"estimate for {', '.join(guessed)} cells uses reference timings (none ran in this store yet)")
    for name, reason in grid.unavailable.items():
        console.print(f"skipped dataset {name}: {reason}")
    for cell in grid.train:
        console.print(f"  {cell.label()}")


def status_cmd(
    experiment: Annotated[Path, typer.Argument(help="experiment YAML")],
    override: Overrides = None,
) -> None:
    """Show done / running / stalled / failed cells of an experiment, and the errors of failed ones."""
    from ftscope.experiments.config import load_experiment
    from ftscope.experiments.runner import plan, progress_table
    from ftscope.specs import cell_hash

    config = load_experiment(experiment, override or [])
    store, grid = _open(config)
    console_out = out_console()
    console_out.print(progress_table(plan(store, grid), 0.0))
    rows = {r["hash"]: r for r in store.rows(config.name)}
    table = Table("cell", "status", "seconds", "error")
    for cell in grid.cells:
        row = rows.get(cell_hash(cell), {})
        if row.get("status") in ("running", "stalled", "failed"):
            table.add_row(cell.label(), row["status"], f"{row.get('seconds') or 0:.0f}",
                          (row.get("error") or "").splitlines()[0] if row.get("error") else "")
    if table.row_count:
        console_out.print(table)


def plan_cmd(
    experiment: Annotated[Path, typer.Argument(help="experiment YAML")],
    effect: Annotated[float, typer.Option(help="an effect to plan for, on the 0–1 scale (0.05 = 5 points)")] = 0.05,
    from_store: Annotated[Optional[Path], typer.Option(help="a pilot store: its claims' variance components replace the assumed ones")] = None,
    gpu_gb: Annotated[Optional[float], typer.Option(help="check training memory against one GPU of this many GB "
                                                         "(e.g. 80) instead of this machine's device")] = None,
    override: Overrides = None,
) -> None:
    """What the study can tell before it runs: per claim, the smallest detectable effect, the power at
    --effect, and how many seeds / items / training sets that effect needs; the training memory estimate."""
    if not 0 < effect < 1:
        raise ConfigError(f"--effect: {effect}: give an effect on the 0–1 score scale, e.g. 0.05")
    from ftscope.experiments.config import load_experiment
    from ftscope.experiments.grid import expand
    from ftscope.experiments.planning import StudyTimes, plan_rows, study_hours
    from ftscope.experiments.store import Store

    config = load_experiment(experiment, override or [])
    grid = expand(config, check_models=False)  # planning needs no model on this machine
    out = out_console()
    pilot = _pilot(from_store) if from_store else {}
    times = StudyTimes.measured(Store(from_store)) if from_store else None
    now = study_hours(grid, times) if times else None
    title = f"{config.name}: what it can tell" + (f" (this study: ≈ {now:.1f} h of compute)" if now else "")
    table = Table("claim", "design", "verdict possible", "detectable (80% power)", f"power at {effect:g}",
                  "seeds needed", "items needed", "training sets needed", title=title)
    for r in plan_rows(grid, effect, pilot, times):
        need, hours = r.needed, r.hours
        table.add_row(r.claim, r.design, r.verdict_possible, "" if r.mde is None else f"{r.mde:.3f}",
                      "" if r.power_at_effect is None else f"{r.power_at_effect:.0%}",
                      *(_size(n, h) for n, h in zip(
                          (need.seeds, need.items, need.train_sets) if need else (None, None, None),
                          (hours.seeds, hours.items, hours.train_sets) if hours else (None, None, None))))
    out.print(table)
    out.print("design: groups × training sets per group × seeds; test sets × items per model. "
              "Effects on the 0–1 score scale (accuracy, ROUGE-L; Y(a) a ratio; B judge grade points). Variance "
              "components assumed per measure (ftscope.experiments.planning.DEFAULT_COMPONENTS); needed sizes vary "
              "one lever at a time (– : that lever alone cannot reach the power, or needs more items than the "
              "smallest test set holds)."
              + (" ≈ h: the whole study's compute with that size, at the speed the pilot store measured here (per "
                 "training cell and per evaluated item, summed over cells: divide by --workers for the wall "
                 "clock); added seeds and training sets are taken to cost what the present ones do." if times
                 else ""))
    _print_memory(out, grid, gpu_gb)


def _size(needed: int | None, hours: float | None) -> str:
    if needed is None:
        return "–"
    return f"{needed} (≈ {hours:.1f} h)" if hours is not None else str(needed)


def _print_memory(out, grid, gpu_gb: float | None) -> None:
    from ftscope.experiments.planning import memory_rows
    from ftscope.models.memory import device_memory

    if gpu_gb is not None:
        if gpu_gb <= 0:
            raise ConfigError(f"--gpu-gb: {gpu_gb}: give the GPU's memory in GB, e.g. 80")
        where, capacity, device = f"one {gpu_gb:g} GB GPU", gpu_gb, "cuda"
    else:
        name, capacity = device_memory()
        where, device = f"{name} ({capacity:.0f} GB)", "cuda" if name.startswith("CUDA") else "cpu"
    memory = Table("training", "tunes", "estimated peak GB", "of which activations", f"fits {where}",
                   title="training memory per process (models.memory: weights, gradients, AdamW, activations)")
    for r in memory_rows(grid, capacity, device):
        if r.total_gb is None:
            memory.add_row(r.training, r.tunes, "–", "–", r.why)
            continue
        verdict = "yes" if r.fits else "no; " + ("; ".join(f"{c}: {gb:.0f} GB" for c, gb in r.alternatives)
                                                 or "not by bf16, LoRA or FSDP2 alone: combine them")
        memory.add_row(r.training, r.tunes, f"{r.total_gb:.1f}", f"{r.activations_gb:.1f}", verdict)
    if memory.row_count:
        out.print(memory)


def _pilot(store: Path) -> dict:
    """Claim → variance components measured on a store that already ran (its claims' designs)."""
    from ftscope.report.build import read_rows
    from ftscope.report.findings.analysis import analyse
    from ftscope.stats import estimate_components

    rows, notes, rules = read_rows(store, None)
    if not rows:
        raise ConfigError(f"--from-store {store}: {' '.join(notes) or 'no cells'}; give a store a study ran into")
    claims = analyse(rows, str(store), None, rules=rules).claims
    found = {c.key: estimate_components(c.design) for c in claims if c.design is not None}
    for key, comps in found.items():
        console.print(f"pilot {key}: SD between training sets {comps.train:.3g}, seeds {comps.seed:.3g}, per item "
                      f"{comps.item:.3g} (0 where the pilot had one member: not estimable)")
    return found


def register(app: typer.Typer) -> None:
    app.command("run")(run_cmd)
    app.command("status")(status_cmd)
    app.command("plan")(plan_cmd)
