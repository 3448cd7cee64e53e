"""Report: store → tidy tables → paired deltas, claims, figures → report.md and a self-contained report.html.

Reads the store only and never imports torch, transformers or the model/training/evaluation layers
(an import-linter contract keeps it so), so a report builds anywhere the store can be read.
"""

from ftscope.report.build import build_report

__all__ = ["build_report"]
