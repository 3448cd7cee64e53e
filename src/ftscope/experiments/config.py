"""Experiment YAML → a validated config. Every error names file:line and the key, before anything runs.

    name: demo
    store: runs/demo                    # relative to the working directory
    models: [smollm2-135m]
    train:
      methods: [lora, fticl]
      datasets: [amazon, socialqa]      # each trained on alone; [amazon, paws] as one item = a mixture
      n: [200]
      seeds: [0]
      params: {epochs: 1}               # any TrainSpec field, for every method
      method_params: {fticl: {fticl_k: 2, tune: lora}}
    eval:
      datasets: [amazon, sst2, socialqa]   # names, task names or `paper`
      shots: [0, 2]
      templates: [p1]
      scoring: first-token
      limit: 100
    rag:                                # optional
      corpora: [../shared/data/squad_shifts/nyt_v1.0.json]
      retriever: bm25
      k: 3
      limit: 100
      judge: gemma3-270m                # grades answers 1–5; never a model under test
    verdicts: {min_seeds: 2}            # optional: ftscope.specs.VerdictRules
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, Union

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ftscope.errors import ConfigError
from ftscope.specs import DType, FewshotSelection, RagFormat, RetrieverName, Role, Scoring, TemplateId, VerdictRules
from ftscope.yaml_files import parse_yaml, read_yaml_text


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TrainGrid(_Strict):
    methods: list[str] = ["lora"]
    datasets: list[Union[str, list[str]]] = []
    n: list[int] = [200]
    seeds: list[int] = [0]
    params: dict[str, Any] = {}
    method_params: dict[str, dict[str, Any]] = {}


class EvalGrid(_Strict):
    datasets: list[str] = []
    shots: Union[list[int], Literal["paper"]] = [0]  # "paper": each task's shot counts from the paper
    templates: list[TemplateId] = ["p1"]
    scoring: Scoring = "first-token"
    limit: int | None = Field(default=None, ge=1)
    fewshot: FewshotSelection = "first"
    fewshot_seed: int = 0
    max_new_tokens: int | None = Field(default=None, ge=1)
    # Shot counts for a fine-tuned model's test sets of one role, in place of `shots`: {cross-task: [0]} skips
    # the k-shot cross-task cells, which no claim's primary test reads (Yang's k-shot claim is on in-domain
    # and out-of-domain cells) and which cost a third of a study's evaluation. The base runs every count of
    # `shots` and of these, so each tuned cell keeps its base partner.
    role_shots: dict[Role, list[int]] = {}
    base: bool = True  # evaluate the untouched base model too (the reference of every delta)
    # lm-evaluation-harness tasks (general capability retention), scored by ftscope's engine: stock task
    # names when the hub is reachable, or tasks from YAMLs in `lm_eval_include`
    lm_eval_tasks: list[str] = []
    lm_eval_include: str | None = None

    @field_validator("shots")
    @classmethod
    def _non_negative(cls, shots: list[int] | str) -> list[int] | str:
        if isinstance(shots, list) and any(k < 0 for k in shots):
            raise ValueError("shot counts must be 0 or more")
        return shots

    @field_validator("role_shots")
    @classmethod
    def _role_shots(cls, role_shots: dict[str, list[int]]) -> dict[str, list[int]]:
        if any(not counts or any(k < 0 for k in counts) for counts in role_shots.values()):
            raise ValueError("each role needs a list of shot counts, each 0 or more")
        return role_shots

    def plain_shots(self, task_shots: tuple[int, ...]) -> list[int]:
        """`shots`, with "paper" read as the task's own counts from the paper."""
        return list(task_shots) if self.shots == "paper" else list(self.shots)

    def shots_for(self, task_shots: tuple[int, ...], role: str | None) -> list[int]:
        """The shot counts of one test set: the role's own for a fine-tuned model, else `plain_shots`; for the
        base (role None) every count any role runs."""
        default = self.plain_shots(task_shots)
        if role is not None:
            return list(self.role_shots.get(role, default))
        return sorted(set(default).union(*self.role_shots.values()))


class RagGrid(_Strict):
    corpora: list[str] = []
    retriever: RetrieverName = "bm25"
    k: int = Field(default=3, ge=1)
    limit: int | None = Field(default=None, ge=1)
    max_new_tokens: int = Field(default=32, ge=1)
    # instruct for every model; `train` adds the QA training format for every model, so a tuned model is
    # also asked as it was trained (and the base in the same words, to pair with it).
    formats: list[RagFormat] = ["instruct", "train"]
    judge: str | None = None  # a local model (name, folder, hub id) or an OpenAI-compatible endpoint URL
    judge_template: str | None = None
    questions: str | None = None  # JSONL questions, for a corpus that is a folder of documents


class TunedModel(_Strict):
    """A fine-tune made elsewhere (an adapter or model folder, or a hub id), audited against the base."""

    path: str
    trained_on: list[str] = []  # its training datasets, so evaluations get their roles
    label: str | None = None
    soft_prompt: bool = False  # a ProMoT folder evaluated with its soft prompt attached


class ExperimentConfig(_Strict):
    name: str
    store: str = "runs/store"
    models: list[str] = ["smollm2-135m"]
    data_dir: str | None = None
    datasets: list[dict[str, Any]] = []  # user datasets, as in `ftscope eval --spec`
    train: TrainGrid | None = None
    tuned: list[TunedModel] = []
    eval: EvalGrid = EvalGrid()
    rag: RagGrid | None = None
    verdicts: VerdictRules = VerdictRules()
    dtype: DType = "float32"
    device: str = "auto"
    threads: int | None = Field(default=None, ge=1)  # CPU threads per worker; None: cores / workers
    # Training cells running at once across this machine's local workers; None: one per worker. Training is a
    # study's memory peak (weights, gradients, optimizer state and activations; a SmolLM2 LoRA cell ~2.4 GB),
    # so 1 lets `--workers 2` evaluate beside one training within the memory of one. Ray schedules by resources.
    train_at_once: int | None = Field(default=None, ge=1)
    batch_tokens: int = Field(default=4096, ge=64)  # padded tokens per evaluation forward pass
    # MB of KV cache that rows generating together may fill (prompts and every new token): a decoding step
    # reads all weights whatever the rows, so fuller steps are faster; this bounds the memory it costs.
    decode_kv_mb: int = Field(default=1024, ge=16)
    trust_remote_code: bool = False  # runs code from a model repository: off unless asked
    train_gpus: float = 0  # GPUs a training cell requests from Ray
    # Where trained models travel between Ray nodes: None through Ray's object store (adapters, small
    # models); an fsspec URL every node reaches (s3://bucket/x, gs://…, a shared path) for large ones.
    artefacts: str | None = None
    source: str = ""  # the YAML file this came from (set by the loader)


def load_experiment(path: str | Path, overrides: list[str] = ()) -> ExperimentConfig:
    path = Path(path)
    text = read_yaml_text(path, "experiment file")
    raw = parse_yaml(text, path) or {}
    root = yaml.compose(text)  # parsed once already: the nodes give each key its line for the messages
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the top level must be a mapping with at least `name:`")
    for item in overrides:
        _override(raw, item, path)
    try:
        return ExperimentConfig.model_validate({**raw, "source": str(path)})
    except ValidationError as e:
        err = e.errors()[0]
        # drop pydantic's union-branch tags ("list[int]", "literal['paper']") from the key path
        loc = [str(x) for x in err["loc"] if "[" not in str(x)]
        raise ConfigError(f"{path}:{_line(root, loc)}: {'.'.join(loc)}: {_message(err)}") from None


def _message(err: dict) -> str:
    if err["type"] in ("extra_forbidden", "unexpected_keyword_argument"):
        return "unknown key (check its spelling)"
    return err["msg"]


def _line(node: Any, loc: list[str]) -> int:
    """The line of the deepest YAML node on the error's path (1-based)."""
    line = node.start_mark.line + 1 if node is not None else 1
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            match = next(((k, v) for k, v in node.value if k.value == key), None)
            if match is None:
                break
            node, line = match[1], match[0].start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode) and key.isdigit() and int(key) < len(node.value):
            node = node.value[int(key)]
            line = node.start_mark.line + 1
        else:
            break
    return line


def _override(raw: dict, item: str, path: Path) -> None:
    """`a.b=c` on the command line: the value is parsed as YAML (numbers, lists, booleans)."""
    if "=" not in item:
        raise ConfigError(f"override '{item}': expected key.path=value, e.g. eval.limit=50")
    keys, value = item.split("=", 1)
    target = raw
    *parents, last = keys.split(".")
    for key in parents:
        target = target.setdefault(key, {})
        if not isinstance(target, dict):
            raise ConfigError(f"{path}: override '{item}': '{key}' is not a mapping")
    target[last] = yaml.safe_load(value)


def where(config: ExperimentConfig, *loc: Any) -> str:
    """`file:line: a.b.c` for a key of the config's YAML; just `a.b.c` for a config built by a command
    (`ftscope eval`), which has no file to point into."""
    key = ".".join(map(str, loc))
    if not config.source:
        return key
    try:
        root = yaml.compose(Path(config.source).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        root = None
    return f"{config.source}:{_line(root, [str(x) for x in loc])}: {key}"
