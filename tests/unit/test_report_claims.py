"""The studies' claims on constructed stores: a verdict only from an adequate design, and then the one the
planted effect implies; each claim's statistic checked on a hand-computed example."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from ftscope.report.findings import design as D
from ftscope.report.findings.analysis import analyse
from ftscope.report.findings.claims import _normalised_diff
from ftscope.report.findings.evidence import (CONTRADICTED, SUPPORTED, UNKNOWN, Claim, Estimate, Hypothesis, decide,
                                              holm_scales)
from ftscope.specs import VerdictRules
from synthetic_models import Effects, models
from synthetic_store import write_synthetic_store

# The published findings, with FTICL slightly worse than fine-tuning on classification (the paper: no help).
PUBLISHED = Effects(fticl={"classification": -0.03, "generation": 0.08})
# Every effect of the studies reversed (Y(c) and Y(e) kept: they need other reversals).
REVERSED = Effects(icl_tuned=0.12, ood={"classification": -0.05, "generation": 0.10}, icl_promot=-0.05,
                   rag_judge=0.8, rag_f1=0.10)


def claims_of(root, **kwargs) -> dict[str, Claim]:
    store = write_synthetic_store(root, experiment="x", **kwargs)
    return {c.key: c for c in analyse(store.rows("x"), str(root), "x").claims}


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    return claims_of(tmp_path_factory.mktemp("published"), fx=PUBLISHED, n=200,
                     study=models(methods=("lora", "fticl")))


@pytest.fixture(scope="module")
def reversed_(tmp_path_factory):
    return claims_of(tmp_path_factory.mktemp("reversed"), fx=REVERSED, n=200,
                     study=models(methods=("lora", "promot")))


def test_the_published_findings_are_supported_when_the_data_carries_them(published):
    # three training sets per kind and two seeds: the claims whose effects are large against their
    # training-set df reach a verdict; the others stay "cannot tell" (never contradicted)
    assert {k: published[k].verdict for k in ("Y(a)", "Y(b)", "Y(c)", "Y(e)", "B")} == \
        dict.fromkeys(("Y(a)", "Y(b)", "Y(c)", "Y(e)", "B"), SUPPORTED)
    assert "no promot model" in " ".join(published["P(a)"].reasons)  # no ProMoT in this study
    assert all(c.verdict != CONTRADICTED for c in published.values())
    for claim in published.values():
        if claim.key == "B":  # the RAG claim speaks of its RAG cells: questions, corpora, retriever, judge
            assert claim.scope.startswith("In this run: smollm2-135m; methods lora") and "questions per cell" in claim.scope
        else:
            assert claim.scope.startswith("In this run: smollm2-135m (135M parameters, from a Q4_1 GGUF")
        head = claim.tests[0].estimate
        if claim.adequate:
            assert head.lo <= head.value <= head.hi and claim.mde is not None and claim.mde > 0
    assert published["G"].verdict == UNKNOWN and "lm_eval_tasks" in " ".join(published["G"].reasons)


def test_claims_are_contradicted_when_the_effects_are_reversed(reversed_):
    assert reversed_["Y(a)"].verdict == CONTRADICTED  # generation tuning now transfers better
    assert reversed_["Y(b)"].verdict == CONTRADICTED  # tuned models gain well beyond the margin
    assert reversed_["B"].verdict == CONTRADICTED  # the tuned model answers better with retrieval


def test_one_seed_cannot_tell_and_says_to_add_a_second(tmp_path):
    claims = claims_of(tmp_path, study=models(methods=("lora", "fticl"), seeds=(0,)), n=100, rag=False)
    for key in ("Y(a)", "Y(b)", "Y(c)", "Y(d)"):
        assert claims[key].verdict == UNKNOWN and not claims[key].adequate
        assert any("add a second seed" in r for r in claims[key].reasons), claims[key].reasons
    assert claims["Y(b)"].tests[0].estimate is not None  # the estimate is still shown, as descriptive


def test_one_training_set_per_kind_names_the_set_to_add(tmp_path):
    claims = claims_of(tmp_path, study=models(methods=("lora",), sets_per_kind=1), n=100, rag=False)
    reasons = " ".join(claims["Y(a)"].reasons)
    assert claims["Y(a)"].verdict == UNKNOWN
    assert "add a classification training set: paws or multinli" in reasons
    assert "add a generation training set: socialqa" in reasons


def test_too_few_items_is_not_a_verdict(tmp_path):
    claims = claims_of(tmp_path, study=models(methods=("lora",)), n=12, rag=False)
    assert all(c.verdict == UNKNOWN for c in claims.values())
    assert any("raise eval.limit to at least 30" in r for r in claims["Y(b)"].reasons)


def test_fticl_on_classification_is_not_supported_from_a_wide_interval(tmp_path):
    # a noisy classification difference: the interval straddles 0 and reaches past the margin
    noisy = Effects(fticl={"classification": 0.0, "generation": 0.08}, sd_seed=0.04)
    claims = claims_of(tmp_path, fx=noisy, n=40, rag=False, study=models(methods=("lora", "fticl"), sets_per_kind=2))
    cls = [t for t in claims["Y(d)"].tests if t.name.startswith("classification")]
    assert cls and all(t.estimate.lo < 0 < t.estimate.hi and t.estimate.hi > 0.02 for t in cls)
    assert claims["Y(d)"].verdict != SUPPORTED


# ---- statistics of each claim, by hand ------------------------------------------------------
def test_transfer_ratio_by_hand():
    # blocks [in-domain, out-of-domain], rows [tuned, base] (the out-of-domain block joins two test sets)
    assert D.transfer_ratio([np.array([0.9, 0.6]), np.array([0.6, 0.5])]) == pytest.approx(0.1 / 0.3)


def test_normalised_icl_difference_by_hand():
    assert _normalised_diff(np.array([0.6, 0.4, 0.8])) == pytest.approx(0.25)  # (0.6 − 0.4) / 0.8


def test_format_rate_reads_labels_at_the_start(tmp_path):
    from ftscope.experiments.files import CellFiles, CellResult

    rows = [{"id": "a", "prediction": "Positive!"}, {"id": "b", "prediction": "a question?"},
            {"id": "c", "prediction": "negative"}]
    CellFiles(tmp_path).write_result(CellResult({"n": 3}, rows))
    assert D.format_values(str(tmp_path), ("positive", "negative")) == {"a": 1.0, "b": 0.0, "c": 1.0}


def _est(value: float, se: float = 0.01, df: float = 1e6) -> Estimate:
    return Estimate(value, se, df, value - 1.96 * se, value + 1.96 * se)


@pytest.mark.parametrize("test, decision", [
    (Hypothesis("gain < +2", "non-superiority", _est(-0.01), threshold=0.02), SUPPORTED),  # well below the margin
    (Hypothesis("gain < +2", "non-superiority", _est(0.06), threshold=0.02), CONTRADICTED),  # well above it
    (Hypothesis("gain < +2", "non-superiority", _est(0.02, se=0.03), threshold=0.02), UNKNOWN),
    (Hypothesis("within ±2", "equivalence", _est(0.0, se=0.005), threshold=0.02), SUPPORTED),
    (Hypothesis("within ±2", "equivalence", _est(0.0, se=0.05), threshold=0.02), UNKNOWN),  # straddles, too wide
    (Hypothesis("within ±2", "equivalence", _est(-0.08, se=0.01), threshold=0.02), CONTRADICTED),
    (Hypothesis("< 0.1", "below", _est(0.02), threshold=0.1), SUPPORTED),
    (Hypothesis("> 0.5", "above", Estimate(1.0, 0.0, 3, 1.0, 1.0), threshold=0.5), SUPPORTED),  # no variation at all
    (Hypothesis("> 0", "direction", _est(0.01, se=0.02), expected=+1), UNKNOWN),
    (Hypothesis("< 0", "direction", _est(0.05), expected=-1), CONTRADICTED),
])
def test_each_kind_of_test_decides_as_its_hypothesis_says(test, decision):
    assert test.decide(0.05, 1.0) == decision


def test_holm_is_applied_across_every_adequate_claims_tests():
    def claim(key: str, p_value: float) -> Claim:
        z = -__import__("scipy.stats", fromlist=["norm"]).norm.ppf(p_value)  # one-sided p of a direction test
        c = Claim(key, "", "", "", tests=[Hypothesis("t", "direction", _est(z * 0.01), +1)], adequate=True)
        return c

    claims = [claim("a", 0.01), claim("b", 0.04), claim("c", 0.03)]
    scales = holm_scales(claims)
    adjusted = sorted(t.p * scales[id(t)] for c in claims for t in c.tests)
    from statsmodels.stats.multitest import multipletests

    expected = sorted(multipletests([0.01, 0.04, 0.03], method="holm")[1])
    # the p-values are recomputed from a t with 10^6 df, not the normal they were built from: equal to 1e-4
    assert adjusted == pytest.approx(expected, rel=1e-4)
    decided = decide(claims, 0.05)
    assert [c.verdict for c in decided] == [SUPPORTED, UNKNOWN, UNKNOWN]  # 0.03, 0.04 → 0.06, 0.06 after Holm


def test_a_claim_with_an_inadequate_design_is_left_out_of_the_family():
    good = Claim("a", "", "", "", tests=[Hypothesis("t", "direction", _est(0.03), +1)], adequate=True)
    bad = Claim("b", "", "", "", tests=[Hypothesis("t", "direction", _est(0.03), +1)], reasons=["1 seed"])
    decide([good, bad], 0.05)
    assert good.verdict == SUPPORTED and bad.verdict == UNKNOWN and math.isnan(bad.tests[0].p_holm)


def test_verdict_rules_come_from_the_experiment(tmp_path):
    store = write_synthetic_store(tmp_path, experiment="x", n=60, rag=False, study=models(methods=("lora",)))
    strict = replace(VerdictRules(), min_seeds=3)
    claims = {c.key: c for c in analyse(store.rows("x"), str(tmp_path), "x", rules=strict).claims}
    assert all(c.verdict == UNKNOWN for c in claims.values())
    assert any("the rule asks 3" in r for r in claims["Y(b)"].reasons)
