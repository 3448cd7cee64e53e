"""Experiment trackers: training curves through accelerate's trackers, and a report logged to an MLflow run.

Training logs to whatever `FTSCOPE_LOG_WITH` names (tensorboard, mlflow, wandb, comma-separated; `all`: every one
installed), through accelerate's own `log_with` (`Accelerator(log_with=…)`, `init_trackers`, `log`), so each
tracker is configured as its users know it: MLflow by MLFLOW_TRACKING_URI / MLFLOW_EXPERIMENT_NAME, W&B by its
login and WANDB_* variables. An environment variable, not a training field, because it changes where curves go,
not what is trained (a TrainSpec's hash must not move), and because it reaches every process that trains: `ftscope
train`, the workers of `ftscope run`, and `accelerate launch`. TensorBoard writes under `FTSCOPE_LOG_DIR/<run>/`
(default: the run's own folder, `OUT/logs/`).

`log_report` puts a built report (report.md, report.html, tables, figures) in an MLflow run, with each claim's
verdict as a tag and its estimate and CI as metrics. Nothing here imports torch.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
from pathlib import Path
from typing import Any, Callable, Mapping

from ftscope.errors import ConfigError

LOG_WITH_ENV = "FTSCOPE_LOG_WITH"
LOG_DIR_ENV = "FTSCOPE_LOG_DIR"
PROJECT = "ftscope"  # MLflow experiment and W&B project of training runs (MLFLOW_EXPERIMENT_NAME overrides)
# tracker → the module that must import for it (accelerate's TensorBoard tracker also takes tensorboardX)
TRACKERS = {"tensorboard": ("tensorboard", "tensorboardX"), "mlflow": ("mlflow",), "wandb": ("wandb",)}
INSTALL = "pip install 'ftscope[trackers]' (TensorBoard and MLflow) or pip install wandb"


def installed(name: str) -> bool:
    return any(importlib.util.find_spec(module) is not None for module in TRACKERS[name])


def requested() -> list[str]:
    """The trackers FTSCOPE_LOG_WITH names; an unknown or uninstalled one is one line, before training."""
    raw = os.environ.get(LOG_WITH_ENV, "")
    names = [n.strip().lower() for n in raw.split(",") if n.strip()]
    if names == ["all"]:
        return [n for n in TRACKERS if installed(n)]
    unknown = [n for n in names if n not in TRACKERS]
    if unknown:
        raise ConfigError(f"{LOG_WITH_ENV}={raw}: '{unknown[0]}' is not one of {', '.join(TRACKERS)}, all")
    missing = [n for n in names if not installed(n)]
    if missing:
        raise ConfigError(f"{LOG_WITH_ENV}={raw}: {missing[0]} is not installed; {INSTALL}")
    return names


def run_name(spec: Any) -> str:
    """A training run as trackers list it: method, data, size, seed and the first digits of the spec hash."""
    return f"{spec.method} {'+'.join(spec.datasets)} n={spec.n} seed={spec.seed} {spec.hash()[:8]}"


def accelerator_options(spec: Any, out_dir: str | Path) -> dict[str, Any]:
    """Keyword arguments for `Accelerator(...)`: none when no tracker is asked for."""
    names = requested()
    if not names:
        return {}
    root = Path(os.environ.get(LOG_DIR_ENV) or Path(out_dir) / "logs")
    return {"log_with": names, "project_dir": str(root / re.sub(r"[^\w.=+-]+", "_", run_name(spec)))}


def start(accelerator: Any, spec: Any, progress: Callable | None) -> Callable | None:
    """Open the trackers' runs with the spec as hyper-parameters; returns a progress callback that also logs
    each optimizer step's loss, learning rate and tokens (per stage: ProMoT's two stages are two curves)."""
    if not accelerator.log_with:
        return progress
    _close_failed_runs({str(t) for t in accelerator.log_with})
    name = run_name(spec)
    accelerator.init_trackers(PROJECT, config=flat(spec.to_dict()),
                              init_kwargs={"mlflow": {"run_name": name}, "wandb": {"name": name}})

    def log(point: Any) -> None:
        accelerator.log({f"{point.stage}/loss": point.loss, f"{point.stage}/lr": point.lr,
                         f"{point.stage}/tokens": point.tokens}, step=point.step)
        if progress:
            progress(point)
    return log


def _close_failed_runs(names: set[str]) -> None:
    """A training that raised left its MLflow / W&B run open (only a finished run reaches `finish`); a worker
    that trains the next cell in the same process must not log into it, or be refused a new one."""
    if "mlflow" in names:
        import mlflow

        if mlflow.active_run() is not None:
            mlflow.end_run(status="FAILED")
    if "wandb" in names:
        import wandb

        if wandb.run is not None:
            wandb.finish(exit_code=1)


def finish(accelerator: Any, values: Mapping[str, float]) -> None:
    """Log the run's closing measurements (held-out loss before and after) and close the trackers' runs."""
    if accelerator.log_with:
        accelerator.log({k: float(v) for k, v in values.items() if isinstance(v, (int, float))})
        accelerator.end_training()


def flat(values: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested spec fields as `a.b` keys and lists as text: TensorBoard's hparams take scalars only."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, Mapping):
            out.update(flat(value, f"{prefix}{key}."))
        elif isinstance(value, (list, tuple)):
            out[prefix + key] = ",".join(map(str, value))
        else:
            out[prefix + key] = "none" if value is None else value
    return out


# ---- a report in MLflow -----------------------------------------------------------------------
def log_report(report_dir: str | Path, uri: str, experiment: str | None = None) -> str:
    """The report folder as artifacts of a new MLflow run at `uri` (a tracking server, or a folder for a
    local file store); claims as tags and metrics. Returns the run id."""
    if not installed("mlflow"):
        raise ConfigError(f"--mlflow: MLflow is not installed; {INSTALL}")
    import mlflow

    folder = Path(report_dir)
    mlflow.set_tracking_uri(tracking_uri(uri))
    mlflow.set_experiment(experiment or PROJECT)
    with mlflow.start_run(run_name=f"report {experiment or folder.name}") as run:
        mlflow.log_artifacts(str(folder))
        for key, row in primary_claims(folder).items():
            mlflow.set_tag(f"claim.{key}.verdict", row["verdict"])
            for part in ("estimate", "lo", "hi"):
                if row.get(part) is not None:
                    mlflow.log_metric(f"claim.{key}.{part}", float(row[part]))
        return run.info.run_id


def tracking_uri(uri: str) -> str:
    """A URI as given (http://…, sqlite:///…, databricks); a bare path as a file store URI. MLflow 3 keeps
    its file store in maintenance mode and refuses it unless MLFLOW_ALLOW_FILE_STORE is set: a user who
    names a folder asks for exactly that store, so it is allowed here (a setting the user made wins)."""
    if re.match(r"^[a-z][a-z0-9+.-]*:", uri) and not uri.startswith("file:"):
        return uri
    os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    return uri if uri.startswith("file:") else Path(uri).resolve().as_uri()


def primary_claims(report_dir: Path) -> dict[str, dict[str, Any]]:
    """Each claim's primary test from the report's tables/claims.json, keyed by a name MLflow accepts."""
    path = report_dir / "tables" / "claims.json"
    try:
        rows = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise ConfigError(f"{path}: missing or unreadable; build the report first (ftscope report)") from None
    found: dict[str, dict[str, Any]] = {}
    for row in rows:
        if row.get("role") == "primary":
            found.setdefault(re.sub(r"[^\w.-]+", "_", str(row["claim"])).strip("_"), row)
    return found
