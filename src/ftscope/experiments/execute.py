"""Running one cell into its folder: train, evaluate, or answer through RAG.

Each writes its artifacts atomically into the cell's folder; the caller marks the cell done only
afterwards. A worker keeps the last model it loaded, so consecutive cells of one model (the runner
orders them so) load it once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from ftscope.experiments.config import ExperimentConfig
from ftscope.experiments.grid import catalogue_for
from ftscope.experiments.store import Store
from ftscope.results import write_json, write_jsonl

MODEL_DIR = "model"  # a train cell's trained weights or adapter, inside its folder


class CellRunner:
    def __init__(self, store: Store, config: ExperimentConfig):
        self.store, self.config = store, config
        self.catalogue = catalogue_for(config)
        self._model_key: str | None = None
        self._lm: Any = None

    def run(self, kind: str, hash_: str, spec: dict[str, Any], beat: Callable[[], None]) -> None:
        out = self.store.cell_dir(hash_)
        {"train": self._train, "eval": self._eval, "rag": self._rag}[kind](spec, out, beat)

    def _train(self, spec: dict[str, Any], out: Path, beat: Callable[[], None]) -> None:
        from ftscope.training import spec_from_mapping, train

        train(spec_from_mapping(spec), out / MODEL_DIR, self.catalogue, progress=lambda *a, **k: beat())

    def _eval(self, spec: dict[str, Any], out: Path, beat: Callable[[], None]) -> None:
        from dataclasses import asdict

        from ftscope.evaluation import EvalSpec, evaluate

        lm = self._language_model(spec["model"])
        dataset = self.catalogue.test(spec["dataset"])
        result = evaluate(lm, dataset, EvalSpec(spec["dataset"], spec["shots"], spec["template"], spec["scoring"],
                                                spec["limit"], spec["fewshot"], spec["fewshot_seed"],
                                                spec["max_new_tokens"]))
        write_jsonl(out / "predictions.jsonl", [asdict(p) for p in result.predictions])
        write_json(out / "metrics.json", {**result.metrics, "notes": result.notes})

    def _rag(self, spec: dict[str, Any], out: Path, beat: Callable[[], None]) -> None:
        from ftscope.rag import RagSpec, run_rag

        lm = self._language_model(spec["model"])
        rag = RagSpec(corpus=spec["corpus"], retriever=spec["retriever"], k=spec["k"], limit=spec["limit"],
                      max_new_tokens=spec["max_new_tokens"])
        run_rag(rag, lm, out, count_tokens=lambda text: len(lm.encode(text, bos=False)))

    def _language_model(self, model: dict[str, Any]) -> Any:
        key = model["hash"] or model.get("path") or model["base"]
        if key != self._model_key:
            self._lm = None  # free the previous model before loading the next
            self._lm, self._model_key = self._load(model), key
        return self._lm

    def _load(self, model: dict[str, Any]) -> Any:
        from ftscope.models import LoadOptions, language_model, load_model

        from ftscope.training import load_trained

        options = LoadOptions(dtype=self.config.dtype, device=self.config.device)
        if model["hash"] is not None:
            return language_model(load_trained(self.store.cell_dir(model["hash"]) / MODEL_DIR, options=options))
        path = model.get("path")
        if path is None:
            return language_model(load_model(model["base"], options=options))
        if (Path(path) / "manifest.json").is_file():  # written by `ftscope train`
            return language_model(load_trained(path, options=options))
        adapter = path if (Path(path) / "adapter_config.json").is_file() else None
        return language_model(load_model(model["base"] if adapter else path, adapter=adapter, options=options))
