"""Everything the report shows, computed once from the store's rows (no files written here)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import pandas as pd

from ftscope.report import methods, overview, rag as R, tables as T
from ftscope.report.boot import Resampler
from ftscope.report.claims import check_claims
from ftscope.report.evidence import Claim
from ftscope.report.figures import Plot
from ftscope.report.table import eval_table, rag_table


@dataclass
class Analysis:
    store: str
    experiment: str | None
    generated: str
    notes: list[str]
    status: pd.DataFrame
    models: pd.DataFrame
    evals: pd.DataFrame  # every eval cell, any status
    gen: pd.DataFrame
    groups: pd.DataFrame
    sizes: pd.DataFrame
    by_method: pd.DataFrame
    fticl: pd.DataFrame
    promot_summary: pd.DataFrame
    promot_cells: pd.DataFrame
    rag_scores: pd.DataFrame
    rag_deltas: pd.DataFrame
    claims: list[Claim]
    train: pd.DataFrame
    not_done: pd.DataFrame
    problems: list[str]
    curves: dict[str, list[float]]
    plots: list[Plot] = field(default_factory=list)

    def tables(self) -> dict[str, pd.DataFrame]:
        """The tables written as CSV and JSON, by file name."""
        return {"cells": self.evals, "generalization": self.gen, "by_group": self.groups, "sample_size": self.sizes,
                "by_method": self.by_method, "fticl_vs_finetuning": self.fticl, "promot_summary": self.promot_summary,
                "promot_cells": self.promot_cells, "rag_scores": self.rag_scores, "rag_deltas": self.rag_deltas,
                "training": self.train, "not_done": self.not_done, "claims": claims_table(self.claims),
                "claims_missing": pd.DataFrame([{"claim": c.key, "missing": m} for c in self.claims for m in c.missing],
                                               columns=["claim", "missing"])}


def claims_table(claims: list[Claim]) -> pd.DataFrame:
    rows = [{"claim": c.key, "statement": c.statement, "verdict": c.verdict, "measure": e.name, "unit": e.unit,
             "estimate": e.estimate.value if e.estimate else None, "lo": e.estimate.lo if e.estimate else None,
             "hi": e.estimate.hi if e.estimate else None, "p": e.estimate.p if e.estimate else None,
             "comparisons": e.cells, "missing": len(c.missing)} for c in claims for e in c.evidence]
    return pd.DataFrame.from_records(rows)


def _problems(evals: pd.DataFrame, rags: pd.DataFrame) -> list[str]:
    found = pd.concat([evals[["label", "problem"]], rags[["label", "problem"]]], ignore_index=True)
    found = found[found["problem"].notna()].drop_duplicates()
    return [f"{r.label}: {r.problem}" for r in found.itertuples()]


def analyse(rows: list[dict], store: str, experiment: str | None, notes: list[str] | None = None) -> Analysis:
    """All tables and claims for these store rows; `rows` may be empty or partial."""
    res = Resampler()
    evals, rags = eval_table(rows, done_only=False), rag_table(rows, done_only=False)
    gen = T.generalization(evals, res)
    return Analysis(
        store=store, experiment=experiment, generated=time.strftime("%Y-%m-%d %H:%M"), notes=list(notes or []),
        status=overview.status_counts(rows), models=overview.models(evals, rags), evals=evals, gen=gen,
        groups=T.by_group(gen), sizes=T.sample_size(gen), by_method=methods.by_method(evals, res),
        fticl=methods.fticl_vs_plain(evals, res), promot_summary=methods.promot_summary(evals, res),
        promot_cells=methods.promot_cells(evals, res), rag_scores=R.rag_scores(rags),
        rag_deltas=R.rag_deltas(rags, res),
        claims=check_claims(evals, rags, res), train=overview.train_summary(rows), not_done=overview.not_done(rows),
        problems=_problems(evals, rags), curves=overview.loss_curves(rows))
