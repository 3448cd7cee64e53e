"""Run an evaluation suite (datasets × shots) for one model and write predictions.jsonl and metrics.json.

Results are rewritten after every cell, atomically, so a crash keeps every finished cell; a dataset
that cannot be loaded gets one line and the rest of the suite goes on.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

from ftscope.errors import DataError
from ftscope.evaluation.evaluate import EvalResult, evaluate
from ftscope.evaluation.spec import EvalSpec
from ftscope.results import write_json, write_jsonl
from ftscope.tasks import Catalogue
from ftscope.types import LanguageModel

Report = Callable[[str], None]


@dataclass(frozen=True)
class SuiteSpec:
    datasets: tuple[str, ...]
    shots: tuple[int, ...] = (0,)
    template: str = "p1"
    scoring: str = "first-token"
    limit: int | None = None
    fewshot: str = "first"
    seed: int = 0
    max_new_tokens: int | None = None

    def cells(self, dataset: str) -> list[EvalSpec]:
        return [EvalSpec(dataset, k, self.template, self.scoring, self.limit, self.fewshot, self.seed,
                         self.max_new_tokens) for k in self.shots]


def run_suite(lm: LanguageModel, catalogue: Catalogue, suite: SuiteSpec, out_dir: str | Path | None,
              header: dict[str, Any] | None = None, say: Report = print,
              on_cell: Callable[[EvalResult], None] | None = None) -> dict[str, Any]:
    results: dict[str, dict[str, Any]] = {}
    rows: list[dict[str, Any]] = []
    summary = {**(header or {}), "suite": asdict(suite), "results": results, "missing": {}, "notes": []}
    for name in suite.datasets:
        try:
            dataset = catalogue.test(name)
        except DataError as e:
            say(f"skipped: {e}")
            summary["missing"][name] = str(e)
            continue
        for spec in suite.cells(name):
            result = _run_cell(lm, dataset, spec, say)
            if result is None:
                continue
            results.setdefault(name, {})[str(spec.shots)] = result.metrics
            rows.extend(_rows(result, name))
            summary["notes"].extend(result.notes)
            if out_dir is not None:
                write_jsonl(Path(out_dir) / "predictions.jsonl", rows)
                write_json(Path(out_dir) / "metrics.json", summary)
            if on_cell:
                on_cell(result)
    return summary


def _run_cell(lm: LanguageModel, dataset, spec: EvalSpec, say: Report) -> EvalResult | None:
    try:
        result = evaluate(lm, dataset, spec)
    except DataError as e:
        say(f"skipped {spec.dataset} {spec.shots}-shot: {e}")
        return None
    for note in result.notes:
        say(f"note: {note}")
    return result


def _rows(result: EvalResult, dataset: str) -> list[dict[str, Any]]:
    spec = result.spec
    return [{"dataset": dataset, "shots": spec.shots, "template": spec.template, **asdict(p)}
            for p in result.predictions]
