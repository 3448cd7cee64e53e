"""lm-eval output folders read back as ftscope results, and a base and a tuned run paired.

The runs are written by lm-eval's own code: HFLM through simple_evaluate and the EvaluationTracker the
CLI saves with (lm_eval/_cli/run.py), into the layout `lm_eval --output_path DIR --log_samples` makes.
"""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import pytest

lm_eval = pytest.importorskip("lm_eval")

from lm_eval.loggers import EvaluationTracker  # noqa: E402
from lm_eval.models.huggingface import HFLM  # noqa: E402
from lm_eval.tasks import TaskManager  # noqa: E402

from ftscope.errors import DataError  # noqa: E402
from ftscope.evaluation.lm_eval import evaluate_lm_eval, read_log_samples, read_paired_runs  # noqa: E402
from ftscope.models import language_model  # noqa: E402

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "lm_eval"
TIE = 2e-4  # see test_lm_eval_model.py: choices closer than this may rank either way across machines
TASKS = ["arc_like", "qa_like", "text_like"]


def write_run(model, out: Path, name: str, limit: int, tasks=TASKS) -> dict:
    """What `lm_eval --model hf --model_args pretrained=NAME --output_path OUT --log_samples` writes."""
    tracker = EvaluationTracker(output_path=str(out))
    results = lm_eval.simple_evaluate(model=model, model_args=f"pretrained={name}", tasks=tasks, num_fewshot=2,
                                      limit=limit, log_samples=True, evaluation_tracker=tracker,
                                      task_manager=TaskManager(include_path=str(FIXTURES), include_defaults=False))
    samples = results.pop("samples")
    kept = copy.deepcopy(samples)  # the tracker rewrites the samples it saves
    tracker.save_results_aggregated(results=results, samples=samples)
    for task in results["configs"]:
        tracker.save_results_samples(task_name=task, samples=samples[task])
    return kept


@pytest.fixture(scope="module")
def runs(tmp_path_factory, tiny_loaded):
    root = tmp_path_factory.mktemp("lm-eval-runs")
    hf = HFLM(pretrained=tiny_loaded.model, tokenizer=tiny_loaded.tokenizer, batch_size=4, device="cpu")
    base = write_run(hf, root / "base", "org/base-model", 10)
    write_run(hf, root / "tuned", "org/tuned-model", 10)
    write_run(hf, root / "short", "org/tuned-model", 6)
    return root, base


def test_the_layout_lm_eval_writes(runs):
    root, _ = runs
    folder = root / "base" / "org__base-model"
    assert len(list(folder.glob("results_*.json"))) == 1 and len(list(folder.glob("samples_arc_like_*.jsonl"))) == 1


@pytest.mark.parametrize("where", ["base", "base/org__base-model"])
def test_read_back_agrees_with_the_run_in_memory(runs, where):
    root, samples = runs
    results = read_log_samples(root / where)
    assert sorted(results) == TASKS
    arc = results["arc_like"]
    assert [p.id for p in arc.predictions] == [str(s["doc_id"]) for s in samples["arc_like"]]
    assert [p.correct for p in arc.predictions] == [bool(s["acc"]) for s in samples["arc_like"]]
    assert [p.prediction for p in results["qa_like"].predictions] == [
        s["filtered_resps"][0] for s in samples["qa_like"] if s["filter"] == "remove_whitespace"]
    assert results["text_like"].predictions[0].scores["bits_per_byte[0]"] == samples["text_like"][0]["resps"][0][0]


def test_read_back_hflm_run_agrees_item_by_item_with_evaluate_lm_eval(runs, tiny_loaded):
    root, samples = runs
    imported = read_log_samples(root / "base")["arc_like"]
    ours = evaluate_lm_eval(language_model(tiny_loaded), "arc_like", 2, 10, str(FIXTURES))
    assert [(p.id, p.gold) for p in ours.predictions] == [(p.id, p.gold) for p in imported.predictions]
    decided = [i for i, s in enumerate(samples["arc_like"]) if _margin(s) > TIE]
    assert len(decided) >= 9
    assert [ours.predictions[i].prediction for i in decided] == [imported.predictions[i].prediction for i in decided]
    assert [ours.predictions[i].correct for i in decided] == [imported.predictions[i].correct for i in decided]


def _margin(sample: dict) -> float:
    scores = sorted((r[0] for r in sample["filtered_resps"]), reverse=True)
    return scores[0] - scores[1]


def test_paired_runs(runs):
    root, _ = runs
    pairs = read_paired_runs(root / "base", root / "tuned")
    assert sorted(pairs) == TASKS
    base, tuned = pairs["arc_like"]
    assert [p.id for p in base.predictions] == [p.id for p in tuned.predictions]


def test_different_documents_are_one_line(runs):
    root, _ = runs
    with pytest.raises(DataError, match=r"arc_like: the runs scored different documents \(10 in base, 6 in tuned; "
                                        r"only in base: 6, 7, 8, 9; only in tuned: none\); rerun both"):
        read_paired_runs(root / "base", root / "short")


def test_different_tasks_are_one_line(runs, tmp_path):
    root, _ = runs
    fewer = tmp_path / "fewer"
    shutil.copytree(root / "tuned", fewer)
    for path in fewer.rglob("samples_text_like_*.jsonl"):
        path.unlink()
    results_file = next(fewer.rglob("results_*.json"))
    data = json.loads(results_file.read_text())
    del data["configs"]["text_like"]
    results_file.write_text(json.dumps(data))
    with pytest.raises(DataError, match=r"ran different lm-eval tasks \(only in base: text_like; "
                                        r"only in tuned: none\)"):
        read_paired_runs(root / "base", fewer)


def test_missing_samples_say_log_samples(runs, tmp_path):
    root, _ = runs
    shutil.copytree(root / "tuned", tmp_path / "run")
    next((tmp_path / "run").rglob("samples_qa_like_*.jsonl")).unlink()
    with pytest.raises(DataError, match="no samples_qa_like_.*jsonl beside it; rerun lm_eval with --log_samples"):
        read_log_samples(tmp_path / "run")


def test_a_folder_of_several_models_asks_for_one(runs, tmp_path):
    root, _ = runs
    shutil.copytree(root / "base", tmp_path / "both")
    shutil.copytree(root / "tuned" / "org__tuned-model", tmp_path / "both" / "org__tuned-model")
    with pytest.raises(DataError, match=r"several models \(org__base-model, org__tuned-model\)"):
        read_log_samples(tmp_path / "both")


def test_the_newest_run_of_a_task_wins(runs, tmp_path):
    root, _ = runs
    folder = tmp_path / "two" / "org__tuned-model"
    shutil.copytree(root / "tuned" / "org__tuned-model", folder)
    for path in (root / "short" / "org__tuned-model").iterdir():  # written after the 10-item run
        shutil.copy(path, folder / path.name)
    assert read_log_samples(tmp_path / "two")["arc_like"].metrics["n"] == 6


def test_not_a_run_folder(tmp_path):
    with pytest.raises(DataError, match="no lm-eval task results in it"):
        read_log_samples(tmp_path)
    with pytest.raises(DataError, match="no such folder"):
        read_log_samples(tmp_path / "missing")
