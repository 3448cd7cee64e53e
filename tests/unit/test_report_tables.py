"""Store → tables on a synthetic store written through the real Store API (base, LoRA, FTICL, ProMoT, RAG)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from ftscope.report.data.cells import eval_table, rag_table
from ftscope.report.data.values import example_values
from ftscope.report.findings.analysis import analyse
from ftscope.report.render.tables import write_tables
from ftscope.experiments.files import CellResult
from ftscope.specs import EvalCell, EvalSpec, ModelRef, cell_hash
from synthetic_models import Effects, Model, eval_metrics, example_rows, models
from synthetic_store import write_synthetic_store

# One training set per kind (amazon, xsum), two seeds: 1 + 4 LoRA + 4 FTICL + 2 ProMoT models on the test sets
# of sentiment and summary (amazon, sst2, xsum, xlsum) at 0 and 2 shots.
STUDY = models(sets_per_kind=1)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return write_synthetic_store(tmp_path_factory.mktemp("store"), experiment="demo", study=STUDY, n=100)


@pytest.fixture(scope="module")
def analysis(store):
    return analyse(store.rows("demo"), str(store.root), "demo")


def _mean(cell_dir, metric):
    return float(np.mean(list(example_values(cell_dir, metric).values())))


def test_eval_table_has_one_row_per_done_cell_with_roles_and_metrics(store):
    table = eval_table(store.rows("demo"))
    assert len(table) == len(STUDY) * 4 * 2
    lora = table[(table["model_label"] == "lora amazon n=200 seed=0") & (table["shots"] == 0)].set_index("dataset")
    assert lora["role"].to_dict() == {"amazon": "in-domain", "sst2": "out-of-domain", "xsum": "cross-task",
                                      "xlsum": "cross-task"}
    assert lora.loc["sst2", "metric"] == "accuracy" and lora.loc["xsum", "metric"] == "rougeL"
    assert lora.loc["amazon", "train_kind"] == "classification" and lora.loc["amazon", "model_params"] == 134_515_008
    base = table[table["method"] == "base"]
    assert base["role"].isna().all() and len(base) == 8
    assert table["score"].notna().all() and (table["n_examples"] == 100).all()
    promot = table[(table["method"] == "promot") & (table["dataset"] == "amazon")]
    assert promot["soft_prompt"].all()  # in-domain, ProMoT is evaluated with its prompt


def test_generalization_deltas_match_the_prediction_files(analysis):
    gen = analysis.gen
    assert len(gen) == (len(STUDY) - 1) * 8
    assert np.allclose(gen["delta"], gen["score"] - gen["base_score"])
    row = gen[(gen["model_label"] == "lora xsum n=200 seed=1") & (gen["dataset"] == "sst2") & (gen["shots"] == 2)]
    row = row.iloc[0]
    cells = analysis.evals.set_index("hash")
    assert row["delta"] == pytest.approx(_mean(cells.loc[row["hash"], "dir"], "accuracy")
                                         - _mean(cells.loc[row["base_hash"], "dir"], "accuracy"))
    assert row["lo"] <= row["delta"] <= row["hi"] and row["test"].startswith("mcnemar")
    assert 0 <= row["q"] <= 1 and row["q"] >= row["p"]  # Benjamini–Hochberg never lowers a p-value
    gen_row = gen[(gen["dataset"] == "xlsum") & (gen["shots"] == 0)].iloc[0]
    assert gen_row["test"] == "bootstrap" and gen_row["metric"] == "rougeL"


def test_base_zero_shot_and_best_in_context_stand_beside_each_cell(analysis):
    gen, evals = analysis.gen, analysis.evals
    base = evals[(evals["method"] == "base")].set_index(["dataset", "shots"])["score"]
    row = gen[(gen["dataset"] == "sst2") & (gen["shots"] == 0)].iloc[0]
    assert row["base_0shot"] == pytest.approx(base[("sst2", 0)])
    assert row["base_icl"] == pytest.approx(base[("sst2", 2)]) and row["base_icl_shots"] == 2
    assert row["vs0shot_delta"] == pytest.approx(row["score"] - base[("sst2", 0)])


def test_seed_summary(analysis):
    groups = analysis.groups
    lora = groups[(groups["group"] == "lora amazon n=200") & (groups["role"] == "in-domain") & (groups["shots"] == 0)]
    assert lora["seeds"].item() == 2
    per_seed = analysis.gen.query("group == 'lora amazon n=200' and role == 'in-domain' and shots == 0")["delta"]
    assert lora["delta_mean"].item() == pytest.approx(per_seed.mean())
    assert lora["delta_sd"].item() == pytest.approx(per_seed.std(ddof=1))


def test_fticl_is_paired_with_plain_lora_of_the_same_data_and_seed(analysis):
    fticl = analysis.fticl
    assert len(fticl) == 4 * 8
    assert set(zip(fticl["model_label"].str.replace("fticl(lora)", "lora", regex=False), fticl["plain_label"])) == {
        (label, label) for label in fticl["plain_label"]}
    assert np.allclose(fticl["delta"], fticl["score"] - fticl["plain_score"])
    off = fticl[(fticl["train_datasets"] == "xsum") & (fticl["role"] != "in-domain")]
    assert (off["delta"] > 0).mean() > 0.8  # the synthetic FTICL gain off-domain for generation training


def test_promot_normalised_in_context_average(analysis):
    cells, summary = analysis.promot_cells, analysis.promot_summary
    icl = cells[cells["shots"] > 0]
    row = summary[summary["scope"] == "in-context, all roles"].iloc[0]
    mine = icl[icl["model_label"] == row["model_label"]]
    assert row["promot"] == pytest.approx((mine["score"] / mine["base_score"]).mean())
    assert row["plain"] == pytest.approx((mine["plain_score"] / mine["base_score"]).mean())
    assert row["promot_lo"] <= row["promot"] <= row["promot_hi"] and row["base"] == 1.0


def test_rag_tables_pair_tuned_with_base_by_question(store, analysis):
    rags = rag_table(store.rows("demo"))
    assert sorted(set(rags["method"])) == ["base", "lora"]
    deltas = analysis.rag_deltas[analysis.rag_deltas["seed"] == 0].set_index("metric")
    assert {"em", "f1", "contains", "completeness", "faithfulness", "judge_accuracy"} <= set(deltas.index)
    f1 = deltas.loc["f1"]
    assert f1["delta"] == pytest.approx(f1["score"] - f1["base_score"]) and f1["hi"] < 0
    agreement = analysis.judge_agreement
    assert len(agreement) == len(rags) and (agreement["rho_judge_accuracy_f1"] > 0.5).all()


def test_flipped_items_are_the_discordant_pairs(analysis):
    flips, counts = analysis.flips, analysis.flip_counts
    row = analysis.gen[(analysis.gen["model_label"] == "lora amazon n=200 seed=0") & (analysis.gen["dataset"] == "sst2")
                       & (analysis.gen["shots"] == 0)].iloc[0]
    mine = flips[(flips["model_label"] == row["model_label"]) & (flips["dataset"] == "sst2") & (flips["shots"] == 0)]
    lost, gained = (mine["change"] == "lost").sum(), (mine["change"] == "gained").sum()
    assert (gained - lost) / 100 == pytest.approx(row["delta"])  # the delta is exactly gained − lost items
    assert set(mine.columns) >= {"text", "gold", "base_prediction", "tuned_prediction"} and len(counts) > 0


def test_tables_are_written_as_csv_json_and_parquet(analysis, tmp_path):
    written = write_tables(analysis.tables(), tmp_path)
    assert {"generalization", "claims", "rag_deltas", "flips", "promot_summary"} <= set(written)
    gen = pd.read_csv(tmp_path / "tables" / "generalization.csv")
    assert len(gen) == len(analysis.gen) and "delta" in gen
    assert len(pd.read_parquet(tmp_path / "tables" / "generalization.parquet")) == len(gen)
    records = json.loads((tmp_path / "tables" / "generalization.json").read_text())
    assert records[0]["shots"] in (0, 2) and isinstance(records[0]["n"], int)


def test_a_model_tuned_elsewhere_is_its_own_model_and_pairs_with_the_base(tmp_path):
    """`ftscope audit` models: method "tuned", a folder instead of a train cell, no n or seed."""
    store = write_synthetic_store(tmp_path, experiment="audit", study=[Model("base")], rag=False, n=60)
    tuned = ModelRef("smollm2-135m", "tuned", train_datasets=("amazon",), train_tasks=("sentiment",),
                     train_kinds=("classification",), path="/models/amazon-tuned", name="tuned amazon-tuned")
    for dataset in ("amazon", "sst2"):
        cell = EvalCell(tuned, EvalSpec(dataset, 0, limit=60), "sentiment", "classification")
        store.register("audit", [cell])
        rows = example_rows(Model("lora", "amazon", 0), dataset, 0, Effects(), 60)
        store.claim(cell_hash(cell), "w")
        store.files(cell_hash(cell)).write_result(CellResult(eval_metrics(rows), rows))
        store.complete(cell_hash(cell), "w")
    analysis = analyse(store.rows("audit"), str(tmp_path), "audit")
    gen = analysis.gen
    assert set(gen["group"]) == {"tuned amazon-tuned"} and set(gen["role"]) == {"in-domain", "out-of-domain"}
    assert set(analysis.evals["model"]) >= {"base:smollm2-135m", "path:/models/amazon-tuned"}
