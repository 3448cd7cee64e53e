"""What training did to the model, measured after the fact.

- Weight change (Yang et al.'s deviation from the base, their claim (e): FTICL deviates less than FT),
  compared tensor by tensor against the base's safetensors; LoRA is merged first, a soft prompt changes
  no weight. Reported, each with its unit in `units`:
  `mean_abs` (mean |Δw| over every base parameter, in weight units), `relative` (Σ|Δw| / Σ|w|),
  `layer_relative_change` (per weight tensor ||ΔW||_F / ||W||_F, averaged over the tensors of each
  transformer layer, then over layers; a ratio, with the per-layer values beside it), and
  `embedding_share` (the fraction of the total squared change Σ||ΔW||_F² that sits in embedding and
  lm_head tensors; tied embeddings counted once).
- Forgetting: language-modelling loss on a fixed small set of texts from tasks the run did not
  train on (the first inputs of each other task's in-domain test file), before and after.
- A reload check: predictions of the model in memory against the one read back from disk.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

import torch
from safetensors import safe_open

from ftscope.errors import DataError
from ftscope.tasks import Catalogue

log = logging.getLogger("ftscope.training")

HELDOUT_PER_TASK = 4
HELDOUT_TOKENS = 128


def heldout_texts(catalogue: Catalogue, trained_tasks: set[str]) -> tuple[list[str], list[str]]:
    """(texts, their dataset names): the first inputs of every other task's in-domain test set."""
    texts, sources = [], []
    for name, task in catalogue.tasks.items():
        if name in trained_tasks or not task.train_dataset or task.train_dataset not in catalogue.entries:
            continue
        try:
            examples = catalogue.test(task.train_dataset).examples[:HELDOUT_PER_TASK]
        except DataError as e:
            log.info("held-out texts: skipped %s (%s)", task.train_dataset, e)
            continue
        texts += ["\n".join(ex.fields.values()) for ex in examples]
        sources.append(task.train_dataset)
    return texts, sources


_BASE_LOSSES: dict[tuple, dict[str, float | int]] = {}


def base_lm_loss(model: Any, tokenizer: Any, texts: Sequence[str], weights: str, dtype: str) -> dict[str, float | int]:
    """`lm_loss` of an untouched base model, computed once per process for the same weights (`weights`: its
    folder), dtype, device and texts: a grid trains many models on one base, and this was 3.5 s of every
    SmolLM2 training cell."""
    key = (weights, dtype, str(next(model.parameters()).device), tuple(texts))
    if key not in _BASE_LOSSES:
        _BASE_LOSSES[key] = lm_loss(model, tokenizer, texts)
    return dict(_BASE_LOSSES[key])


@torch.inference_mode()
def lm_loss(model: Any, tokenizer: Any, texts: Sequence[str], rows: int = 4) -> dict[str, float | int]:
    """Mean next-token loss over all tokens of the texts (each cut to HELDOUT_TOKENS).

    Right-padded batches of a few rows: full-vocabulary logits are the memory cost here.
    """
    model.eval()
    device = next(model.parameters()).device
    encoded = [ids for t in texts if len(ids := tokenizer(t, add_special_tokens=True).input_ids[:HELDOUT_TOKENS]) > 1]
    total, count = 0.0, 0
    for start in range(0, len(encoded), rows):
        chunk = encoded[start:start + rows]
        width = max(len(ids) for ids in chunk)
        ids = torch.tensor([x + [0] * (width - len(x)) for x in chunk], device=device)
        mask = torch.tensor([[1] * len(x) + [0] * (width - len(x)) for x in chunk], device=device)
        logits = model(input_ids=ids, attention_mask=mask, use_cache=False).logits[:, :-1].float()
        target = ids[:, 1:].masked_fill(mask[:, 1:] == 0, -100)
        total += float(torch.nn.functional.cross_entropy(logits.flatten(0, 1), target.flatten(), reduction="sum"))
        count += int(mask[:, 1:].sum())
    return {"loss": total / count if count else float("nan"), "tokens": count}


@torch.inference_mode()
def weight_change(model: Any, base_path: str) -> dict[str, Any] | None:
    """Tuned vs base weights, the base read one tensor at a time from its safetensors files."""
    files = sorted(Path(base_path).glob("*.safetensors")) if Path(base_path).is_dir() else []
    if not files:
        return None  # a hub id with no local copy: nothing to compare against
    return compare_weights(plain_state(model), _base_tensors(files))


def _base_tensors(files: list[Path]) -> Iterator[tuple[str, torch.Tensor]]:
    for file in files:
        with safe_open(str(file), framework="pt") as f:
            for key in f.keys():
                yield key, f.get_tensor(key)


LAYER = re.compile(r"\.(?:layers|h|blocks|layer)\.(\d+)\.")  # model.layers.3.… (Llama), transformer.h.3.… (GPT-2)
EMBEDDING = re.compile(r"embed|\bwte\b|\bwpe\b|lm_head")
UNITS = {"mean_abs": "weight units: mean |Δw| over every base parameter",
         "max_abs": "weight units: largest |Δw|",
         "relative": "ratio: Σ|Δw| / Σ|w| over every base parameter",
         "layer_relative_change": "ratio: ||ΔW||_F / ||W||_F per weight tensor, mean over each layer's tensors, "
                                  "then mean over layers",
         "embedding_share": "fraction of Σ||ΔW||_F² (all tensors) in embedding and lm_head tensors"}


def compare_weights(tuned: Mapping[str, torch.Tensor], base: Iterable[tuple[str, torch.Tensor]]) -> dict[str, Any]:
    """The deviation measures of `tuned` from `base` (name → tensor pairs), over the base's tensors."""
    totals = {"abs": 0.0, "base_abs": 0.0, "sq": 0.0, "embed_sq": 0.0, "count": 0, "peak": 0.0}
    per_layer: dict[int, list[float]] = {}
    for key, w in _distinct(tuned, base):
        w = w.float()
        delta = tuned[key].float().cpu() - w if key in tuned else torch.zeros_like(w)
        sq, base_norm = float(delta.square().sum()), float(w.norm())
        totals["abs"] += float(delta.abs().sum())
        totals["base_abs"] += float(w.abs().sum())
        totals["sq"] += sq
        totals["embed_sq"] += sq if EMBEDDING.search(key) else 0.0
        totals["count"] += w.numel()
        totals["peak"] = max(totals["peak"], float(delta.abs().max()) if delta.numel() else 0.0)
        layer = LAYER.search(key)
        if layer and base_norm > 0:
            per_layer.setdefault(int(layer.group(1)), []).append(sq ** 0.5 / base_norm)
    return _summary(totals, per_layer)


def _distinct(tuned: Mapping[str, torch.Tensor], base: Iterable[tuple[str, torch.Tensor]]
              ) -> Iterator[tuple[str, torch.Tensor]]:
    """The base's tensors, leaving out a second name for a tensor the tuned model shares (tied lm_head)."""
    seen: set[tuple[int, tuple[int, ...]]] = set()
    for key, w in base:
        shared = (tuned[key].data_ptr(), tuple(tuned[key].shape)) if key in tuned else None
        if shared is not None and shared in seen:
            continue
        if shared is not None:
            seen.add(shared)
        yield key, w


def _summary(t: dict[str, float], per_layer: dict[int, list[float]]) -> dict[str, Any]:
    layers = [sum(v) / len(v) for _, v in sorted(per_layer.items())]
    return {"mean_abs": t["abs"] / max(1, t["count"]), "max_abs": t["peak"],
            "relative": t["abs"] / t["base_abs"] if t["base_abs"] else 0.0,
            "layer_relative_change": sum(layers) / len(layers) if layers else None,
            "layer_relative_change_by_layer": layers,
            "embedding_share": t["embed_sq"] / t["sq"] if t["sq"] else None,
            "params": int(t["count"]), "units": UNITS}


def plain_state(model: Any) -> dict[str, torch.Tensor]:
    """The state dict under the base model's names: soft prompt left aside, LoRA merged in."""
    inner = getattr(model, "base", model) if hasattr(model, "prompt") else model
    if hasattr(inner, "merge_and_unload"):
        inner = inner.merge_and_unload()
    return inner.state_dict()


@torch.inference_mode()
def probe(model: Any, batch_ids: list[list[int]]) -> torch.Tensor:
    """Last-position logits for a few prompts, one at a time (no padding to differ on)."""
    model.eval()
    device = next(model.parameters()).device
    rows = [model(input_ids=torch.tensor([ids], device=device), use_cache=False).logits[0, -1] for ids in batch_ids]
    return torch.stack(rows).float().cpu()


def reload_check(before: torch.Tensor, after: torch.Tensor) -> dict[str, float | bool]:
    return {"max_abs_logit_diff": float((before - after).abs().max()),
            "same_argmax": bool(torch.equal(before.argmax(-1), after.argmax(-1)))}
