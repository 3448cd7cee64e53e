"""A synthetic store with known effects, written through the real Store API: for tests and a report demo.

Scores follow `Effects` (the studies' findings by default), so a test can flip one effect and know the
verdict the report must reach. Examples share a latent difficulty per test set, so models are
correlated as real ones are, which is what paired statistics exploit.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ftscope.report.stats import seed_of

BASE = "smollm2-135m"
DATASETS = {"amazon": ("sentiment", "classification"), "sst2": ("sentiment", "classification"),
            "xsum": ("summary", "generation"), "xlsum": ("summary", "generation")}
HOME = {"sentiment": "amazon", "summary": "xsum"}


@dataclass(frozen=True)
class Effects:
    """Score shifts (0–1 scale) relative to the base at 0 shots; in-context gains added at k > 0."""

    base: dict = field(default_factory=lambda: {"classification": 0.55, "generation": 0.18})
    icl_base: float = 0.12  # the base's gain from in-context examples
    icl_tuned: float = 0.02  # a fine-tuned model's gain (less: claim 2)
    icl_promot: float = 0.11  # ProMoT keeps most of the base's gain (claim 5)
    in_domain: float = 0.25
    ood: dict = field(default_factory=lambda: {"classification": 0.12, "generation": -0.03})  # by training kind
    cross: dict = field(default_factory=lambda: {"classification": -0.08, "generation": -0.05})  # by training kind
    fticl: dict = field(default_factory=lambda: {"classification": -0.01, "generation": 0.06})  # off-domain
    rag_tuned: float = -0.12  # tuned − base answer F1 in RAG (claim 6)


@dataclass(frozen=True)
class Model:
    method: str
    dataset: str | None = None
    n: int | None = None
    seed: int | None = None
    tune: str | None = None

    @property
    def task(self) -> str | None:
        return DATASETS[self.dataset][0] if self.dataset else None

    def train_spec(self) -> dict:
        return {"model": BASE, "method": self.method, "datasets": [self.dataset], "n": self.n, "seed": self.seed,
                "tune": self.tune or self.method}

    @property
    def trained_here(self) -> bool:
        """False for the base and for a model tuned elsewhere ("tuned": a folder, no train cell)."""
        return self.method not in ("base", "tuned")

    def spec(self, train_hash: str | None) -> dict:
        """The eval spec's model, as the experiment grid writes it."""
        if self.method == "base":
            return {"base": BASE, "method": "base", "tune": None, "train_datasets": [], "train_task": None,
                    "n": None, "seed": None, "hash": None}
        tune = self.tune if self.method in ("fticl", "promot") else None
        extra = {"path": f"/models/{self.dataset}-tuned"} if self.method == "tuned" else {}
        return {"base": BASE, "method": self.method, "tune": tune, "train_datasets": [self.dataset],
                "train_task": self.task, "n": self.n, "seed": self.seed, "hash": train_hash, **extra}

    def label(self) -> str:
        if self.method == "base":
            return f"base {BASE}"
        if self.method == "tuned":
            return f"tuned {self.dataset}-tuned"
        method = f"{self.method}-{self.tune}" if self.method in ("fticl", "promot") and self.tune else self.method
        return f"{method} {self.dataset} n={self.n} seed={self.seed}"


def default_models() -> list[Model]:
    models = [Model("base")]
    models += [Model("lora", d, n, s, "lora") for d in HOME.values() for n in (100, 200) for s in (0, 1)]
    models += [Model("fticl", d, 200, s, "lora") for d in HOME.values() for s in (0, 1)]
    return models + [Model("promot", "amazon", 200, 0, "lora")]


def true_score(m: Model, dataset: str, shots: int, fx: Effects) -> float:
    task, kind = DATASETS[dataset]
    score = fx.base[kind] + (fx.icl_base if shots else 0.0)
    if m.method == "base":
        return score
    train_kind = DATASETS[m.dataset][1]
    where = "in" if dataset == m.dataset else "ood" if task == m.task else "cross"
    shift = {"in": fx.in_domain, "ood": fx.ood[train_kind], "cross": fx.cross[train_kind]}[where]
    shift *= (m.n or 200) / 200 if where == "in" else 1.0
    shift += fx.fticl[train_kind] if m.method == "fticl" and where != "in" else 0.0
    gain = fx.icl_promot if m.method == "promot" else fx.icl_tuned
    jitter = 0.004 * ((m.seed or 0) - 0.5)
    return float(np.clip(score + shift + (gain - fx.icl_base if shots else 0.0) + jitter, 0.02, 0.98))


def example_rows(m: Model, dataset: str, shots: int, fx: Effects, n: int) -> list[dict]:
    """Per-example predictions: a shared latent difficulty per test set plus a little model noise."""
    kind = DATASETS[dataset][1]
    latent = np.random.default_rng(seed_of("latent", dataset)).random(n)
    noise = np.random.default_rng(seed_of(m, dataset, shots)).random(n)
    p = true_score(m, dataset, shots, fx)
    if kind == "classification":
        correct = (0.85 * latent + 0.15 * noise) < p
        return [{"id": f"{dataset}-{i}", "prediction": "positive" if c else "negative", "gold": "positive",
                 "correct": bool(c), "scores": {"positive": -0.1, "negative": -2.0}} for i, c in enumerate(correct)]
    rouge = np.clip(p + 0.25 * (latent - 0.5) + 0.06 * (noise - 0.5), 0, 1)
    return [{"id": f"{dataset}-{i}", "prediction": "text", "gold": "reference", "correct": None,
             "scores": {"rougeL": float(r)}} for i, r in enumerate(rouge)]


def eval_metrics(rows: list[dict]) -> dict:
    if rows and rows[0]["correct"] is not None:
        x = np.array([r["correct"] for r in rows], dtype=float)
        acc, se = float(x.mean()), float(x.std(ddof=1) / np.sqrt(x.size))
        return {"accuracy": acc, "accuracy_se": se, "macro_f1": acc, "macro_f1_se": se, "n": x.size,
                "n_unknown_label": 0, "labels": {"positive": {"gold": x.size, "predicted": int(x.sum()),
                                                              "correct": int(x.sum())}}}
    x = np.array([r["scores"]["rougeL"] for r in rows])
    mean, se = float(x.mean()), float(x.std(ddof=1) / np.sqrt(x.size))
    return {"rougeL": mean, "rougeL_se": se, "rouge1": mean + 0.04, "rouge1_se": se, "rouge2": mean / 3,
            "rouge2_se": se, "bleu": mean * 40, "bleu_se": se * 40, "n": x.size}


def rag_rows(m: Model, fx: Effects, n: int) -> list[dict]:
    """Per question scores, flat as the report's contract has them; tuned models shift F1 by `rag_tuned`."""
    latent = np.random.default_rng(seed_of("rag-latent")).random(n)
    noise = np.random.default_rng(seed_of(m, "rag")).random(n)
    f1 = np.clip(0.45 + (fx.rag_tuned if m.method != "base" else 0) + 0.5 * (latent - 0.5) + 0.1 * (noise - 0.5), 0, 1)
    return [{"id": f"q{i}", "question": "?", "prediction": "a", "answers": ["a"], "retrieved": ["p1", "p2", "p3"],
             "em": float(v > 0.6), "f1": float(v), "contains": float(v > 0.4), "completeness": float(v),
             "faithfulness": float(min(1.0, v + 0.2))} for i, v in enumerate(f1)]


def rag_metrics(rows: list[dict], corpus: str) -> dict:
    out: dict = {"n": len(rows), "recall@3": 0.8, "mrr": 0.7}
    for name in ("em", "f1", "contains", "completeness", "faithfulness"):
        x = np.array([r[name] for r in rows])
        out[name], out[f"{name}_se"] = float(x.mean()), float(x.std(ddof=1) / np.sqrt(x.size))
    return {"rag": {corpus: out}}


def manifest(m: Model) -> dict:
    steps = 12 * (m.n or 200) // 100
    curve = [{"step": i + 1, "loss": 2.5 * np.exp(-i / steps * 2) + 0.4} for i in range(steps)]
    return {"method": m.method, "wall_seconds": 30.0 * steps, "loss_curve": curve,
            "tokens": {"processed": 50_000 * steps, "tokens_per_second": 1800.0},
            "weight_change": {"mean_abs": 1e-4 * (m.n or 200) / 100},
            "heldout": {"base_loss": 2.9, "tuned_loss": 2.6}}
