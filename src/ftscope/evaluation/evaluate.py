"""evaluate(lm, dataset, spec) → per-example predictions and scores, for one evaluation cell."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from ftscope.evaluation import metrics as M
from ftscope.errors import DataError
from ftscope.prompts import context, render, select_demos, template_for
from ftscope.specs import EvalSpec
from ftscope.tasks import Dataset, Task
from ftscope.types import TEXT_CHARS, Example, LanguageModel, Prediction


@dataclass
class EvalResult:
    spec: EvalSpec
    predictions: list[Prediction]
    metrics: dict[str, Any]
    notes: list[str] = field(default_factory=list)


def evaluate(lm: LanguageModel, dataset: Dataset, spec: EvalSpec) -> EvalResult:
    task, data = dataset.task, dataset.head(spec.limit)
    template = template_for(task, spec.template)
    demos = select_demos(dataset.fewshot or dataset.examples[len(data.examples):], spec.shots,
                         spec.fewshot, spec.fewshot_seed, dataset.fewshot_source or dataset.source)
    prefix = context(template, task, demos)
    cut_before = getattr(lm, "truncated", 0)
    run = _classify if task.is_classification else _generate
    result = run(lm, task, data, spec, template, prefix)
    return _note_truncation(result, getattr(lm, "truncated", 0) - cut_before, spec, data, lm)


def _note_truncation(result: EvalResult, cut: int, spec: EvalSpec, data: Dataset, lm: Any) -> EvalResult:
    """Prompts longer than the model's context are cut from the left (the oldest demonstrations first). At
    0 shots that cuts the input itself: a note when it happens to some items, an error when to all."""
    if not cut:
        return result
    window = getattr(lm, "max_length", "?")
    if spec.shots == 0 and cut >= len(result.predictions):
        raise DataError(f"{data.source}: every input is longer than the model's context ({window} tokens); "
                        "give shorter inputs or a model with a longer context")
    what = "their oldest demonstrations" if spec.shots else "the start of their input"
    result.notes.append(f"{data.name}: {cut} prompt(s) were longer than the model's context ({window} tokens) "
                        f"and lost {what}")
    result.metrics["n_truncated"] = cut
    return result


def item_text(example: Example) -> str:
    return " | ".join(example.fields.values())[:TEXT_CHARS]


def _classify(lm, task: Task, data: Dataset, spec: EvalSpec, template: str, prefix: str) -> EvalResult:
    known = [ex for ex in data.examples if ex.target in task.labels]
    unknown = len(data.examples) - len(known)
    if not known:
        raise DataError(f"{data.source}: none of its labels is one of {', '.join(task.labels)} (task '{task.name}'); "
                        "map raw values onto labels with `labels:` in the dataset spec")
    raw = lm.score_choices(prefix, [render(template, ex) for ex in known],
                           [task.verbalize(lab) for lab in task.labels],
                           "first-token" if spec.scoring == "first-token" else "loglik")
    norms = np.array([max(1, len(task.verbalize(lab).encode())) for lab in task.labels], dtype=float)
    ranked = np.array(raw) / norms if spec.scoring == "loglik-norm" else np.array(raw)
    preds = [
        Prediction(ex.id, task.labels[int(np.argmax(r))], ex.target, task.labels[int(np.argmax(r))] == ex.target,
                   dict(zip(task.labels, map(float, s))), item_text(ex))
        for ex, r, s in zip(known, ranked, raw)
    ]
    metrics = classification_metrics(preds, task.labels)
    if spec.scoring == "loglik" and raw:
        norm_pred = [task.labels[int(i)] for i in np.argmax(np.array(raw) / norms, axis=1)]
        metrics["accuracy_norm"] = M.accuracy(norm_pred, [p.gold for p in preds])
    metrics["n_unknown_label"] = unknown
    notes = [f"{data.name}: {unknown} item(s) carry a label outside {{{', '.join(task.labels)}}}; "
             "they were left out of every score"] if unknown else []
    return EvalResult(spec, preds, metrics, notes)


def classification_metrics(preds: list[Prediction], labels: tuple[str, ...]) -> dict[str, Any]:
    pred, gold = [p.prediction for p in preds], [p.gold for p in preds]
    pick = lambda idx: ([pred[i] for i in idx], [gold[i] for i in idx])  # noqa: E731
    return {
        "accuracy": M.accuracy(pred, gold),
        "accuracy_se": M.mean_se([p == g for p, g in zip(pred, gold)]),
        "macro_f1": M.macro_f1(pred, gold, labels),
        "macro_f1_se": M.bootstrap_se(len(pred), lambda idx: M.macro_f1(*pick(idx), labels), samples=200),
        "labels": M.label_counts(pred, gold, labels),
        "n": len(preds),
    }


def _generate(lm, task: Task, data: Dataset, spec: EvalSpec, template: str, prefix: str) -> EvalResult:
    texts = lm.generate(prefix, [render(template, ex) for ex in data.examples],
                        spec.max_new_tokens or task.max_new_tokens, spec.stop)
    preds = [Prediction(ex.id, t.strip(), ex.target, text=item_text(ex)) for ex, t in zip(data.examples, texts)]
    metrics = generation_metrics(preds)
    per_example = M.rouge_per_example([p.prediction for p in preds], [p.gold for p in preds])
    preds = [replace(p, scores={"rougeL": r}) for p, r in zip(preds, per_example["rougeL"])]
    return EvalResult(spec, preds, metrics)


def generation_metrics(preds: list[Prediction]) -> dict[str, Any]:
    pred, ref = [p.prediction for p in preds], [p.gold for p in preds]
    rouge = M.rouge_per_example(pred, ref)
    out: dict[str, Any] = {}
    for name, values in rouge.items():
        out[name], out[f"{name}_se"] = float(np.mean(values)) if values else float("nan"), M.mean_se(values)
    out["bleu"] = M.bleu(pred, ref)
    out["bleu_se"] = M.bootstrap_se(len(pred), lambda idx: M.bleu([pred[i] for i in idx], [ref[i] for i in idx]),
                                    samples=100)
    out["n"] = len(preds)
    return out
