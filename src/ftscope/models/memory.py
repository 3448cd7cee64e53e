"""How much memory training a model will take, before anything is loaded: read from its config.json.

The parts (per process, without sharding): the weights; for every trainable parameter its gradient and
AdamW's two moments (fp32, as torch's AdamW keeps them); and the activations the backward pass keeps,
which grow with batch × sequence length. The activation count follows Korthikanti et al. (2022, "Reducing
Activation Recomputation in Large Transformer Models"): about s·b·h·(34 + 5·a·s/h) bytes per layer at
16-bit, without recomputation — plus the logits of the positions whose loss is taken (ftscope computes
logits for the target tokens only). It is an estimate, to say up front what does not fit and what
would (bf16, LoRA, sharding), not a promise to the megabyte.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

GB = 1024 ** 3
OPTIMIZER_BYTES = 8  # AdamW: exp_avg and exp_avg_sq, fp32 each
FP32, BF16 = 4, 2


@dataclass(frozen=True)
class Shape:
    """What the estimate needs from a model's config.json."""

    params: int
    layers: int
    hidden: int
    heads: int
    vocab: int
    intermediate: int

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "Shape":
        hidden, layers = config["hidden_size"], config["num_hidden_layers"]
        inter = config.get("intermediate_size") or 4 * hidden
        heads = config.get("num_attention_heads") or max(1, hidden // 64)
        kv = config.get("num_key_value_heads") or heads
        vocab = config["vocab_size"]
        attention = hidden * hidden * 2 + 2 * hidden * (hidden * kv // heads)  # q, o, and the k/v projections
        mlp = 3 * hidden * inter  # gate, up, down (Llama-style; a 2-matrix MLP is counted as 3, slightly over)
        embeddings = vocab * hidden * (1 if config.get("tie_word_embeddings", False) else 2)
        return cls(layers * (attention + mlp + 2 * hidden) + embeddings + hidden, layers, hidden, heads, vocab, inter)


def read_shape(folder: str | Path) -> Shape:
    return Shape.from_config(json.loads((Path(folder) / "config.json").read_text()))


def trainable_params(shape: Shape, tuned: str, lora_r: int = 8, prompt_tokens: int = 20) -> int:
    """Parameters that get gradients: all (full), LoRA's A and B on every linear layer, or a soft prompt."""
    if tuned == "full":
        return shape.params
    if tuned == "lora":
        per_layer = lora_r * (4 * 2 * shape.hidden + 3 * (shape.hidden + shape.intermediate))  # q k v o, mlp
        return shape.layers * per_layer
    return prompt_tokens * shape.hidden


@dataclass(frozen=True)
class MemoryEstimate:
    weights_gb: float
    gradients_gb: float
    optimizer_gb: float
    activations_gb: float

    @property
    def total_gb(self) -> float:
        return self.weights_gb + self.gradients_gb + self.optimizer_gb + self.activations_gb

    def rows(self) -> list[tuple[str, float]]:
        return [("weights", self.weights_gb), ("gradients", self.gradients_gb), ("AdamW state", self.optimizer_gb),
                ("activations", self.activations_gb), ("total", self.total_gb)]


def estimate(shape: Shape, tuned: str, dtype: str, bf16_autocast: bool, batch: int, seq_len: int,
             target_len: int = 32, lora_r: int = 8, prompt_tokens: int = 20,
             max_batch_tokens: int | None = None) -> MemoryEstimate:
    """Peak memory of one training process in GB (see the module docstring for the model of it), with every
    row at `seq_len` (the worst case: max_length). A batch runs in pieces of at most `max_batch_tokens`."""
    if max_batch_tokens:
        batch = max(1, min(batch, max_batch_tokens // max(1, seq_len)))
    weight_bytes = BF16 if dtype == "bfloat16" else FP32
    trainable = trainable_params(shape, tuned, lora_r, prompt_tokens)
    act_bytes = BF16 if (bf16_autocast or dtype == "bfloat16") else FP32
    per_layer = seq_len * batch * shape.hidden * (34 + 5 * shape.heads * seq_len / shape.hidden) * act_bytes / 2
    logits = batch * (target_len + 1) * shape.vocab * FP32 * 2  # logits and their gradient, target positions
    return MemoryEstimate(shape.params * weight_bytes / GB, trainable * weight_bytes / GB,
                          trainable * OPTIMIZER_BYTES / GB, (shape.layers * per_layer + logits) / GB)
