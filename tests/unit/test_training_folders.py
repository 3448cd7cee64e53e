"""What a folder holds is decided in one place (models.folders), and every loader refuses the same way."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from ftscope.errors import ModelError
from ftscope.models.adapters import check_adapter
from ftscope.models.folders import FolderKind, content_kind, describe, folder_kind
from ftscope.specs import ModelRef
from ftscope.training import load_trained, open_model


def _folder(root: Path, name: str, files: dict[str, object]) -> Path:
    folder = root / name
    folder.mkdir()
    for file, content in files.items():
        if file.endswith(".safetensors"):
            save_file({"w": torch.zeros(1)}, folder / file)
        else:
            (folder / file).write_text(json.dumps(content) if isinstance(content, dict) else str(content))
    return folder


@pytest.fixture
def folders(tmp_path) -> dict[str, Path]:
    lora = {"adapter_config.json": {"peft_type": "LORA", "base_model_name_or_path": "smollm2-135m"},
            "adapter_model.safetensors": None}
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF")
    return {
        "trained": _folder(tmp_path, "trained", {**lora, "manifest.json": {"spec": {"model": "smollm2-135m"}}}),
        "lora": _folder(tmp_path, "lora", lora),
        "prompt": _folder(tmp_path, "prompt", {"adapter_config.json": {"peft_type": "PROMPT_TUNING"},
                                               "adapter_model.safetensors": None}),
        "model": _folder(tmp_path, "model", {"config.json": {}, "model.safetensors": None}),
        "gguf": gguf,
        # never read, never unpickled: the name alone decides
        "pickle-only": _folder(tmp_path, "pickles", {"config.json": {}, "pytorch_model.bin": "not a pickle"}),
        "empty": _folder(tmp_path, "empty", {"notes.txt": "hello"}),
        "missing": tmp_path / "nowhere",
    }


def test_each_kind_is_recognised_and_described(folders):
    for kind, path in folders.items():
        assert folder_kind(path) == kind, path
        assert describe(kind) and "\n" not in describe(kind)
    assert content_kind(folders["trained"]) == "lora"  # a trained folder holds a model or an adapter


def test_an_adapter_with_pickled_weights_only_is_pickle_only(tmp_path):
    folder = _folder(tmp_path, "a", {"adapter_config.json": {"peft_type": "LORA"}, "adapter_model.bin": "x"})
    assert folder_kind(folder) == "pickle-only"
    with pytest.raises(ModelError, match="never unpickles"):
        check_adapter(folder)


@pytest.mark.parametrize("kind,words", [("model", "pass it as the model"), ("empty", "not an adapter"),
                                        ("missing", "not found")])
def test_something_else_given_as_adapter_is_one_line(folders, kind: FolderKind, words):
    with pytest.raises(ModelError) as caught:
        check_adapter(folders[kind])
    assert words in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.parametrize("kind,words", [("pickle-only", "never unpickles"), ("empty", "holding no model"),
                                        ("missing", "not found")])
def test_open_model_refuses_what_it_cannot_load_in_one_line(folders, kind, words):
    with pytest.raises(ModelError) as caught:
        open_model(str(folders[kind]))
    assert str(folders[kind]) in str(caught.value) and words in str(caught.value) and "\n" not in str(caught.value)


def test_an_unfinished_run_is_named_as_such(tmp_path):
    folder = _folder(tmp_path, "run", {"run.json": {"spec_hash": "x"}})
    with pytest.raises(ModelError, match="has not finished"):
        load_trained(folder)
    with pytest.raises(ModelError, match="has not finished"):
        open_model(str(folder))


def test_model_refs_that_cannot_be_opened_say_what_is_missing(folders):
    trained = ModelRef("smollm2-135m", method="lora", train_cell="abc123")
    with pytest.raises(ModelError, match="pass folder="):
        open_model(trained)
    with pytest.raises(ModelError, match="base model has no soft prompt"):
        open_model(ModelRef("smollm2-135m").with_prompt())
    elsewhere = ModelRef("smollm2-135m", method="tuned", path=str(folders["lora"]))
    with pytest.raises(ModelError, match="only a ProMoT folder"):
        open_model(elsewhere.with_prompt())
