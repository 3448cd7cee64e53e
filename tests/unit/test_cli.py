"""Bad input on the command line gets one clear line and exit code 2, never a traceback."""

from __future__ import annotations

import subprocess
import sys

import pytest


def ftscope(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", "from ftscope.cli import main; main()", *args],
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("args, message", [
    (["eval", "-d", "nope"], "'nope' is not in the catalogue"),
    (["eval", "-d", "sst2", "--shots", "x"], "--shots"),
    (["eval", "-d", "sst2", "--scoring", "bogus"], "--scoring"),
    (["eval", "-d", "some.csv"], "needs --task"),
    (["list"], "No such command 'list'"),
    (["eval", "--no-such-option"], "No such option"),
])
def test_bad_arguments_are_one_line(args, message):
    result = ftscope(*args)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr


def test_models_lists_the_default():
    result = ftscope("models")
    assert result.returncode == 0 and "smollm2-135m" in result.stdout
