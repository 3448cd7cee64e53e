"""ftscope's tasks and results in lm-eval's formats.

`export_task_yamls` writes the paper's datasets as lm-eval tasks (`ftscope_<dataset>`), so that
`lm_eval --tasks ftscope_sst2 --include_path DIR` runs offline on exactly the items and demonstrations
`ftscope eval` uses: the items are written out as JSONL beside the YAMLs after ftscope has resolved them
(the first `limit`, field and label maps applied, unlabelled items left out, the few-shot pool ftscope
would draw from, borrowed ones included), and the YAML reproduces the prompt: Prompt-1/2 as Jinja, the
target straight after the template's colon, demonstrations first-k joined by a blank line.

`results_json` writes an ftscope result in lm-eval's results.json schema (lm_eval/result_schema.py),
so lm-eval's tooling (make_table, leaderboards that read results_*.json) can read it.
"""

from __future__ import annotations

import re
import time
from dataclasses import asdict
from importlib.metadata import PackageNotFoundError, version
from importlib.resources import files
from pathlib import Path
from typing import Any, Iterable

import yaml

from ftscope.errors import ConfigError
from ftscope.evaluation.evaluate import EvalResult
from ftscope.prompts import DEMO_SEPARATOR, template_for
from ftscope.results import atomic_write_text, write_jsonl
from ftscope.stats import mean_se
from ftscope.tasks import Catalogue, Dataset, Task
from ftscope.types import Example

TAG = "ftscope_paper"
_FIELD = re.compile(r"\{(\w+)\}")


def task_name(dataset: str, template: str = "p1") -> str:
    return f"ftscope_{dataset}" + ("" if template == "p1" else f"_{template}")


def export_task_yamls(out_dir: str | Path, catalogue: Catalogue, datasets: Iterable[str], template: str = "p1",
                      limit: int | None = None) -> list[Path]:
    """One `ftscope_<dataset>.yaml` per dataset (+ its data under data/, and utils.py); the YAML paths."""
    out = Path(out_dir)
    atomic_write_text(out / "utils.py", files(__package__).joinpath("task_utils.py").read_text(encoding="utf-8"))
    return [_export_one(out, catalogue.test(name), template, limit) for name in datasets]


def _export_one(out: Path, dataset: Dataset, template: str, limit: int | None) -> Path:
    name = task_name(dataset.name, template)
    test, pool = _items(dataset, limit)
    write_jsonl(out / "data" / f"{name}_test.jsonl", test)
    splits = {"test": str((out / "data" / f"{name}_test.jsonl").resolve())}
    if pool:
        write_jsonl(out / "data" / f"{name}_fewshot.jsonl", pool)
        splits["fewshot"] = str((out / "data" / f"{name}_fewshot.jsonl").resolve())
    config = _task_config(name, dataset, template_for(dataset.task, template), splits)
    body = yaml.dump(config, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=1 << 20)
    return atomic_write_text(out / f"{name}.yaml", _header(dataset, limit, len(test), bool(pool)) + body
                             + _functions(dataset.task))


class _Dumper(yaml.SafeDumper):
    """Strings with newlines double-quoted ("\\n\\n"), as lm-eval's own YAMLs write them, not folded."""


_Dumper.add_representer(str, lambda dumper, text: dumper.represent_scalar(
    "tag:yaml.org,2002:str", text, style='"' if "\n" in text else None))


def _items(dataset: Dataset, limit: int | None) -> tuple[list[dict], list[dict]]:
    """The test items and few-shot pool exactly as ftscope's evaluate() takes them: test items without
    a known label left out, the pool kept whole (its demonstrations are shown, never scored)."""
    head = dataset.head(limit).examples
    pool = dataset.fewshot or dataset.examples[len(head):]
    task = dataset.task
    test = [ex for ex in head if not task.is_classification or ex.target in task.labels]
    return [_row(ex, task) for ex in test], [_row(ex, task) for ex in pool]


def _row(example: Example, task: Task) -> dict[str, Any]:
    row = {"id": example.id, **example.fields, "output": example.target}
    if task.is_classification:
        # lm-eval reads an int target as the index of a choice and shows a string one as it is: a
        # demonstration with a label outside the set reads as ftscope renders it.
        labels = task.labels
        row["label"] = labels.index(example.target) if example.target in labels else task.verbalize(example.target)
    return row


def _task_config(name: str, dataset: Dataset, template: str, splits: dict[str, str]) -> dict[str, Any]:
    task = dataset.task
    config: dict[str, Any] = {
        "tag": [TAG], "task": name, "dataset_path": "json", "dataset_kwargs": {"data_files": splits},
        "test_split": "test", **({"fewshot_split": "fewshot"} if "fewshot" in splits else {}),
        "fewshot_config": {"sampler": "first_n"},  # ftscope's `first`: the pool's first k, in order
        "doc_to_text": _jinja(template, task), "target_delimiter": "", "fewshot_delimiter": DEMO_SEPARATOR,
    }
    if task.is_classification:
        config.update(output_type="multiple_choice", doc_to_target="{{label}}",
                      doc_to_choice=[task.verbalize(label) for label in task.labels],
                      metric_list=[{"metric": m, "aggregation": "mean", "higher_is_better": True}
                                   for m in ("acc", "acc_norm")])
    else:
        # No `until`: the paper's blank-line cut applies after the answer begins (utils.paper_answers).
        config.update(output_type="generate_until", doc_to_target="{{output}}",
                      generation_kwargs={"until": [], "max_gen_toks": task.max_new_tokens, "do_sample": False},
                      metric_list=[{"metric": m, "aggregation": "mean", "higher_is_better": True}
                                   for m in ("rouge1", "rouge2", "rougeL")])
    config["metadata"] = {"version": 1.0, "ftscope_dataset": dataset.name, "ftscope_source": dataset.source}
    return config


def _functions(task: Task) -> str:
    """The lines that name Python functions: `!function` is a YAML tag safe_dump cannot write."""
    if task.is_classification:
        return ""
    return ("filter_list:\n  - name: paper-answer\n    filter:\n      - function: custom\n"
            "        filter_fn: !function utils.paper_answers\n      - function: take_first\n"
            "process_results: !function utils.rouge\n")


def _jinja(template: str, task: Task) -> str:
    """Prompt-1/2 (str.format fields) as lm-eval's Jinja; any other brace would change meaning."""
    unknown = [f for f in _FIELD.findall(template) if f not in task.input_fields]
    if unknown or _FIELD.sub("", template).count("{") or _FIELD.sub("", template).count("}"):
        raise ConfigError(f"template {template!r}: only {{field}} placeholders of task '{task.name}' "
                          f"({', '.join(task.input_fields)}) can be exported to lm-eval")
    return _FIELD.sub(r"{{\1}}", template)


def _header(dataset: Dataset, limit: int | None, n: int, has_pool: bool) -> str:
    dropped = len(dataset.head(limit).examples) - n
    lines = [f"# Written by ftscope from {dataset.source}: {n} items"
             + (f" (the first {limit})" if limit else "")
             + (f", {dropped} without a known label left out as ftscope eval leaves them out" if dropped else "")]
    if not has_pool:
        lines.append("# No demonstration pool (no few-shot file, no items beyond the limit): 0-shot only")
    else:
        lines.append(f"# Demonstrations: {dataset.fewshot_source or 'the test items after the first ' + str(limit)}")
    return "\n".join(lines) + "\n"


# ---- results.json ---------------------------------------------------------------------------
_FTSCOPE_NAMES = {"accuracy": "acc", "accuracy_norm": "acc_norm", "macro_f1": "macro_f1", "rouge1": "rouge1",
                  "rouge2": "rouge2", "rougeL": "rougeL", "bleu": "bleu"}


def results_json(result: EvalResult, model_name: str) -> dict[str, Any]:
    """One result as lm-eval writes results_<date>.json (the fields a reader of that schema uses)."""
    task, shots, task_version, output_type = _identity(result)
    row, better = _lm_eval_row(result) if "lm_eval" in result.metrics else _ftscope_row(result)
    n = int(result.metrics.get("n", len(result.predictions)))
    return {
        "results": {task: {"name": task, "alias": task, "sample_len": n, **row}},
        "group_subtasks": {},  # lm-eval's value for a task in no group
        "configs": {task: {"task": task, "num_fewshot": shots, "output_type": output_type,
                           "metadata": {"version": task_version, "ftscope_spec": asdict(result.spec)}}},
        "versions": {task: task_version},
        "n-shot": {task: shots},
        "higher_is_better": {task: better},
        "n-samples": {task: {"original": n, "effective": n}},
        "config": {"model": "ftscope", "model_args": model_name, "batch_size": None, "batch_sizes": [],
                   "device": None, "use_cache": None, "limit": result.spec.limit, "bootstrap_iters": 0,
                   "gen_kwargs": None},
        "git_hash": None, "date": time.time(), "lm_eval_version": _version("lm_eval"),
        "ftscope_version": _version("ftscope"), "model_source": "ftscope", "model_name": model_name,
        "model_name_sanitized": _sanitized(model_name),
    }


def _identity(result: EvalResult) -> tuple[str, int, Any, str]:
    """(task name, shots, version, output type): lm-eval's own for a result that came from lm-eval."""
    meta = result.metrics.get("lm_eval")
    if meta:
        return meta["task"], int(meta["n-shot"]), meta["version"], meta["output_type"]
    kind = "multiple_choice" if "macro_f1" in result.metrics else "generate_until"  # ftscope's classification
    return task_name(result.spec.dataset, result.spec.template), result.spec.shots, 1.0, kind


def _lm_eval_row(result: EvalResult) -> tuple[dict[str, Any], dict[str, Any]]:
    """A result that came from lm-eval: its aggregates already carry lm-eval's own names."""
    row = {k: ("N/A" if v is None else v) for k, v in result.metrics.items() if "," in k}
    return row, dict(result.metrics["lm_eval"]["higher_is_better"])


def _ftscope_row(result: EvalResult) -> tuple[dict[str, Any], dict[str, bool]]:
    """An ftscope result: its metrics under lm-eval's names (`acc,none`, `acc_stderr,none`, ...). The
    accuracy's standard error is lm-eval's analytic one; other standard errors are ftscope's bootstrap."""
    row: dict[str, Any] = {}
    for ours, theirs in _FTSCOPE_NAMES.items():
        if ours in result.metrics:
            row[f"{theirs},none"] = result.metrics[ours]
            se = _accuracy_stderr(result) if ours == "accuracy" else result.metrics.get(f"{ours}_se")
            row[f"{theirs}_stderr,none"] = "N/A" if se is None else se
    return row, {theirs: True for ours, theirs in _FTSCOPE_NAMES.items() if ours in result.metrics}


def _accuracy_stderr(result: EvalResult) -> float | str:
    """lm-eval's mean_stderr (sample SD / sqrt(n)); ftscope.stats.mean_se is the same formula, so writing
    lm-eval's schema does not need lm-eval installed."""
    values = [float(p.correct) for p in result.predictions if p.correct is not None]
    return mean_se(values) if len(values) >= 2 else "N/A"


def _sanitized(model_name: str) -> str:
    """lm-eval's folder name for a model (lm_eval.utils.sanitize_model_name); its one-line rule repeated
    when lm-eval is not installed, so that exporting results never needs it."""
    try:
        from lm_eval.utils import sanitize_model_name
    except ImportError:
        return re.sub(r"[\"<>:/|\\?*\[\]]+", "__", model_name)
    return sanitize_model_name(model_name)


def _version(package: str) -> str | None:
    try:
        return version(package)
    except PackageNotFoundError:
        return None
