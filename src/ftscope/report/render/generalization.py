"""The generalization sections: per method, per model group, every cell, sample size, FTICL and ProMoT."""

from __future__ import annotations

from ftscope.report.render import format as D
from ftscope.report.findings.analysis import Analysis
from ftscope.report.render.html import Section, Table

GEN_COLUMNS = {"model": "model_label", "role": "role", "dataset": "dataset", "shots": lambda r: D.integer(r["shots"]),
               "template": "template", "score": lambda r: D.pts(r["score"]), "base": lambda r: D.pts(r["base_score"]),
               "Δ [95% CI]": lambda r: D.delta(r["delta"], r["lo"], r["hi"], r["sig"]),
               "base 0-shot": lambda r: D.pts(r.get("base_0shot")),
               "Δ vs base 0-shot": lambda r: D.delta(r.get("vs0shot_delta"), r.get("vs0shot_lo"),
                                                     r.get("vs0shot_hi"), r.get("vs0shot_sig")),
               "base best ICL (k)": lambda r: (f"{D.pts(r.get('base_icl'))} ({D.integer(r.get('base_icl_shots'))})"
                                               if D.pts(r.get("base_icl")) else ""),
               "Δ vs base best ICL": lambda r: D.delta(r.get("vsicl_delta"), r.get("vsicl_lo"), r.get("vsicl_hi"),
                                                       r.get("vsicl_sig"))}


METHOD_COLUMNS = {"method": "method", "role": "role", "task kind": "task_kind", "cells": "cells",
                  "Δ [95% CI]": lambda r: D.delta(r.get("delta"), r.get("lo"), r.get("hi"))}
GROUP_COLUMNS = {"model": "group", "role": "role", "task kind": "task_kind", "shots": lambda r: D.integer(r["shots"]),
                 "Δ mean ± sd": lambda r: D.pm(r["delta_mean"], r["delta_sd"], True), "seeds": "seeds"}
SIZE_COLUMNS = {"method": "method", "training data": "train_datasets", "role": "role", "task kind": "task_kind",
                "shots": lambda r: D.integer(r["shots"]), "n": lambda r: D.integer(r["n"]),
                "score": lambda r: D.pm(r["score_mean"], r["score_sd"]),
                "Δ vs base": lambda r: D.pm(r["delta_mean"], r["delta_sd"], True), "seeds": "seeds"}


def generalization(a: Analysis) -> Section:
    sizes = Table(D.frame(a.sizes, SIZE_COLUMNS), "Score and Δ vs base by training sample size",
                  "tables/sample_size.csv")
    return Section("Generalization", [
        "Each fine-tuned model on its in-domain, out-of-domain and cross-task test sets, against the base model "
        "at the same shot count, at 0 shots, and at its best in-context shot count.",
        Table(D.frame(a.by_method, METHOD_COLUMNS), "Per method: Δ vs base pooled over every cell pair",
              "tables/by_method.csv"),
        Table(D.frame(a.groups, GROUP_COLUMNS), "Per model, averaged over datasets and templates "
              "(mean ± sd over seeds)", "tables/by_group.csv"),
        Table(D.frame(a.gen, GEN_COLUMNS), "Every tuned cell against the base", "tables/generalization.csv",
              collapsed=len(a.gen) > 40),
        Table(D.frame(a.headroom, {"model": "model_label", "role": "role",
                                   "0-shot score": lambda r: D.pts(r["score_0shot"]),
                                   "headroom (100 − score)": lambda r: D.pts(r["headroom"])}),
              "In-context headroom: how much each fine-tuned model could still gain (claim Y(b))",
              "tables/icl_headroom.csv"),
        Section("Sample size", [sizes]), _fticl(a), _promot(a)])


def _fticl(a: Analysis) -> Section:
    table = D.frame(a.fticl, {"model": "model_label", "versus": "plain_label", "role": "role", "dataset": "dataset",
                              "shots": lambda r: D.integer(r["shots"]), "template": "template",
                              "FTICL": lambda r: D.pts(r["score"]), "fine-tuning": lambda r: D.pts(r["plain_score"]),
                              "Δ [95% CI]": lambda r: D.delta(r["delta"], r["lo"], r["hi"], r["sig"])})
    return Section("FTICL vs fine-tuning", [Table(table, "FTICL − plain fine-tuning (same data, n, seed, tuning)",
                                                  "tables/fticl_vs_finetuning.csv", collapsed=len(table) > 40)])


def _promot(a: Analysis) -> Section:
    summary = D.frame(a.promot_summary, {
        "model": "model_label", "scope": "scope", "cells": "cells",
        "ProMoT": lambda r: D.ratio(r["promot"], r["promot_lo"], r["promot_hi"]),
        "fine-tuning": lambda r: D.ratio(r["plain"], r["plain_lo"], r["plain_hi"]), "base": lambda r: "1.000",
        "ProMoT − fine-tuning": lambda r: D.ratio(r["diff"], r["diff_lo"], r["diff_hi"], True)})
    cells = D.frame(a.promot_cells, {
        "model": "model_label", "role": "role", "dataset": "dataset", "shots": lambda r: D.integer(r["shots"]),
        "ProMoT": lambda r: D.pts(r["score"]), "fine-tuning": lambda r: D.pts(r["plain_score"]),
        "base": lambda r: D.pts(r["base_score"]),
        "Δ vs fine-tuning": lambda r: D.delta(r["vsplain_delta"], r["vsplain_lo"], r["vsplain_hi"], r["vsplain_sig"]),
        "Δ vs base": lambda r: D.delta(r["vsbase_delta"], r["vsbase_lo"], r["vsbase_hi"], r["vsbase_sig"])})
    return Section("ProMoT vs fine-tuning and the base", [
        "Normalised in-context average: the mean over in-context (k > 0) cells of score / base score, so the base "
        "is 1.000 and a value below 1 means in-context ability lost.",
        Table(summary, "Normalised in-context averages [95% CI]", "tables/promot_summary.csv"),
        Table(cells, "Every ProMoT cell", "tables/promot_cells.csv", collapsed=len(cells) > 40)])
