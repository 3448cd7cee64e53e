"""lm-evaluation-harness runs into a store, and a store's eval cells out in lm-eval's results schema.

`import_lm_eval_runs`: two `lm_eval … --log_samples` output folders (a base model and a fine-tune of it, made
elsewhere) become benchmark eval cells of a store, the base's as the base model's and the tuned run's as a
fine-tune of that base, so `ftscope report STORE` pairs them item by item (paired CIs, McNemar, the items that
flipped, claim G) exactly as it pairs cells ftscope ran itself. The cells carry the same specs as cells the
grid makes for `eval.lm_eval_tasks`, so a later grid run of the same model and task finds them done.

`export_lm_eval_results`: every done eval cell as lm-eval's `results.json` (evaluation/lm_eval/export.py),
one file per cell under `OUT/<model name as lm-eval sanitizes it>/`, for tools that read lm-eval's output.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from ftscope.errors import ConfigError
from ftscope.experiments.files import CellFiles, CellResult
from ftscope.experiments.grid import LM_EVAL_PREFIX
from ftscope.experiments.store import Store, worker_id
from ftscope.results import write_json
from ftscope.specs import TUNED_ELSEWHERE, EvalCell, ModelRef, cell_hash
from ftscope.types import Prediction

IMPORT_EXPERIMENT = "lm-eval"


@dataclass(frozen=True)
class Imported:
    experiment: str
    written: tuple[str, ...]  # hashes of the cells written now
    kept: tuple[str, ...]  # hashes of cells the store already held, done (left as they were)


def import_lm_eval_runs(base_dir: str | Path, tuned_dir: str | Path, store_root: str | Path,
                        experiment: str = IMPORT_EXPERIMENT, tuned_name: str | None = None) -> Imported:
    """Both runs' tasks as benchmark cells of `experiment` in the store (checked to score the same items)."""
    from ftscope.evaluation.lm_eval import read_paired_runs, run_model_name

    pairs = read_paired_runs(base_dir, tuned_dir)
    base = ModelRef(base=run_model_name(base_dir))
    tuned_id = run_model_name(tuned_dir)
    tuned = ModelRef(base=base.base, method=TUNED_ELSEWHERE, path=tuned_id, name=tuned_name or f"tuned {tuned_id}")
    if tuned.path == base.base and tuned_name is None:
        raise ConfigError(f"{base_dir} and {tuned_dir} both name the model '{base.base}'; give --tuned-name to "
                          "tell the fine-tune apart")
    cells = [(EvalCell(model, result.spec, LM_EVAL_PREFIX + task, "benchmark"), result, Path(run))
             for task, (b, t) in pairs.items() for model, result, run in ((base, b, base_dir), (tuned, t, tuned_dir))]
    store = Store(store_root)
    store.register(experiment, [c for c, _, _ in cells])
    written = [cell_hash(c) for c, result, run in cells if _write(store, c, result, run)]
    return Imported(experiment, tuple(written), tuple(cell_hash(c) for c, _, _ in cells if cell_hash(c) not in written))


def _write(store: Store, cell: EvalCell, result, run: Path) -> bool:
    """Write one cell unless the store already holds it done; claimed first, as a worker would."""
    hash_, worker = cell_hash(cell), worker_id()
    if not store.claim(hash_, worker):
        return False
    facts = {"reference": cell.model.path or cell.model.base, "source": f"lm-eval run {run.resolve()}"}
    try:
        store.files(hash_).write_result(CellResult({**result.metrics, "model": facts},
                                                   [asdict(p) for p in result.predictions], list(result.notes)))
    except BaseException:
        store.release(hash_, worker)
        raise
    store.complete(hash_, worker)
    return True


# ---- export ---------------------------------------------------------------------------------
def export_lm_eval_results(store_root: str | Path, out_dir: str | Path, experiment: str | None = None) -> list[Path]:
    """Each done eval cell (of one experiment, or all) as an lm-eval results file; returns their paths."""
    from ftscope.evaluation.evaluate import EvalResult
    from ftscope.evaluation.lm_eval import results_json

    written = []
    for row in Store(store_root).rows(experiment):
        cell, files = row["cell"], CellFiles(row["dir"])
        metrics = files.metrics() if row["status"] == "done" and isinstance(cell, EvalCell) else None
        if metrics is None:
            continue
        result = EvalResult(cell.spec, [_prediction(p) for p in files.predictions()], metrics, metrics.get("notes", []))
        found = results_json(result, cell.model.label)
        task = next(iter(found["results"]))
        folder = re.sub(r"\s+", "_", found["model_name_sanitized"])  # labels have spaces; folders are nicer without
        path = Path(out_dir) / folder / f"results_{_file_part(task)}_{cell.spec.shots}shot.json"
        written.append(write_json(path, found))
    return written


_PREDICTION_FIELDS = {f.name for f in fields(Prediction)}


def _prediction(row: dict) -> Prediction:
    return Prediction(**{k: v for k, v in row.items() if k in _PREDICTION_FIELDS})


def _file_part(task: str) -> str:
    return task.replace("/", "_").replace(":", "_")
