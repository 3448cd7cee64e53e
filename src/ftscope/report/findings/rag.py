"""RAG per domain: each tuned model's answers against the base's, same corpus, retriever, k and questions.

Barnett et al. (2024) ask whether fine-tuning on a domain helps a model answer from retrieved passages;
the answer metrics here are EM / token F1 / contains (against the gold answers), completeness and
faithfulness (grounding in the passages shown). Every delta is paired by question id.
"""

from __future__ import annotations

import pandas as pd

from ftscope.report import boot, compare as C
from ftscope.report.table import RAG_METRICS

LONG_KEEP = ["model", "model_label", "group", "base", "method", "tune", "train_datasets", "n", "seed",
             "corpus_name", "retriever", "k", "hash", "status", "label", "dir", "n_questions"]
RAG_IDENT = ["group", "model_label", "method", "train_datasets", "n", "seed", "corpus_name", "retriever", "k",
             "metric"]
CLAIM_METRIC = "f1"  # token F1: graded, so it sees partial answers that EM misses


def long_form(rags: pd.DataFrame) -> pd.DataFrame:
    """One row per rag cell, corpus and answer metric, shaped like an eval row (metric, score, se)."""
    if rags.empty:
        return pd.DataFrame(columns=[*LONG_KEEP, "metric", "score", "se", "n_examples", "setting"])
    parts = [rags[LONG_KEEP].assign(metric=m, score=rags[m], se=rags[f"{m}_se"], n_examples=rags["n_questions"],
                                    setting=rags["setting"] + "|" + rags["corpus_name"] + "|" + m)
             for m in RAG_METRICS]
    return pd.concat(parts, ignore_index=True)


def rag_deltas(rags: pd.DataFrame, res: boot.Resampler) -> pd.DataFrame:
    """Per tuned rag cell, corpus and metric: base score, tuned score, paired delta with CI."""
    records = [{**{k: row[k] for k in RAG_IDENT}, "base_score": row["score_b"], "score": row["score"],
                **C.compare(res, C.side(row), C.side(row, "_b")), "hash": row["hash"], "base_hash": row["hash_b"]}
               for row in C.complete(C.with_base(long_form(rags))).to_dict("records")]
    return pd.DataFrame.from_records(records)


def rag_scores(rags: pd.DataFrame) -> pd.DataFrame:
    """Every done rag cell's metrics as they are (base included), for the per-domain table."""
    cols = ["model_label", "corpus_name", "retriever", "k", *RAG_METRICS, "recall", "mrr", "n_questions"]
    done = rags[rags["status"] == "done"]
    done = done.assign(_tuned=done["method"] != "base").sort_values(["corpus_name", "_tuned", "model_label"])
    return done[cols].reset_index(drop=True)
