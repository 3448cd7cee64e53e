"""RAG per domain: each tuned model's answers against the base's, same corpus, retriever, k and questions.

Barnett et al. (2024) ask whether fine-tuning on a domain helps a model answer from retrieved passages;
they graded answers with an LLM for accuracy and completeness. Here the judge's grades (1–5, when the
run has a judge) sit beside EM / token F1 / contains (against the gold answers), completeness and
faithfulness (grounding in the passages shown). Every delta is paired by question id. Cells are paired
in the same prompt format; a tuned model asked in its training format is also set against the base in
the pipeline's own (instruct) format, so that a format mismatch is not read as lost ability.
"""

from __future__ import annotations

import pandas as pd

from ftscope.report.data import resample as boot
from ftscope.report.data import pairs as C
from ftscope.report.data.cells import RAG_METRICS

LONG_KEEP = ["model", "model_label", "group", "base", "method", "method_label", "tune", "train_datasets",
             "train_kind", "n", "seed", "corpus_name", "format", "retriever", "k", "judge", "hash", "status", "label",
             "dir", "n_questions"]
RAG_IDENT = ["group", "model_label", "method", "train_datasets", "n", "seed", "corpus_name", "format", "retriever",
             "k", "metric"]
JUDGE_METRICS = ("judge_accuracy", "judge_completeness")  # Barnett et al.'s grades: the claim's primary
AUTOMATIC_METRICS = ("f1", "em", "contains", "completeness", "faithfulness")


def long_form(rags: pd.DataFrame) -> pd.DataFrame:
    """One row per rag cell, corpus and answer metric, shaped like an eval row (metric, score, se)."""
    if rags.empty:
        return pd.DataFrame(columns=[*LONG_KEEP, "metric", "score", "se", "n_examples", "setting"])
    parts = [rags[LONG_KEEP].assign(metric=m, score=rags[m], se=rags[f"{m}_se"], n_examples=rags["n_questions"],
                                    setting=rags["setting"] + "|" + m,
                                    instruct_setting=rags["setting"].str.replace('"format":"train"',
                                                                                 '"format":"instruct"') + "|" + m)
             for m in RAG_METRICS]
    long = pd.concat(parts, ignore_index=True)
    return long[long["score"].notna() | (long["status"] != "done")]


def format_matched(long: pd.DataFrame) -> pd.DataFrame:
    """Tuned cells asked in their training format beside the base asked in the pipeline's instruct format."""
    left = long[(long["method"] != "base") & (long["format"] == "train")]
    right = long[(long["method"] == "base") & (long["format"] == "instruct")]
    return C.pair_frame(left, right, ["base", "instruct_setting"], ["base", "setting"])


def rag_deltas(rags: pd.DataFrame, res: boot.Resampler) -> pd.DataFrame:
    """Per tuned rag cell, corpus and metric: base score, tuned score, paired delta with CI."""
    records = [{**{k: row[k] for k in RAG_IDENT}, "base_score": row["score_b"], "score": row["score"],
                **C.compare(res, C.side(row), C.side(row, "_b")), "hash": row["hash"], "base_hash": row["hash_b"]}
               for row in C.complete(C.with_base(long_form(rags))).to_dict("records")]
    return C.with_q(pd.DataFrame.from_records(records))


def rag_scores(rags: pd.DataFrame) -> pd.DataFrame:
    """Every done rag cell's metrics as they are (base included), for the per-domain table."""
    cols = ["model_label", "corpus_name", "format", "retriever", "k", "judge", *RAG_METRICS, "recall", "mrr",
            "n_questions"]
    done = rags[rags["status"] == "done"]
    done = done.assign(_tuned=done["method"] != "base").sort_values(["corpus_name", "format", "_tuned",
                                                                     "model_label"])
    return done[cols].reset_index(drop=True)


AGREEMENT = {"judge_accuracy": "f1", "judge_completeness": "completeness"}  # judge grade ↔ automatic score


def judge_agreement(rags: pd.DataFrame) -> pd.DataFrame:
    """Per graded RAG cell: Spearman's ρ between the judge's grades and the automatic scores over its
    questions — how far the judge can be trusted to measure what the automatic scores measure."""
    from scipy.stats import spearmanr

    from ftscope.experiments.files import CellFiles

    columns = ["model_label", "corpus_name", "format", "judge", "questions", *[f"rho_{j}_{a}" for j, a in
                                                                                 AGREEMENT.items()]]
    records = []
    for row in rags[(rags["status"] == "done") & rags["judge"].notna()].to_dict("records"):
        scores = [r.get("scores") or {} for r in CellFiles(row["dir"]).predictions()]
        record = {k: row[k] for k in columns[:4]} | {"questions": len(scores)}
        for judge, auto in AGREEMENT.items():
            pairs = [(s[judge], s[auto]) for s in scores if judge in s and auto in s]
            rho = spearmanr(*zip(*pairs)).statistic if len(pairs) > 2 else float("nan")
            record[f"rho_{judge}_{auto}"] = float(rho)
        records.append(record)
    return pd.DataFrame.from_records(records, columns=columns)
