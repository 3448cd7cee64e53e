"""The training methods: the one place their names are listed. A new method is a module in this
package (a training.method.Method subclass) and one line here."""

from __future__ import annotations

from ftscope.training.method import Method
from ftscope.training.methods import fticl, full, lora, promot, prompt_tuning

METHODS: dict[str, Method] = {m.name: m for m in (full.METHOD, lora.METHOD, prompt_tuning.METHOD, fticl.METHOD,
                                                   promot.METHOD)}

__all__ = ["METHODS", "Method"]
