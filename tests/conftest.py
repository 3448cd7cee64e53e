"""Shared fixtures: offline everywhere, the shared paper data, a tiny random Llama for fast unit tests."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as the CLI sets it: no spinning threads on a busy machine

import shutil  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

RAM_TMP, RAM_TMP_FREE = Path("/dev/shm"), 8 << 30  # tmpfs, and the room it must have for the tests' folders


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """Temporary folders in memory where the machine has a roomy tmpfs: the stores the tests write fsync every
    file and commit every cell durably (what a crash-safe store must do), which on a virtual disk was a third
    of the report-claims tests' time (77 -> 51 s on 2 slow cores). `--basetemp DIR` or FTSCOPE_TEST_TMP=disk
    keeps them on disk (for a look at a failed test's files after the run: these are removed at its end)."""
    if config.option.basetemp or os.environ.get("FTSCOPE_TEST_TMP") == "disk":
        return
    try:
        if shutil.disk_usage(RAM_TMP).free < RAM_TMP_FREE:
            return
        base = Path(tempfile.mkdtemp(prefix="ftscope-pytest-", dir=RAM_TMP))
    except OSError:  # no /dev/shm (macOS), or not writable
        return
    config.option.basetemp = str(base)
    config.add_cleanup(lambda: shutil.rmtree(base, ignore_errors=True))

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def paper_data() -> Path:
    path = SHARED_DATA / "generalization"
    if not path.is_dir():
        pytest.skip(f"shared paper data not found at {path}")
    return path


@pytest.fixture(scope="session")
def smollm2_dir() -> Path:
    """The packaged SmolLM2 converted to safetensors (cached after the first run)."""
    from ftscope.models import resolve_model_path

    return Path(resolve_model_path("smollm2-135m"))


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory, smollm2_dir) -> Path:
    """A randomly initialised 2-layer Llama with SmolLM2's tokenizer, saved as safetensors."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(smollm2_dir)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                         eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
                         tie_word_embeddings=True)
    torch.manual_seed(0)
    model = LlamaForCausalLM(config)
    out = tmp_path_factory.mktemp("tiny-llama")
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def tiny_loaded(tiny_model_dir):
    from ftscope.models import load_model

    return load_model(str(tiny_model_dir))
