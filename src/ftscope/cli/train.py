"""`ftscope train`: one training run into a folder (resumable; the folder is the run's identity)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Optional

import typer

from ftscope.cli.common import console, out_console, split
from ftscope.errors import ConfigError


def train_cmd(
    config: Annotated[Optional[Path], typer.Option("--config", "-c", help="YAML of training fields")] = None,
    model: Annotated[Optional[str], typer.Option("--model", "-m")] = None,
    method: Annotated[Optional[str], typer.Option(help="full | lora | prompt_tuning | fticl | promot")] = None,
    tune: Annotated[Optional[str], typer.Option(help="fticl/promot: full | lora")] = None,
    dataset: Annotated[Optional[list[str]], typer.Option("--dataset", "-d", help="repeat for a mixture")] = None,
    proportions: Annotated[Optional[str], typer.Option(help="mixture weights, e.g. 0.7,0.3")] = None,
    n: Annotated[Optional[int], typer.Option(help="training examples (selected by seed)")] = None,
    epochs: Annotated[Optional[int], typer.Option()] = None,
    lr: Annotated[Optional[float], typer.Option(help="default: the method's (2e-5 full, 1e-3 LoRA)")] = None,
    seed: Annotated[Optional[int], typer.Option()] = None,
    allow_fewer: Annotated[bool, typer.Option(help="n larger than the data: use what exists")] = False,
    override: Annotated[Optional[list[str]], typer.Option("--set", help="any training field: key=value")] = None,
    out: Annotated[Path, typer.Option(help="output folder (resumes if it holds a checkpoint)")] = Path("out/train"),
    data_dir: Annotated[Optional[Path], typer.Option(help="folder in the paper's layout")] = None,
    spec_file: Annotated[Optional[Path], typer.Option("--spec", help="YAML with a datasets: list of your own")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="print the spec and a memory estimate; train nothing")] = False,
) -> None:
    """Fine-tune a model; the result loads with `ftscope eval --adapter OUT`."""
    import yaml

    from ftscope.tasks.user import user_catalogue
    from ftscope.training import is_main_process, load_train_spec, spec_from_mapping, train

    values = load_train_spec(config).to_dict() if config else {}
    flags = {"model": model, "method": method, "tune": tune, "n": n, "epochs": epochs, "lr": lr, "seed": seed,
             "datasets": split(dataset) or None, "proportions": _weights(proportions)}
    values.update({k: v for k, v in flags.items() if v is not None})
    if allow_fewer:
        values["allow_fewer"] = True
    for item in override or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise ConfigError(f"--set '{item}': expected field=value, e.g. --set lora_r=16")
        values[key] = yaml.safe_load(value)
    spec = spec_from_mapping(values, "ftscope train")
    if dry_run:
        _dry_run(spec)
        return
    started = time.perf_counter()
    folder = train(spec, out, user_catalogue(data_dir, spec_file))
    if is_main_process():  # the other processes of an `accelerate launch` trained alongside; one line is enough
        console.print(f"trained {spec.method} on {'+'.join(spec.datasets)} in {time.perf_counter() - started:.0f} s; "
                      f"wrote {folder} (evaluate it with: ftscope eval --adapter {folder} -d ...)")


def _dry_run(spec) -> None:
    """The resolved spec, the memory estimate per part, and whether it fits this machine's device."""
    from rich.table import Table

    from ftscope.training.footprint import spec_footprint

    found = spec_footprint(spec)
    out = out_console()
    out.print(found.spec)
    w = found.workload
    where = f"{w.processes} process(es){', sharded (FSDP2)' if w.sharded else ''}"
    table = Table("part", "GB", title=f"estimated peak memory per process: {w.tuned}, {w.precision}, "
                  f"{w.batch} rows × {w.seq_len} tokens, {where}")
    for part, gb in found.estimate.rows():
        table.add_row(part, f"{gb:.2f}")
    out.print(table)
    verdict = "fits" if found.fits else "does NOT fit"
    out.print(f"{verdict} in {found.device}: {found.capacity_gb:.1f} GB", highlight=False)
    for change, gb in found.alternatives:
        out.print(f"  would fit with {change}: {gb:.1f} GB", highlight=False)
    if not found.fits and not found.alternatives:
        out.print("  none of bf16 weights, LoRA or FSDP2 over up to 8 processes fits alone; combine them or "
                  "lower max_batch_tokens", highlight=False)


def _weights(value: str | None) -> list[float] | None:
    if not value:
        return None
    try:
        return [float(p) for p in split(value)]
    except ValueError:
        raise ConfigError(f"--proportions: '{value}' is not a comma-separated list of numbers, e.g. 0.7,0.3") from None


def register(app: typer.Typer) -> None:
    app.command("train")(train_cmd)
