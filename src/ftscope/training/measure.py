"""What training did to the model, measured after the fact.

- Weight change: the mean absolute difference between tuned and base weights over every base
  parameter (the paper's deviation measure). LoRA is merged first; a soft prompt changes no weight.
- Forgetting: language-modelling loss on a fixed small set of texts from tasks the run did not
  train on (the first inputs of each other task's in-domain test file), before and after.
- A reload check: predictions of the model in memory against the one read back from disk.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Sequence

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
def weight_change(model: Any, base_path: str) -> dict[str, float | int] | None:
    """Tuned vs base weights read one tensor at a time from the base's safetensors files."""
    files = sorted(Path(base_path).glob("*.safetensors")) if Path(base_path).is_dir() else []
    if not files:
        return None  # a hub id with no local copy: nothing to compare against
    tuned = plain_state(model)
    abs_sum, rel_base, count, peak = 0.0, 0.0, 0, 0.0
    for file in files:
        with safe_open(str(file), framework="pt") as f:
            for key in f.keys():
                base = f.get_tensor(key).float()
                delta = (tuned[key].float().cpu() - base).abs() if key in tuned else torch.zeros_like(base)
                abs_sum, rel_base = abs_sum + float(delta.sum()), rel_base + float(base.abs().sum())
                count, peak = count + base.numel(), max(peak, float(delta.max()) if delta.numel() else 0.0)
    return {"mean_abs": abs_sum / max(1, count), "max_abs": peak,
            "relative": abs_sum / rel_base if rel_base else 0.0, "params": count}


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
