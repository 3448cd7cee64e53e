"""Templates as data, few-shot selection and FTICL formatting."""

from ftscope.prompts.fewshot import SELECTIONS, select_demos
from ftscope.prompts.templates import (
    DEMO_SEPARATOR,
    TEMPLATE_IDS,
    context,
    demonstration,
    render,
    target_text,
    template_for,
)

__all__ = ["DEMO_SEPARATOR", "SELECTIONS", "TEMPLATE_IDS", "context", "demonstration", "render",
           "select_demos", "target_text", "template_for"]
