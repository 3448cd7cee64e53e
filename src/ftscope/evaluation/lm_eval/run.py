"""Run lm-eval tasks (its own definitions, or local YAMLs via include_path) with ftscope's scorer and
return ftscope results: one Prediction per document, lm-eval's aggregates alongside.

lm-eval is used as a library end to end (TaskManager, simple_evaluate with log_samples, its metrics
and filters); only the model is ours. Seeds are lm-eval's defaults, so a run here picks the same
few-shot demonstrations as `lm_eval --model hf` with the same task, shots and limit.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from ftscope.errors import ConfigError, DataError
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

    from ftscope.evaluation.lm_eval.model import FtscopeLM

    manager = _task_manager_for(tuple(tasks), None if include_path is None else str(include_path))
    leaves = list(_load_tasks(manager, tasks)["tasks"].values())
    out = lm_eval.simple_evaluate(model=FtscopeLM(lm), tasks=leaves, num_fewshot=shots, limit=limit,
                                  task_manager=manager, log_samples=True)
    notes = _shot_notes(out, shots)
    return {name: to_eval_result(TaskRun.from_results(out, name, out["samples"][name], notes.get(name, ())))
            for name in out["configs"]}


def check_tasks(tasks: list[str], include_path: str | None) -> None:
    """Each name is one lm-eval task this machine knows (before anything runs): an unknown name, or a
    group or tag (which would give several results for one name), is one line."""
    require_lm_eval()
    manager = _task_manager_for(tuple(tasks), None if include_path is None else str(include_path))
    several = [t for t in tasks if t not in manager.all_subtasks]
    if several:
        raise ConfigError(f"lm-eval name '{several[0]}' is a group or tag, not one task; list its tasks one by one "
                          f"(`lm-eval ls tasks{' --include_path ' + str(include_path) if include_path else ''}` "
                          "names them)")


def _task_manager_for(tasks: tuple[str, ...], include_path: str | None):
    """Indexing lm-eval's ~15,000 built-in task names takes seconds. Names that are all tasks or tags of
    include_path need only that folder: a task names no other task, and a tag there gathers only tasks
    there; a group may list built-in tasks, so it gets the full index."""
    if include_path:
        local = _task_manager(include_path, False)
        if all(t in local.all_subtasks or t in local.all_tags for t in tasks):
            return local
    manager = _task_manager(include_path, True)
    _check_known(manager, tasks, include_path)
    return manager


@cache
def _task_manager(include_path: str | None, defaults: bool):
    from lm_eval.tasks import TaskManager

    return TaskManager(include_path=include_path, include_defaults=defaults)


def _check_known(manager, tasks: tuple[str, ...], include_path: str | None) -> None:
    unknown = [t for t in tasks if t not in manager.all_tasks]
    if unknown:
        where = f" (with include_path {include_path})" if include_path else ""
        raise ConfigError(f"lm-eval task '{unknown[0]}' not found{where}; list the known ones with "
                          f"`lm-eval ls tasks{' --include_path ' + include_path if include_path else ''}`")


def _load_tasks(manager, tasks: list[str]) -> dict:
    """The task objects, their datasets loaded: a dataset that cannot be had (offline, not cached) is
    one line here rather than a traceback from inside the run."""
    try:
        return manager.load(list(tasks))
    except OSError as e:
        raise DataError(f"lm-eval task {', '.join(tasks)}: its dataset could not be loaded ({str(e).splitlines()[0]}); "
                        "offline it must already be in the HF datasets cache, or give a local task YAML "
                        "through include_path") from None


def _shot_notes(out: dict, shots: int) -> dict[str, tuple[str, ...]]:
    """lm-eval keeps num_fewshot: 0 from a task's YAML over the requested count; say so where it did."""
    return {task: (f"lm-eval:{task}: ran {n}-shot, not the {shots}-shot asked for (its YAML fixes num_fewshot)",)
            for task, n in out["n-shot"].items() if task in out["configs"] and int(n) != shots}
