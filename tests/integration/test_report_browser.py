"""The HTML report in headless Chromium: it renders its sections, every figure decodes, the console is clean.

Needs Debian's chromium (`apt-get install -y chromium`); without it the test skips and says so. The
screenshot goes to tmp_path only, for a person to look at when a layout change needs judging.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from ftscope.report import build_report
from ftscope.report.render.style import SCRIPT
from synthetic_store import write_synthetic_store

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--enable-logging=stderr", "--v=0", "--virtual-time-budget=5000"]
SECTIONS = ["Overview", "Claims", "Generalization", "Figures", "RAG", "Training", "What is missing"]

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="headless check needs Debian's chromium at /usr/bin/chromium "
                                                     "(apt-get install -y chromium)"),
]


def chromium(page: Path, profile: Path, *args: str) -> subprocess.CompletedProcess:
    command = [str(CHROMIUM), *FLAGS, f"--user-data-dir={profile}", *args, page.resolve().as_uri()]
    return subprocess.run(command, capture_output=True, text=True, timeout=180)


def console_problems(stderr: str) -> list[str]:
    """Console output of the page (it logs nothing when healthy) and uncaught exceptions."""
    return [line for line in stderr.splitlines() if ":CONSOLE" in line or "Uncaught" in line]


def body_flag(dom: str, name: str) -> str | None:
    found = re.search(rf'<body[^>]*\bdata-{name}="([^"]*)"', dom)
    return found.group(1) if found else None


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    store = write_synthetic_store(tmp_path_factory.mktemp("store"), experiment="demo")
    return build_report(store.root, tmp_path_factory.mktemp("out"), "demo")


def test_report_renders_with_every_image_and_a_clean_console(report, tmp_path):
    run = chromium(report, tmp_path / "profile", "--dump-dom")
    assert run.returncode == 0, run.stderr[-2000:]
    for title in SECTIONS:
        assert re.search(rf"<h2>{re.escape(title)}</h2>", run.stdout), title
    assert body_flag(run.stdout, "images-ok") == "true"
    assert int(body_flag(run.stdout, "image-count") or 0) >= 6
    assert console_problems(run.stderr) == []


def test_screenshot_is_written_to_tmp(report, tmp_path):
    shot = tmp_path / "report.png"
    run = chromium(report, tmp_path / "profile", f"--screenshot={shot}", "--window-size=1280,2000")
    assert run.returncode == 0 and shot.stat().st_size > 50_000  # a blank page compresses to a few KB


def test_the_checks_catch_a_broken_page(tmp_path):
    """The instruments themselves: a broken image and a script error must both be seen."""
    page = tmp_path / "broken.html"
    page.write_text("<!DOCTYPE html><html><body><h2>Overview</h2><img src='data:image/png;base64,AAAA'>"
                    f"<script>{SCRIPT}</script><script>missingFunction();</script></body></html>")
    run = chromium(page, tmp_path / "profile", "--dump-dom")
    assert body_flag(run.stdout, "images-ok") == "false"
    assert any("Uncaught ReferenceError" in line for line in console_problems(run.stderr))
