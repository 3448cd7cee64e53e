"""The packaged SmolLM2 through lm-eval's own CLI with `--model ftscope` (the documented wrapper), against
lm-eval's HFLM on the same model, tasks, shots and items; and an exported paper task under HFLM against
`ftscope eval`.

Tolerance: SmolLM2's float32 forward in different batch shapes (see tests/unit/test_lm_eval_model.py)
moves summed log-probabilities by at most 4e-5 absolute (4e-6 relative, on sums near -35) here; LOGPROB
allows 25 times that for other CPUs' kernels. Answers are compared only where the top two choices are
more than TIE apart (here every item is: the smallest gap seen is 0.14); the rest must be identical.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

lm_eval = pytest.importorskip("lm_eval")

from lm_eval.models.huggingface import HFLM  # noqa: E402
from lm_eval.tasks import TaskManager  # noqa: E402

from ftscope.errors import ConfigError  # noqa: E402
from ftscope.evaluation import evaluate  # noqa: E402
from ftscope.specs import EvalSpec  # noqa: E402
from ftscope.evaluation.lm_eval import evaluate_lm_eval, export_task_yamls, read_log_samples  # noqa: E402
from ftscope.models import language_model, load_model  # noqa: E402
from ftscope.tasks import Catalogue  # noqa: E402

pytestmark = [pytest.mark.integration, pytest.mark.slow]  # SmolLM2 through lm-eval's HFLM and ftscope's: ~70 s
# (tests/unit/test_lm_eval_*.py run the same bridge on the tiny model)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "lm_eval"
SRC = Path(__file__).resolve().parents[2] / "src"
LOGPROB = dict(rel=1e-5, abs=1e-3)
TIE = 2e-3
TASKS = ["arc_like", "hellaswag_like", "qa_like"]
LIMIT, SHOTS = 20, 2


@pytest.fixture(scope="module")
def smollm2(smollm2_dir):
    return load_model(str(smollm2_dir))


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory):
    """`lm_eval --model ftscope ...`, through `python -m ftscope.evaluation.lm_eval`."""
    out = tmp_path_factory.mktemp("cli")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
           "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    subprocess.run([sys.executable, "-m", "ftscope.evaluation.lm_eval", "--model", "ftscope",
                    "--model_args", "pretrained=smollm2-135m,batch_tokens=2048", "--tasks", ",".join(TASKS),
                    "--include_path", str(FIXTURES), "--num_fewshot", str(SHOTS), "--limit", str(LIMIT),
                    "--device", "cpu", "--output_path", str(out), "--log_samples"],
                   check=True, env=env, capture_output=True, timeout=900)
    return out


@pytest.fixture(scope="module")
def hflm_run(smollm2):
    hf = HFLM(pretrained=smollm2.model, tokenizer=smollm2.tokenizer, batch_size=8, device="cpu")
    out = lm_eval.simple_evaluate(model=hf, tasks=TASKS, num_fewshot=SHOTS, limit=LIMIT, log_samples=True,
                                  task_manager=TaskManager(include_path=str(FIXTURES), include_defaults=False))
    return {t: sorted(out["samples"][t], key=lambda s: s["doc_id"]) for t in TASKS}


def _raw_samples(run_dir: Path, task: str) -> list[dict]:
    path = next(run_dir.rglob(f"samples_{task}_*.jsonl"))
    return sorted((json.loads(line) for line in path.read_text().splitlines()), key=lambda s: s["doc_id"])


def _margin(sample: dict) -> float:
    scores = sorted((float(r[0]) for r in sample["filtered_resps"]), reverse=True)
    return scores[0] - scores[1]


@pytest.mark.parametrize("task", ["arc_like", "hellaswag_like"])
def test_cli_run_matches_hflm_item_by_item(cli_run, hflm_run, task):
    ours, theirs = _raw_samples(cli_run, task), hflm_run[task]
    assert [float(r[0]) for s in ours for r in s["filtered_resps"]] == pytest.approx(
        [r[0] for s in theirs for r in s["filtered_resps"]], **LOGPROB)
    assert [r[1] == "True" for s in ours for r in s["filtered_resps"]] == [
        r[1] for s in theirs for r in s["filtered_resps"]]
    imported = read_log_samples(cli_run)[task]
    decided = [i for i, s in enumerate(theirs) if _margin(s) > TIE]
    assert len(decided) >= 0.9 * LIMIT
    assert [imported.predictions[i].correct for i in decided] == [bool(theirs[i]["acc"]) for i in decided]


def test_cli_generations_match_hflm(cli_run, hflm_run):
    assert [s["resps"][0][0] for s in _raw_samples(cli_run, "qa_like")] == [
        s["resps"][0][0] for s in hflm_run["qa_like"]]


def test_evaluate_lm_eval_matches_the_cli_run(cli_run, smollm2):
    result = evaluate_lm_eval(language_model(smollm2), "arc_like", SHOTS, LIMIT, str(FIXTURES))
    imported = read_log_samples(cli_run)["arc_like"]
    assert [(p.id, p.prediction, p.correct) for p in result.predictions] == [
        (p.id, p.prediction, p.correct) for p in imported.predictions]


def test_exported_paper_task_under_hflm_equals_ftscope_eval(smollm2, paper_data, tmp_path):
    catalogue = Catalogue(paper_data)
    export_task_yamls(tmp_path, catalogue, ["sst2"], limit=LIMIT)
    hf = HFLM(pretrained=smollm2.model, tokenizer=smollm2.tokenizer, batch_size=8, device="cpu")
    theirs = lm_eval.simple_evaluate(model=hf, tasks=["ftscope_sst2"], num_fewshot=4, log_samples=True,
                                     task_manager=TaskManager(include_path=str(tmp_path), include_defaults=False))
    samples = sorted(theirs["samples"]["ftscope_sst2"], key=lambda s: s["doc_id"])
    ours = evaluate(language_model(smollm2), catalogue.test("sst2"), EvalSpec("sst2", 4, "p1", "loglik", LIMIT))
    assert [r[0] for s in samples for r in s["filtered_resps"]] == pytest.approx(
        [v for p in ours.predictions for v in p.scores.values()], **LOGPROB)
    decided = [i for i, s in enumerate(samples) if _margin(s) > TIE]
    assert [ours.predictions[i].correct for i in decided] == [bool(samples[i]["acc"]) for i in decided]


def test_an_unknown_task_is_one_line(smollm2):
    with pytest.raises(ConfigError, match="lm-eval task 'no_such_task' not found; list the known ones"):
        evaluate_lm_eval(language_model(smollm2), "no_such_task", 0, 1, None)
