"""A tiny randomly initialised Llama for tests and smoke runs: the real tokenizer, a toy network.

Built from a config (hidden 32, 2 layers, 4 heads) with the SmolLM2 tokenizer, saved as a safetensors
folder any ftscope loader takes; a training step on it costs milliseconds.
"""

from __future__ import annotations

from pathlib import Path

from ftscope.models import resolve_model_path


def tiny_llama(folder: str | Path, tokenizer_from: str = "smollm2-135m", seed: int = 0) -> Path:
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    folder = Path(folder)
    if (folder / "config.json").is_file():
        return folder
    tokenizer = AutoTokenizer.from_pretrained(resolve_model_path(tokenizer_from))
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=2048,
                         tie_word_embeddings=True, bos_token_id=tokenizer.bos_token_id,
                         eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
    torch.manual_seed(seed)
    LlamaForCausalLM(config).save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    return folder
