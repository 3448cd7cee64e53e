"""Make ftscope's scorer a model lm-eval knows by name: `--model ftscope`.

What lm-eval 0.4.13 offers for this (read in its source): models live in one registry
(`lm_eval/api/registry.py`, `model_registry`), filled by `@register_model` or by lazy "module:Class"
placeholders, which `lm_eval/models/__init__.py` registers for its own backends from `MODEL_MAPPING`.
Nothing in 0.4.13 reads setuptools entry points or imports plugins (the registry can *hold* an
`EntryPoint`, but no code ever lists a group), and `--include_path` imports Python only for task
YAMLs. So a package outside lm-eval's tree becomes `--model NAME` only in a process that registered
it before lm-eval's CLI resolves the name. We therefore register a lazy placeholder (importing torch
and transformers only if the model is used) and ship `python -m ftscope.evaluation.lm_eval`, which
registers and then runs lm-eval's own CLI unchanged: same arguments, same output folders.
"""

from __future__ import annotations

from types import ModuleType

from ftscope.errors import ConfigError

MODEL_NAME = "ftscope"
INSTALL = "pip install 'lm-eval>=0.4.5,<0.5' (or ftscope's [bench] extra)"


def require_lm_eval() -> ModuleType:
    """lm-eval is an optional dependency; without it, one line saying how to get it."""
    try:
        import lm_eval
    except ImportError:
        raise ConfigError(f"lm-evaluation-harness is not installed; {INSTALL}") from None
    return lm_eval


def register() -> None:
    """Add `ftscope` to lm-eval's model registry (idempotent)."""
    require_lm_eval()
    # lm-eval fills its own lazy entries only while the registry is empty (get_model in
    # lm_eval/api/registry.py); load them first so `--model hf` keeps working beside ours.
    import lm_eval.models  # noqa: F401
    from lm_eval.api.registry import model_registry

    if MODEL_NAME not in model_registry:
        model_registry.register(MODEL_NAME, target=f"{__package__}.model:FtscopeLM")
