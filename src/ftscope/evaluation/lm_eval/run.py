"""Run lm-eval tasks (its own definitions, or local YAMLs via include_path) with ftscope's scorer and
return ftscope results: one Prediction per document, lm-eval's aggregates alongside.

lm-eval is used as a library end to end (TaskManager, simple_evaluate with log_samples, its metrics
and filters); only the model is ours. Seeds are lm-eval's defaults, so a run here picks the same
few-shot demonstrations as `lm_eval --model hf` with the same task, shots and limit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ftscope.errors import ConfigError
from ftscope.evaluation.evaluate import EvalResult
from ftscope.evaluation.lm_eval.registration import require_lm_eval
from ftscope.evaluation.lm_eval.samples import TaskRun, to_eval_result

if TYPE_CHECKING:
    from ftscope.models.lm import HFLanguageModel


def evaluate_lm_eval(lm: "HFLanguageModel", task: str, shots: int, limit: int | None,
                     include_path: str | None) -> EvalResult:
    """One lm-eval task; a group or tag that expands to several tasks gets one line naming them."""
    results = evaluate_lm_eval_tasks(lm, [task], shots, limit, include_path)
    if len(results) != 1:
        raise ConfigError(f"lm-eval task '{task}' expands to {len(results)} tasks ({', '.join(sorted(results))}); "
                          "evaluate them one by one, or call evaluate_lm_eval_tasks for all of them")
    return next(iter(results.values()))


def evaluate_lm_eval_tasks(lm: "HFLanguageModel", tasks: list[str], shots: int, limit: int | None,
                           include_path: str | None) -> dict[str, EvalResult]:
    """Every task the names expand to (groups and tags included), by task name."""
    require_lm_eval()
    import lm_eval
    from lm_eval.tasks import TaskManager

    from ftscope.evaluation.lm_eval.model import FtscopeLM

    manager = TaskManager(include_path=include_path)
    _check_known(manager, tasks, include_path)
    out = lm_eval.simple_evaluate(model=FtscopeLM(lm), tasks=list(tasks), num_fewshot=shots, limit=limit,
                                  task_manager=manager, log_samples=True)
    notes = _shot_notes(out, shots)
    return {name: to_eval_result(TaskRun.from_results(out, name, out["samples"][name], notes.get(name, ())))
            for name in out["configs"]}


def _check_known(manager, tasks: list[str], include_path: str | None) -> None:
    unknown = [t for t in tasks if t not in manager.all_tasks]
    if unknown:
        where = f" (with include_path {include_path})" if include_path else ""
        raise ConfigError(f"lm-eval task '{unknown[0]}' not found{where}; list the known ones with "
                          f"`lm-eval ls tasks{' --include_path ' + include_path if include_path else ''}`")


def _shot_notes(out: dict, shots: int) -> dict[str, tuple[str, ...]]:
    """lm-eval keeps num_fewshot: 0 from a task's YAML over the requested count; say so where it did."""
    return {task: (f"lm-eval:{task}: ran {n}-shot, not the {shots}-shot asked for (its YAML fixes num_fewshot)",)
            for task, n in out["n-shot"].items() if task in out["configs"] and int(n) != shots}
