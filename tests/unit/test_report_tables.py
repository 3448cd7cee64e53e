"""Store → tables on a synthetic store written through the real Store API (base, LoRA, FTICL, ProMoT, RAG)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from ftscope.report.analysis import analyse
from synthetic_models import Model
from synthetic_store import write_synthetic_store
from ftscope.report.table import eval_table, rag_table
from ftscope.report.tables import write_tables
from ftscope.report.values import example_values


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return write_synthetic_store(tmp_path_factory.mktemp("store"), experiment="demo")


@pytest.fixture(scope="module")
def analysis(store):
    return analyse(store.rows("demo"), str(store.root), "demo")


def _mean(cell_dir, metric):
    return float(np.mean(list(example_values(cell_dir, metric).values())))


def test_eval_table_has_one_row_per_done_cell_with_roles_and_metrics(store):
    table = eval_table(store.rows("demo"))
    assert len(table) == 14 * 8  # 14 models × 4 datasets × 2 shot counts
    lora = table[(table["model_label"] == "lora amazon n=200 seed=0") & (table["shots"] == 0)].set_index("dataset")
    assert lora["role"].to_dict() == {"amazon": "in-domain", "sst2": "out-of-domain", "xsum": "cross-task",
                                      "xlsum": "cross-task"}
    assert lora.loc["sst2", "metric"] == "accuracy" and lora.loc["xsum", "metric"] == "rougeL"
    assert lora.loc["amazon", "train_kind"] == "classification"
    base = table[table["method"] == "base"]
    assert base["role"].isna().all() and len(base) == 8
    assert table["score"].notna().all() and (table["n_examples"] == 200).all()


def test_generalization_deltas_match_the_prediction_files(analysis):
    gen = analysis.gen
    assert len(gen) == 13 * 8
    assert np.allclose(gen["delta"], gen["score"] - gen["base_score"])
    row = gen[(gen["model_label"] == "lora xsum n=200 seed=1") & (gen["dataset"] == "sst2") & (gen["shots"] == 4)]
    row = row.iloc[0]
    cells = analysis.evals.set_index("hash")
    tuned = _mean(cells.loc[row["hash"], "dir"], "accuracy")
    base = _mean(cells.loc[row["base_hash"], "dir"], "accuracy")
    assert row["delta"] == pytest.approx(tuned - base)
    assert row["lo"] <= row["delta"] <= row["hi"]
    assert row["test"].startswith("mcnemar")
    gen_row = gen[(gen["dataset"] == "xlsum") & (gen["shots"] == 0)].iloc[0]
    assert gen_row["test"] == "bootstrap" and gen_row["metric"] == "rougeL"


def test_base_zero_shot_and_best_in_context_stand_beside_each_cell(analysis):
    gen, evals = analysis.gen, analysis.evals
    base = evals[(evals["method"] == "base")].set_index(["dataset", "shots"])["score"]
    row = gen[(gen["dataset"] == "sst2") & (gen["shots"] == 0)].iloc[0]
    assert row["base_0shot"] == pytest.approx(base[("sst2", 0)])
    assert row["base_icl"] == pytest.approx(base[("sst2", 4)]) and row["base_icl_shots"] == 4
    assert row["vs0shot_delta"] == pytest.approx(row["score"] - base[("sst2", 0)])
    assert row["vsicl_delta"] == pytest.approx(row["score"] - base[("sst2", 4)])


def test_seed_summary_and_sample_size_curves(analysis):
    groups = analysis.groups
    lora = groups[(groups["group"] == "lora amazon n=200") & (groups["role"] == "in-domain") & (groups["shots"] == 0)]
    assert lora["seeds"].item() == 2
    per_seed = analysis.gen.query("group == 'lora amazon n=200' and role == 'in-domain' and shots == 0")["delta"]
    assert lora["delta_mean"].item() == pytest.approx(per_seed.mean())
    assert lora["delta_sd"].item() == pytest.approx(per_seed.std(ddof=1))
    sizes = analysis.sizes.query("method == 'lora' and train_datasets == 'amazon' and role == 'in-domain' "
                                 "and shots == 0")
    assert sorted(sizes["n"]) == [100, 200]
    by_n = sizes.set_index("n")["delta_mean"]
    assert by_n[200] > by_n[100]  # the synthetic in-domain effect grows with n


def test_fticl_is_paired_with_plain_lora_of_the_same_data_and_seed(analysis):
    fticl = analysis.fticl
    assert len(fticl) == 4 * 8
    assert set(zip(fticl["model_label"].str.replace("fticl-lora", "lora"), fticl["plain_label"])) == {
        (label, label) for label in fticl["plain_label"]}
    assert np.allclose(fticl["delta"], fticl["score"] - fticl["plain_score"])
    off = fticl[(fticl["train_datasets"] == "xsum") & (fticl["role"] != "in-domain")]
    assert (off["delta"] > 0).mean() > 0.8  # the synthetic FTICL gain off-domain for generation training


def test_promot_normalised_in_context_average(analysis):
    cells, summary = analysis.promot_cells, analysis.promot_summary
    icl = cells[cells["shots"] > 0]
    expected = (icl["score"] / icl["base_score"]).mean()
    row = summary[summary["scope"] == "in-context, all roles"].iloc[0]
    assert row["promot"] == pytest.approx(expected)
    assert row["plain"] == pytest.approx((icl["plain_score"] / icl["base_score"]).mean())
    assert row["promot_lo"] <= row["promot"] <= row["promot_hi"] and row["base"] == 1.0
    assert row["diff"] == pytest.approx(row["promot"] - row["plain"])


def test_rag_tables_pair_tuned_with_base_by_question(store, analysis):
    rags = rag_table(store.rows("demo"))
    assert sorted(rags["method"]) == ["base", "lora"]
    deltas = analysis.rag_deltas.set_index("metric")
    assert set(deltas.index) == {"em", "f1", "contains", "completeness", "faithfulness"}
    f1 = deltas.loc["f1"]
    assert f1["delta"] == pytest.approx(f1["score"] - f1["base_score"])
    assert f1["hi"] < 0  # the synthetic RAG penalty for the tuned model


def test_tables_are_written_as_csv_and_json(analysis, tmp_path):
    written = write_tables(analysis.tables(), tmp_path)
    assert {"generalization", "claims", "rag_deltas", "sample_size", "promot_summary"} <= set(written)
    gen = pd.read_csv(tmp_path / "tables" / "generalization.csv")
    assert len(gen) == len(analysis.gen) and "delta" in gen
    records = json.loads((tmp_path / "tables" / "generalization.json").read_text())
    assert records[0]["shots"] in (0, 4) and isinstance(records[0]["n"], int)


def test_a_model_tuned_elsewhere_is_its_own_model_and_pairs_with_the_base(tmp_path):
    """`ftscope audit` models: method "tuned", a folder instead of a train cell, no n or seed."""
    models = [Model("base"), Model("tuned", "amazon")]
    store = write_synthetic_store(tmp_path, experiment="audit", models=models, rag=False)
    analysis = analyse(store.rows("audit"), str(tmp_path), "audit")
    assert set(analysis.evals["model"]) == {"base:smollm2-135m", "/models/amazon-tuned"}
    gen = analysis.gen
    assert len(gen) == 8 and set(gen["group"]) == {"tuned amazon-tuned"}
    assert set(gen["role"]) == {"in-domain", "out-of-domain", "cross-task"}
    assert {c.key: c.verdict for c in analysis.claims}["3"] == "supported"
