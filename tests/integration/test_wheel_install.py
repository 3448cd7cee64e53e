"""`pip install ftscope` without a clone: a wheel built from this tree, installed into a fresh venv, works from a
folder that is not the repository — its package data, its console scripts, its imports — and the default install
is lean: `import ftscope.cli` and `ftscope eval` run with lm-eval, TRL and Ray made unimportable.

The fresh venv installs the wheel with --no-deps and sees this environment's installed dependencies through a
.pth line (the locked versions the rest of the suite uses): the network is never needed, and what is tested is
what the wheel itself carries.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
OPTIONAL = ("lm_eval", "trl", "ray")
# A .pth line that starts with `import` runs at start-up: each optional package then raises ImportError when
# imported, as it would where it is not installed.
BLOCK = "import sys; sys.modules.update(dict.fromkeys({names!r}))\n"


def run(*args: str, cwd: Path, env: dict | None = None, timeout: int = 600) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "FTSCOPE_DATA_DIR")}
    return subprocess.run(list(args), capture_output=True, text=True, timeout=timeout, cwd=cwd,
                          env={**clean, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", **(env or {})})


@pytest.fixture(scope="module")
def venv(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("wheel")
    built = run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", str(root / "dist"),
                str(REPO), cwd=root)
    assert built.returncode == 0, built.stderr
    (wheel,) = (root / "dist").glob("ftscope-*.whl")
    made = run(sys.executable, "-m", "venv", str(root / "venv"), cwd=root)
    assert made.returncode == 0, made.stderr
    site = Path(run(str(root / "venv" / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()"
                    "['purelib'])", cwd=root).stdout.strip())
    (site / "zz-locked-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    installed = run(str(root / "venv" / "bin" / "pip"), "install", "--no-deps", "--no-index", str(wheel), cwd=root)
    assert installed.returncode == 0, installed.stderr
    (root / "elsewhere").mkdir()
    return root


def bin_(venv: Path, name: str) -> str:
    return str(venv / "venv" / "bin" / name)


def block_optional(venv: Path, names: tuple[str, ...] = OPTIONAL) -> Path:
    site = next((venv / "venv" / "lib").glob("python*/site-packages"))
    path = site / "block-optional.pth"
    path.write_text(BLOCK.format(names=names))
    return path


def test_the_package_comes_from_the_wheel_with_its_data(venv):
    found = run(bin_(venv, "python"), "-c", "import ftscope, ftscope.prompts.templates as t; print(ftscope.__file__); "
                "print(len(t.paper_templates()))", cwd=venv / "elsewhere")
    assert found.returncode == 0, found.stderr
    where, templates = found.stdout.split()
    assert str(venv / "venv") in where and REPO.as_posix() not in where
    assert int(templates) > 0


def test_both_console_scripts_are_installed(venv):
    help_ = run(bin_(venv, "ftscope"), "--help", cwd=venv / "elsewhere")
    assert help_.returncode == 0 and all(c in help_.stdout for c in ("audit", "import-lm-eval", "export", "report"))
    lm = run(bin_(venv, "ftscope-lm-eval"), "run", "--help", cwd=venv / "elsewhere")  # lm-eval's own CLI
    assert lm.returncode == 0 and "--model <model>" in lm.stdout


def test_datasets_says_where_each_dataset_would_load_from(venv, paper_data):
    # Wide enough for any checkout's path: a table cell wraps a long path over lines with borders between.
    given = run(bin_(venv, "ftscope"), "datasets", cwd=venv / "elsewhere",
                env={"FTSCOPE_DATA_DIR": str(paper_data), "COLUMNS": "1000"})
    assert given.returncode == 0 and f"data folder: {paper_data}" in given.stdout
    assert str(paper_data / "sentiment" / "sst2_test_500.json") in given.stdout.replace("\n", "")
    none = run(bin_(venv, "ftscope"), "datasets", cwd=venv / "elsewhere", env={"COLUMNS": "1000"})
    assert none.returncode == 0 and "data folder: none found" in none.stdout
    assert "$FTSCOPE_DATA_DIR/sentiment/sst2_test_500.json" in none.stdout.replace("\n", "").replace(" │", "")


def test_a_lean_install_imports_and_evaluates_without_lm_eval_trl_or_ray(venv, tiny_model_dir, paper_data):
    blocker = block_optional(venv)
    try:
        check = run(bin_(venv, "python"), "-c", "import sys, ftscope.cli\n"
                    f"print(sorted(m for m in sys.modules if m.split('.')[0] in {OPTIONAL} and sys.modules[m]))",
                    cwd=venv / "elsewhere")
        assert check.returncode == 0 and check.stdout.strip() == "[]", check.stderr
        out = venv / "elsewhere" / "eval"
        evaluated = run(bin_(venv, "ftscope"), "eval", "--model", str(tiny_model_dir), "-d", "sst2", "--limit", "4",
                        "--data-dir", str(paper_data), "--out", str(out), cwd=venv / "elsewhere")
        assert evaluated.returncode == 0, evaluated.stderr
        assert (out / "metrics.json").is_file()
        wrapper = run(bin_(venv, "ftscope-lm-eval"), "--help", cwd=venv / "elsewhere")
        assert wrapper.returncode == 1 and "lm-evaluation-harness is not installed; pip install 'ftscope[lm-eval]'" \
            in wrapper.stderr and "Traceback" not in wrapper.stderr
    finally:
        blocker.unlink()
