"""`ftscope audit [BASE] TUNED [TUNED …]` on the tiny random Llama and real PEFT adapters made here: models given
by position or by flag, BASE inferred from what an adapter records, several tuned models against one base
loaded once, lm-eval tasks as benchmark cells beside the paper suite, hub ids through a local hub cache, and
each bad reference as one line."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lora_adapters import make_adapter

from ftscope.errors import ConfigError, ModelError

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "lm_eval"


@pytest.fixture(scope="module")
def adapters(tiny_model_dir, tmp_path_factory) -> list[Path]:
    root = tmp_path_factory.mktemp("adapters")
    return [make_adapter(tiny_model_dir, root / f"lora-{i}", seed=i) for i in range(2)]


def ftscope(*args: str, env: dict | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    import os

    return subprocess.run([sys.executable, "-c", "from ftscope.cli import main; main()", *args], capture_output=True,
                          text=True, timeout=600, env={**os.environ, **(env or {})}, cwd=cwd)


# ---- which model is the base ------------------------------------------------------------------
def test_base_is_inferred_from_the_adapters(adapters, tiny_model_dir):
    from ftscope.cli.audit import split_models

    assert split_models([str(a) for a in adapters], None, []) == (str(tiny_model_dir), [str(a) for a in adapters])


def test_base_given_first_or_by_flag(adapters, tiny_model_dir):
    from ftscope.cli.audit import split_models

    first = split_models([str(tiny_model_dir), str(adapters[0])], None, [])
    flags = split_models([], str(tiny_model_dir), [str(adapters[0])])
    assert first == flags == (str(tiny_model_dir), [str(adapters[0])])


def test_a_base_other_than_the_recorded_one_is_one_line(adapters, smollm2_dir):
    from ftscope.cli.audit import split_models

    with pytest.raises(ConfigError, match=r"was tuned from '.*', not 'smollm2-135m'; give its own base"):
        split_models([], "smollm2-135m", [str(adapters[0])])


def test_a_full_model_alone_cannot_tell_its_base(tiny_model_dir):
    from ftscope.cli.audit import split_models

    with pytest.raises(ConfigError, match="record no base model; give it first"):
        split_models([str(tiny_model_dir)], None, [])


# ---- lm-eval tasks in the grid ------------------------------------------------------------------
def test_lm_eval_tasks_become_benchmark_cells_for_every_model(adapters, tiny_model_dir, tmp_path):
    pytest.importorskip("lm_eval")
    from ftscope.experiments.config import EvalGrid, ExperimentConfig, TunedModel
    from ftscope.experiments.grid import expand, lm_eval_source
    from ftscope.specs import EvalSpec

    config = ExperimentConfig(name="t", store=str(tmp_path), models=[str(tiny_model_dir)],
                              tuned=[TunedModel(path=str(adapters[0]), trained_on=["amazon"])],
                              eval=EvalGrid(datasets=[], shots=[0, 2], limit=6, lm_eval_tasks=["arc_like"],
                                            lm_eval_include=str(FIXTURES)))
    cells = expand(config).eval
    assert len(cells) == 4  # 2 models × 1 task × 2 shot counts
    source = lm_eval_source(str(FIXTURES))  # the harness's version and the folder's digest (one for both models)
    assert source.startswith("lm-eval 0.") and "include folder sha256" in source
    assert {c.spec for c in cells} == {EvalSpec("lm-eval:arc_like", k, "lm-eval", "loglik", 6, task_source=source)
                                       for k in (0, 2)}
    assert {(c.task, c.task_kind, c.role) for c in cells} == {("lm-eval:arc_like", "benchmark", None)}
    assert {c.model.is_base for c in cells} == {True, False}


@pytest.mark.parametrize("task, message", [
    ("nope_task", "lm-eval task 'nope_task' not found"),
    ("ftscope_fixtures", "'ftscope_fixtures' is a group or tag, not one task"),
])
def test_an_unknown_or_grouped_lm_eval_task_is_one_line_before_anything_runs(task, message, tiny_model_dir, tmp_path):
    pytest.importorskip("lm_eval")
    from ftscope.experiments.config import EvalGrid, ExperimentConfig
    from ftscope.experiments.grid import expand

    config = ExperimentConfig(name="t", store=str(tmp_path), models=[str(tiny_model_dir)],
                              eval=EvalGrid(lm_eval_tasks=[task], lm_eval_include=str(FIXTURES)))
    with pytest.raises(ConfigError, match=f"eval.lm_eval_tasks: .*{message}"):
        expand(config)


def test_audit_end_to_end_two_adapters_one_base_with_an_lm_eval_task(adapters, tiny_model_dir, paper_data, tmp_path):
    """Both adapters and the base on sst2 and an lm-eval task; the base is loaded once, every cell done, and
    the benchmark cells are paired with the base's in the report (claim G reads them)."""
    pytest.importorskip("lm_eval")
    from ftscope.experiments.store import Store

    store, out = tmp_path / "store", tmp_path / "report"
    result = ftscope("audit", *map(str, adapters), "--trained-on", "amazon", "--suite", "sst2", "--shots", "0",
                     "--limit", "6", "--lm-eval-task", "hellaswag_like", "--lm-eval-include", str(FIXTURES),
                     "--store", str(store), "--out", str(out), "--data-dir", str(paper_data))
    assert result.returncode == 0, result.stderr
    rows = Store(store).rows()
    assert len(rows) == 6 and {r["status"] for r in rows} == {"done"}  # 3 models × (sst2 + hellaswag_like)
    bench = [r for r in rows if r["cell"].task_kind == "benchmark"]
    assert {r["cell"].model.key for r in bench} == {f"base:{tiny_model_dir}", *(f"path:{a}" for a in adapters)}
    assert sum(r["load_seconds"] > 0 for r in rows) == 3  # each model loaded once: base, then each adapter
    metrics = json.loads((Path(bench[0]["dir"]) / "metrics.json").read_text())
    assert metrics["n"] == 6 and metrics["lm_eval"]["task"] == "hellaswag_like"
    # Claim G found the benchmark pairs: what keeps it from a verdict is the design (one seed, 6 items), not
    # missing cells.
    reasons = [r["reason"] for r in json.loads((out / "tables" / "claim_reasons.json").read_text())
               if r["claim"] == "G"]
    assert reasons and not any("no lm-evaluation-harness cells" in r for r in reasons)
    assert any("6 paired items" in r for r in reasons)
    flips = json.loads((out / "tables" / "flip_counts.json").read_text())
    assert {f["dataset"] for f in flips} <= {"sst2", "lm-eval:hellaswag_like"}


def test_audit_of_an_lm_eval_task_alone(adapters, tiny_model_dir, tmp_path):
    """`--suite none`: only the benchmark, no paper data needed."""
    pytest.importorskip("lm_eval")
    from ftscope.experiments.store import Store

    store = tmp_path / "store"
    result = ftscope("audit", str(tiny_model_dir), str(adapters[0]), "--suite", "none", "--shots", "0",
                     "--limit", "4", "--lm-eval-task", "arc_like", "--lm-eval-include", str(FIXTURES),
                     "--store", str(store), "--out", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    rows = Store(store).rows()
    assert [r["cell"].spec.dataset for r in rows] == ["lm-eval:arc_like"] * 2


# ---- hub ids -----------------------------------------------------------------------------------
def hub_cache(root: Path, repo: str, folder: Path, revision: str = "main") -> str:
    """`folder` laid out as huggingface_hub caches a download of `repo`: blobs, a snapshot and refs/<rev>."""
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo_dir = root / f"models--{repo.replace('/', '--')}"
    snapshot = repo_dir / "snapshots" / commit
    snapshot.mkdir(parents=True)
    (repo_dir / "blobs").mkdir(exist_ok=True)
    for f in folder.iterdir():
        blob = repo_dir / "blobs" / f"{f.name}.blob"
        shutil.copy(f, blob)
        (snapshot / f.name).symlink_to(Path("..", "..", "blobs", blob.name))
    (repo_dir / "refs").mkdir(exist_ok=True)
    (repo_dir / "refs" / revision).write_text(commit)
    return commit


@pytest.fixture
def hub(tmp_path, monkeypatch, tiny_model_dir, adapters):
    """A hub cache holding the tiny base as org/tiny and an adapter of it as org/tiny-lora (which, as a hub
    adapter does, names its base by hub id)."""
    import huggingface_hub.constants as constants

    cache = tmp_path / "hub"
    hub_cache(cache, "org/tiny", tiny_model_dir)
    adapter = tmp_path / "adapter-as-published"
    shutil.copytree(adapters[0], adapter)
    config = json.loads((adapter / "adapter_config.json").read_text())
    (adapter / "adapter_config.json").write_text(json.dumps({**config, "base_model_name_or_path": "org/tiny"}))
    commit = hub_cache(cache, "org/tiny-lora", adapter)
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))  # read at import; the env is for subprocesses
    return cache, commit


def test_hub_ids_resolve_through_the_hub_cache(hub):
    from ftscope.cli.audit import split_models
    from ftscope.models.hub import local_snapshot

    cache, commit = hub
    assert split_models(["org/tiny-lora"], None, []) == ("org/tiny", ["org/tiny-lora"])
    assert local_snapshot(f"org/tiny-lora@{commit}") == cache / "models--org--tiny-lora" / "snapshots" / commit


def test_a_hub_id_that_is_not_cached_is_one_line(hub):
    from ftscope.cli.audit import split_models

    with pytest.raises(ModelError, match="'org/missing': not in the local hub cache and the hub is off"):
        split_models(["org/tiny", "org/missing"], None, [])


def test_audit_of_hub_ids_end_to_end(hub, tmp_path, paper_data):
    from ftscope.experiments.store import Store

    cache, commit = hub
    result = ftscope("audit", "org/tiny", f"org/tiny-lora@{commit}", "--trained-on", "amazon", "--suite", "sst2",
                     "--shots", "0", "--limit", "3", "--data-dir", str(paper_data), "--store", str(tmp_path / "s"),
                     "--out", str(tmp_path / "o"), env={"HF_HUB_CACHE": str(cache), "HF_HUB_OFFLINE": "1"})
    assert result.returncode == 0, result.stderr
    rows = Store(tmp_path / "s").rows()
    assert {r["cell"].model.key for r in rows} == {"base:org/tiny", f"path:org/tiny-lora@{commit}"}
    assert {r["status"] for r in rows} == {"done"} and (tmp_path / "o" / "report.html").is_file()


def test_audit_of_a_missing_hub_id_is_one_line(hub, tmp_path):
    cache, _ = hub
    result = ftscope("audit", "org/tiny", "org/nothing-here", "--store", str(tmp_path / "s"),
                     env={"HF_HUB_CACHE": str(cache), "HF_HUB_OFFLINE": "1"})
    assert result.returncode == 2
    assert "'org/nothing-here': not in the local hub cache" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
