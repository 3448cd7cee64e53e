"""lm-evaluation-harness both ways.

- `--model ftscope`: lm-eval's `LM` backed by ftscope's scorer (model.py; registered by registration.py,
  run through `python -m ftscope.evaluation.lm_eval`);
- `evaluate_lm_eval`: lm-eval's tasks scored by ftscope's engine as ftscope results (run.py);
- `read_log_samples` / `read_paired_runs`: lm-eval output folders read back as ftscope results (imports.py);
- `export_task_yamls` / `results_json`: ftscope's tasks and results in lm-eval's formats (export.py).

lm-eval is an optional dependency: importing this package needs none of it (nor torch); each function
says in one line how to install it when it is missing.
"""

from ftscope.evaluation.lm_eval.export import TAG, export_task_yamls, results_json, task_name
from ftscope.evaluation.lm_eval.imports import read_log_samples, read_paired_runs, run_model_name
from ftscope.evaluation.lm_eval.registration import MODEL_NAME, register
from ftscope.evaluation.lm_eval.run import check_tasks, evaluate_lm_eval, evaluate_lm_eval_tasks

__all__ = ["MODEL_NAME", "TAG", "check_tasks", "evaluate_lm_eval", "evaluate_lm_eval_tasks", "export_task_yamls",
           "read_log_samples", "read_paired_runs", "register", "results_json", "run_model_name", "task_name"]
