"""build_report end to end: a full store, an empty one, a partial one, and the page's self-containment."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from ftscope.errors import ConfigError
from ftscope.experiments.store import Store
from ftscope.report import build_report
from synthetic_models import Model, models
from synthetic_store import write_synthetic_store

SECTIONS = ["Overview", "Claims", "Generalization", "Figures", "Items that flipped", "RAG", "Training",
            "What is missing"]
SMALL = [Model("base"), Model("lora", "amazon", 0), Model("promot", "amazon", 0), Model("lora", "xsum", 0)]


@pytest.fixture(scope="module")
def full_report(tmp_path_factory):
    study = models(methods=("lora", "fticl"), sets_per_kind=3)
    store = write_synthetic_store(tmp_path_factory.mktemp("store"), experiment="demo", study=study, n=120)
    out = tmp_path_factory.mktemp("out")
    return build_report(store.root, out, "demo"), out


def test_full_report_writes_markdown_html_tables_and_figures(full_report):
    page, out = full_report
    assert page == out / "report.html" and page.is_file()
    markdown = (out / "report.md").read_text()
    for title in SECTIONS:
        assert f"## {title}" in markdown
    assert markdown.count("**Verdict: supported.**") >= 3 and "In this run: smollm2-135m" in markdown
    assert "Holm-adjusted together" in markdown and "Benjamini–Hochberg" in markdown
    assert (out / "tables" / "generalization.csv").is_file() and (out / "tables" / "claims.json").is_file()
    assert (out / "tables" / "flips.parquet").is_file()
    figures = {p.name for p in (out / "figures").iterdir()}
    assert {"heatmap_lora.png", "heatmap_lora.svg", "methods.svg", "rag.png"} <= figures


def test_html_is_self_contained(full_report):
    html = full_report[0].read_text()
    assert not re.search(r"""(src|href)\s*=\s*['"]?(https?:|//|file:)""", html)
    assert "<link" not in html and "<script src" not in html and "@import" not in html and "url(" not in html
    images = re.findall(r"<img [^>]*src='([^']+)'", html)
    assert len(images) >= 5 and all(src.startswith("data:image/png;base64,") for src in images)
    for title in SECTIONS:
        assert f">{title}</h2>" in html


def test_empty_store_folder_gets_a_report_and_stays_untouched(tmp_path):
    page = build_report(tmp_path, tmp_path / "out")
    text = (tmp_path / "out" / "report.md").read_text()
    assert page.is_file() and "nothing has run" in text and "cannot tell" in text
    assert not (tmp_path / "index.sqlite").exists()  # the report only reads


def test_store_without_cells_and_unknown_experiment(tmp_path):
    Store(tmp_path / "store")
    assert build_report(tmp_path / "store", tmp_path / "a").is_file()
    build_report(tmp_path / "store", tmp_path / "b", experiment="nope")
    assert "experiment 'nope' is not in this store" in (tmp_path / "b" / "report.md").read_text()
    with pytest.raises(ConfigError, match="no such store folder"):
        build_report(tmp_path / "missing", tmp_path / "c")


def _leave(cell):
    if cell.kind == "eval" and cell.model.method == "promot":
        return "pending"
    if cell.kind == "eval" and cell.model.is_base and cell.spec.dataset == "xlsum" and cell.spec.shots:
        return "failed"
    if cell.kind == "train" and cell.spec.datasets == ("xsum",):
        return "running"
    return None


def test_partial_store_reports_what_exists_and_names_what_is_missing(tmp_path):
    store = write_synthetic_store(tmp_path / "store", experiment="demo", study=SMALL, leave=_leave, n=60)
    lora = {(r["cell"].spec.dataset, r["cell"].spec.shots): r["dir"] for r in store.rows("demo")
            if r["kind"] == "eval" and r["cell"].model.label == "lora amazon n=200 seed=0"}
    (Path(lora[("sst2", 0)]) / "metrics.json").unlink()  # done, yet unreadable: reported, not fatal
    (Path(lora[("sst2", 2)]) / "predictions.jsonl").unlink()  # no pairing: a normal approximation, marked †
    build_report(store.root, tmp_path / "out", "demo")
    text = (tmp_path / "out" / "report.md").read_text()
    missing = text[text.index("## What is missing"):]
    assert "| failed | eval | eval base smollm2-135m on xlsum 2-shot p1 | RuntimeError: CUDA out of memory" in missing
    assert "train lora xsum n=200 seed=0" in missing and "running" in missing
    assert "eval promot(lora) amazon n=200 seed=0 +prompt on amazon 2-shot p1 | " in missing  # pending
    claims = text[text.index("## Claims"):text.index("## Generalization")]
    assert "### Claim P(a)" in claims and "**Verdict: cannot tell.**" in claims
    assert "add a second seed" in claims  # one seed: the reason and the fix, named in the claim
    html = (tmp_path / "out" / "report.html").read_text()
    assert "CUDA out of memory" in html and "lora amazon n=200 seed=0" in html
    assert "eval lora amazon n=200 seed=0 on sst2 0-shot p1: done, but metrics.json is missing" in missing
    assert re.search(r"\| lora amazon n=200 seed=0 \| out-of-domain \| sst2 \| 2 \|[^\n]*†", text)


def test_report_never_imports_torch_or_the_model_layers():
    code = ("import sys, ftscope.report, ftscope.report.findings.analysis, synthetic_store; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('torch', 'transformers') or "
            "m.startswith(('ftscope.models', 'ftscope.training', 'ftscope.evaluation'))]; print(bad)")
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           cwd=Path(__file__).resolve().parents[1])  # tests/, where synthetic_store lives
    assert found.stdout.strip() == "[]"
