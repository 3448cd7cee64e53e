"""`ftscope eval`: one model (or an adapter on it) zero-/few-shot on datasets.

The run is a one-model study: its cells go into a store at --out (so a rerun reuses every finished cell
and `ftscope report OUT` works), and OUT/metrics.json + OUT/predictions.jsonl summarise them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ftscope.cli.common import console, field_map, metrics_table, one_of, shots, split, writable
from ftscope.errors import ConfigError
from ftscope.specs import DType, FewshotSelection, Scoring, TemplateId


def eval_cmd(
    dataset: Annotated[list[str], typer.Option("--dataset", "-d", help="catalogue name, 'paper', a task name, or a file (with --task)")],
    model: Annotated[Optional[str], typer.Option("--model", "-m", help="built-in name, HF id, folder or .gguf")] = None,
    adapter: Annotated[Optional[str], typer.Option(help="adapter or model folder from `ftscope train` (or a hub adapter)")] = None,
    shots_: Annotated[str, typer.Option("--shots", help="comma-separated shot counts")] = "0",
    template: Annotated[str, typer.Option(help="p1 (the paper's Prompt-1) or p2; comma-separate for both")] = "p1",
    scoring: Annotated[str, typer.Option(help="first-token | loglik | loglik-norm")] = "first-token",
    limit: Annotated[Optional[int], typer.Option(help="first N items of each dataset (the paper: 250)")] = None,
    fewshot: Annotated[str, typer.Option(help="first (the paper) | random | balanced")] = "first",
    seed: Annotated[int, typer.Option(help="seed of random/balanced demonstrations")] = 0,
    max_new_tokens: Annotated[Optional[int], typer.Option(help="generation length (task default 60)")] = None,
    out: Annotated[Path, typer.Option(help="output folder (a store: reruns reuse finished cells)")] = Path("out/eval"),
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
    from ftscope.experiments.adhoc import run_and_summarise
    from ftscope.experiments.config import EvalGrid, ExperimentConfig, TunedModel

    if limit is not None and limit < 1:
        raise ConfigError(f"--limit: {limit}: give 1 or more items (or leave it out for every item)")
    templates = [one_of("--template", t, TemplateId) for t in split(template)] or ["p1"]
    names, user = _datasets(split(dataset), task, field_map(map_), data_dir, spec)
    base = model or "smollm2-135m"
    tuned = [TunedModel(path=adapter, soft_prompt=keep_soft_prompt)] if adapter else []
    config = ExperimentConfig(
        name="eval", store=str(writable(out)), models=[base], tuned=tuned, datasets=user + absolute_specs_of(spec),
        data_dir=str(data_dir) if data_dir else None, dtype=one_of("--dtype", dtype, DType), device=device,
        threads=threads, batch_tokens=batch_tokens, trust_remote_code=trust_remote_code,
        eval=EvalGrid(datasets=names, shots=shots(shots_), templates=templates,
                      scoring=one_of("--scoring", scoring, Scoring), limit=limit,
                      fewshot=one_of("--fewshot", fewshot, FewshotSelection), fewshot_seed=seed,
                      max_new_tokens=max_new_tokens, base=not adapter))
    for name, summary in run_and_summarise(config, console).items():
        console.print(metrics_table(summary, f"template {name}"))
        if not summary["results"]:
            raise ConfigError(f"nothing was evaluated ({'; '.join(summary['missing'].values()) or 'see above'})")
    console.print(f"wrote {out}/metrics.json and {out}/predictions.jsonl (a store: `ftscope report {out}`)")


def absolute_specs_of(spec: Path | None) -> list[dict]:
    from ftscope.tasks.user import absolute_specs

    return absolute_specs(spec) if spec is not None else []


def _datasets(names: list[str], task: str | None, mapping: dict[str, str], data_dir: Path | None,
              spec: Path | None) -> tuple[list[str], list[dict]]:
    """Catalogue names as given; file paths become user datasets (with --task and --map)."""
    from ftscope.tasks import FILE_SUFFIXES
    from ftscope.tasks.user import user_catalogue

    cat, user, out = user_catalogue(data_dir, spec), [], []
    for name in names:
        if Path(name).suffix.lower() not in FILE_SUFFIXES:
            out.append(name)
            continue
        if task is None or task not in cat.tasks:
            raise ConfigError(f"--dataset {name}: a file dataset needs --task, one of {', '.join(cat.tasks)}")
        if not Path(name).is_file():
            raise ConfigError(f"--dataset {name}: file not found; check the path")
        user.append({"name": Path(name).stem, "task": task, "test_file": str(Path(name).resolve()), "fields": mapping})
        out.append(Path(name).stem)
    cat.resolve([n for n in out if n not in {u["name"] for u in user}])  # unknown names: one line, now
    return out, user


def register(app: typer.Typer) -> None:
    app.command("eval")(eval_cmd)

