"""Running one cell: train it, evaluate it, or answer through RAG, and hand the result to its CellFiles.

The library calls (`train`, `evaluate`, `run_rag`) write nothing but a training run's own folder; this
module turns their results into a cell's files. A runner keeps the last model it loaded (and the test
sets it read), so consecutive cells of one model, which the worker orders together, load it once.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable

from ftscope.experiments.config import ExperimentConfig
from ftscope.experiments.files import CellFiles, CellResult
from ftscope.experiments.grid import LM_EVAL_PREFIX, catalogue_for
from ftscope.models.release import release_freed_memory
from ftscope.specs import Cell, EvalCell, ModelRef, RagCell, TrainCell

Locate = Callable[[str], Path]  # a train cell's hash → the folder holding its trained model


def eval_result(result: Any, facts: dict[str, Any]) -> CellResult:
    """An evaluation's predictions and metrics as a cell's files hold them (facts: the model as run)."""
    rows = [asdict(p) for p in result.predictions]
    return CellResult({**result.metrics, "model": facts}, rows, list(result.notes))


class CellRunner:
    def __init__(self, config: ExperimentConfig, locate: Locate):
        self.config, self.locate = config, locate
        self.catalogue = catalogue_for(config)
        self._model_key: str | None = None
        self._lm: Any = None
        self._facts: dict[str, Any] = {}
        self._tests: dict[str, Any] = {}
        self.load_seconds = 0.0  # spent loading models since the last `take_load_seconds`
        if config.threads:  # for every cell: a training cell loads its model without these load options
            import torch

            torch.set_num_threads(config.threads)

    def run(self, cell: Cell, files: CellFiles, progress: Callable[..., None] | None = None) -> None:
        if isinstance(cell, TrainCell):
            from ftscope.training import train

            train(cell.spec, files.model_dir, self.catalogue, progress=progress)
        elif isinstance(cell, EvalCell):
            files.write_result(self.evaluate(cell))
        elif isinstance(cell, RagCell):
            files.write_result(self.rag(cell))
        else:
            raise TypeError(f"not a cell: {cell!r}")
        # A worker beside this one (a training, with --workers) needs the memory more than this heap does.
        release_freed_memory(collect=False)

    def evaluate(self, cell: EvalCell) -> CellResult:
        from ftscope.evaluation import evaluate

        lm = self.language_model(cell.model)
        if cell.task_kind == "benchmark":
            return eval_result(self._lm_eval(lm, cell), self._facts)
        return eval_result(evaluate(lm, self._test(cell.spec.dataset), cell.spec), self._facts)

    def _lm_eval(self, lm: Any, cell: EvalCell) -> Any:
        """An lm-evaluation-harness task through ftscope's scorer (a task whose YAML fixes another shot
        count runs that, and its notes say so)."""
        from ftscope.evaluation.lm_eval import evaluate_lm_eval

        task = cell.spec.dataset.removeprefix(LM_EVAL_PREFIX)
        return evaluate_lm_eval(lm, task, cell.spec.shots, cell.spec.limit, self.config.eval.lm_eval_include)

    def rag(self, cell: RagCell) -> CellResult:
        from ftscope.rag import run_rag

        lm = self.language_model(cell.model)
        judge = self._judge(cell.spec.judge)
        result = run_rag(cell.spec, lm, judge=judge, count_tokens=lambda text: len(lm.encode(text, bos=False)))
        return CellResult({**result.metrics, "model": self._facts}, result.records, result.notes)

    def _test(self, name: str) -> Any:
        if name not in self._tests:
            self._tests = {name: self.catalogue.test(name)}  # one test set at a time keeps memory flat
        return self._tests[name]

    def _judge(self, reference: str | None) -> Any:
        if reference is None:
            return None
        from ftscope.rag.judge import open_judge

        return open_judge(reference, self._options())

    def _options(self) -> Any:
        from ftscope.models import LoadOptions

        return LoadOptions(dtype=self.config.dtype, device=self.config.device, threads=self.config.threads,
                           trust_remote_code=self.config.trust_remote_code)

    def take_load_seconds(self) -> float:
        spent, self.load_seconds = self.load_seconds, 0.0
        return spent

    def language_model(self, model: ModelRef) -> Any:
        if model.load_key != self._model_key:
            from ftscope.models import language_model, model_facts
            from ftscope.training import open_model

            started = time.perf_counter()
            self._lm = None  # free the previous model (and what a training cell left) before loading the next
            release_freed_memory()
            folder = self.locate(model.train_cell) if model.train_cell else None
            loaded = open_model(model, self._options(), folder)
            lm = language_model(loaded, self.config.batch_tokens, decode_kv_bytes=self.config.decode_kv_mb << 20)
            self._lm, self._facts, self._model_key = lm, model_facts(loaded), model.load_key
            self.load_seconds += time.perf_counter() - started
        return self._lm
