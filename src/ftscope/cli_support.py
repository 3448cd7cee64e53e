"""What the CLI's subcommands do between parsing and the library: resolve names, show progress, print."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from ftscope.errors import ConfigError
from ftscope.tasks import PAPER_DATASETS, Catalogue
from ftscope.tasks.catalogue import DatasetEntry
from ftscope.tasks.datasets import test_path, train_paths


def _split(values: list[str] | None) -> list[str]:
    return [v.strip() for value in values or [] for v in value.split(",") if v.strip()]


def _shots(value: str) -> tuple[int, ...]:
    try:
        shots = tuple(int(v) for v in value.split(","))
    except ValueError:
        raise ConfigError(f"--shots: '{value}' is not a comma-separated list of integers, e.g. 0,2,4") from None
    if any(k < 0 for k in shots):
        raise ConfigError("--shots: shot counts must be 0 or more")
    return shots


def catalogue(data_dir: Path | None, spec: Path | None, extra: list[DatasetEntry] | None = None) -> Catalogue:
    entries, tasks = [], {}
    if spec is not None:
        from ftscope.tasks.user import load_user_datasets

        entries, tasks = load_user_datasets(spec)
    return Catalogue(data_dir, [*entries, *(extra or [])], tasks)


def resolve_datasets(cat: Catalogue, names: list[str], task: str | None, mapping: list[str]) -> tuple[list[str], Catalogue]:
    """Expand 'paper' and task names; turn file paths into user datasets (needs --task)."""
    out, extra = [], []
    for name in names:
        if name == "paper":
            out += [n for n in cat.names() if n in PAPER_DATASETS]
        elif name in cat.tasks and name not in cat.entries:
            out += cat.names(name)
        elif Path(name).suffix.lower() in (".json", ".jsonl", ".csv"):
            extra.append(_file_entry(name, task, mapping, cat))
            out.append(extra[-1].name)
        else:
            cat.entry(name)  # raises a clear line for an unknown name
            out.append(name)
    if extra:
        cat = Catalogue(cat.data_dir, [*cat.entries.values(), *extra], cat.tasks)
    return list(dict.fromkeys(out)), cat


def _file_entry(path: str, task: str | None, mapping: list[str], cat: Catalogue) -> DatasetEntry:
    if task is None or task not in cat.tasks:
        raise ConfigError(f"--dataset {path}: a file dataset needs --task, one of {', '.join(cat.tasks)}")
    pairs = [m.split("=", 1) for m in mapping]
    if any(len(p) != 2 for p in pairs):
        raise ConfigError("--map: expected field=column, e.g. --map input=text")
    return DatasetEntry(Path(path).stem, task, Path(path).name, test_file=path, field_map=dict(pairs))


def dataset_rows(cat: Catalogue) -> list[tuple[str, ...]]:
    """One row per catalogue entry; reads local files only (listing never downloads from the hub)."""
    from ftscope.errors import DataError

    rows = []
    for name, entry in cat.entries.items():
        path = test_path(entry, cat.data_dir)
        size = shots = "-"
        if path is not None and path.is_file():
            try:
                data = cat.test(name)
                size, shots, source = str(len(data.examples)), str(len(data.fewshot)), data.source
            except DataError as e:
                source = f"unreadable: {e}"
        else:
            source = f"hub: {entry.hub.path} (not local)" if entry.hub else f"missing: {path}"
        rows.append((name, entry.task, cat.tasks[entry.task].kind, size, shots, _train_sizes(entry, cat), source))
    return rows


def _train_sizes(entry: DatasetEntry, cat: Catalogue) -> str:
    if entry.train_file:
        return "file"
    return ",".join(p.stem.rsplit("_", 1)[1] for p in train_paths(entry, cat.data_dir)) or "-"


def run_eval(args: dict[str, Any], console: Console) -> None:
    from ftscope.evaluation import SCORINGS, SuiteSpec
    from ftscope.models import LoadOptions, language_model
    from ftscope.prompts import SELECTIONS

    if args["scoring"] not in SCORINGS:
        raise ConfigError(f"--scoring: '{args['scoring']}' is not one of {', '.join(SCORINGS)}")
    if args["fewshot"] not in SELECTIONS:
        raise ConfigError(f"--fewshot: '{args['fewshot']}' is not one of {', '.join(SELECTIONS)}")
    cat = catalogue(args["data_dir"], args["spec"])
    names, cat = resolve_datasets(cat, _split(args["dataset"]), args["task"], args["map_"] or [])
    templates = _split([args["template"]])
    suite = SuiteSpec(tuple(names), _shots(args["shots"]), templates[0], args["scoring"], args["limit"],
                      args["fewshot"], args["seed"], args["max_new_tokens"])
    options = LoadOptions(args["dtype"], args["device"], args["threads"], args["trust_remote_code"])
    started = time.perf_counter()
    loaded = _load(args, options)
    lm = language_model(loaded, args["batch_tokens"])
    console.print(f"model {loaded.reference} on {loaded.device} ({time.perf_counter() - started:.1f} s to load)")
    for template in templates:
        out = Path(args["out"]) / template if len(templates) > 1 else Path(args["out"])
        header = {"model": loaded.reference, "model_path": loaded.path, "adapter": args["adapter"]}
        summary = _with_progress(lm, cat, replace(suite, template=template), out, header, console)
        console.print(_metrics_table(summary))
        console.print(f"wrote {out}/metrics.json and {out}/predictions.jsonl")
    if getattr(lm, "truncated", 0):
        console.print(f"note: {lm.truncated} prompt(s) exceeded the model's {lm.max_length}-token context "
                      "and were cut from the left (oldest demonstrations first)")


def _load(args: dict[str, Any], options):
    from ftscope.models import load_model

    if args["adapter"] and (Path(args["adapter"]) / "manifest.json").is_file():
        from ftscope.training import load_trained  # what `ftscope train` wrote, whatever the method

        return load_trained(args["adapter"], args["keep_soft_prompt"], options)
    return load_model(args["model"], args["adapter"], options)


def run_train(args: dict[str, Any], console: Console) -> None:
    import yaml

    from ftscope.training import load_train_spec, spec_from_mapping, train

    values = load_train_spec(args["config"]).to_dict() if args["config"] else {}
    flags = {"model": args["model"], "method": args["method"], "tune": args["tune"], "n": args["n"],
             "epochs": args["epochs"], "lr": args["lr"], "seed": args["seed"],
             "datasets": _split(args["dataset"]) or None,
             "proportions": [float(p) for p in _split([args["proportions"]])] if args["proportions"] else None}
    values.update({k: v for k, v in flags.items() if v is not None})
    if args["allow_fewer"]:
        values["allow_fewer"] = True
    for item in args["override"] or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise ConfigError(f"--set '{item}': expected field=value, e.g. --set lora_r=16")
        values[key] = yaml.safe_load(value)
    spec = spec_from_mapping(values, "ftscope train")
    started = time.perf_counter()
    out = train(spec, args["out"], catalogue(args["data_dir"], None))
    console.print(f"trained {spec.method} on {'+'.join(spec.datasets)} in {time.perf_counter() - started:.0f} s; "
                  f"wrote {out} (evaluate it with: ftscope eval --adapter {out} -d ...)")


def _with_progress(lm, cat, suite, out, header, console) -> dict:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from ftscope.evaluation import run_suite

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=console, transient=False) as progress:
        bar = progress.add_task(f"evaluating ({suite.template})", total=len(suite.datasets) * len(suite.shots))
        started = time.perf_counter()

        def tick(result) -> None:
            progress.advance(bar)
            progress.console.print(f"  {result.spec.dataset} {result.spec.shots}-shot: {_headline(result.metrics)} "
                                   f"[{time.perf_counter() - started:.0f} s]")

        summary = run_suite(lm, cat, suite, out, header, say=progress.console.print, on_cell=tick)
    return summary


def _headline(metrics: dict) -> str:
    keys = [k for k in ("accuracy", "macro_f1", "rougeL", "bleu") if k in metrics]
    return " ".join(f"{k}={metrics[k]:.3f}" for k in keys) + f" (n={metrics['n']})"


def _metrics_table(summary: dict) -> Table:
    table = Table("dataset", "shots", "metric", "value", "± se", "n", title=f"template {summary['suite']['template']}")
    for dataset, by_shots in summary["results"].items():
        for shots, m in by_shots.items():
            key = "accuracy" if "accuracy" in m else "rougeL"
            table.add_row(dataset, shots, key, f"{m[key]:.3f}", f"{m.get(key + '_se', float('nan')):.3f}", str(m["n"]))
    return table


def run_experiment(path: Path, workers: int, backend: str, address: str | None, dry_run: bool,
                   overrides: list[str], console: Console) -> None:
    from ftscope.experiments.config import load_experiment
    from ftscope.experiments.grid import expand
    from ftscope.experiments.runner import plan, progress_table, run_grid
    from ftscope.experiments.store import Store

    if backend not in ("local", "ray"):
        raise ConfigError(f"--backend: '{backend}' is not one of local, ray")
    if workers < 1:
        raise ConfigError("--workers: must be 1 or more")
    config = load_experiment(path, overrides)
    if dry_run:  # read-only: the plan registers nothing, so a report never lists cells you only previewed
        store, grid = Store(config.store), expand(config)
        p = plan(store, grid, workers)
        console.print(progress_table(p, 0.0))
        guessed = [k for k, measured in p.measured.items() if not measured]
        if guessed:
            console.print(f"estimate for {', '.join(guessed)} cells uses reference timings (none ran in this store yet)")
        for cell in grid.train:
            console.print(f"  {cell.label()}  [{cell.hash}]")
        return
    started = time.perf_counter()
    run_grid(config, workers, backend, address, console)
    console.print(f"finished in {time.perf_counter() - started:.0f} s; store: {config.store}")
    _print_failures(config, console)
    _write_report(config, console)


def _print_failures(config, console: Console) -> None:
    from ftscope.experiments.store import Store

    failed = [r for r in Store(config.store).rows(config.name) if r["status"] == "failed"]
    for row in failed[:20]:
        console.print(f"[red]failed[/red] {row['kind']} {row['hash']}: {(row['error'] or '').splitlines()[0]}")


def _write_report(config, console: Console) -> None:
    try:
        from ftscope.report import build_report
    except ImportError:
        return
    html = build_report(config.store, Path(config.store) / "report", config.name)
    console.print(f"report: {html}")


def experiment_status(path: Path, overrides: list[str], console: Console) -> None:
    from ftscope.experiments.config import load_experiment
    from ftscope.experiments.grid import expand
    from ftscope.experiments.runner import plan, progress_table
    from ftscope.experiments.store import Store

    config = load_experiment(path, overrides)
    store, grid = Store(config.store), expand(config)
    console.print(progress_table(plan(store, grid), 0.0))
    rows = {r["hash"]: r for r in Store(config.store).rows(config.name)}
    table = Table("cell", "status", "seconds", "error")
    for cell in grid.cells:
        row = rows.get(cell.hash, {})
        if row.get("status") in ("running", "failed"):
            table.add_row(cell.label(), row["status"], f"{row.get('seconds') or 0:.0f}",
                          (row.get("error") or "").splitlines()[0] if row.get("error") else "")
    if table.row_count:
        console.print(table)


def run_rag_cmd(args: dict[str, Any], console: Console) -> None:
    from ftscope.models import LoadOptions, language_model, load_model
    from ftscope.rag import RagSpec, run_rag

    options = LoadOptions(args["dtype"], args["device"])
    lm = language_model(_load({**args, "keep_soft_prompt": False}, options))
    judge = language_model(load_model(args["judge"], options=options)) if args["judge"] else None
    spec = RagSpec(corpus=args["corpus"], retriever=args["retriever"], k=args["k"], limit=args["limit"],
                   max_new_tokens=args["max_new_tokens"], questions=args["questions"])
    metrics = run_rag(spec, lm, args["out"], judge=judge, count_tokens=lambda t: len(lm.encode(t, bos=False)))
    table = Table("corpus", "em", "f1", "contains", "completeness", "faithfulness", f"recall@{args['k']}", "n")
    for name, m in metrics["rag"].items():
        table.add_row(name, *(f"{m[key]:.3f}" for key in ("em", "f1", "contains", "completeness", "faithfulness",
                                                           f"recall@{args['k']}")), str(m["n"]))
    console.print(table)
    if lm.truncated:
        console.print(f"note: {lm.truncated} prompt(s) exceeded the context window and were cut from the left")
    console.print(f"wrote {args['out']}/metrics.json and {args['out']}/predictions.jsonl")


def run_audit(args: dict[str, Any], console: Console) -> None:
    from ftscope.experiments.config import EvalGrid, ExperimentConfig, RagGrid, TunedModel
    from ftscope.experiments.runner import run_grid

    tuned = [TunedModel(path=p, trained_on=_split(args["trained_on"])) for p in args["tuned"]]
    config = ExperimentConfig(
        name="audit", store=str(args["store"]), models=[args["base"]], tuned=tuned,
        data_dir=str(args["data_dir"]) if args["data_dir"] else None,
        eval=EvalGrid(datasets=_split([args["suite"]]), shots=list(_shots(args["shots"])), limit=args["limit"]),
        rag=RagGrid(corpora=args["rag"], limit=args["rag_limit"]) if args["rag"] else None)
    run_grid(config, args["workers"], "local", None, console)
    _print_failures(config, console)
    from ftscope.report import build_report

    console.print(f"report: {build_report(config.store, args['out'], config.name)}")


def run_report(source: Path, out: Path | None, console: Console) -> None:
    from ftscope.report import build_report

    experiment = None
    if source.is_file():
        from ftscope.experiments.config import load_experiment

        config = load_experiment(source)
        store, experiment = Path(config.store), config.name
    elif (source / "index.sqlite").is_file():
        store = source
    else:
        raise ConfigError(f"{source}: neither an experiment YAML nor a store folder (no index.sqlite)")
    console.print(f"report: {build_report(store, out or store / 'report', experiment)}")
