"""ftscope's tasks exported as lm-eval task YAMLs score the same items the same way under lm-eval's
own HFLM as `ftscope eval --scoring loglik` does; ftscope results written in lm-eval's results.json schema.

Tolerance: as in test_lm_eval_model.py, two implementations batch the same float32 forward differently,
so a label's log-likelihood agrees to LOGPROB and labels closer than TIE are not required to rank alike.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import yaml

lm_eval = pytest.importorskip("lm_eval")

from lm_eval.loggers import EvaluationTracker  # noqa: E402
from lm_eval.models.huggingface import HFLM  # noqa: E402
from lm_eval.tasks import TaskManager  # noqa: E402
from lm_eval.utils import make_table  # noqa: E402

from ftscope.errors import ConfigError  # noqa: E402
from ftscope.evaluation import evaluate  # noqa: E402
from ftscope.specs import EvalSpec  # noqa: E402
from ftscope.evaluation.lm_eval import evaluate_lm_eval, export_task_yamls, results_json  # noqa: E402
from ftscope.models import language_model  # noqa: E402
from ftscope.tasks import Catalogue, DatasetEntry, Task  # noqa: E402

LOGPROB = dict(rel=1e-5, abs=1e-4)
TIE = 2e-4
LIMIT = {"sst2": 12, "snli": 12, "xsum": 3}
SHOTS = {"sst2": 2, "snli": 3, "xsum": 1}


@pytest.fixture(scope="module")
def exported(tmp_path_factory, paper_data):
    out = tmp_path_factory.mktemp("exported")
    catalogue = Catalogue(paper_data)
    for name, limit in LIMIT.items():
        export_task_yamls(out, catalogue, [name], limit=limit)
    return out, catalogue


@pytest.fixture(scope="module")
def runs(exported, tiny_loaded, tmp_path_factory):
    """Each exported task under lm-eval's HFLM (results saved as the CLI saves them) and under ftscope."""
    out, catalogue = exported
    hf = HFLM(pretrained=tiny_loaded.model, tokenizer=tiny_loaded.tokenizer, batch_size=4, device="cpu")
    manager = TaskManager(include_path=str(out), include_defaults=False)
    lm, runs = language_model(tiny_loaded), {}
    for name in LIMIT:
        tracker = EvaluationTracker(output_path=str(tmp_path_factory.mktemp(f"results-{name}")))
        theirs = lm_eval.simple_evaluate(model=hf, model_args="pretrained=tiny", tasks=[f"ftscope_{name}"],
                                         num_fewshot=SHOTS[name], task_manager=manager, log_samples=True,
                                         evaluation_tracker=tracker)
        samples = copy.deepcopy(theirs.pop("samples")[f"ftscope_{name}"])
        tracker.save_results_aggregated(results=theirs, samples=None)
        written = json.loads(next(Path(tracker.output_path).rglob("results_*.json")).read_text())
        ours = evaluate(lm, catalogue.test(name), EvalSpec(name, SHOTS[name], "p1", "loglik", LIMIT[name]))
        runs[name] = (sorted(samples, key=lambda s: s["doc_id"]), written, ours)
    return runs


def test_the_folder_lm_eval_reads(exported):
    out, _ = exported
    assert sorted(p.name for p in out.glob("*.yaml")) == ["ftscope_snli.yaml", "ftscope_sst2.yaml", "ftscope_xsum.yaml"]
    config = yaml.safe_load((out / "ftscope_sst2.yaml").read_text())
    assert config["doc_to_text"] == "### Input:\n{{input}}\n### Sentiment:"
    assert config["doc_to_choice"] == ["positive", "negative"] and config["fewshot_delimiter"] == "\n\n"
    assert (out / "utils.py").is_file()


@pytest.mark.parametrize("name", ["sst2", "snli"])
def test_classification_scores_the_same_items_the_same_way(runs, name):
    samples, _, ours = runs[name]
    labels = list(ours.predictions[0].scores)
    assert [p.gold for p in ours.predictions] == [labels[int(s["target"])] for s in samples]
    assert [r[0] for s in samples for r in s["filtered_resps"]] == pytest.approx(
        [p.scores[label] for p in ours.predictions for label in labels], **LOGPROB)
    decided = [(s, p) for s, p in zip(samples, ours.predictions) if _margin(s) > TIE]
    assert len(decided) >= 0.9 * len(samples)
    assert all(bool(s["acc"]) == p.correct for s, p in decided)


def _margin(sample: dict) -> float:
    scores = sorted((r[0] for r in sample["filtered_resps"]), reverse=True)
    return scores[0] - scores[1]


def test_same_accuracy_as_ftscope_eval(runs):
    samples, written, ours = runs["sst2"]
    if not all(_margin(s) > TIE for s in samples):
        pytest.skip("an item's labels are within TIE of each other: accuracy may differ by that item")
    assert written["results"]["ftscope_sst2"]["acc,none"] == ours.metrics["accuracy"]
    assert results_json(ours, "tiny")["results"]["ftscope_sst2"]["acc,none"] == ours.metrics["accuracy"]


def test_generation_gives_the_papers_answers_and_rouge(runs):
    samples, written, ours = runs["xsum"]
    assert [s["filtered_resps"][0] for s in samples] == [p.prediction for p in ours.predictions]
    assert written["results"]["ftscope_xsum"]["rougeL,paper-answer"] == pytest.approx(ours.metrics["rougeL"],
                                                                                    rel=1e-12)


def test_results_json_of_an_ftscope_result_reads_like_lm_evals(runs):
    _, written, ours = runs["sst2"]
    mine = json.loads(json.dumps(results_json(ours, "tiny")))
    assert set(mine) - {"ftscope_version"} <= set(written)
    assert set(mine["config"]) <= set(written["config"])
    row, theirs = mine["results"]["ftscope_sst2"], written["results"]["ftscope_sst2"]
    assert set(theirs) <= set(row) and row["sample_len"] == theirs["sample_len"]
    assert row["acc_stderr,none"] == pytest.approx(_stderr(ours), rel=1e-12)
    for key in ("n-shot", "versions", "higher_is_better", "n-samples"):
        assert set(mine[key]) == set(written[key]) == {"ftscope_sst2"}
    assert mine["group_subtasks"] == written["group_subtasks"] == {}  # a task in no group
    assert "ftscope_sst2" in make_table(mine)


def _stderr(result) -> float:
    values = [float(p.correct) for p in result.predictions]
    mean = sum(values) / len(values)
    return (sum((v - mean) ** 2 for v in values) / (len(values) - 1) / len(values)) ** 0.5


def test_results_json_of_an_lm_eval_result_keeps_lm_evals_numbers(tiny_loaded, tmp_path):
    fixtures = Path(__file__).resolve().parents[1] / "fixtures" / "lm_eval"
    result = evaluate_lm_eval(language_model(tiny_loaded), "qa_like", 2, 4, str(fixtures))
    mine = results_json(result, "tiny")
    key = "exact_match,remove_whitespace"
    assert mine["results"]["qa_like"][key] == result.metrics[key]
    assert mine["n-shot"] == {"qa_like": 2} and mine["higher_is_better"] == {"qa_like": {"exact_match": True}}
    assert "qa_like" in make_table(mine)


def test_a_template_with_other_braces_is_refused(tmp_path):
    data = tmp_path / "d.json"
    data.write_text(json.dumps([{"input": "x", "output": "a"}]))
    task = Task("t", "classification", ("input",), labels=("a", "b"), templates={"p1": "{input} {{literal}}:"})
    catalogue = Catalogue(tmp_path, extra=[DatasetEntry("d", "t", "D", test_file=str(data))], extra_tasks={"t": task})
    with pytest.raises(ConfigError, match="only \\{field\\} placeholders of task 't'"):
        export_task_yamls(tmp_path / "out", catalogue, ["d"])


def test_items_without_a_known_label_are_left_out_as_ftscope_eval_leaves_them(paper_data, tmp_path):
    catalogue = Catalogue(paper_data)
    dataset = catalogue.test("multinli")
    unknown = [i for i, ex in enumerate(dataset.examples[:30]) if ex.target not in dataset.task.labels]
    assert unknown  # the paper's MNLI file carries '-' for unlabelled pairs
    (path,) = export_task_yamls(tmp_path, catalogue, ["multinli"], limit=30)
    rows = [json.loads(line) for line in (tmp_path / "data" / "ftscope_multinli_test.jsonl").read_text().splitlines()]
    assert [r["id"] for r in rows] == [ex.id for i, ex in enumerate(dataset.examples[:30]) if i not in unknown]
    assert f"{len(unknown)} without a known label left out" in path.read_text()
