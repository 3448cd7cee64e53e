"""One typed description of each thing that flows between the layers: what a model is, what a training
run, an evaluation and a RAG evaluation are, and the cells of an experiment that combine them.

Everything here is frozen, plain data and torch-free, at the bottom layer, so the CLI, the grid, the
workers, the report and a Ray task on another machine all pass the same objects. The allowed values of
each choice are defined once (the Literal types) and reused by the YAML schema, the command-line
options and the checks. A cell's hash is computed in one place (`cell_hash`): it is the cache key and
the folder name of the cell in the store.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Annotated, Any, Literal, Mapping, get_args

from pydantic import ConfigDict, Field

from ftscope.types import TaskKind

Scoring = Literal["first-token", "loglik", "loglik-norm"]
TemplateId = Literal["p1", "p2"]  # the paper's Prompt-1 (also the training format) and Prompt-2
FewshotSelection = Literal["first", "random", "balanced"]
RetrieverName = Literal["bm25", "dense", "hybrid"]
# instruct: the pipeline's instruction prompt in the model's chat template (Barnett et al.'s setting);
# train: the QA training format (`### Context: … ### Answer:`), so a tuned model is also asked the way
# it was trained and a format mismatch is not mistaken for lost ability.
RagFormat = Literal["instruct", "train"]
DType = Literal["float32", "bfloat16"]
Tune = Literal["full", "lora"]
CellKind = Literal["train", "eval", "rag"]
Role = Literal["in-domain", "out-of-domain", "cross-task"]
ROLES: tuple[str, ...] = get_args(Role)
BASE_METHOD = "base"  # the untouched base model
TUNED_ELSEWHERE = "tuned"  # a fine-tune made outside ftscope (a folder or hub id)


def choices(literal: Any) -> tuple[str, ...]:
    """The allowed values of a Literal type, for messages and option help."""
    return tuple(get_args(literal))


def canonical(obj: Any) -> str:
    """The JSON every hash is taken over: sorted keys, no spaces, tuples as lists."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _frozen(value: Any) -> Any:
    """Lists (from JSON or YAML) as tuples, so a spec read back equals the spec written."""
    if isinstance(value, list):
        return tuple(_frozen(v) for v in value)
    return value


def _from_dict(cls: type, data: Mapping[str, Any]) -> Any:
    names = {f.name for f in fields(cls)}
    return cls(**{k: _frozen(v) for k, v in data.items() if k in names})


# ---- models ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class ModelRef:
    """A model as the grid, the workers and the report name it: the base, a model trained by a train
    cell, or a fine-tune made elsewhere. `soft_prompt` marks a ProMoT model evaluated with its soft
    prompt attached (the method's design in-domain); it is the same model, loaded differently."""

    base: str
    method: str = BASE_METHOD
    tune: str | None = None  # what FTICL and ProMoT tuned (full or lora); None for other methods
    train_datasets: tuple[str, ...] = ()
    train_tasks: tuple[str, ...] = ()  # the task of each training dataset, same order
    train_kinds: tuple[str, ...] = ()  # the kind of each training task, same order
    train_labels: tuple[str, ...] = ()  # labels of its classification training tasks (format checks)
    n: int | None = None
    seed: int | None = None
    train_cell: str | None = None  # hash of the train cell that produces it
    path: str | None = None  # a fine-tune made elsewhere: a folder or hub id
    name: str | None = None  # its display name, when the user gave one
    soft_prompt: bool = False

    @property
    def is_base(self) -> bool:
        return self.method == BASE_METHOD

    @property
    def key(self) -> str:
        """The model's identity (the same with or without its soft prompt attached)."""
        if self.is_base:
            return f"base:{self.base}"
        if self.train_cell:
            return f"train:{self.train_cell}"
        return f"path:{self.path}"

    @property
    def load_key(self) -> str:
        """What a worker must load: the identity plus whether the soft prompt goes on."""
        return self.key + ("+prompt" if self.soft_prompt else "")

    @property
    def method_label(self) -> str:
        return f"{self.method}({self.tune})" if self.tune else self.method

    @property
    def group(self) -> str:
        """The model without its seed: the configuration that seeds repeat."""
        if self.is_base:
            return f"base {self.base}"
        if self.method == TUNED_ELSEWHERE:
            return self.name or f"tuned {self.path}"
        return f"{self.method_label} {'+'.join(self.train_datasets)} n={self.n}"

    @property
    def label(self) -> str:
        if self.is_base or self.method == TUNED_ELSEWHERE:
            return self.group
        return f"{self.group} seed={self.seed}"

    @property
    def train_kind(self) -> str | None:
        """classification, generation, `mixed` for a mixture of both, None for the base."""
        kinds = set(self.train_kinds)
        return None if not kinds else kinds.pop() if len(kinds) == 1 else "mixed"

    def role(self, dataset: str, task: str) -> Role | None:
        """The paper's role of a test set for this model; every training set of a mixture is in-domain."""
        if self.is_base or not self.train_datasets:
            return None
        if dataset in self.train_datasets:
            return "in-domain"
        return "out-of-domain" if task in self.train_tasks else "cross-task"

    def with_prompt(self) -> "ModelRef":
        return replace(self, soft_prompt=True)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "ModelRef":
        return _from_dict(cls, data)


# ---- training -------------------------------------------------------------------------------
Options = tuple[tuple[str, Any], ...]


def freeze_options(options: Mapping[str, Any]) -> Options:
    return tuple(sorted((k, _frozen(v)) for k, v in options.items()))


@dataclass(frozen=True)
class TrainSpec:
    """One training run: the fields every method shares, and the method's own `options` (declared and
    validated by the method's module in ftscope.training.methods; held here as sorted pairs so the spec
    stays frozen and hashable).

    Defaults follow the paper's published script (LHRYANG/Generalization_of_FT-LLM, run_train.sh): 2 epochs,
    AdamW, a linear schedule without warm-up, weight decay 0, an effective batch of 16 (2 per device × 8
    accumulation steps). `lr` None means the method's default (see ftscope.training.resolve)."""

    model: str = "smollm2-135m"
    method: str = "full"
    datasets: tuple[str, ...] = ("amazon",)
    proportions: tuple[float, ...] = ()  # one weight per dataset; empty: equal shares
    n: int | None = None  # total examples over all datasets; None: the whole smallest training file
    epochs: int = 2
    lr: float | None = None
    batch_size: int = 2
    grad_accum: int = 8
    seed: int = 0
    max_length: int = 1024  # tokens; longer examples are cut on the right and counted
    # Padded tokens per forward pass: a batch of long rows runs in pieces within this budget. The loss is
    # normalised over the whole optimizer step, so the gradient is the same; only memory changes.
    max_batch_tokens: int = 2048
    template: str = "p1"  # the paper trains on its Prompt-1 format
    checkpoint_every: int = 50  # optimizer steps; 0 turns checkpoints off
    allow_fewer: bool = False
    dtype: DType = "float32"  # weights as loaded
    bf16: bool | None = None  # bf16 autocast; None: on for CUDA, off on CPU
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    options: Options = ()

    def option(self, name: str, default: Any = None) -> Any:
        return dict(self.options).get(name, default)

    def with_options(self, **values: Any) -> "TrainSpec":
        return replace(self, options=freeze_options({**dict(self.options), **values}))

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["options"] = {k: list(v) if isinstance(v, tuple) else v for k, v in self.options}
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "TrainSpec":
        spec = _from_dict(cls, {k: v for k, v in data.items() if k != "options"})
        return replace(spec, options=freeze_options(data.get("options") or {}))

    def hash(self) -> str:
        """sha256 of the spec's canonical JSON. Hash a resolved spec (ftscope.training.resolve), so that
        two specs that train the same way share it."""
        return hashlib.sha256(canonical(self.to_dict()).encode()).hexdigest()


# ---- evaluation -----------------------------------------------------------------------------
@dataclass(frozen=True)
class EvalSpec:
    """One evaluation of one dataset: shots, template, how answers are scored, which items."""

    dataset: str
    shots: int = 0
    template: str = "p1"
    scoring: Scoring = "first-token"
    limit: int | None = None
    fewshot: FewshotSelection = "first"  # first (the paper) | random | balanced
    fewshot_seed: int = 0
    max_new_tokens: int | None = None  # None: the task's (60 generation, 5 classification)
    stop: tuple[str, ...] = ("\n\n",)  # the paper cuts generations at the first blank line
    # lm-eval benchmark cells: what defines the task beyond its name (lm-eval's version; the include folder's
    # content digest), so that an upgraded harness or an edited task YAML re-runs the cell instead of
    # pairing a fresh tuned score with a stale base one. None for ftscope's own test sets.
    task_source: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        if data["task_source"] is None:  # absent rather than null: every other cell keeps the hash it had
            del data["task_source"]
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "EvalSpec":
        return _from_dict(cls, data)


DEFAULT_RAG_TEMPLATE = (
    "Answer the question using the context.\n\nContext:\n{context}\n\nQuestion: {question}\nAnswer:"
)


@dataclass(frozen=True)
class RagSpec:
    """One RAG evaluation. `corpus` is a SQuAD-format .json, a .jsonl or a folder of documents; a
    document corpus needs `questions` (JSONL: id, question, answers, gold_passage_id optional).
    `judge` names the model that grades answers 1–5 (a local model or an OpenAI-compatible URL)."""

    corpus: str
    retriever: RetrieverName = "bm25"
    k: int = 3
    limit: int | None = None
    max_new_tokens: int = 32
    format: RagFormat = "instruct"
    template: str = DEFAULT_RAG_TEMPLATE  # the instruct format's prompt; `train` uses the QA task's
    chunking: str = "paragraph"
    chunk_size: int = 200
    chunk_overlap: int = 50
    passage_budget: int = 256  # tokens per passage before it is cut
    seed: int = 0
    questions: str | None = None
    embedding_model: str | None = None  # None: the packaged all-MiniLM-L6-v2
    judge: str | None = None
    judge_template: str | None = None  # None: the shipped rubric
    cache: bool = True

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "RagSpec":
        return _from_dict(cls, data)


# ---- cells ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class TrainCell:
    spec: TrainSpec  # resolved
    kind: CellKind = field(default="train", init=False)

    @property
    def needs(self) -> str | None:
        return None

    def label(self) -> str:
        s = self.spec
        return f"train {s.method} {'+'.join(s.datasets)} n={s.n} seed={s.seed}"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "spec": self.spec.to_dict()}


@dataclass(frozen=True)
class EvalCell:
    model: ModelRef
    spec: EvalSpec
    task: str
    task_kind: TaskKind
    kind: CellKind = field(default="eval", init=False)

    @property
    def needs(self) -> str | None:
        return self.model.train_cell

    @property
    def role(self) -> Role | None:
        """None for a benchmark: it belongs to no training task, so it is neither in- nor out-of-domain."""
        return None if self.task_kind == "benchmark" else self.model.role(self.spec.dataset, self.task)

    def label(self) -> str:
        prompt = " +prompt" if self.model.soft_prompt else ""
        return f"eval {self.model.label}{prompt} on {self.spec.dataset} {self.spec.shots}-shot {self.spec.template}"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "model": self.model.to_dict(), "spec": self.spec.to_dict(), "task": self.task,
                "task_kind": self.task_kind}


@dataclass(frozen=True)
class RagCell:
    model: ModelRef
    spec: RagSpec
    corpus_name: str
    kind: CellKind = field(default="rag", init=False)

    @property
    def needs(self) -> str | None:
        return self.model.train_cell

    def label(self) -> str:
        return f"rag {self.model.label} on {self.corpus_name} ({self.spec.format} format)"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "model": self.model.to_dict(), "spec": self.spec.to_dict(),
                "corpus_name": self.corpus_name}


Cell = TrainCell | EvalCell | RagCell


def cell_hash(cell: Cell) -> str:
    """The cell's cache key and folder name: 16 hex digits of sha256 over its canonical JSON."""
    return hashlib.sha256(canonical(cell.to_dict()).encode()).hexdigest()[:16]


def cell_from_dict(data: Mapping[str, Any]) -> Cell:
    """A cell read back from the store (or received by a remote worker)."""
    kind = data.get("kind")
    if kind == "train":
        return TrainCell(TrainSpec.from_dict(data["spec"]))
    if kind == "eval":
        return EvalCell(ModelRef.from_dict(data["model"]), EvalSpec.from_dict(data["spec"]), data["task"],
                        data["task_kind"])
    if kind == "rag":
        return RagCell(ModelRef.from_dict(data["model"]), RagSpec.from_dict(data["spec"]), data["corpus_name"])
    raise ValueError(f"not a cell: kind {kind!r}")


# ---- verdicts -------------------------------------------------------------------------------
@dataclass(frozen=True)
class VerdictRules:
    """When a claim may be called supported or contradicted: the one place the thresholds live
    (overridable per experiment under `verdicts:` in the YAML, validated by these annotations). Effects
    are on the 0–1 score scale."""

    __pydantic_config__ = ConfigDict(extra="forbid")

    min_seeds: Annotated[int, Field(ge=1)] = 2  # per compared model configuration
    min_train_sets: Annotated[int, Field(ge=1)] = 2  # per compared group (claims that compare groups)
    min_items: Annotated[int, Field(ge=1)] = 30  # paired test items per cell
    alpha: Annotated[float, Field(gt=0, lt=1)] = 0.05  # family-wise: Holm across the claims' primary tests
    equivalence_margin: Annotated[float, Field(gt=0)] = 0.02  # "no better/worse" claims: TOST at ±2 points
    icl_gain_margin: Annotated[float, Field(ge=0)] = 0.02  # "gains little from in-context examples": < +2 points
    rouge_fail: Annotated[float, Field(gt=0, le=1)] = 0.10  # "fails on generation": ROUGE-L below 0.10 ...
    format_rate: Annotated[float, Field(gt=0, lt=1)] = 0.5  # ... and over half the outputs are training labels
    power: Annotated[float, Field(gt=0, lt=1)] = 0.8  # the power at which the minimum detectable effect is quoted

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> "VerdictRules":
        return _from_dict(cls, data or {})
