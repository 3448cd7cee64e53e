"""The OpenMP wait policy the CLI picks before torch loads: a bounded spin on free cores, passive waiting on
busy ones, and the user's own setting always."""

from __future__ import annotations

from ftscope.openmp import IDLE_CORES, SPIN, busy_cores, choose_wait_policy


def test_free_cores_get_a_bounded_spin():
    env: dict[str, str] = {}
    assert choose_wait_policy(env, lambda: 0.1) == "spin"
    assert env == {"GOMP_SPINCOUNT": SPIN}


def test_busy_cores_or_an_unknown_load_get_passive_waiting():
    for busy in (IDLE_CORES, 1.7, None):
        env: dict[str, str] = {}
        assert choose_wait_policy(env, lambda b=busy: b) == "passive"
        assert env == {"OMP_WAIT_POLICY": "PASSIVE"}


def test_the_users_setting_wins_and_nothing_is_measured():
    def never() -> float:
        raise AssertionError("measured although the user chose")

    for env in ({"OMP_WAIT_POLICY": "ACTIVE"}, {"GOMP_SPINCOUNT": "0"}):
        before = dict(env)
        assert choose_wait_policy(env, never) == "user" and env == before


def test_busy_cores_is_a_load_between_none_and_all_cores():
    import os

    found = busy_cores(0.05)
    assert found is None or 0 <= found <= (os.cpu_count() or 1) + 1e-9 or not os.path.exists("/proc/stat")


def test_the_cli_loads_no_torch_before_it_chooses():
    # libgomp reads the policy once, when torch loads; ftscope.cli.main chooses it after importing the CLI,
    # so importing the CLI must not load torch.
    import subprocess
    import sys

    code = "import sys, ftscope.cli; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
