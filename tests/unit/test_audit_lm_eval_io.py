"""lm-eval runs made elsewhere into a store (`ftscope import-lm-eval`), and out again in lm-eval's formats
(`ftscope export lm-eval-tasks`, `ftscope report --lm-eval-results`).

The runs are written by lm-eval's own code (HFLM, simple_evaluate, the EvaluationTracker the CLI saves with) on
the tiny random Llama and a real LoRA adapter of it, as `lm_eval --model hf --log_samples --output_path` does.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

lm_eval = pytest.importorskip("lm_eval")

from lora_adapters import make_adapter  # noqa: E402

from ftscope.errors import DataError  # noqa: E402

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "lm_eval"
TASKS = ["arc_like", "hellaswag_like"]


def ftscope(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", "from ftscope.cli import main; main()", *args], capture_output=True,
                          text=True, timeout=300, cwd=cwd, env=os.environ.copy())


def write_run(model, tokenizer, out: Path, name: str, limit: int) -> dict:
    """What `lm_eval --model hf --model_args pretrained=NAME --output_path OUT --log_samples` writes."""
    from lm_eval.loggers import EvaluationTracker
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    tracker = EvaluationTracker(output_path=str(out))
    hf = HFLM(pretrained=model, tokenizer=tokenizer, batch_size=4, device="cpu")
    results = lm_eval.simple_evaluate(model=hf, model_args=f"pretrained={name}", tasks=TASKS, num_fewshot=0,
                                      limit=limit, log_samples=True, evaluation_tracker=tracker,
                                      task_manager=TaskManager(include_path=str(FIXTURES), include_defaults=False))
    samples = results.pop("samples")
    kept = {"results": copy.deepcopy(results["results"]), "samples": copy.deepcopy(samples)}
    tracker.save_results_aggregated(results=results, samples=samples)
    for task in results["configs"]:
        tracker.save_results_samples(task_name=task, samples=samples[task])
    return kept


@pytest.fixture(scope="module")
def runs(tmp_path_factory, tiny_loaded, tiny_model_dir):
    from ftscope.models import LoadOptions
    from ftscope.training.load import load_adapter

    root = tmp_path_factory.mktemp("lm-eval-runs")
    adapter = make_adapter(tiny_model_dir, root / "adapter", seed=3)
    tuned = load_adapter(adapter, str(tiny_model_dir), "lora", LoadOptions(device="cpu"))
    base = write_run(tiny_loaded.model, tiny_loaded.tokenizer, root / "base", "org/base-model", 12)
    tuned_run = write_run(tuned.model, tuned.tokenizer, root / "tuned", "org/tuned-model", 12)
    return root, base, tuned_run


@pytest.fixture(scope="module")
def imported(runs, tmp_path_factory):
    root, _, _ = runs
    store = tmp_path_factory.mktemp("store")
    result = ftscope("import-lm-eval", str(root / "base"), str(root / "tuned"), "--store", str(store))
    assert result.returncode == 0, result.stderr
    report = ftscope("report", str(store), "--lm-eval-results")
    assert report.returncode == 0, report.stderr
    return store, result.stderr


def _correct(samples: list[dict]) -> dict[str, bool]:
    return {str(s["doc_id"]): bool(s["acc"]) for s in samples}


def test_both_runs_become_benchmark_cells_of_one_base(imported):
    from ftscope.experiments.store import Store

    store, printed = imported
    rows = Store(store).rows("lm-eval")
    assert "imported 4 cell(s)" in printed
    assert {(r["cell"].model.label, r["cell"].spec.dataset, r["status"]) for r in rows} == {
        (label, f"lm-eval:{t}", "done") for label in ("base org/base-model", "tuned org/tuned-model") for t in TASKS}
    assert {r["cell"].model.base for r in rows} == {"org/base-model"}  # the tuned one is paired with this base
    assert {r["cell"].task_kind for r in rows} == {"benchmark"} and {r["cell"].role for r in rows} == {None}


def test_the_report_pairs_them_item_by_item(imported, runs):
    """The report's flipped items are exactly the documents whose lm-eval `acc` differs between the runs."""
    store, _ = imported
    _, base, tuned = runs
    flips = json.loads((store / "report" / "tables" / "flips.json").read_text())
    for task in TASKS:
        b, t = _correct(base["samples"][task]), _correct(tuned["samples"][task])
        expected = {(doc, "lost" if b[doc] else "gained") for doc in b if b[doc] != t[doc]}
        assert {(f["id"], f["change"]) for f in flips if f["dataset"] == f"lm-eval:{task}"} == expected
    cells = json.loads((store / "report" / "tables" / "cells.json").read_text())
    for c in cells:
        run = base if c["model_label"].startswith("base") else tuned
        # the same mean of the same 0/1 items, read back from JSON: equal up to the float text round trip
        assert c["score"] == pytest.approx(run["results"][c["dataset"][len("lm-eval:"):]]["acc,none"], abs=1e-6)


def test_a_second_import_keeps_what_the_store_holds(imported, runs):
    store, _ = imported
    root, _, _ = runs
    again = ftscope("import-lm-eval", str(root / "base"), str(root / "tuned"), "--store", str(store))
    assert again.returncode == 0 and "imported 0 cell(s)" in again.stderr and "4 already in the store" in again.stderr


def test_runs_of_different_tasks_are_one_line(runs, tmp_path):
    root, _, _ = runs
    result = ftscope("import-lm-eval", str(root / "base"), str(tmp_path / "nothing"), "--store", str(tmp_path / "s"))
    assert result.returncode == 2 and "no such folder" in result.stderr and "Traceback" not in result.stderr


def test_same_model_twice_needs_a_name(runs, tmp_path):
    from ftscope.errors import ConfigError
    from ftscope.experiments.lm_eval_io import import_lm_eval_runs

    root, _, _ = runs
    with pytest.raises(ConfigError, match="both name the model 'org/base-model'; give --tuned-name"):
        import_lm_eval_runs(root / "base", root / "base", tmp_path / "s")


def test_report_writes_lm_eval_results_files(imported, runs):
    """Each cell in lm-eval's results schema, where lm-eval's own reader finds the aggregate it wrote."""
    store, _ = imported
    _, base, _ = runs
    folder = store / "report" / "lm-eval"
    files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.json"))
    assert files == [f"{m}/results_{t}_0shot.json" for m in ("base_org__base-model", "tuned_org__tuned-model")
                     for t in TASKS]
    found = json.loads((folder / "base_org__base-model" / "results_arc_like_0shot.json").read_text())
    assert found["results"]["arc_like"]["acc,none"] == pytest.approx(base["results"]["arc_like"]["acc,none"], abs=1e-9)
    assert found["n-shot"] == {"arc_like": 0} and found["model_name"] == "base org/base-model"


def test_export_lm_eval_tasks_writes_runnable_yamls(paper_data, tmp_path):
    result = ftscope("export", "lm-eval-tasks", str(tmp_path / "tasks"), "-d", "sst2", "-d", "rte", "--limit", "5",
                     "--data-dir", str(paper_data))
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (tmp_path / "tasks").glob("*.yaml")) == ["ftscope_rte.yaml", "ftscope_sst2.yaml"]
    from lm_eval.tasks import TaskManager

    manager = TaskManager(include_path=str(tmp_path / "tasks"), include_defaults=False)
    assert {"ftscope_sst2", "ftscope_rte"} <= set(manager.all_subtasks)
    assert "lm_eval --include_path" in result.stderr


def test_reading_a_folder_without_runs_is_one_line(tmp_path):
    from ftscope.evaluation.lm_eval import run_model_name

    (tmp_path / "empty").mkdir()
    assert run_model_name(tmp_path / "empty") == "empty"
    with pytest.raises(DataError, match="no lm-eval task results in it"):
        from ftscope.evaluation.lm_eval import read_log_samples

        read_log_samples(tmp_path / "empty")
