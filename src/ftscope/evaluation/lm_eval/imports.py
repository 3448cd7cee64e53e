"""Read what `lm_eval ... --output_path OUT --log_samples` wrote back as ftscope results, and pair a base
run with a tuned run made elsewhere.

lm-eval 0.4.13 (loggers/evaluation_tracker.py, save_results_aggregated / save_results_samples)
writes `OUT/<model name sanitized>/results_<date>.json` and, per task,
`OUT/<model name sanitized>/samples_<task>_<date>.jsonl` with the same <date>. When OUT ends in
`.json` it writes `<stem>_<date>.json` and the samples beside it. Several runs into one folder add
files with new dates; for each task the newest run that has it is read.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from ftscope.errors import DataError
from ftscope.evaluation.evaluate import EvalResult
from ftscope.evaluation.lm_eval.samples import TaskRun, to_eval_result

_DATE = re.compile(r"_(\d{4}-\d{2}-\d{2}T[\d.\-]+)\.json$")


def read_log_samples(run_dir: str | Path) -> dict[str, EvalResult]:
    """Every task of one lm-eval run folder (the --output_path, its model subfolder, or a results file)."""
    runs: dict[str, tuple[dict, Path, str]] = {}
    for path in _results_files(Path(run_dir)):
        date = _DATE.search(path.name).group(1)
        out = _read_json(path)
        for task in out.get("configs", {}):
            runs[task] = (out, path, date)  # files come oldest first: the newest run of a task wins
    if not runs:
        raise DataError(f"{run_dir}: no lm-eval task results in it; give the --output_path of a run")
    return {task: to_eval_result(TaskRun.from_results(out, task, _samples(path, task, date, out["configs"][task])))
            for task, (out, path, date) in sorted(runs.items())}


def run_model_name(run_dir: str | Path) -> str:
    """The model an lm-eval run evaluated, as its newest results file names it (`model_name`, which lm-eval
    takes from `pretrained=` of --model_args), else its model subfolder's name."""
    newest = _results_files(Path(run_dir))[-1:] if Path(run_dir).exists() else []
    out = _read_json(newest[0]) if newest else {}
    args = str((out.get("config") or {}).get("model_args") or "")
    return out.get("model_name") or args or (newest[0].parent.name if newest else Path(run_dir).name)


def read_paired_runs(base_dir: str | Path, tuned_dir: str | Path) -> dict[str, tuple[EvalResult, EvalResult]]:
    """(base, tuned) per task, after checking both runs scored the same documents the same way."""
    base, tuned = read_log_samples(base_dir), read_log_samples(tuned_dir)
    if set(base) != set(tuned):
        raise DataError(f"{base_dir} and {tuned_dir} ran different lm-eval tasks "
                        f"(only in base: {_names(set(base) - set(tuned))}; only in tuned: "
                        f"{_names(set(tuned) - set(base))}); rerun both with the same --tasks")
    for task in base:
        _check_same_items(task, base[task], tuned[task])
    return {task: (base[task], tuned[task]) for task in base}


def _results_files(run_dir: Path) -> list[Path]:
    if run_dir.is_file():
        return [run_dir]
    if not run_dir.is_dir():
        raise DataError(f"{run_dir}: no such folder; give the --output_path of an lm-eval run")
    found = [p for p in [*run_dir.glob("*.json"), *run_dir.glob("*/*.json")] if _DATE.search(p.name)
             and (p.name.startswith("results_") or p.parent == run_dir)]
    folders = sorted({p.parent.name for p in found if p.parent != run_dir})
    if len(folders) > 1:
        raise DataError(f"{run_dir}: holds runs of several models ({', '.join(folders)}); "
                        "give one model's subfolder")
    return sorted(found, key=lambda p: _DATE.search(p.name).group(1))


def _samples(results_path: Path, task: str, date: str, config: dict[str, Any]) -> list[dict[str, Any]]:
    path = results_path.parent / f"samples_{task}_{date}.jsonl"
    if not path.is_file():
        raise DataError(f"{results_path}: results for task {task} but no {path.name} beside it; "
                        "rerun lm_eval with --log_samples")
    with open(path, encoding="utf-8") as f:
        return [_as_logged(json.loads(line), config.get("output_type")) for line in f if line.strip()]


def _as_logged(sample: dict[str, Any], output_type: str | None) -> dict[str, Any]:
    """Undo what lm-eval did to write a sample (evaluation_tracker.save_results_samples): arguments
    became {gen_args_i: {arg_j: ...}} and log-likelihood responses strings ("-1.5", "False");
    generated text stays text, even where it reads as a number."""
    args = sample.get("arguments")
    if isinstance(args, dict):
        sample["arguments"] = [tuple(a[f"arg_{j}"] for j in range(len(a))) for a in
                               (args[f"gen_args_{i}"] for i in range(len(args)))]
    if output_type != "generate_until":
        sample["filtered_resps"] = _unstring(sample.get("filtered_resps"))
    return sample


def _unstring(value: Any) -> Any:
    if isinstance(value, list):
        return [_unstring(v) for v in value]
    if value in ("True", "False"):
        return value == "True"
    try:
        return float(value) if isinstance(value, str) and value.strip() else value
    except ValueError:
        return value


def _check_same_items(task: str, base: EvalResult, tuned: EvalResult) -> None:
    ids_b, ids_t = [p.id for p in base.predictions], [p.id for p in tuned.predictions]
    if ids_b != ids_t:
        only_b, only_t = set(ids_b) - set(ids_t), set(ids_t) - set(ids_b)
        raise DataError(f"lm-eval task {task}: the runs scored different documents ({len(ids_b)} in base, "
                        f"{len(ids_t)} in tuned; only in base: {_names(only_b)}; only in tuned: {_names(only_t)}); "
                        "rerun both with the same --limit / --samples")
    if [p.gold for p in base.predictions] != [p.gold for p in tuned.predictions]:
        raise DataError(f"lm-eval task {task}: the runs give different gold answers for the same documents "
                        "(different dataset versions?); rerun both against the same data")
    if base.spec.shots != tuned.spec.shots:
        raise DataError(f"lm-eval task {task}: base ran {base.spec.shots}-shot, tuned {tuned.spec.shots}-shot; "
                        "rerun both with the same --num_fewshot")


def _names(items: set[str]) -> str:
    ordered = sorted(items, key=lambda s: (len(s), s))
    return (", ".join(ordered[:5]) + (f" … ({len(ordered)} in all)" if len(ordered) > 5 else "")) or "none"


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise DataError(f"{path}:{e.lineno}: not valid JSON ({e.msg}); is the run complete?") from None
