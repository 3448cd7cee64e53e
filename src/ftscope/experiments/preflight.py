"""What a grid's cells will read, checked before any cell runs and before any model loads.

The grid (grid.py) already refuses unknown names, base models it cannot find and shot counts beyond the
demonstration pool. This adds what only the files can tell, as cheaply as reading them allows: a fine-tune
or judge named by path whose files hold no usable weights (a pickle-only or empty folder, a torn
safetensors header, a corrupt GGUF) and a RAG corpus or question file that is empty, malformed or has no
gold answer. Without it each of these surfaces only after a model has loaded, as a failed cell.
"""

from __future__ import annotations

from typing import Iterable

from ftscope.errors import ConfigError
from ftscope.experiments.config import ExperimentConfig, where
from ftscope.specs import RagSpec


def check_inputs(config: ExperimentConfig, rag_specs: Iterable[RagSpec]) -> None:
    """One line (ConfigError/DataError) for the first unusable fine-tune, judge or RAG input."""
    from ftscope.models.loading import reference_problem

    for i, tuned in enumerate(config.tuned):
        problem = reference_problem(tuned.path)
        if problem:
            raise ConfigError(f"{where(config, 'tuned', i, 'path')}: {problem}")
    _check_judge(config)
    _check_rag(rag_specs)


def _check_judge(config: ExperimentConfig) -> None:
    from ftscope.models.loading import reference_problem
    from ftscope.rag.judge import parse_endpoint

    judge = config.rag.judge if config.rag else None
    if judge and parse_endpoint(judge) is None and (problem := reference_problem(judge)):
        raise ConfigError(f"{where(config, 'rag', 'judge')}: {problem}")


def _check_rag(specs: Iterable[RagSpec]) -> None:
    """Each distinct corpus (with its questions) is read once here; the cells read it again when they run,
    which costs a JSON parse, not a model load."""
    from ftscope.rag import check_spec, load_rag_corpus

    seen = set()
    for spec in specs:
        key = (spec.corpus, spec.questions, spec.chunking, spec.chunk_size, spec.chunk_overlap)
        if key not in seen:
            seen.add(key)
            load_rag_corpus(check_spec(spec))
