"""The report's sections, in reading order: overview, claims, generalization, figures, RAG, training, missing."""

from __future__ import annotations

from ftscope.report.render import format as D
from ftscope.report.findings.analysis import Analysis
from ftscope.report.findings.evidence import UNKNOWN, Claim
from ftscope.report.render.generalization import generalization
from ftscope.report.render.html import Section, Table, Verdict
from ftscope.report.data.cells import RAG_METRICS

LIST_MISSING = 50  # reasons per claim in "What is missing"; tables/claim_reasons.csv has every one
SHOW_FLIPS = 5  # flipped items shown per cell and direction; tables/flips.csv has every one


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


KIND_WORDS = {"direction": "two-sided, expected sign", "below": "one-sided: below the threshold",
              "above": "one-sided: above the threshold", "non-superiority": "one-sided: below +margin",
              "equivalence": "TOST: within ±margin"}


def _mde(c: Claim) -> str:
    if c.mde is None or not c.tests:
        return ""
    unit = c.tests[0].unit
    return D.UNITS.get(unit, D.UNITS["points"])(c.mde).lstrip("+") + f" {D.UNIT_NAMES.get(unit, unit)}"


def _claim_row(c: Claim) -> dict:
    head = c.tests[0] if c.tests else None
    value, ci = D.estimate(head.estimate if head else None, head.unit if head else "points")
    why = f" ({c.reasons[0]})" if c.reasons and c.verdict == UNKNOWN else ""
    return {"claim": c.key, "statement": c.statement, "verdict": c.verdict + why,
            "primary estimate [95% CI]": f"{value} {ci}".strip(), "p (Holm)": D.pvalue(head.p_holm) if head else "",
            "detectable effect (80% power)": _mde(c)}


def _claim_section(c: Claim, rules) -> Section:
    tests = []
    for t in c.tests:
        value, ci = D.estimate(t.estimate, t.unit)
        e = t.estimate
        tests.append({"primary test": t.name, "how": KIND_WORDS[t.kind], "estimate": value, "95% CI": ci,
                      "unit": D.UNIT_NAMES.get(t.unit, t.unit), "df": D.num(e.df, 1) if e else "",
                      "units": e.n if e else 0, "p": D.pvalue(t.p), "p (Holm)": D.pvalue(t.p_holm)})
    secondary = []
    for e in c.evidence:
        value, ci = D.estimate(e.estimate, e.unit)
        secondary.append({"secondary / descriptive": e.name, "estimate": value, "95% CI": ci,
                          "unit": D.UNIT_NAMES.get(e.unit, e.unit), "units": e.cells})
    blocks = [Verdict(c.verdict, f"Source: {c.source}."), c.scope, f"Measured as {c.measure}."]
    if c.reasons:
        blocks += ["Why no verdict:" if c.verdict == UNKNOWN else "Notes on the design:", list(c.reasons)]
    blocks += [Table(D.frame_from(tests, list(tests[0]) if tests else ["primary test"]), "Primary tests"),
               Table(D.frame_from(secondary, list(secondary[0]) if secondary else ["secondary / descriptive"]),
                     "Secondary and descriptive numbers (no verdict rests on them; uncorrected)")]
    if _mde(c):
        blocks.append(f"With this design the primary test detects an effect of about {_mde(c)} with "
                      f"{rules.power:.0%} power (at Holm's first-step level, conservative).")
    blocks += c.notes
    return Section(f"Claim {c.key}: {c.statement}", blocks)


def claims(a: Analysis) -> Section:
    r = a.rules
    summary = Table(D.frame_from([_claim_row(c) for c in a.claims],
                                 ["claim", "statement", "verdict", "primary estimate [95% CI]", "p (Holm)",
                                  "detectable effect (80% power)"]))
    rule = (f"A verdict is a decision at family-wise α = {r.alpha}: the primary tests of every claim whose design "
            f"is adequate are Holm-adjusted together. A design is adequate with at least {r.min_seeds} seeds per "
            f"model configuration, {r.min_train_sets} training sets per compared group (claims that compare groups "
            f"of training sets) and {r.min_items} paired items per cell (`verdicts:` in the experiment YAML). "
            "Estimates average over training sets and seeds, and their uncertainty comes from a hierarchical "
            "bootstrap (training sets, then seeds, then items, with the same item draws for every model) with a t "
            "reference; \"no better\" and \"about as good\" claims are one-sided or TOST tests at a stated margin, "
            "never a confidence interval that merely includes 0. Otherwise the verdict is **cannot tell**, with the "
            "reason and the smallest addition that would settle it.")
    return Section("Claims", [rule, summary, *[_claim_section(c, r) for c in a.claims]])


def figures(plots_all: list) -> Section:
    plots = [p for p in plots_all if p.name.startswith(("heatmap", "sample_size", "methods"))]
    return Section("Figures", plots or ["No figures yet: they need done tuned cells with done base cells."])


def _judged(r: dict) -> bool:
    return str(r.get("metric", "")).startswith("judge")


def _rag_value(r: dict, key: str) -> str:
    return D.num(r[key], 2) if _judged(r) else D.pts(r[key])


def rag(a: Analysis, plots_all: list) -> Section:
    scores = D.frame(a.rag_scores, {"model": "model_label", "corpus": "corpus_name", "retriever": "retriever",
                                    "k": lambda r: D.integer(r["k"]),
                                    "format": "format",
                                    **{m: (lambda r, m=m: D.num(r[m], 2) if m.startswith("judge") else D.pts(r[m]))
                                       for m in RAG_METRICS},
                                    "recall@k": lambda r: D.pts(r["recall"]), "MRR": lambda r: D.pts(r["mrr"]),
                                    "questions": lambda r: D.integer(r["n_questions"])})
    deltas = D.frame(a.rag_deltas, {"model": "model_label", "corpus": "corpus_name", "format": "format",
                                    "metric": "metric", "base": lambda r: _rag_value(r, "base_score"),
                                    "tuned": lambda r: _rag_value(r, "score"),
                                    "Δ [95% CI]": lambda r: D.delta(r["delta"], r["lo"], r["hi"], r["sig"],
                                                                    scale=1 if _judged(r) else 100)})
    plots = [p for p in plots_all if p.name == "rag"]
    agreement = D.frame(a.judge_agreement, {"model": "model_label", "corpus": "corpus_name", "format": "format",
                                            "judge": "judge", "questions": "questions",
                                            "ρ(judge accuracy, F1)": lambda r: D.num(r["rho_judge_accuracy_f1"], 2),
                                            "ρ(judge completeness, completeness)":
                                                lambda r: D.num(r["rho_judge_completeness_completeness"], 2)})
    return Section("RAG", [
        "Automatic scores are in points (×100); judge grades on their 1–5 scale. The judge is never a model under "
        "test; Spearman's ρ says how far its grades follow the automatic scores over the same questions.",
        Table(scores, "Answer and retrieval metrics per corpus", "tables/rag_scores.csv"),
        Table(deltas, "Tuned − base per corpus, paired by question", "tables/rag_deltas.csv"),
        Table(agreement, "Judge–automatic agreement per graded cell", "tables/judge_agreement.csv"), *plots])


def training(a: Analysis, plots_all: list) -> Section:
    table = D.frame(a.train, {"run": "label", "status": "status", "wall s": lambda r: D.num(r["wall_seconds"], 0),
                              "tokens": lambda r: D.num(r["tokens"], 0, ",f"),
                              "tokens/s": lambda r: D.num(r["tokens_per_second"], 0),
                              "loss first → last": lambda r: D.arrow(r["first_loss"], r["last_loss"]),
                              "held-out loss base → tuned": lambda r: D.arrow(r["heldout_base_loss"],
                                                                              r["heldout_tuned_loss"]),
                              "weight change (mean |Δw|)": lambda r: D.num(r["weight_change"], 6, "g"),
                              "per-layer change (‖ΔW‖/‖W‖)": lambda r: D.num(r["layer_change"], 6, "g"),
                              "embedding share": lambda r: D.num(r["embedding_share"], 3),
                              "notes": "notes"})
    plots = [p for p in plots_all if p.name == "loss"]
    return Section("Training", [Table(table, "Training runs", "tables/training.csv"), *plots])


def missing(a: Analysis) -> Section:
    blocks: list = [Table(a.not_done, "Cells not done (failed first, with their error)", "tables/not_done.csv")]
    if a.problems:
        blocks += ["Cells marked done whose results cannot be read:", a.problems]
    for c in a.claims:
        if c.reasons and c.verdict == UNKNOWN:
            blocks += [f"Claim {c.key} needs:", c.reasons[:LIST_MISSING]]
    if len(blocks) == 1 and a.not_done.empty:
        blocks = ["Nothing: every cell of the experiment is done and every claim could be tested."]
    return Section("What is missing", blocks)


def flipped(a: Analysis) -> Section:
    counts = D.frame(a.flip_counts, {"model": "model_label", "dataset": "dataset", "shots": lambda r: D.integer(
        r["shots"]), "template": "template", "role": "role", "lost (base right, tuned wrong)": "lost",
        "gained": "gained"})
    shown = a.flips.groupby(["model_label", "dataset", "shots", "template", "change"]).head(SHOW_FLIPS) \
        if not a.flips.empty else a.flips
    items = D.frame(shown, {"model": "model_label", "dataset": "dataset", "shots": lambda r: D.integer(r["shots"]),
                            "change": "change", "item": "id", "text": "text", "gold": "gold",
                            "base said": "base_prediction", "tuned said": "tuned_prediction"})
    return Section("Items that flipped", [
        "Accuracy cells, item by item: lost = right for the base and wrong after tuning; gained = the other way. "
        "These discordant pairs are what McNemar's test reads.",
        Table(counts, "Flipped items per cell", "tables/flip_counts.csv", collapsed=len(counts) > 40),
        Table(items, f"The first {SHOW_FLIPS} of each kind per cell (all of them: tables/flips.csv)", "tables/flips.csv",
              collapsed=True)])


def all_sections(a: Analysis, plots: list) -> list[Section]:
    return [overview(a), claims(a), generalization(a), figures(plots), flipped(a), rag(a, plots), training(a, plots),
            missing(a)]
