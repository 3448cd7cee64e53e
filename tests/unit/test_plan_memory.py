"""`ftscope plan` says up front what training needs in memory: configs/paper.yaml's Llama-2-7b, read from a hub
cache that holds only its config.json (Llama-2-7b's own, tests/fixtures/configs), against one 80 GB GPU."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "tests" / "fixtures" / "configs" / "llama-2-7b.json"


def plan(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([str(Path(sys.executable).with_name("ftscope")), "plan", *args], capture_output=True, text=True,
                          cwd=ROOT, env=env, timeout=300)


def test_paper_config_on_one_80gb_gpu_needs_bf16_or_sharding_for_full_fine_tuning(tmp_path, paper_data):
    snapshot = tmp_path / "hub" / "models--meta-llama--Llama-2-7b-hf" / "snapshots" / ("0" * 40)
    snapshot.mkdir(parents=True)
    shutil.copy(CONFIG, snapshot / "config.json")
    (snapshot.parents[1] / "refs").mkdir()
    (snapshot.parents[1] / "refs" / "main").write_text("0" * 40)
    env = {**os.environ, "HF_HUB_CACHE": str(tmp_path / "hub"), "HF_HUB_OFFLINE": "1", "COLUMNS": "400"}
    found = plan("configs/paper.yaml", "--gpu-gb", "80", "--set", f"data_dir={paper_data}", env=env)
    assert found.returncode == 0, found.stderr
    lines = {line.split("│")[1].strip(): line for line in found.stdout.splitlines() if "on meta-llama" in line}
    full = lines["full on meta-llama/Llama-2-7b-hf"]
    assert "│ no; bf16 weights" in full  # fp32 weights under bf16 autocast do not fit; the first remedy is named

    missing = plan("configs/paper.yaml", "--gpu-gb", "80", "--set", f"data_dir={paper_data}",
                   env={**env, "HF_HUB_CACHE": str(tmp_path / "empty")})
    assert missing.returncode == 0, missing.stderr
    assert "config.json is neither in the hub cache" in missing.stdout.replace("\n", " ").replace("│", " ") or \
        "neither in the hub" in missing.stdout  # the reason is in the table, not a crash


def test_the_estimate_names_every_remedy_that_fits(tmp_path, paper_data, monkeypatch):
    import huggingface_hub.constants as constants

    from ftscope.experiments.config import load_experiment
    from ftscope.experiments.grid import expand
    from ftscope.experiments.planning import memory_rows

    snapshot = tmp_path / "hub" / "models--meta-llama--Llama-2-7b-hf" / "snapshots" / ("0" * 40)
    snapshot.mkdir(parents=True)
    shutil.copy(CONFIG, snapshot / "config.json")
    (snapshot.parents[1] / "refs").mkdir()
    (snapshot.parents[1] / "refs" / "main").write_text("0" * 40)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    config = load_experiment(ROOT / "configs" / "paper.yaml", [f"data_dir={paper_data}"])
    rows = {r.training: r for r in memory_rows(expand(config, check_models=False), 80.0, "cuda")}
    full = rows["full on meta-llama/Llama-2-7b-hf"]
    # 6.74B parameters: fp32 weights + gradients + AdamW's two moments are 16 bytes each, 108 GB before activations
    assert full.total_gb > 108 and not full.fits
    remedies = dict(full.alternatives)
    assert {"bf16 weights (dtype: bfloat16)", "LoRA instead of full fine-tuning"} <= remedies.keys()
    assert any(r.startswith("FSDP2 sharding over") for r in remedies)
    assert all(gb <= 80 for gb in remedies.values())
