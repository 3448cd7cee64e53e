"""Metrics and the evaluation engine: evaluate(lm, dataset, spec) → predictions and metrics of one cell.

It writes nothing: the experiment layer's CellFiles owns every result file, and the one eval driver
(ftscope.experiments.worker) runs cells for the grid, `ftscope eval` and `ftscope audit` alike.
"""

from ftscope.evaluation.evaluate import EvalResult, evaluate
from ftscope.specs import EvalSpec  # the one EvalSpec, re-exported beside the function that takes it

__all__ = ["EvalResult", "EvalSpec", "evaluate"]
