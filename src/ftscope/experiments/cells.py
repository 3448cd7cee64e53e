"""Cells: the frozen units of work of an experiment, each with a stable hash.

A cell is a kind ("train", "eval", "rag") and a plain JSON-able spec. The hash of its canonical JSON is
the cache key and the directory name: the same spec always lands in the same place, and changing one
hyper-parameter changes only the hashes that depend on it (an eval cell's spec names its model cell's
hash, so retraining re-evaluates; a new shot count adds cells and reuses the rest).

This module is pure data: no torch, so the report can read cells without loading models.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Literal, Mapping

CellKind = Literal["train", "eval", "rag"]


def canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def spec_hash(kind: str, spec: Mapping[str, Any]) -> str:
    return hashlib.sha256(f"{kind}:{canonical(spec)}".encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Cell:
    kind: CellKind
    spec_json: str  # canonical JSON, so the dataclass stays hashable and frozen
    needs: str | None = None  # the hash of the cell this one depends on (an eval's trained model)

    @classmethod
    def of(cls, kind: CellKind, spec: Mapping[str, Any], needs: str | None = None) -> "Cell":
        return cls(kind, canonical({**spec, "needs": needs} if needs else dict(spec)), needs)

    @property
    def spec(self) -> dict[str, Any]:
        return json.loads(self.spec_json)

    @property
    def hash(self) -> str:
        return spec_hash(self.kind, json.loads(self.spec_json))

    def label(self) -> str:
        s = self.spec
        if self.kind == "train":
            return f"train {s['method']} {'+'.join(s['datasets'])} n={s['n']} seed={s['seed']}"
        if self.kind == "eval":
            return f"eval {s['model_label']} on {s['dataset']} {s['shots']}-shot {s['template']}"
        return f"rag {s['model_label']} on {s['corpus_name']}"
