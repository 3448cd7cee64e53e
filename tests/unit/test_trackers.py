"""Trackers: a training run's curves reach TensorBoard and MLflow through accelerate's `log_with` when
FTSCOPE_LOG_WITH names them, and `ftscope report --mlflow` puts a report (artifacts, claims) in an MLflow run.

Everything is read back with the trackers' own readers (TensorBoard's EventAccumulator, MLflow's client) from
local stores in tmp: a TensorBoard log folder and an MLflow file store (`mlruns/`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ftscope import trackers
from ftscope.errors import ConfigError


# ---- which trackers -----------------------------------------------------------------------------
@pytest.mark.parametrize("value, message", [
    ("tensorbord", "'tensorbord' is not one of tensorboard, mlflow, wandb, all"),
    ("mlflow,comet", "'comet' is not one of"),
])
def test_an_unknown_tracker_is_one_line(monkeypatch, value, message):
    monkeypatch.setenv(trackers.LOG_WITH_ENV, value)
    with pytest.raises(ConfigError, match=message):
        trackers.requested()


def test_a_tracker_that_is_not_installed_says_how_to_install_it(monkeypatch):
    missing = next((n for n in trackers.TRACKERS if not trackers.installed(n)), None)
    if missing is None:
        pytest.skip("every tracker is installed here")
    monkeypatch.setenv(trackers.LOG_WITH_ENV, missing)
    with pytest.raises(ConfigError, match=f"{missing} is not installed; pip install 'ftscope\\[trackers\\]'"):
        trackers.requested()


def test_none_asked_means_no_tracker_and_all_means_every_installed_one(monkeypatch, tmp_path):
    monkeypatch.delenv(trackers.LOG_WITH_ENV, raising=False)
    assert trackers.requested() == [] and trackers.accelerator_options(None, tmp_path) == {}
    monkeypatch.setenv(trackers.LOG_WITH_ENV, "all")
    assert trackers.requested() == [n for n in ("tensorboard", "mlflow", "wandb") if trackers.installed(n)]


def test_spec_fields_are_flattened_to_scalars_for_hparams():
    from ftscope.specs import TrainSpec

    found = trackers.flat(TrainSpec(datasets=("amazon", "paws"), lr=None).with_options(lora_r=8).to_dict())
    assert found["datasets"] == "amazon,paws" and found["lr"] == "none" and found["options.lora_r"] == 8
    assert all(isinstance(v, (str, int, float, bool)) for v in found.values())


def test_bare_paths_become_file_store_uris(tmp_path):
    assert trackers.tracking_uri(str(tmp_path / "mlruns")) == (tmp_path / "mlruns").as_uri()
    assert trackers.tracking_uri("http://127.0.0.1:5000") == "http://127.0.0.1:5000"


# ---- training ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def logged_run(tiny_model_dir, paper_data, tmp_path_factory):
    """A 4-step LoRA run on the tiny model with FTSCOPE_LOG_WITH=tensorboard,mlflow, MLflow on a file store."""
    pytest.importorskip("mlflow")
    pytest.importorskip("tensorboard")
    from ftscope.specs import TrainSpec
    from ftscope.tasks import Catalogue
    from ftscope.training import resolve, train

    root = tmp_path_factory.mktemp("tracked")
    env = {trackers.LOG_WITH_ENV: "tensorboard,mlflow", trackers.LOG_DIR_ENV: str(root / "tb"),
           "MLFLOW_TRACKING_URI": (root / "mlruns").as_uri(), "MLFLOW_ALLOW_FILE_STORE": "true"}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        spec = TrainSpec(model=str(tiny_model_dir), method="lora", datasets=("amazon",), n=8, epochs=1, batch_size=2,
                         grad_accum=1, checkpoint_every=0)
        out = train(spec, root / "run", Catalogue(paper_data))
    finally:
        for k, v in saved.items():
            os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)
    return root, resolve(spec), json.loads((out / "manifest.json").read_text())  # the spec as trained (lr set)


def test_tensorboard_holds_the_loss_curve_of_the_manifest(logged_run):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    root, spec, manifest = logged_run
    (run_dir,) = (root / "tb").iterdir()  # one folder per run, named after it
    assert run_dir.name.startswith("lora_amazon_n=8_seed=0_") and (run_dir / trackers.PROJECT).is_dir()
    acc = EventAccumulator(str(run_dir / trackers.PROJECT))  # scalars here; hparams in a subfolder of it
    acc.Reload()
    (stage,) = {p["stage"] for p in manifest["loss_curve"]}
    curve = [(e.step, e.value) for e in acc.Scalars(f"{stage}/loss")]
    # TensorBoard stores float32: the manifest's float64 losses agree to float32 rounding (relative 6e-8).
    assert curve == [(p["step"], pytest.approx(p["loss"], rel=1e-6)) for p in manifest["loss_curve"]]


def test_mlflow_holds_the_spec_the_curve_and_the_heldout_loss(logged_run):
    import mlflow
    from mlflow.tracking import MlflowClient

    root, spec, manifest = logged_run
    os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3 refuses a file store without it
    client = MlflowClient((root / "mlruns").as_uri())
    experiment = client.get_experiment_by_name(trackers.PROJECT)
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.info.run_name == trackers.run_name(spec) and run.info.status == "FINISHED"
    assert run.data.params["method"] == "lora" and run.data.params["datasets"] == "amazon"
    (stage,) = {p["stage"] for p in manifest["loss_curve"]}
    history = client.get_metric_history(run.info.run_id, f"{stage}/loss")
    # MLflow keeps metrics as float64: the logged values are the manifest's, exactly.
    assert [(m.step, m.value) for m in history] == [(p["step"], p["loss"]) for p in manifest["loss_curve"]]
    assert run.data.metrics["heldout/tuned_loss"] == manifest["heldout"]["tuned_loss"]
    assert mlflow.active_run() is None


# ---- the report in MLflow ------------------------------------------------------------------------
def test_report_to_mlflow_logs_artifacts_and_claims(tmp_path):
    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient
    from synthetic_store import write_synthetic_store

    write_synthetic_store(tmp_path / "store", experiment="demo", rag=False)
    result = subprocess.run([sys.executable, "-c", "from ftscope.cli import main; main()", "report",
                             str(tmp_path / "store"), "--mlflow", str(tmp_path / "mlruns")],
                            capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3 refuses a file store without it
    client = MlflowClient((tmp_path / "mlruns").as_uri())
    (run,) = client.search_runs([client.get_experiment_by_name(trackers.PROJECT).experiment_id])
    assert f"mlflow: run {run.info.run_id}" in result.stderr
    top = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"report.html", "report.md", "tables", "figures"} <= top
    assert "tables/claims.csv" in {a.path for a in client.list_artifacts(run.info.run_id, "tables")}
    claims = trackers.primary_claims(tmp_path / "store" / "report")
    assert {k: run.data.tags[f"claim.{k}.verdict"] for k in claims} == {k: r["verdict"] for k, r in claims.items()}
    with_estimate = {k: r for k, r in claims.items() if r["estimate"] is not None}
    assert with_estimate  # the synthetic study gives some claims an estimate
    for key, row in with_estimate.items():  # claims.json rounds to 6 decimals: equal to that rounding
        assert run.data.metrics[f"claim.{key}.estimate"] == pytest.approx(row["estimate"], abs=1e-6)


def test_report_to_mlflow_without_a_report_is_one_line(tmp_path):
    with pytest.raises(ConfigError, match="claims.json: missing or unreadable; build the report first"):
        trackers.primary_claims(tmp_path)
