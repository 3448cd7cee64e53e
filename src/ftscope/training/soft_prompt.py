"""A soft prompt: n learned vectors placed before every input of a causal LM.

PEFT's prompt-tuning model drops `position_ids` and prepends its prompt on every call, even one that
continues a KV cache. The evaluation scorer needs both (left-padded batches with explicit positions;
a few-shot prefix computed once and continued), so this wrapper does the same job cache-aware:
the prompt goes in only on a call that starts a sequence, positions shift past it, and the attention
mask always covers it. Saved, it is a standard PEFT prompt-tuning adapter folder
(adapter_config.json + adapter_model.safetensors holding `prompt_embeddings`).
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn

PROMPT_KEY = "prompt_embeddings"  # the tensor name PEFT gives a prompt-tuning adapter


class SoftPrompt(nn.Module):
    def __init__(self, base: nn.Module, prompt: torch.Tensor, trainable: bool = True):
        super().__init__()
        self.base = base
        self.prompt = nn.Parameter(prompt.detach().clone().to(_embedding(base).weight.dtype),
                                   requires_grad=trainable)
        self._cache_arg = _cache_argument(base)

    @property
    def config(self) -> Any:
        return self.base.config

    @property
    def generation_config(self) -> Any:
        return getattr(self.base, "generation_config", None)

    def get_input_embeddings(self) -> nn.Module:
        return _embedding(self.base)

    def forward(self, input_ids=None, attention_mask=None, position_ids=None, past_key_values=None,
                inputs_embeds=None, logits_to_keep=0, cache=None, **kwargs):
        cache = cache if cache is not None else past_key_values  # callers may use either name
        embeds = inputs_embeds if inputs_embeds is not None else _embedding(self.base)(input_ids)
        rows, n = embeds.shape[0], self.prompt.shape[0]
        starts = cache is None or cache.get_seq_length() == 0
        if attention_mask is not None:
            attention_mask = torch.cat([attention_mask.new_ones(rows, n), attention_mask], dim=1)
        if position_ids is not None:
            position_ids = position_ids + n
        if starts:
            embeds = torch.cat([self.prompt.to(embeds.dtype).expand(rows, -1, -1), embeds], dim=1)
            if position_ids is not None:
                lead = torch.arange(n, device=position_ids.device).expand(rows, n)
                position_ids = torch.cat([lead, position_ids], dim=1)
        out = self.base(inputs_embeds=embeds, attention_mask=attention_mask, position_ids=position_ids,
                        logits_to_keep=logits_to_keep, **{self._cache_arg: cache}, **kwargs)
        if starts and isinstance(logits_to_keep, int) and logits_to_keep == 0:
            out.logits = out.logits[:, n:]  # logits line up with the caller's tokens again
        return out


def _cache_argument(model: nn.Module) -> str:
    """transformers 5.x names the KV cache `cache` (`past_key_values` is deprecated); 4.x knows only
    `past_key_values`. A PEFT wrapper passes either through to the model it wraps, so that model decides."""
    inner = model.get_base_model() if hasattr(model, "get_base_model") else model
    return "cache" if "cache" in inspect.signature(inner.forward).parameters else "past_key_values"


def _embedding(model: nn.Module) -> nn.Module:
    return model.get_input_embeddings()


def initial_prompt(base: nn.Module, tokenizer: Any, n: int, text: str | None, seed: int) -> torch.Tensor:
    """Rows of the token embedding: of `text` (repeated or cut to n, as PEFT's TEXT init), or of n
    vocabulary tokens drawn by seed. The latter keeps the prompt at the scale of real embeddings;
    PEFT's RANDOM init draws N(0, 1), far larger than a trained embedding row."""
    table = _embedding(base).weight.detach()
    if text:
        ids = tokenizer(text, add_special_tokens=False).input_ids or [tokenizer.eos_token_id]
        ids = (ids * (n // len(ids) + 1))[:n]
        index = torch.tensor(ids)
    else:
        index = torch.randint(0, table.shape[0], (n,), generator=torch.Generator().manual_seed(seed))
    return table[index.to(table.device)].float().cpu()


def save_prompt(prompt: torch.Tensor, folder: Path, base: str, config: Any) -> None:
    """A PEFT prompt-tuning adapter folder; `base` is recorded as given (a portable name, not a path)."""
    from peft import PromptTuningConfig, TaskType

    folder.mkdir(parents=True, exist_ok=True)
    PromptTuningConfig(task_type=TaskType.CAUSAL_LM, num_virtual_tokens=prompt.shape[0],
                       token_dim=prompt.shape[1], num_transformer_submodules=1,
                       num_attention_heads=config.num_attention_heads, num_layers=config.num_hidden_layers,
                       base_model_name_or_path=base).save_pretrained(folder)
    save_file({PROMPT_KEY: prompt.detach().float().cpu().contiguous()}, folder / "adapter_model.safetensors")


def load_prompt(folder: Path) -> torch.Tensor:
    return load_file(Path(folder) / "adapter_model.safetensors")[PROMPT_KEY]
