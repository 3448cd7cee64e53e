"""Loading models and the LanguageModel implementation (KV-prefix reuse lives here)."""

from ftscope.models.loading import LoadedModel, LoadOptions, load_model, model_facts, resolve_model_path
from ftscope.models.registry import BUILTIN_MODELS, DEFAULT_MODEL

__all__ = ["BUILTIN_MODELS", "DEFAULT_MODEL", "LoadOptions", "LoadedModel", "language_model", "load_model", "model_facts",
           "resolve_model_path"]


def language_model(loaded: LoadedModel, batch_tokens: int = 4096, max_rows: int = 32, decode_kv_bytes: int = 1 << 30):
    """The fast scorer/generator over a loaded model that only infers from now on (imported lazily: it needs
    torch). Its CPU linear weights are stored column-major, which decodes 1.2–1.5× faster (models/layout.py)."""
    from ftscope.models.layout import column_major_linears
    from ftscope.models.lm import HFLanguageModel

    column_major_linears(loaded.model)
    return HFLanguageModel(loaded.model, loaded.tokenizer, batch_tokens, max_rows, decode_kv_bytes)
