"""A synthetic study with known effects, for tests of the report and its verdicts.

Scores follow `Effects` (the studies' findings by default) plus variance at every level a real study has:
a shift per training set (`sd_train`), per seed (`sd_seed`), and per-item noise on top of a latent
difficulty shared by every model on the same test set (so models are correlated as real ones are, which
is what paired statistics exploit). A test flips one effect and knows the verdict the report must reach.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ftscope.stats.draws import seed_of
from ftscope.specs import ModelRef

BASE = "smollm2-135m"
# test set → (task, kind); the first dataset of each task is its training set. Three tasks per kind, so a
# study can have three training sets per kind (the third task of each is invented: a synthetic world).
DATASETS = {"amazon": ("sentiment", "classification"), "sst2": ("sentiment", "classification"),
            "paws": ("detection", "classification"), "qqp": ("detection", "classification"),
            "multinli": ("inference", "classification"), "rte": ("inference", "classification"),
            "xsum": ("summary", "generation"), "xlsum": ("summary", "generation"),
            "socialqa": ("question", "generation"), "sciqa": ("question", "generation"),
            "rocstories": ("story", "generation"), "wpstories": ("story", "generation")}
TRAIN_SETS = {"classification": ("amazon", "paws", "multinli"), "generation": ("xsum", "socialqa", "rocstories")}
LABELS = {"sentiment": ("positive", "negative"), "detection": ("yes", "no"),
          "inference": ("entailment", "neutral", "contradiction")}


@dataclass(frozen=True)
class Effects:
    """Score shifts (0–1 scale) relative to the base at 0 shots; in-context gains added at k > 0."""

    base: dict = field(default_factory=lambda: {"classification": 0.55, "generation": 0.18})
    icl_base: float = 0.12  # the base's gain from in-context examples
    icl_tuned: float = -0.03  # a fine-tuned model's gain (claim Y(b): little or negative)
    icl_promot: float = 0.10  # ProMoT keeps most of the base's gain (claim P(a))
    in_domain: dict = field(default_factory=lambda: {"classification": 0.30, "generation": 0.12})
    ood: dict = field(default_factory=lambda: {"classification": 0.20, "generation": -0.02})  # by training kind
    cross_rouge: float = 0.02  # ROUGE-L of a classification-tuned model on generation (claim Y(c))
    fticl: dict = field(default_factory=lambda: {"classification": 0.0, "generation": 0.08})  # off-domain
    promot_in_task: float = 0.0  # ProMoT − fine-tuning in-domain (claim P(b))
    layer_change: dict = field(default_factory=lambda: {"lora": 0.020, "fticl": 0.012, "promot": 0.015})
    rag_judge: float = -0.8  # tuned − base judge grade (1–5) in RAG (claim B)
    rag_f1: float = -0.10
    sd_train: float = 0.01  # between training sets of one kind
    sd_seed: float = 0.005  # between seeds of one training set


@dataclass(frozen=True)
class Model:
    method: str  # base | lora | fticl | promot
    dataset: str | None = None
    seed: int | None = None
    n: int = 200

    @property
    def kind(self) -> str | None:
        return DATASETS[self.dataset][1] if self.dataset else None

    @property
    def task(self) -> str | None:
        return DATASETS[self.dataset][0] if self.dataset else None

    def train_spec(self) -> dict:
        tune = {"tune": "lora"} if self.method in ("fticl", "promot") else {}
        return {"model": BASE, "method": self.method, "datasets": [self.dataset], "n": self.n, "seed": self.seed,
                "epochs": 1, "options": tune}

    def ref(self, train_hash: str | None) -> ModelRef:
        if self.method == "base":
            return ModelRef(BASE)
        return ModelRef(BASE, self.method, "lora" if self.method in ("fticl", "promot") else None, (self.dataset,),
                        (self.task,), (self.kind,), LABELS.get(self.task, ()), self.n, self.seed, train_hash)


def models(methods=("lora", "fticl", "promot"), seeds=(0, 1), kinds=("classification", "generation"),
           sets_per_kind: int = 3, promot_kinds=("classification",)) -> list[Model]:
    out = [Model("base")]
    for method in methods:
        for kind in kinds if method != "promot" else promot_kinds:
            for dataset in TRAIN_SETS[kind][:sets_per_kind]:
                out += [Model(method, dataset, s) for s in seeds]
    return out


def _shift(m: Model, name: str, fx: Effects) -> float:
    """The model's random offsets: its training set's and its seed's, fixed by name."""
    t = np.random.default_rng(seed_of("train", m.method, m.dataset)).standard_normal() * fx.sd_train
    s = np.random.default_rng(seed_of("seed", m.method, m.dataset, m.seed)).standard_normal() * fx.sd_seed
    return float(t + s)


def true_score(m: Model, dataset: str, shots: int, fx: Effects) -> float:
    task, kind = DATASETS[dataset]
    score = fx.base[kind] + (fx.icl_base if shots else 0.0)
    if m.method == "base":
        return score
    role = "in" if dataset == m.dataset else "ood" if task == m.task else "cross"
    if role == "cross" and kind == "generation" and m.kind == "classification":
        return fx.cross_rouge + _shift(m, dataset, fx) * 0.1
    shift = {"in": fx.in_domain[m.kind], "ood": fx.ood[m.kind], "cross": 0.0}[role]
    shift += fx.fticl[m.kind] if m.method == "fticl" and role != "in" else 0.0
    shift += fx.promot_in_task if m.method == "promot" and role == "in" else 0.0
    gain = fx.icl_promot if m.method == "promot" else fx.icl_tuned
    return float(np.clip(score + shift + (gain - fx.icl_base if shots else 0.0) + _shift(m, dataset, fx), 0.01, 0.99))


def example_rows(m: Model, dataset: str, shots: int, fx: Effects, n: int) -> list[dict]:
    """Per-item predictions: a latent difficulty per test set shared by all models, plus model noise."""
    task, kind = DATASETS[dataset]
    latent = np.random.default_rng(seed_of("latent", dataset)).random(n)
    noise = np.random.default_rng(seed_of(m, dataset, shots)).random(n)
    p = true_score(m, dataset, shots, fx)
    if kind == "classification":
        correct = (0.7 * latent + 0.3 * noise) < p
        return [{"id": f"{dataset}-{i}", "prediction": "yes" if c else "no", "gold": "yes", "correct": bool(c),
                 "scores": {}, "text": f"item {i}"} for i, c in enumerate(correct)]
    rouge = np.clip(p + 0.2 * (latent - 0.5) + 0.1 * (noise - 0.5), 0, 1)
    label_like = m.kind == "classification" and m.method != "base"
    return [{"id": f"{dataset}-{i}", "prediction": LABELS[m.task][0] if label_like else "a question?",
             "gold": "reference", "correct": None, "scores": {"rougeL": float(r)}, "text": f"item {i}"}
            for i, r in enumerate(rouge)]


def eval_metrics(rows: list[dict]) -> dict:
    if rows and rows[0]["correct"] is not None:
        x = np.array([r["correct"] for r in rows], dtype=float)
        return {"accuracy": float(x.mean()), "accuracy_se": float(x.std(ddof=1) / np.sqrt(x.size)), "n": x.size,
                "model": {"params": 134_515_008, "quantized_source": "Q4_1 GGUF", "dtype": "float32",
                          "instruct": True}}
    x = np.array([r["scores"]["rougeL"] for r in rows])
    return {"rougeL": float(x.mean()), "rougeL_se": float(x.std(ddof=1) / np.sqrt(x.size)), "n": x.size}


def rag_rows(m: Model, fx: Effects, n: int) -> list[dict]:
    latent = np.random.default_rng(seed_of("rag-latent")).random(n)
    noise = np.random.default_rng(seed_of(m, "rag")).random(n)
    tuned = m.method != "base"
    f1 = np.clip(0.45 + (fx.rag_f1 if tuned else 0) + 0.5 * (latent - 0.5) + 0.1 * (noise - 0.5), 0, 1)
    grade = np.clip(3.0 + (fx.rag_judge if tuned else 0) + 2.0 * (latent - 0.5) + 0.5 * (noise - 0.5), 1, 5)
    return [{"id": f"q{i}", "question": "?", "prediction": "a", "gold": ["a"], "retrieved": ["p1", "p2", "p3"],
             "scores": {"em": float(v > 0.6), "f1": float(v), "contains": float(v > 0.4), "completeness": float(v),
                        "faithfulness": float(min(1.0, v + 0.2)), "judge_accuracy": float(g),
                        "judge_completeness": float(g)}} for i, (v, g) in enumerate(zip(f1, grade))]


def rag_metrics(rows: list[dict]) -> dict:
    out: dict = {"n": len(rows), "recall@3": 0.8, "mrr": 0.7}
    for name in rows[0]["scores"]:
        x = np.array([r["scores"][name] for r in rows])
        out[name], out[f"{name}_se"] = float(x.mean()), float(x.std(ddof=1) / np.sqrt(x.size))
    return out


def manifest(m: Model, fx: Effects) -> dict:
    steps = 12
    curve = [{"stage": "train", "step": i + 1, "loss": 2.5 * np.exp(-i / steps * 2) + 0.4} for i in range(steps)]
    change = fx.layer_change.get(m.method, 0.02) * (1 + _shift(m, "weights", fx))
    return {"method": m.method, "wall_seconds": 30.0 * steps, "loss_curve": curve,
            "tokens": {"processed": 50_000 * steps, "tokens_per_second": 1800.0},
            "weight_change": {"mean_abs": 1e-4, "layer_relative_change": change, "embedding_share": 0.05},
            "heldout": {"base_loss": 2.9, "tuned_loss": 2.6}, "notes": []}
