"""Real PEFT LoRA adapters for tests, made in a second on the tiny random Llama (no training run needed)."""

from __future__ import annotations

from pathlib import Path


def make_adapter(base: Path, out: Path, seed: int) -> Path:
    """A LoRA adapter on `base` with random (not zero) B matrices, so the tuned model differs from its base;
    saved by PEFT as safetensors with `base` recorded as its base model."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_pretrained(base)
    config = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], init_lora_weights=False,
                        task_type="CAUSAL_LM")
    get_peft_model(model, config).save_pretrained(out, safe_serialization=True)
    return out
