"""The three studies' findings, each checked against this run's cells.

Fine-tuning here means plain full or LoRA fine-tuning, and models tuned outside ftscope (FTICL and
ProMoT are compared with it in their own claims). Scores are accuracy (classification) or ROUGE-L
(generation), both on 0–1; deltas are shown in points (×100). Every estimate averages paired
comparisons, replicate by replicate.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ftscope.report import boot, compare as C, methods
from ftscope.report.evidence import (CONTRADICTED, SUPPORTED, UNKNOWN, Claim, difference, direction, evidence,
                                     gather, pooled)
from ftscope.report.rag import CLAIM_METRIC, long_form

YANG = "Yang et al., NAACL 2024 (arXiv 2403.09162)"
PROMOT = "Wang et al., ProMoT (arXiv 2211.00635)"
BARNETT = "Barnett et al., Fine-Tuning or Fine-Failing? (arXiv 2406.11201)"
OFF_DOMAIN = ("out-of-domain", "cross-task")


def _relative(m: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(m[1] != 0, m[0] / m[1] - 1, np.nan)


def _plain(pairs: pd.DataFrame) -> pd.DataFrame:
    return pairs[pairs["method"].isin(C.FINE_TUNED)]


def ood_classification_vs_generation(evals: pd.DataFrame, res: boot.Resampler) -> Claim:
    claim = Claim("1", "Classification fine-tuning generalizes out of domain better than generation fine-tuning.",
                  YANG, "relative change vs the base (tuned / base − 1) averaged over out-of-domain cells, "
                  "classification-trained minus generation-trained; supported when its CI is above 0")
    pairs = _plain(C.with_base(evals))
    pairs = pairs[pairs["role"] == "out-of-domain"]
    found = {}
    for kind in ("classification", "generation"):
        subset = pairs[pairs["train_kind"] == kind]
        done = gather(claim, subset, f"out-of-domain evaluation of a {kind}-trained model")
        found[kind] = pooled(res, done, _relative)
        claim.evidence.append(evidence(f"{kind}-trained, out-of-domain, relative to base", found[kind], len(done),
                                       "relative"))
    gap = difference(found["classification"], found["generation"])
    cells = sum(e.cells for e in claim.evidence)
    claim.evidence.insert(0, evidence("classification − generation (relative change)", gap, cells, "relative"))
    claim.verdict = direction(claim.evidence[0].estimate, +1)
    return claim


def icl_gain(evals: pd.DataFrame, res: boot.Resampler) -> Claim:
    claim = Claim("2", "Fine-tuned models gain less from in-context examples than the base model.", YANG,
                  "(tuned k-shot − tuned 0-shot) − (base k-shot − base 0-shot), averaged over every k > 0 cell; "
                  "supported when its CI is below 0")
    tuned, base = evals[evals["method"].isin(C.FINE_TUNED)], evals[evals["method"] == "base"]
    quads = C.with_base(evals, tuned[tuned["shots"] > 0], "_base")
    quads = C.pair_frame(quads, tuned[tuned["shots"] == 0], ["model", "bench"], ["model", "bench"], "_t0")
    quads = C.pair_frame(quads, base[base["shots"] == 0], ["base", "bench"], ["base", "bench"], "_b0")
    partners = {"_t0": "0-shot cell of the same model", "_base": "base cell", "_b0": "base 0-shot cell"}
    done = gather(claim, quads, "in-context evaluation of a fine-tuned model", partners)
    gap = pooled(res, done, boot.gain_gap, ("_t0", "_base", "_b0"))
    claim.evidence.append(evidence("tuned gain − base gain", gap, len(done)))
    for kind in ("classification", "generation"):
        subset = done[done["task_kind"] == kind]
        claim.evidence.append(evidence(f"… on {kind} tasks", pooled(res, subset, boot.gain_gap,
                                                                    ("_t0", "_base", "_b0")), len(subset)))
    claim.verdict = direction(claim.evidence[0].estimate, -1)
    return claim


def cross_task_generation(evals: pd.DataFrame, res: boot.Resampler) -> Claim:
    claim = Claim("3", "Classification-tuned models fail cross-task on generation.", YANG,
                  "tuned − base ROUGE-L on generation test sets, for classification-trained models; "
                  "supported when its CI is below 0")
    pairs = _plain(C.with_base(evals))
    pairs = pairs[(pairs["train_kind"] == "classification") & (pairs["task_kind"] == "generation")]
    done = gather(claim, pairs, "generation evaluation of a classification-trained model")
    claim.evidence.append(evidence("tuned − base (ROUGE-L)", pooled(res, done, boot.delta), len(done)))
    claim.verdict = direction(claim.evidence[0].estimate, -1)
    return claim


def fticl(evals: pd.DataFrame, res: boot.Resampler) -> Claim:
    claim = Claim("4", "FTICL helps generation out of domain and cross-task, but not classification.", YANG,
                  "FTICL − plain fine-tuning on out-of-domain and cross-task cells; supported when the "
                  "generation-trained CI is above 0 and the classification-trained CI is not")
    pairs = C.with_plain(evals, "fticl")
    pairs = pairs[pairs["role"].isin(OFF_DOMAIN)]
    signs = {}
    for kind in ("generation", "classification"):
        subset = pairs[pairs["train_kind"] == kind]
        done = gather(claim, subset, f"FTICL evaluation of a {kind}-trained model off its domain",
                      {"_b": "plain fine-tuning cell"})
        claim.evidence.append(evidence(f"{kind}-trained: FTICL − fine-tuning", pooled(res, done, boot.delta),
                                       len(done)))
        signs[kind] = claim.evidence[-1].estimate.sign if claim.evidence[-1].estimate else None
    claim.verdict = _fticl_verdict(signs["generation"], signs["classification"])
    return claim


def _fticl_verdict(generation: int | None, classification: int | None) -> str:
    if generation is None or classification is None:
        return UNKNOWN
    if generation < 0 or classification > 0:
        return CONTRADICTED
    return SUPPORTED if generation > 0 else UNKNOWN


def promot(evals: pd.DataFrame, res: boot.Resampler) -> Claim:
    claim = Claim("5", "ProMoT keeps more in-context ability than fine-tuning.", PROMOT,
                  "normalised in-context average (mean of score / base score over k > 0 cells), ProMoT minus "
                  "plain fine-tuning of the same data; supported when its CI is above 0")
    rows = methods.triples(evals)
    rows = rows[rows["shots"] > 0]
    done = gather(claim, rows, "in-context evaluation of a ProMoT model", methods.TRIPLE)
    found = methods.normalised_icl(done, res) if not done.empty else {"promot": None, "plain": None, "diff": None}
    claim.evidence.append(evidence("ProMoT − fine-tuning (normalised ICL average)", found["diff"], len(done),
                                   "ratio-diff"))
    claim.evidence.append(evidence("ProMoT normalised ICL average (base = 1)", found["promot"], len(done), "ratio"))
    claim.evidence.append(evidence("fine-tuning normalised ICL average", found["plain"], len(done), "ratio"))
    claim.verdict = direction(claim.evidence[0].estimate, +1)
    return claim


def rag_answers(rags: pd.DataFrame, res: boot.Resampler) -> Claim:
    claim = Claim("6", "Fine-tuning hurts answers in RAG.", BARNETT,
                  f"tuned − base answer {CLAIM_METRIC} on the same questions, corpus and retriever, averaged over "
                  "tuned models and corpora; supported when its CI is below 0")
    pairs = C.with_base(long_form(rags))
    done = gather(claim, pairs[pairs["metric"] == CLAIM_METRIC], "RAG cell of a tuned model")
    for metric in dict.fromkeys([CLAIM_METRIC, "em", "completeness", "faithfulness"]):
        subset = C.complete(pairs[pairs["metric"] == metric])
        claim.evidence.append(evidence(f"tuned − base {metric}", pooled(res, subset, boot.delta), len(subset)))
    claim.verdict = direction(claim.evidence[0].estimate, -1) if len(done) else UNKNOWN
    return claim


def check_claims(evals: pd.DataFrame, rags: pd.DataFrame, res: boot.Resampler) -> list[Claim]:
    """Every claim; `evals` and `rags` hold all cells (any status) so the missing ones can be named."""
    checks = [ood_classification_vs_generation, icl_gain, cross_task_generation, fticl, promot]
    return [*(check(evals, res) for check in checks), rag_answers(rags, res)]
