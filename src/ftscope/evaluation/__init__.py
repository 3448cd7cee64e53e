"""Metrics and the evaluation engine: evaluate(lm, dataset, spec) and suites of such cells."""

from ftscope.evaluation.evaluate import EvalResult, evaluate
from ftscope.evaluation.spec import SCORINGS, EvalSpec
from ftscope.evaluation.suite import SuiteSpec, run_suite

__all__ = ["SCORINGS", "EvalResult", "EvalSpec", "SuiteSpec", "evaluate", "run_suite"]
