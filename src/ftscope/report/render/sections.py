"""The report's sections, in reading order: overview, claims, generalization, figures, RAG, training, missing."""

from __future__ import annotations

from ftscope.report import display as D
from ftscope.report.analysis import Analysis
from ftscope.report.evidence import UNKNOWN, Claim
from ftscope.report.gen_sections import generalization
from ftscope.report.render import Section, Table, Verdict
from ftscope.report.table import RAG_METRICS

SHOW_MISSING = 8  # per claim in its section
LIST_MISSING = 50  # per claim in "What is missing"; tables/claims_missing.csv has every one


def overview(a: Analysis) -> Section:
    counts = a.status.set_index("kind")["total"]
    lines = [f"Store `{a.store}`" + (f", experiment `{a.experiment}`" if a.experiment else ", every experiment")
             + f"; generated {a.generated}.",
             f"{int(counts.sum())} cells: {int(a.status['done'].sum())} done, {int(a.status['pending'].sum())} "
             f"pending, {int(a.status['running'].sum())} running, {int(a.status['failed'].sum())} failed.", *a.notes]
    models = D.frame(a.models, {"model": "model_label", "method": "method", "training data": "train_datasets",
                                "n": lambda r: D.integer(r["n"]), "seed": lambda r: D.integer(r["seed"]),
                                "eval cells done": "eval", "rag cells done": "rag"})
    return Section("Overview", [*lines, Table(a.status, "Cells by kind and status"),
                                Table(models, "Models evaluated"), D.LEGEND])


def _claim_row(c: Claim) -> dict:
    head = c.evidence[0] if c.evidence else None
    value, ci, p = D.estimate(head.estimate if head else None, head.unit if head else "points")
    return {"claim": c.key, "statement": c.statement, "verdict": c.verdict, "estimate": value, "95% CI": ci, "p": p,
            "missing cells": len(c.missing)}


def _claim_section(c: Claim) -> Section:
    rows = []
    for e in c.evidence:
        value, ci, p = D.estimate(e.estimate, e.unit)
        rows.append({"measure": e.name, "estimate": value, "95% CI": ci, "p": p, "comparisons": e.cells})
    blocks = [Verdict(c.verdict, f"Source: {c.source}."), f"Measured as {c.measure}.",
              Table(D.frame_from(rows, ["measure", "estimate", "95% CI", "p", "comparisons"]))]
    blocks += c.notes
    if c.missing:
        extra = len(c.missing) - SHOW_MISSING
        blocks += [f"Missing for this claim ({len(c.missing)}):",
                   c.missing[:SHOW_MISSING] + ([f"… and {extra} more (see What is missing)"] if extra > 0 else [])]
    return Section(f"Claim {c.key}: {c.statement}", blocks)


def claims(a: Analysis) -> Section:
    summary = Table(D.frame_from([_claim_row(c) for c in a.claims],
                                 ["claim", "statement", "verdict", "estimate", "95% CI", "p", "missing cells"]))
    rule = ("A claim is supported or contradicted only when the 95% CI of its measure lies wholly on one side of 0; "
            "otherwise, or without the cells to measure it, the verdict is **cannot tell**.")
    return Section("Claims", [rule, summary, *[_claim_section(c) for c in a.claims]])




def figures(a: Analysis) -> Section:
    plots = [p for p in a.plots if p.name.startswith(("heatmap", "sample_size", "methods"))]
    return Section("Figures", plots or ["No figures yet: they need done tuned cells with done base cells."])


def rag(a: Analysis) -> Section:
    scores = D.frame(a.rag_scores, {"model": "model_label", "corpus": "corpus_name", "retriever": "retriever",
                                    "k": lambda r: D.integer(r["k"]),
                                    **{m: (lambda r, m=m: D.pts(r[m])) for m in RAG_METRICS},
                                    "recall@k": lambda r: D.pts(r["recall"]), "MRR": lambda r: D.pts(r["mrr"]),
                                    "questions": lambda r: D.integer(r["n_questions"])})
    deltas = D.frame(a.rag_deltas, {"model": "model_label", "corpus": "corpus_name", "metric": "metric",
                                    "base": lambda r: D.pts(r["base_score"]), "tuned": lambda r: D.pts(r["score"]),
                                    "Δ [95% CI]": lambda r: D.delta(r["delta"], r["lo"], r["hi"], r["sig"])})
    plots = [p for p in a.plots if p.name == "rag"]
    return Section("RAG", [Table(scores, "Answer and retrieval metrics per corpus", "tables/rag_scores.csv"),
                           Table(deltas, "Tuned − base per corpus, paired by question", "tables/rag_deltas.csv"),
                           *plots])


def training(a: Analysis) -> Section:
    table = D.frame(a.train, {"run": "label", "status": "status", "wall s": lambda r: D.num(r["wall_seconds"], 0),
                              "tokens": lambda r: D.num(r["tokens"], 0, ",f"),
                              "tokens/s": lambda r: D.num(r["tokens_per_second"], 0),
                              "loss first → last": lambda r: D.arrow(r["first_loss"], r["last_loss"]),
                              "held-out loss base → tuned": lambda r: D.arrow(r["heldout_base_loss"],
                                                                              r["heldout_tuned_loss"]),
                              "weight change (mean |Δw|)": lambda r: D.num(r["weight_change"], 6, "g")})
    plots = [p for p in a.plots if p.name == "loss"]
    return Section("Training", [Table(table, "Training runs", "tables/training.csv"), *plots])


def missing(a: Analysis) -> Section:
    blocks: list = [Table(a.not_done, "Cells not done (failed first, with their error)", "tables/not_done.csv")]
    if a.problems:
        blocks += ["Cells marked done whose results cannot be read:", a.problems]
    for c in a.claims:
        if c.missing:
            need = "needs" if c.verdict == UNKNOWN else "would also use"
            extra = len(c.missing) - LIST_MISSING
            more = [f"… and {extra} more (tables/claims_missing.csv)"] if extra > 0 else []
            blocks += [f"Claim {c.key} ({c.verdict}) {need}:", c.missing[:LIST_MISSING] + more]
    if len(blocks) == 1 and a.not_done.empty:
        blocks = ["Nothing: every cell of the experiment is done."]
    return Section("What is missing", blocks)


def all_sections(a: Analysis) -> list[Section]:
    return [overview(a), claims(a), generalization(a), figures(a), rag(a), training(a), missing(a)]
