"""The on-disk index cache: miss builds and stores, hit loads, incomplete folders are never trusted."""

import json

import numpy as np
import pytest

from ftscope.rag import BM25Retriever, Corpus, Passage
from ftscope.rag import index_cache as ic


@pytest.fixture(autouse=True)
def cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("FTSCOPE_CACHE", str(tmp_path))
    return tmp_path / "rag-index"


class Calls:
    """A toy index (one array) that records how it was obtained."""

    def __init__(self):
        self.built = self.loaded = 0

    def build(self):
        self.built += 1
        return np.arange(3)

    def load(self, folder):
        self.loaded += 1
        return np.load(folder / "x.npy", allow_pickle=False)

    def get(self, corpus_hash="h1", model=""):
        save = lambda value, folder: np.save(folder / "x.npy", value)  # noqa: E731
        return ic.cached_index(corpus_hash, "toy", model, self.build, save, self.load)


def test_miss_builds_then_hit_loads(cache_dir):
    calls = Calls()
    assert calls.get().tolist() == [0, 1, 2]
    assert calls.get().tolist() == [0, 1, 2]
    assert (calls.built, calls.loaded) == (1, 1)
    assert [p.name.startswith("toy-") for p in cache_dir.iterdir()] == [True]  # no temp folder left


def test_key_separates_corpus_and_model():
    calls = Calls()
    calls.get("h1", "m1"), calls.get("h2", "m1"), calls.get("h1", "m2")
    assert calls.built == 3
    assert ic.index_key("h1", "dense", "m1") != ic.index_key("h1", "bm25", "m1")


def test_half_written_folder_is_ignored_and_replaced(cache_dir):
    folder = cache_dir / f"toy-{ic.index_key('h1', 'toy', '')}"
    folder.mkdir(parents=True)
    (folder / "x.npy").write_bytes(b"torn")  # a crash before the manifest: no manifest.json
    calls = Calls()
    assert calls.get().tolist() == [0, 1, 2]
    assert calls.built == 1 and calls.loaded == 0
    assert json.loads((folder / "manifest.json").read_text())["kind"] == "toy"


def test_wrong_manifest_or_damaged_index_rebuilds(cache_dir):
    calls = Calls()
    calls.get()
    folder = next(cache_dir.iterdir())
    (folder / "manifest.json").write_text('{"key": "other"}')
    calls.get()
    assert calls.built == 2
    (folder / "x.npy").write_bytes(b"garbage")  # complete manifest, unreadable data
    assert calls.get().tolist() == [0, 1, 2]
    assert calls.built == 3


def test_unwritable_cache_only_warns(monkeypatch, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("FTSCOPE_CACHE", str(blocker))
    assert Calls().get().tolist() == [0, 1, 2]


def test_bm25_index_roundtrips_through_the_cache(cache_dir, monkeypatch):
    corpus = Corpus("c", (Passage("a", "", "red apples grow"), Passage("b", "", "blue sky above")))
    first = BM25Retriever.open(corpus).search(["sky"], k=2)
    assert any(p.name.startswith("bm25-") for p in cache_dir.iterdir())
    monkeypatch.setattr(BM25Retriever, "build", None)  # a second build would now fail
    assert BM25Retriever.open(corpus).search(["sky"], k=2) == first
    assert first[0][0][0] == 1
