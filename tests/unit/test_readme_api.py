"""The README's Python API section runs as written: its code blocks, in order,
as one script in a fresh process, with the tiny random Llama in place of SmolLM2 (one textual substitution of the
model name) and the shared paper data as $FTSCOPE_DATA_DIR. Every call its table names exists."""

from __future__ import annotations

import importlib
import inspect
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"
BLOCK = re.compile(r"```python\n(.*?)```", re.S)


def section() -> str:
    """From the README's `## Python API` heading to the next `## ` heading (or the end)."""
    text = README.read_text(encoding="utf-8").split("\n## Python API\n", 1)[1]
    return text.split("\n## ", 1)[0]


def snippet(model: str) -> str:
    code = "\n".join(BLOCK.findall(section()))
    assert '"smollm2-135m"' in code  # the one line the test changes
    return code.replace('"smollm2-135m"', repr(model))


def test_the_section_runs_on_the_tiny_model(tiny_model_dir, paper_data, tmp_path):
    pytest.importorskip("lm_eval")
    script = tmp_path / "api.py"
    script.write_text(snippet(str(tiny_model_dir)), encoding="utf-8")
    env = {**os.environ, "FTSCOPE_DATA_DIR": str(paper_data), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, cwd=tmp_path, env=env,
                          timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    scores = [line.split() for line in lines if line.startswith((str(tiny_model_dir), "runs/amazon-lora"))]
    assert [(s[1], s[3]) for s in scores] == [("0", "20"), ("2", "20")] * 2  # two models × two shot counts, 20 items
    assert all(0 <= float(s[2]) <= 1 for s in scores)
    assert (tmp_path / "runs/amazon-lora/manifest.json").is_file()
    for name in ("mini", "audit"):
        assert (tmp_path / "runs" / name / "report" / "report.html").is_file()
    assert (tmp_path / "lm_tasks" / "ftscope_sst2.yaml").is_file()
    accuracy, lm_eval_acc = map(float, lines[-1].split())
    assert accuracy == lm_eval_acc  # the same mean of the same 0/1 items, computed twice


CALLS = {
    "ftscope.training": ["train", "open_model"], "ftscope.models": ["language_model"],
    "ftscope.evaluation": ["evaluate"], "ftscope.tasks": ["Catalogue"],
    "ftscope.experiments.config": ["load_experiment", "ExperimentConfig", "EvalGrid", "TrainGrid", "TunedModel"],
    "ftscope.experiments.runner": ["run_grid"], "ftscope.report": ["build_report"],
    "ftscope.evaluation.lm_eval": ["evaluate_lm_eval", "export_task_yamls", "read_paired_runs", "results_json"],
    "ftscope.experiments.lm_eval_io": ["import_lm_eval_runs"],
}


@pytest.mark.parametrize("module, names", CALLS.items())
def test_every_call_the_table_names_exists_with_those_parameters(module, names):
    table = section().split("| call |", 1)[1]
    found = importlib.import_module(module)
    for name in names:
        obj = getattr(found, name)
        listed = re.search(rf"`{name}\(([^)]*)\)", table)
        if listed is None or inspect.isclass(obj):
            continue
        params = [p.split("=")[0].split(":")[0].strip() for p in listed.group(1).split(",") if p.strip()]
        assert params == list(inspect.signature(obj).parameters)[:len(params)], name
