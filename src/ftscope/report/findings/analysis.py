"""Everything the report shows, computed once from the store's rows (no files written here)."""

from __future__ import annotations

import time
from dataclasses import dataclass

import pandas as pd

from ftscope.report.data.cells import eval_table, rag_table
from ftscope.report.data.resample import Resampler
from ftscope.report.findings import generalization as T
from ftscope.report.findings import methods, overview, rag as R
from ftscope.report.findings.claims import check_claims, headroom
from ftscope.report.findings.design import mde
from ftscope.report.findings.evidence import Claim, decide
from ftscope.report.findings.flips import flip_counts, flips
from ftscope.report.findings.scope import attach
from ftscope.specs import VerdictRules


@dataclass
class Analysis:
    store: str
    experiment: str | None
    generated: str
    notes: list[str]
    rules: VerdictRules
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
    judge_agreement: pd.DataFrame
    headroom: pd.DataFrame
    flips: pd.DataFrame
    flip_counts: pd.DataFrame
    claims: list[Claim]
    train: pd.DataFrame
    not_done: pd.DataFrame
    problems: list[str]
    curves: dict[str, list[float]]

    def tables(self) -> dict[str, pd.DataFrame]:
        """The tables written as CSV, JSON and Parquet, by file name."""
        return {"cells": self.evals, "generalization": self.gen, "by_group": self.groups, "sample_size": self.sizes,
                "by_method": self.by_method, "fticl_vs_finetuning": self.fticl, "promot_summary": self.promot_summary,
                "promot_cells": self.promot_cells, "rag_scores": self.rag_scores, "rag_deltas": self.rag_deltas,
                "judge_agreement": self.judge_agreement, "icl_headroom": self.headroom, "flips": self.flips,
                "flip_counts": self.flip_counts, "training": self.train, "not_done": self.not_done,
                "claims": claims_table(self.claims), "claim_reasons": reasons_table(self.claims)}


def claims_table(claims: list[Claim]) -> pd.DataFrame:
    """One row per primary test and per secondary number of every claim, with units and corrections."""
    rows = []
    for c in claims:
        for t in c.tests:
            e = t.estimate
            rows.append({"claim": c.key, "statement": c.statement, "verdict": c.verdict, "role": "primary",
                         "measure": t.name, "test": t.kind, "unit": t.unit, "estimate": e.value if e else None,
                         "lo": e.lo if e else None, "hi": e.hi if e else None, "se": e.se if e else None,
                         "df": e.df if e else None, "p": t.p, "p_holm": t.p_holm, "units": e.n if e else 0,
                         "mde": c.mde, "scope": c.scope})
        for v in c.evidence:
            e = v.estimate
            rows.append({"claim": c.key, "statement": c.statement, "verdict": c.verdict, "role": "secondary",
                         "measure": v.name, "test": "", "unit": v.unit, "estimate": e.value if e else None,
                         "lo": e.lo if e else None, "hi": e.hi if e else None, "se": e.se if e else None,
                         "df": e.df if e else None, "p": e.p if e else None, "p_holm": None, "units": v.cells,
                         "mde": None, "scope": c.scope})
    return pd.DataFrame.from_records(rows)


def reasons_table(claims: list[Claim]) -> pd.DataFrame:
    return pd.DataFrame([{"claim": c.key, "reason": r} for c in claims for r in c.reasons], columns=["claim", "reason"])


def _problems(evals: pd.DataFrame, rags: pd.DataFrame) -> list[str]:
    found = pd.concat([evals[["label", "problem"]], rags[["label", "problem"]]], ignore_index=True)
    found = found[found["problem"].notna()].drop_duplicates()
    return [f"{r.label}: {r.problem}" for r in found.itertuples()]


def verdicts(evals: pd.DataFrame, rags: pd.DataFrame, train: pd.DataFrame, rules: VerdictRules) -> list[Claim]:
    """The claims checked, Holm-adjusted as one family, with their scope and minimum detectable effect."""
    claims = decide(check_claims(evals, rags, train, rules), rules.alpha)
    family = sum(len(c.tests) for c in claims if c.adequate)
    for c in claims:
        head = c.tests[0] if c.tests else None
        c.mde = mde(head.estimate if head else None, family, rules.alpha, rules.power,
                    one_sided=head is not None and head.kind != "direction")
    return attach(claims, evals, train, rags[rags["status"] == "done"])  # rag_table always has status


def analyse(rows: list[dict], store: str, experiment: str | None, notes: list[str] | None = None,
            rules: VerdictRules | None = None) -> Analysis:
    """All tables and claims for these store rows; `rows` may be empty or partial."""
    res, rules = Resampler(), rules or VerdictRules()
    evals, rags = eval_table(rows, done_only=False), rag_table(rows, done_only=False)
    gen, train = T.generalization(evals, res), overview.train_summary(rows)
    flipped = flips(evals)
    return Analysis(
        store=store, experiment=experiment, generated=time.strftime("%Y-%m-%d %H:%M"), notes=list(notes or []),
        rules=rules, status=overview.status_counts(rows), models=overview.models(evals, rags), evals=evals, gen=gen,
        groups=T.by_group(gen), sizes=T.sample_size(gen), by_method=methods.by_method(evals, res),
        fticl=methods.fticl_vs_plain(evals, res), promot_summary=methods.promot_summary(evals, res),
        promot_cells=methods.promot_cells(evals, res), rag_scores=R.rag_scores(rags),
        rag_deltas=R.rag_deltas(rags, res), judge_agreement=R.judge_agreement(rags), headroom=headroom(evals),
        flips=flipped, flip_counts=flip_counts(flipped), claims=verdicts(evals, rags, train, rules), train=train,
        not_done=overview.not_done(rows), problems=_problems(evals, rags), curves=overview.loss_curves(rows))
