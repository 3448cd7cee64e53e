"""Make ftscope's scorer a model lm-eval knows by name: `--model ftscope`.

What lm-eval 0.4.13 offers for this, read in its source:
- models live in one registry, `model_registry` in lm_eval/api/registry.py, filled by `@register_model`
  (line 465) or by lazy "module:Class" placeholders; lm_eval/models/__init__.py registers its own
  backends that way from `MODEL_MAPPING` (lines 25-78);
- `--model NAME` is resolved by `get_model` (registry.py line 491, called from evaluator.py lines 242 and
  257), which imports lm_eval.models only while the registry is empty (lines 504-505);
- nothing reads setuptools entry points: no `entry_points(...)` call anywhere in lm_eval; the registry
  can *hold* an `EntryPoint` placeholder (lines 94, 305) but never lists a group (upstream merged
  entry-point model plugins after 0.4.13: EleutherAI/lm-evaluation-harness PR #4013);
- `--include_path` imports a folder's Python (a YAML's `!function`) only when one of its tasks is
  loaded, after the model was resolved (evaluator.py line 302 comes after lines 242/257).
So an out-of-tree model is `--model NAME` only in a process that registered it before the CLI resolves
the name. We register a lazy placeholder (torch and transformers load only when the model is used) and
ship `python -m ftscope.evaluation.lm_eval`, which registers and then runs lm-eval's own CLI
(`lm_eval.__main__.cli_evaluate`) unchanged: the same arguments, output folders and tables. In Python,
`register()` then `lm_eval.simple_evaluate(model="ftscope", ...)` works too.
"""

from __future__ import annotations

from types import ModuleType

from ftscope.errors import ConfigError

MODEL_NAME = "ftscope"
INSTALL = "pip install 'ftscope[lm-eval]' (or lm-eval>=0.4.12,<0.5 itself)"


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
