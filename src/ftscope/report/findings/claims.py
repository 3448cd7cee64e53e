"""The three studies' findings, each defined as its paper states it and checked against this run.

"Fine-tuning" means plain full or LoRA fine-tuning, and models tuned outside ftscope; FTICL and ProMoT are
compared with it in their own claims. Scores are accuracy (classification) or ROUGE-L F1 (generation) on
0–1, effects shown in points (×100) of the test set's own metric unless a claim says otherwise. Every
claim's primary tests are listed with how they are tested (see evidence.py); its design decides whether
a verdict is allowed at all (design.py), and every verdict carries its scope.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ftscope.report.data import pairs as C
from ftscope.report.findings import design as D
from ftscope.report.findings import methods
from ftscope.report.findings.evidence import Claim, Evidence, Hypothesis
from ftscope.report.findings.rag import AUTOMATIC_METRICS, JUDGE_METRICS, format_matched, long_form
from ftscope.specs import VerdictRules

YANG = "Yang et al., NAACL 2024 (arXiv 2403.09162)"
PROMOT = "Wang et al., ProMoT (arXiv 2211.00635)"
BARNETT = "Barnett et al., Fine-Tuning or Fine-Failing? (arXiv 2406.11201)"
FTSCOPE = "ftscope: general capability retention on lm-evaluation-harness tasks"
OFF_DOMAIN = ("out-of-domain", "cross-task")
KINDS = ("classification", "generation")


def _tuned(ev: pd.DataFrame) -> pd.DataFrame:
    return ev[ev["method"].isin(C.FINE_TUNED)]


def _unmixed(claim: Claim, pairs: pd.DataFrame) -> pd.DataFrame:
    """Claims comparing task kinds skip models trained on a mixture of kinds, and say so."""
    mixed = pairs[pairs["train_kind"] == "mixed"]
    if len(mixed):
        claim.notes.append(f"{mixed['model'].nunique()} model(s) trained on a mixture of task kinds are left out "
                           "of this claim, which compares the kinds")
    return pairs[pairs["train_kind"] != "mixed"]


def _pair_parts(tag: str, suffixes: tuple[str, ...] = ("_b",)):
    def parts(row: dict) -> list[D.Part]:
        test_set = str(row.get("dataset") or row.get("corpus_name"))
        return [D.Part(tag, test_set, (row["dir"], *(row[f"dir{s}"] for s in suffixes)), row["metric"])]
    return parts


def _finish(claim: Claim, plans: list[D.UnitPlan], groups: tuple[str, ...], result: D.Result, rules: VerdictRules,
            compares_groups: bool) -> Claim:
    design = D.adequacy(plans, groups, result, rules, compares_groups)
    # With no unit at all, the claim's own reason (no FTICL model, no RAG cells, …) is the one to read first.
    claim.reasons = claim.reasons + design if not plans and claim.reasons else design + claim.reasons
    claim.design = result.design
    claim.adequate = not claim.reasons and result.estimate is not None
    return claim


def _evidence(name: str, result: D.Result, unit: str = "points") -> Evidence:
    return Evidence(name, result.estimate, result.units, unit)


# ---- Yang et al. ----------------------------------------------------------------------------
def yang_a(ev: pd.DataFrame, rules: VerdictRules) -> Claim:
    claim = Claim("Y(a)", "Classification fine-tuning generalizes out of domain better than generation fine-tuning.",
                  YANG, "per trained model at 0 shots: the transfer ratio, out-of-domain change vs the base over "
                  "in-domain change vs the base (each in points of its own metric); the mean over training sets "
                  "of the seed means, classification minus generation")
    zero = ev[ev["shots"] == 0]
    pairs = _unmixed(claim, C.complete(C.with_base(zero, _tuned(zero))))
    pairs = pairs[pairs["role"].isin(["in-domain", "out-of-domain"])]
    plans = D.plans_from_pairs(pairs, lambda r: r["train_kind"], lambda r: _pair_parts(r["role"])(r))
    plans = [p for p in plans if {"in-domain", "out-of-domain"} <= {x.tag for x in p.parts}]
    roles = ("in-domain", "out-of-domain")
    ratio = D.estimate(plans, D.transfer_ratio, KINDS, "yang-a", roles)
    claim.tests.append(Hypothesis("transfer ratio: classification − generation > 0", "direction", ratio.estimate,
                            +1, unit="ratio"))
    for kind in KINDS:
        claim.evidence.append(_evidence(f"{kind}-trained: transfer ratio", D.estimate(
            plans, D.transfer_ratio, (kind,), f"yang-a-{kind}", roles), "ratio"))
        ood = D.estimate(D.only(plans, "out-of-domain"), D.mean_of(D.delta), (kind,), f"yang-a-ood-{kind}")
        claim.evidence.append(_evidence(f"{kind}-trained: out-of-domain change vs base "
                                        f"({'accuracy' if kind == 'classification' else 'ROUGE-L'} points)", ood))
    _no_gain(claim, pairs)
    return _finish(claim, plans, KINDS, ratio, rules, compares_groups=True)


def _no_gain(claim: Claim, pairs: pd.DataFrame) -> None:
    """A transfer ratio needs an in-domain gain to divide by."""
    ind = pairs[pairs["role"] == "in-domain"]
    gains = (ind["score"] - ind["score_b"]).groupby(ind["model_label"]).mean()
    flat = gains[gains.abs() < 0.01]
    if len(flat):
        claim.reasons.append(f"{flat.index[0]} changed by {flat.iloc[0] * 100:+.1f} points in-domain, so its "
                             "transfer ratio is undefined; train it longer or on more examples")


def yang_b(ev: pd.DataFrame, rules: VerdictRules) -> Claim:
    claim = Claim("Y(b)", "Fine-tuned models gain little from in-context examples, or do worse than their own 0-shot.",
                  YANG, "per fine-tuned model: its k-shot minus its own 0-shot score on in-domain and out-of-domain "
                  f"cells (points); supported when the gain is below +{rules.icl_gain_margin * 100:.0f} points "
                  "(non-superiority); cross-task cells and the base's gain reported beside it")
    quads = _icl_quads(ev)
    main = quads[quads["role"].isin(["in-domain", "out-of-domain"])]
    group = lambda r: "fine-tuned"  # noqa: E731
    plans = D.plans_from_pairs(main, group, _pair_parts("gain", ("_t0",)))
    gain = D.estimate(plans, D.mean_of(D.delta), ("fine-tuned",), "yang-b")
    claim.tests.append(Hypothesis(f"tuned k-shot − tuned 0-shot < +{rules.icl_gain_margin * 100:.0f} points",
                            "non-superiority", gain.estimate, threshold=rules.icl_gain_margin))
    gap_plans = D.plans_from_pairs(main, group, _pair_parts("gap", ("_t0", "_base", "_b0")))
    gap = D.estimate(gap_plans, D.mean_of(lambda m: (m[0] - m[1]) - (m[2] - m[3])), ("fine-tuned",),
                     "yang-b-gap")
    claim.evidence.append(_evidence("tuned gain − base gain (secondary)", gap))
    cross = quads[quads["role"] == "cross-task"]
    claim.evidence.append(_evidence("cross-task gain (format recovery inflates it)", D.estimate(
        D.plans_from_pairs(cross, group, _pair_parts("gain", ("_t0",))), D.mean_of(D.delta),
        ("fine-tuned",), "yang-b-cross")))
    return _finish(claim, plans, ("fine-tuned",), gain, rules, compares_groups=False)


def _icl_quads(ev: pd.DataFrame) -> pd.DataFrame:
    """Each tuned k-shot cell beside the same model's 0-shot cell, the base's k-shot and 0-shot cells."""
    tuned, base = _tuned(ev), ev[ev["method"] == "base"]
    quads = C.with_base(ev, tuned[tuned["shots"] > 0], "_base")
    quads = C.pair_frame(quads, tuned[tuned["shots"] == 0], ["model", "bench"], ["model", "bench"], "_t0")
    quads = C.pair_frame(quads, base[base["shots"] == 0], ["base", "bench"], ["base", "bench"], "_b0")
    return C.complete(quads, ("_t0", "_base", "_b0"))


def headroom(ev: pd.DataFrame) -> pd.DataFrame:
    """Each fine-tuned model's ceiling: 1 − its 0-shot score, per role (how much in-context examples could add)."""
    zero = _tuned(ev[(ev["shots"] == 0) & (ev["status"] == "done")])
    if zero.empty:
        return pd.DataFrame(columns=["model_label", "role", "score_0shot", "headroom"])
    out = zero.groupby(["model_label", "role"])["score"].mean().reset_index(name="score_0shot")
    return out.assign(headroom=1 - out["score_0shot"])


def yang_c(ev: pd.DataFrame, rules: VerdictRules) -> Claim:
    claim = Claim("Y(c)", "Classification-tuned models fail cross-task on generation.", YANG,
                  f"classification-trained models on generation test sets, Prompt-1, 0 shots: ROUGE-L below "
                  f"{rules.rouge_fail:.2f} and the format-specialization rate (generations that are, or start "
                  f"with, a training label) above {rules.format_rate:.2f}; tuned − base ROUGE-L beside them")
    rows = _tuned(ev)
    rows = rows[(rows["train_kind"] == "classification") & (rows["task_kind"] == "generation")
                & (rows["shots"] == 0) & (rows["template"] == "p1") & (rows["status"] == "done")]
    group = lambda r: "classification"  # noqa: E731
    level_parts = lambda r: [D.Part("rouge", r["dataset"], (r["dir"],), "rougeL"),  # noqa: E731
                             D.Part("format", r["dataset"], (r["dir"],), "format_rate", tuple(r["train_labels"]))]
    plans = D.plans_from_pairs(rows, group, level_parts)
    rouge = D.estimate(D.only(plans, "rouge"), D.mean_of(D.level), ("classification",), "yang-c-rouge")
    fsr = D.estimate(D.only(plans, "format"), D.mean_of(D.level), ("classification",), "yang-c-format")
    claim.tests.append(Hypothesis(f"ROUGE-L < {rules.rouge_fail:.2f}", "below", rouge.estimate,
                            threshold=rules.rouge_fail, unit="score"))
    claim.tests.append(Hypothesis(f"format-specialization rate > {rules.format_rate:.2f}", "above", fsr.estimate,
                            threshold=rules.format_rate, unit="share"))
    pairs = C.complete(C.with_base(ev, rows))
    claim.evidence.append(_evidence("tuned − base ROUGE-L (secondary)", D.estimate(
        D.plans_from_pairs(pairs, group, _pair_parts("d")), D.mean_of(D.delta), ("classification",),
        "yang-c-delta")))
    return _finish(claim, plans, ("classification",), rouge, rules, compares_groups=True)


def yang_d(ev: pd.DataFrame, rules: VerdictRules) -> Claim:
    claim = Claim("Y(d)", "FTICL helps generation out of domain and cross-task, but not classification.", YANG,
                  "FTICL − plain fine-tuning of the same data, n, seed and tuning, per role and training kind "
                  f"(points): above 0 for generation-trained models; for classification-trained models no better "
                  f"than +{rules.equivalence_margin * 100:.0f} points (non-superiority, the upper half of a TOST "
                  f"at ±{rules.equivalence_margin * 100:.0f})")
    pairs = _unmixed(claim, C.complete(C.with_plain(ev, "fticl")))
    plans_all: list[D.UnitPlan] = []
    first = None
    for kind in ("generation", "classification"):
        for role in OFF_DOMAIN:
            rows = pairs[(pairs["train_kind"] == kind) & (pairs["role"] == role)]
            plans = D.plans_from_pairs(rows, lambda r: r["train_kind"], _pair_parts("d"))
            plans_all += plans
            found = D.estimate(plans, D.mean_of(D.delta), (kind,), f"yang-d-{kind}-{role}")
            first = first or found
            name = f"{kind}-trained, {role}: FTICL − fine-tuning"
            claim.tests.append(Hypothesis(f"{name} > 0", "direction", found.estimate, +1) if kind == "generation" else
                               Hypothesis(f"{name} < +{rules.equivalence_margin * 100:.0f}", "non-superiority",
                                    found.estimate, threshold=rules.equivalence_margin))
    if "method" in ev and not (ev["method"] == "fticl").any():
        claim.reasons.append("no fticl model in this run; add fticl to train.methods (with its plain "
                             "fine-tuning partner)")
    else:
        claim.reasons += [f"no done FTICL and fine-tuning cell pairs for: {t.name.rsplit(':', 1)[0]}"
                          for t in claim.tests if t.estimate is None]
    merged = D.Result(first.estimate if first else None, len(plans_all),
                      min((r for r in [first.min_items if first else None] if r is not None), default=None))
    return _finish(claim, plans_all, KINDS, merged, rules, compares_groups=True)


def yang_e(train: pd.DataFrame, rules: VerdictRules) -> Claim:
    claim = Claim("Y(e)", "FTICL deviates less from the base model's weights than fine-tuning.", YANG,
                  "relative per-layer weight change (‖ΔW‖/‖W‖ averaged over layers), FTICL minus plain fine-tuning "
                  "of the same data, n, seed and tuning; the embeddings' share of the change shown beside it")
    done = train[(train["status"] == "done") & train["layer_change"].notna()]
    fticl, plain = done[done["method"] == "fticl"], done[done["method"].isin(C.PLAIN_TUNES)]
    plans = []
    for row in fticl.to_dict("records"):
        partner = plain[(plain["datasets"] == row["datasets"]) & (plain["n"] == row["n"]) & (plain["seed"] == row["seed"])
                        & (plain["method"] == (row["tune"] or "full"))]
        if len(partner):
            value = (float(row["layer_change"]), float(partner.iloc[0]["layer_change"]))
            plans.append(D.UnitPlan("fticl", row["datasets"], str(row["seed"]), f"fticl {row['datasets']} n={row['n']}",
                                    (D.Part("d", "weights", (), "", value=value),)))
    found = D.estimate(plans, D.mean_of(D.delta), ("fticl",), "yang-e")
    claim.tests.append(Hypothesis("FTICL − fine-tuning relative layer change < 0", "direction", found.estimate, -1,
                            unit="relative"))
    shares = done.groupby("method")["embedding_share"].mean()
    claim.notes += [f"{m}: {v * 100:.1f}% of the squared weight change sits in the embeddings" for m, v in
                    shares.items() if isinstance(v, float) and not math.isnan(v)]
    if not plans:
        claim.reasons.append("no FTICL model with its plain fine-tuning partner (same data, n, seed) measured")
    return _finish(claim, plans, ("fticl",), found, rules, compares_groups=False)


# ---- ProMoT ---------------------------------------------------------------------------------
def promot_a(ev: pd.DataFrame, rules: VerdictRules) -> Claim:
    claim = Claim("P(a)", "ProMoT keeps more in-context ability than fine-tuning outside its own task.", PROMOT,
                  "normalised in-context average (mean over k > 0 cells off the training task of score / base score, "
                  "as the paper), ProMoT minus plain fine-tuning of the same data, n, seed and tuning")
    rows = C.complete(methods.triples(ev), ("_b", "_base"))
    rows = rows[(rows["shots"] > 0) & rows["role"].isin(OFF_DOMAIN)]
    plans = D.plans_from_pairs(rows, lambda r: "promot", _pair_parts("n", ("_b", "_base")))
    found = D.estimate(plans, D.mean_of(_normalised_diff), ("promot",), "promot-a")
    claim.tests.append(Hypothesis("ProMoT − fine-tuning normalised ICL average > 0", "direction", found.estimate, +1,
                            unit="ratio"))
    return _finish(claim, plans, ("promot",), found, rules, compares_groups=False)


def _normalised_diff(m: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(m[2] != 0, (m[0] - m[1]) / m[2], np.nan)


def promot_b(ev: pd.DataFrame, rules: VerdictRules, train: pd.DataFrame) -> Claim:
    margin = rules.equivalence_margin
    claim = Claim("P(b)", "ProMoT performs its own task about as well as fine-tuning.", PROMOT,
                  "in-domain at 0 shots, ProMoT with its soft prompt attached (the method's design) minus plain "
                  f"fine-tuning of the same data, n, seed and tuning (points); equivalent within ±{margin * 100:.0f} "
                  "points (TOST)")
    rows = C.complete(C.with_plain(ev, "promot"))
    rows = rows[(rows["role"] == "in-domain") & (rows["shots"] == 0)]
    plans = D.plans_from_pairs(rows, lambda r: "promot", _pair_parts("d"))
    found = D.estimate(plans, D.mean_of(D.delta), ("promot",), "promot-b")
    claim.tests.append(Hypothesis(f"|ProMoT − fine-tuning| < {margin * 100:.0f} points", "equivalence", found.estimate,
                            threshold=margin))
    notes = train[(train["method"] == "promot")]["notes"] if "notes" in train else []
    claim.notes += sorted({n for text in notes if text for n in text.split("; ") if "stage 1" in n.lower()})
    return _finish(claim, plans, ("promot",), found, rules, compares_groups=False)


# ---- Barnett et al. -------------------------------------------------------------------------
def barnett(rags: pd.DataFrame, rules: VerdictRules) -> Claim:
    claim = Claim("B", "Fine-tuning lowers the accuracy and completeness of answers in a RAG pipeline.", BARNETT,
                  "tuned − base LLM-judge grades (1–5, G-Eval style) of accuracy and completeness on the same "
                  "questions, corpus, retriever and prompt (the pipeline's instruct format), averaged over corpora; "
                  "token F1, EM and containment, and the tuned model asked in its training format, beside them")
    long = long_form(rags)
    same = C.complete(C.with_base(long[long["format"] == "instruct"]))
    same = same[same["method"].isin(C.FINE_TUNED)]
    group = lambda r: "fine-tuned"  # noqa: E731
    first = None
    for metric in JUDGE_METRICS:
        plans = D.plans_from_pairs(same[same["metric"] == metric], group, _pair_parts("d"))
        found = D.estimate(plans, D.mean_of(D.delta), ("fine-tuned",), f"barnett-{metric}")
        first = first or found
        claim.tests.append(Hypothesis(f"tuned − base {metric.replace('_', ' ')} < 0", "direction", found.estimate, -1,
                                unit="grade"))
    if rags.empty:
        claim.reasons.append("no RAG cells in this run: add a rag: section with a judge (configs/rag.yaml)")
    elif same[same["metric"].isin(JUDGE_METRICS)].empty:
        claim.reasons.append("no judge grades in this run: add `judge:` to the rag: section (e.g. gemma3-270m; "
                             "never a model under test), as the study graded answers with an LLM")
    for metric in AUTOMATIC_METRICS[:3]:
        plans = D.plans_from_pairs(same[same["metric"] == metric], group, _pair_parts("d"))
        claim.evidence.append(_evidence(f"tuned − base {metric} (secondary)", D.estimate(
            plans, D.mean_of(D.delta), ("fine-tuned",), f"barnett-{metric}")))
    matched = C.complete(format_matched(long))
    for metric in ("judge_accuracy", "f1"):
        plans = D.plans_from_pairs(matched[matched["metric"] == metric], group, _pair_parts("d"))
        claim.evidence.append(_evidence(f"tuned in its training format − base, {metric}", D.estimate(
            plans, D.mean_of(D.delta), ("fine-tuned",), f"barnett-matched-{metric}"),
            "grade" if metric.startswith("judge") else "points"))
    all_plans = D.plans_from_pairs(same[same["metric"] == "f1"], group, _pair_parts("d"))
    return _finish(claim, all_plans, ("fine-tuned",), first or D.Result(None, 0, None), rules, compares_groups=False)


# ---- general capability ---------------------------------------------------------------------
def general(ev: pd.DataFrame, rules: VerdictRules) -> Claim:
    margin = rules.equivalence_margin
    claim = Claim("G", "Fine-tuning leaves general capabilities (lm-evaluation-harness benchmarks) intact.", FTSCOPE,
                  f"tuned − base accuracy on each benchmark, averaged over benchmarks (points); equivalent within "
                  f"±{margin * 100:.0f} points (TOST)")
    bench = ev[ev["task_kind"] == "benchmark"]
    rows = C.complete(C.with_base(bench, _tuned(bench)))
    plans = D.plans_from_pairs(rows, lambda r: "fine-tuned", _pair_parts("d"))
    found = D.estimate(plans, D.mean_of(D.delta), ("fine-tuned",), "general")
    claim.tests.append(Hypothesis(f"|tuned − base| < {margin * 100:.0f} points", "equivalence", found.estimate,
                            threshold=margin))
    if rows.empty:
        claim.reasons.append("no lm-evaluation-harness cells in this run: add eval.lm_eval_tasks (or "
                             "`ftscope audit --lm-eval-task`)")
    return _finish(claim, plans, ("fine-tuned",), found, rules, compares_groups=False)


def check_claims(ev: pd.DataFrame, rags: pd.DataFrame, train: pd.DataFrame, rules: VerdictRules) -> list[Claim]:
    """Every claim with its tests and design checks (verdicts come after Holm: evidence.decide)."""
    return [yang_a(ev, rules), yang_b(ev, rules), yang_c(ev, rules), yang_d(ev, rules), yang_e(train, rules),
            promot_a(ev, rules), promot_b(ev, rules, train), barnett(rags, rules), general(ev, rules)]
