"""lm-eval's logged samples and aggregates for one task as an ftscope `EvalResult`.

Used both on a run made here (`simple_evaluate(..., log_samples=True)`) and on a run read back from
lm-eval's output folder, so a result means the same thing whichever way it arrived. One Prediction
per document, from the task's first filter (lm-eval logs one sample per document and filter; the
other filters' metrics join `scores` as `metric,filter`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from ftscope.evaluation.evaluate import EvalResult
from ftscope.specs import EvalSpec
from ftscope.types import Prediction

# The per-item metric that is the task's accuracy, in order of preference; otherwise the first
# logged metric whose every value is 0 or 1.
MAIN_METRICS = ("acc", "exact_match")
LM_EVAL_ROW_KEYS = ("name", "alias", "sample_len", "sample_count")


@dataclass(frozen=True)
class TaskRun:
    """What lm-eval reported about one task: aggregates (`results[task]`), settings and samples."""

    task: str
    results: Mapping[str, Any]
    config: Mapping[str, Any]
    n_shot: int
    version: Any
    higher_is_better: Mapping[str, Any]
    samples: Sequence[Mapping[str, Any]]
    limit: int | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    @classmethod
    def from_results(cls, out: Mapping[str, Any], task: str, samples: Sequence[Mapping[str, Any]],
                     notes: tuple[str, ...] = ()) -> "TaskRun":
        """One task of lm-eval's results dict (simple_evaluate's return or a results_*.json)."""
        limit = (out.get("config") or {}).get("limit")
        return cls(task, out["results"][task], out["configs"][task], int(out["n-shot"][task]),
                   out["versions"].get(task), out["higher_is_better"].get(task, {}), samples,
                   None if limit is None else int(limit), notes)


def to_eval_result(run: TaskRun) -> EvalResult:
    by_doc, main_filter = _by_document(run.samples)
    main = _main_metric([s for s, _ in by_doc.values()])
    preds = [_prediction(run, sample, others, main) for sample, others in by_doc.values()]
    metrics = _metrics(run, preds, main, main_filter)
    spec = EvalSpec(dataset=f"lm-eval:{run.task}", shots=run.n_shot, template="lm-eval", scoring="loglik",
                    limit=run.limit)
    return EvalResult(spec, preds, metrics, list(run.notes) + _notes(run, by_doc, main))


def _by_document(samples: Sequence[Mapping[str, Any]]) -> tuple[dict[int, tuple[Mapping, list[Mapping]]], str]:
    """doc_id → (its sample under the first filter, its samples under the others), in doc order; lm-eval
    logs every document under its first filter before any under the next."""
    main_filter = samples[0].get("filter", "none") if samples else "none"
    main = {int(s["doc_id"]): s for s in samples if s.get("filter", "none") == main_filter}
    others: dict[int, list[Mapping]] = {doc: [] for doc in main}
    for s in samples:
        if s.get("filter", "none") != main_filter:
            others[int(s["doc_id"])].append(s)
    return {doc: (main[doc], others[doc]) for doc in sorted(main)}, main_filter


def _main_metric(samples: Sequence[Mapping[str, Any]]) -> str | None:
    names = list(samples[0].get("metrics", [])) if samples else []
    binary = [n for n in names if all(_is_binary(s.get(n)) for s in samples)]
    return next((n for n in MAIN_METRICS if n in binary), binary[0] if binary else None)


def _is_binary(value: Any) -> bool:
    return isinstance(value, (bool, int, float)) and float(value) in (0.0, 1.0)


def _prediction(run: TaskRun, sample: Mapping, others: list[Mapping], main: str | None) -> Prediction:
    prediction, gold = _answer_texts(run, sample)
    scores = _item_scores(sample, "")
    for other in others:
        scores.update(_item_scores(other, f",{other.get('filter')}"))
    correct = bool(sample[main]) if main else None
    return Prediction(str(sample["doc_id"]), prediction, gold, correct, scores)


def _item_scores(sample: Mapping, suffix: str) -> dict[str, float]:
    """Every numeric per-item metric; lm-eval logs perplexity items as (log-likelihood, units) pairs,
    kept as name[0] and name[1]; non-numeric items (e.g. BLEU's (reference, prediction)) are left out."""
    scores: dict[str, float] = {}
    for name in sample.get("metrics", []):
        value = sample.get(name)
        if isinstance(value, (bool, int, float)):
            scores[name + suffix] = float(value)
        elif isinstance(value, (list, tuple)) and all(isinstance(v, (int, float)) for v in value):
            scores.update({f"{name}[{i}]{suffix}": float(v) for i, v in enumerate(value)})
    return scores


def _answer_texts(run: TaskRun, sample: Mapping) -> tuple[str, str]:
    """(what the model answered, the gold answer) as text."""
    output_type, target = run.config.get("output_type"), sample.get("target")
    if output_type == "multiple_choice":
        delimiter = run.config.get("target_delimiter", " ")
        choices = [_strip_prefix(str(args[1]), delimiter) for args in sample["arguments"]]
        scores = [float(r[0]) for r in sample["filtered_resps"]]
        return choices[max(range(len(scores)), key=scores.__getitem__)], _gold_choice(target, choices)
    gold = " | ".join(map(str, target)) if isinstance(target, list) else str(target)
    if output_type == "generate_until":
        resp = sample["filtered_resps"]
        return str(resp[0] if isinstance(resp, list) and resp else resp), gold
    return json.dumps(sample.get("filtered_resps"), default=str), gold


def _gold_choice(target: Any, choices: list[str]) -> str:
    if isinstance(target, list):
        return " | ".join(_gold_choice(t, choices) for t in target)
    if isinstance(target, int) or (isinstance(target, str) and target.isdigit() and int(target) < len(choices)):
        return choices[int(target)]
    return str(target)


def _strip_prefix(text: str, prefix: str) -> str:
    return text[len(prefix):] if prefix and text.startswith(prefix) else text


def _metrics(run: TaskRun, preds: list[Prediction], main: str | None, main_filter: str) -> dict[str, Any]:
    metrics: dict[str, Any] = {}
    if main is not None:
        correct = [float(p.correct) for p in preds]
        metrics["accuracy"] = sum(correct) / len(correct) if correct else float("nan")
        metrics["accuracy_se"] = mean_stderr(correct)
    metrics.update({k: _plain(v) for k, v in run.results.items() if k not in LM_EVAL_ROW_KEYS})
    metrics["n"] = len(preds)
    metrics["lm_eval"] = {"task": run.task, "version": run.version, "n-shot": run.n_shot,
                          "higher_is_better": dict(run.higher_is_better), "output_type": run.config.get("output_type"),
                          "metric_names": sorted(run.higher_is_better), "main_metric": main, "filter": main_filter}
    return metrics


def mean_stderr(values: list[float]) -> float:
    """lm-eval's own standard error of a mean (sample SD / sqrt(n)), the number it reports as acc_stderr."""
    from lm_eval.api.metrics import mean_stderr as lm_eval_mean_stderr

    return float(lm_eval_mean_stderr(values)) if len(values) >= 2 else float("nan")


def _plain(value: Any) -> Any:
    """numpy scalars as floats; lm-eval's "N/A" (no standard error) as None."""
    if value == "N/A":
        return None
    return float(value) if hasattr(value, "item") else value


def _notes(run: TaskRun, by_doc: Mapping, main: str | None) -> list[str]:
    if main is not None:
        return []
    logged = ", ".join(run.higher_is_better) or "none"
    return [f"lm-eval:{run.task}: no per-item right/wrong metric (logged: {logged}); each item keeps its "
            f"metrics in scores and `correct` is None, so paired accuracy tests do not apply"]
