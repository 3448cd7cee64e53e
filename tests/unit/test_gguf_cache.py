"""GGUF conversion opens each file once (transformers would parse it three times) and leaves gguf as it was."""

from __future__ import annotations

import gguf
import numpy as np

from ftscope.models.gguf_cache import one_reader_per_file


def _tiny_gguf(path):
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_array("tokenizer.ggml.tokens", [f"t{i}" for i in range(300)])
    writer.add_tensor("token_embd.weight", np.arange(12, dtype=np.float32).reshape(3, 4))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def test_each_file_is_parsed_once_inside_the_block_and_gguf_is_restored_after(tmp_path):
    path = _tiny_gguf(tmp_path / "m.gguf")
    original = gguf.GGUFReader
    with one_reader_per_file():
        first = gguf.GGUFReader(path)
        assert gguf.GGUFReader(str(path)) is first  # the same file by another spelling: the same reader
        assert gguf.GGUFReader(tmp_path / "." / "m.gguf") is first
        assert len(first.fields["tokenizer.ggml.tokens"].data) == 300
        assert np.array_equal(np.asarray(first.tensors[0].data).reshape(3, 4), np.arange(12).reshape(3, 4))
    assert gguf.GGUFReader is original
    assert gguf.GGUFReader(path) is not first  # outside the block every call parses afresh


def test_an_error_inside_the_block_still_restores_the_reader(tmp_path):
    original = gguf.GGUFReader
    try:
        with one_reader_per_file():
            gguf.GGUFReader(tmp_path / "missing.gguf")
    except OSError:
        pass
    assert gguf.GGUFReader is original
