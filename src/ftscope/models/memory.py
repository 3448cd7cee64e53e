"""How much memory training a model will take, before anything is loaded: read from its config.json.

The parts, per process: the weights; for every trainable parameter its gradient and AdamW's two moments
(in the parameter's dtype, as torch's AdamW keeps them; PEFT keeps LoRA adapters in fp32 whatever the base);
the activations the backward pass keeps, which grow with the tokens of one forward pass; and the
runtime itself (Python, torch and the libraries on CPU; the CUDA context on a GPU). Sharding (FSDP2)
divides weights, gradients and AdamW state by the number of processes; activations are per process.

Activations. Korthikanti et al. (2022) count s·b·h·(34 + 5·a·s/h) bytes per layer for a GPT block at
16-bit. Measured on the Llama block of transformers 5 (torch 2.13, SDPA attention; bytes of the tensors
autograd saves, deduplicated by storage: benchmarks/memory_estimate.py) that count is off in both
directions: SDPA never materialises the a·s² attention scores (no s² term at all), while the SwiGLU MLP
keeps four intermediate-sized tensors, RMSNorm keeps fp32 copies, and LoRA's dropout keeps a dropped copy
of each adapted layer's input (PEFT's layers: bf16 weights, autocast) or a one-byte mask of it (fp32, where
ftscope's fused LoRA layer computes: training/fused_lora.py). So the estimate uses the measured bytes per
token per layer, c_h·hidden + c_i·intermediate + c_kv·(kv heads × head dim), per what trains and in which precision
(ACTIVATION below; the fitted coefficients came out as integers, the structure being exact), plus the
adapters' rank-sized outputs, plus, under bf16 autocast of fp32 weights, the bf16 copies of every layer's
weights that autocast makes and autograd keeps until the backward pass. Outside the layers: the final
norm and the logits, computed for the target positions only (ftscope's loss reads no others).

It is an estimate to say up front what does not fit and what would (bf16, LoRA, sharding, a smaller
max_batch_tokens), checked against the peak RSS of real runs (benchmarks/memory_estimate.py), not a
promise to the megabyte; every row is at max_length, the worst case.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ftscope.errors import ModelError

GB = 1024 ** 3
FP32, BF16 = 4, 2
# Bytes per token per layer: (per hidden unit, per intermediate unit, per key/value unit), by what trains
# and precision ("fp32" weights; "bf16" weights; "autocast": fp32 weights under bf16 autocast).
ACTIVATION = {
    ("full", "fp32"): (32, 16, 8), ("full", "bf16"): (20, 8, 4), ("full", "autocast"): (30, 8, 4),
    ("lora", "fp32"): (30, 17, 8), ("lora", "bf16"): (60, 14, 4), ("lora", "autocast"): (48, 12, 4),
    ("lora-nodrop", "fp32"): (24, 16, 8), ("lora-nodrop", "bf16"): (36, 10, 4), ("lora-nodrop", "autocast"): (24, 8, 4),
    ("prompt", "fp32"): (16, 12, 8), ("prompt", "bf16"): (12, 6, 4), ("prompt", "autocast"): (12, 6, 4),
}
LORA_RANK_BYTES = {"fp32": 28, "bf16": 28, "autocast": 54}  # per unit of rank per token per layer (7 adapters)
LORA_LINEARS = 7  # q, k, v, o, gate, up, down: what all-linear adapts in a Llama block
HEAD_BYTES_PER_HIDDEN = 8  # final norm and embedding output, per token
LOGIT_BYTES = 12  # per target position and vocabulary entry: fp32 logits, the loss's softmax, their gradient
RUNTIME_GB = {"cpu": 1.0, "cuda": 0.5}  # measured CPU baseline RSS after imports; the CUDA context


@dataclass(frozen=True)
class Shape:
    """What the estimate needs from a model's config.json."""

    params: int
    layers: int
    hidden: int
    heads: int
    vocab: int
    intermediate: int
    kv_hidden: int = 0  # key/value heads × head dim; 0: as hidden (no grouped-query attention)

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "Shape":
        hidden, layers = config["hidden_size"], config["num_hidden_layers"]
        inter = config.get("intermediate_size") or 4 * hidden
        heads = config.get("num_attention_heads") or max(1, hidden // 64)
        head_dim = config.get("head_dim") or hidden // heads
        kv = (config.get("num_key_value_heads") or heads) * head_dim
        vocab = config["vocab_size"]
        attention = 2 * hidden * heads * head_dim + 2 * hidden * kv  # q and o; k and v
        mlp = 3 * hidden * inter  # gate, up, down (Llama-style; a 2-matrix MLP is counted as 3, slightly over)
        embeddings = vocab * hidden * (1 if config.get("tie_word_embeddings", False) else 2)
        return cls(layers * (attention + mlp + 2 * hidden) + embeddings + hidden, layers, hidden, heads, vocab,
                   inter, kv)

    @property
    def layer_params(self) -> int:
        kv = self.kv_hidden or self.hidden
        return 2 * self.hidden * self.hidden + 2 * self.hidden * kv + 3 * self.hidden * self.intermediate


def read_shape(folder: str | Path) -> Shape:
    return Shape.from_config(json.loads((Path(folder) / "config.json").read_text()))


@dataclass(frozen=True)
class Workload:
    """What one training process does, as far as memory goes."""

    tuned: str  # full | lora | prompt (anything else counts as full: the upper bound)
    dtype: str = "float32"  # weights as loaded
    bf16_autocast: bool = False
    batch: int = 2  # rows per micro-batch
    seq_len: int = 1024  # tokens per row, at most (max_length)
    max_batch_tokens: int | None = None  # padded tokens per forward pass (a micro-batch runs in pieces)
    target_len: int = 32  # positions whose logits the loss reads, per row
    lora_r: int = 8
    lora_dropout: float = 0.05
    prompt_tokens: int = 20
    processes: int = 1
    sharded: bool = False  # FSDP2: weights, gradients and AdamW state split over the processes
    device: str = "cpu"  # cpu | cuda: the runtime's own share, and AdamW's foreach temporaries on CUDA

    @property
    def precision(self) -> str:
        if self.dtype in ("bfloat16", "float16"):
            return "bf16"
        return "autocast" if self.bf16_autocast else "fp32"


def trainable_params(shape: Shape, tuned: str, lora_r: int = 8, prompt_tokens: int = 20) -> int:
    """Parameters that get gradients: all (full), LoRA's A and B on every linear layer, or a soft prompt."""
    if tuned == "lora":
        kv = shape.kv_hidden or shape.hidden
        per_layer = lora_r * (2 * (shape.hidden + shape.hidden) + 2 * (shape.hidden + kv)
                              + 3 * (shape.hidden + shape.intermediate))  # q o, k v, mlp
        return shape.layers * per_layer
    if tuned == "prompt":
        return prompt_tokens * shape.hidden
    return shape.params


@dataclass(frozen=True)
class MemoryEstimate:
    weights_gb: float
    gradients_gb: float
    optimizer_gb: float
    activations_gb: float
    runtime_gb: float = 0.0
    step_gb: float = 0.0  # AdamW's foreach temporaries at the step (CUDA), when activations are already freed

    @property
    def total_gb(self) -> float:
        states = self.weights_gb + self.gradients_gb + self.optimizer_gb + self.runtime_gb
        return states + max(self.activations_gb, self.step_gb)

    def fits(self, capacity_gb: float) -> bool:
        return self.total_gb <= capacity_gb

    def rows(self) -> list[tuple[str, float]]:
        rows = [("weights", self.weights_gb), ("gradients", self.gradients_gb), ("AdamW state", self.optimizer_gb),
                ("activations", self.activations_gb), ("runtime", self.runtime_gb)]
        if self.step_gb:
            rows.append(("AdamW step temporaries (instead of activations)", self.step_gb))
        return [*rows, ("total", self.total_gb)]


def footprint(shape: Shape, work: Workload) -> MemoryEstimate:
    """Peak memory of one training process in GB (the module docstring says what it counts and how)."""
    weight_bytes = BF16 if work.precision == "bf16" else FP32
    trainable = trainable_params(shape, work.tuned, work.lora_r, work.prompt_tokens)
    trainable_bytes = FP32 if work.tuned == "lora" else weight_bytes  # PEFT keeps adapters in fp32
    share = work.processes if work.sharded else 1
    # FSDP2 gathers a layer at a time (and prefetches the next); the root's own (embeddings, head) stay whole.
    outside = shape.params - shape.layers * shape.layer_params
    gathered = (2 * shape.layer_params + outside) * (BF16 if work.bf16_autocast else weight_bytes) if share > 1 else 0
    states = trainable * trainable_bytes
    # Sharded with bf16 compute, FSDP2's mixed precision gathers bf16 layers (docs/distributed.md's command):
    # activations as with bf16 weights, and no autocast copies of fp32 weights kept.
    acting = replace(work, dtype="bfloat16") if share > 1 and work.precision == "autocast" else work
    return MemoryEstimate((shape.params * weight_bytes / share + gathered) / GB, states / share / GB,
                          2 * states / share / GB, activation_bytes(shape, acting) / GB,
                          RUNTIME_GB.get(work.device, 0.0), states / share / GB if work.device == "cuda" else 0.0)


def activation_bytes(shape: Shape, work: Workload) -> float:
    """What one forward pass keeps for its backward pass: the largest piece of a micro-batch, rows at seq_len."""
    seq = work.seq_len + (work.prompt_tokens if work.tuned == "prompt" else 0)
    rows = work.batch if not work.max_batch_tokens else max(1, min(work.batch, work.max_batch_tokens // max(1, seq)))
    copies = shape.layer_params * BF16 if work.precision == "autocast" else 0  # autocast's bf16 weights, kept
    logits = rows * (work.target_len + 1) * shape.vocab * (LOGIT_BYTES + (BF16 if work.precision != "fp32" else 0))
    layers = shape.layers * (rows * seq * layer_bytes_per_token(shape, work) + copies)
    return layers + rows * seq * HEAD_BYTES_PER_HIDDEN * shape.hidden + logits


def layer_bytes_per_token(shape: Shape, work: Workload) -> float:
    """What one decoder layer keeps for backward per token (ACTIVATION, plus LoRA's rank-sized outputs)."""
    kind = work.tuned if work.tuned in ("lora", "prompt") else "full"
    kind = "lora-nodrop" if kind == "lora" and work.lora_dropout == 0 else kind
    c_h, c_i, c_kv = ACTIVATION[(kind, work.precision)]
    per_token = c_h * shape.hidden + c_i * shape.intermediate + c_kv * (shape.kv_hidden or shape.hidden)
    return per_token + (LORA_RANK_BYTES[work.precision] * work.lora_r if kind.startswith("lora") else 0)


def estimate(shape: Shape, tuned: str, dtype: str, bf16_autocast: bool, batch: int, seq_len: int,
             target_len: int = 32, lora_r: int = 8, prompt_tokens: int = 20,
             max_batch_tokens: int | None = None) -> MemoryEstimate:
    """The positional form `ftscope plan` calls (experiments.planning); see `footprint` for the others."""
    return footprint(shape, Workload(tuned, dtype, bf16_autocast, batch, seq_len, max_batch_tokens, target_len,
                                     lora_r, prompt_tokens=prompt_tokens))


def what_would_fit(shape: Shape, work: Workload, capacity_gb: float) -> list[tuple[str, float]]:
    """Changes that bring the estimate under `capacity_gb`, each with its total: bf16 weights, LoRA, and
    sharding over the fewest processes (up to 8) that fits."""
    options = [("bf16 weights (dtype: bfloat16)", replace(work, dtype="bfloat16")),
               ("LoRA instead of full fine-tuning", replace(work, tuned="lora"))]
    shards = [replace(work, processes=n, sharded=True) for n in (2, 4, 8)]
    fitting = next((w for w in shards if footprint(shape, w).fits(capacity_gb)), None)
    if fitting is not None:
        options.append((f"FSDP2 sharding over {fitting.processes} processes", fitting))
    found = [(label, footprint(shape, w).total_gb) for label, w in options if w != work]
    return [(label, total) for label, total in found if total <= capacity_gb]


def device_memory() -> tuple[str, float]:
    """(what, GB) of the memory a run here trains in: the first CUDA device's, else the machine's RAM."""
    import psutil
    import torch

    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        return f"CUDA {props.name}", props.total_memory / GB
    return "CPU RAM", psutil.virtual_memory().total / GB


def model_config(reference: str) -> dict[str, Any]:
    """A model's config.json without its weights: a local or built-in model's folder, or the hub cache
    (downloading that one file when the hub is reachable and allowed)."""
    from ftscope.models.hub import is_hub_id, offline, split_revision
    from ftscope.models.loading import resolve_model_path

    if not is_hub_id(reference):
        return json.loads((Path(resolve_model_path(reference)) / "config.json").read_text())
    from huggingface_hub import hf_hub_download

    repo, revision = split_revision(reference)
    try:
        path = hf_hub_download(repo, "config.json", revision=revision, local_files_only=offline())
    except Exception as e:  # noqa: BLE001 - offline and not cached, unknown id, no network: one line either way
        raise ModelError(f"'{reference}': its config.json is neither in the hub cache nor downloadable here "
                         f"({type(e).__name__}); run once with the hub reachable, or give a local folder") from None
    return json.loads(Path(path).read_text())
