"""Every verdict says what it is about: this run's model, methods, data, seeds and items, and how that
differs from the study whose claim it checks. "In this run" is part of the verdict's wording."""

from __future__ import annotations

import pandas as pd

from ftscope.report.findings.claims import BARNETT, FTSCOPE, PROMOT, YANG
from ftscope.report.findings.evidence import Claim

# The studies' own settings, as their papers report them.
STUDIES = {
    YANG: "Llama-2-7b (a 7B base model), full fine-tuning and FTICL, 2,000–6,000 examples per task, 2 epochs, "
          "the first 250 items of each test set, Prompt-1 and Prompt-2",
    PROMOT: "mT5-XXL (13B), a soft prompt then full fine-tuning on one task, in-context evaluation on other tasks",
    BARNETT: "Mistral-7B and Llama-2-7B fine-tuned on 200–1,000 question–answer pairs of one domain, in a RAG "
             "pipeline, answers graded for accuracy and completeness by a GPT-4 judge (G-Eval)",
    FTSCOPE: "lm-evaluation-harness benchmarks, tuned against its own base",
}


def _model(evals: pd.DataFrame) -> str:
    base = evals[(evals["method"] == "base") & evals["model_params"].notna()]
    rows = base if len(base) else evals[evals["model_params"].notna()]
    if rows.empty:
        return ", ".join(sorted(evals["base"].dropna().unique())) or "no model evaluated yet"
    r = rows.iloc[0]
    quant = f", from a {r['model_quant']} (de-quantized to {r['model_dtype']})" if r["model_quant"] else \
        f", {r['model_dtype']}"
    kind = "instruct" if r["model_instruct"] else "base"
    return f"{r['base']} ({r['model_params'] / 1e6:,.0f}M parameters{quant}, {kind} model)"


def _values(series: pd.Series) -> str:
    found = sorted({str(int(v)) if isinstance(v, float) and v.is_integer() else str(v) for v in series.dropna()})
    return ", ".join(found) or "–"


def run_scope(evals: pd.DataFrame, train: pd.DataFrame) -> str:
    """The run's own setting, one line."""
    tuned = evals[evals["method"] != "base"]
    items = evals["n_examples"].dropna()
    parts = [_model(evals), f"methods {_values(tuned['method_label'])}", f"n = {_values(tuned['n'])}",
             f"epochs {_values(train['epochs']) if 'epochs' in train else '–'}",
             f"seeds {_values(tuned['seed'])}",
             (f"{int(items.min())} items per cell" if items.min() == items.max() else
              f"{int(items.min())}–{int(items.max())} items per cell") if len(items) else "no items scored yet",
             f"templates {_values(evals['template'])}"]
    return "; ".join(parts)


def rag_scope(rags: pd.DataFrame, train: pd.DataFrame) -> str:
    """The RAG claim's setting: its models, questions, retriever, formats and judge (not the eval cells')."""
    tuned = rags[rags["method"] != "base"]
    questions = rags["n_questions"].dropna()
    parts = [", ".join(sorted(rags["base"].dropna().unique())) or "no model answered yet",
             f"methods {_values(tuned['method_label'])}", f"n = {_values(tuned['n'])}",
             f"epochs {_values(train['epochs']) if 'epochs' in train else '–'}", f"seeds {_values(tuned['seed'])}",
             f"{_values(questions)} questions per cell" if len(questions) else "no questions answered yet",
             f"corpora {_values(rags['corpus_name'])}", f"retriever {_values(rags['retriever'])}, k {_values(rags['k'])}",
             f"formats {_values(rags['format'])}", f"judge {_values(rags['judge'])}"]
    return "; ".join(parts)


def attach(claims: list[Claim], evals: pd.DataFrame, train: pd.DataFrame,
           rags: pd.DataFrame | None = None) -> list[Claim]:
    line = run_scope(evals, train)
    rag_line = rag_scope(rags, train) if rags is not None and len(rags) else line
    for c in claims:
        here = rag_line if c.source == BARNETT else line
        c.scope = f"In this run: {here}. The study: {STUDIES.get(c.source, 'see its paper')}."
    return claims
