"""What every subcommand shares: the consoles, and parsing of list-valued options into typed values."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Literal, Sequence

from rich.console import Console
from rich.table import Table

from ftscope.errors import ConfigError
from ftscope.specs import choices

console = Console(stderr=True)


def out_console() -> Console:
    """Tables go to stdout; when piped, wide enough that paths are not cut (or as wide as $COLUMNS says)."""
    return Console(width=None if sys.stdout.isatty() or os.environ.get("COLUMNS") else 160)


def split(values: Sequence[str] | str | None) -> list[str]:
    """Repeated and comma-separated values alike: -d a -d b,c → [a, b, c]."""
    values = [values] if isinstance(values, str) else values or []
    return [v.strip() for value in values for v in value.split(",") if v.strip()]


def shots(value: str) -> list[int]:
    try:
        found = [int(v) for v in split(value)]
    except ValueError:
        raise ConfigError(f"--shots: '{value}' is not a comma-separated list of integers, e.g. 0,2,4") from None
    if not found or any(k < 0 for k in found):
        raise ConfigError(f"--shots: '{value}': give shot counts of 0 or more, e.g. 0,2,4")
    return found


def one_of(option: str, value: str, literal: type | Literal) -> str:
    """A value checked against a Literal type's choices before anything loads."""
    allowed = choices(literal)
    if value not in allowed:
        raise ConfigError(f"{option}: '{value}' is not one of {', '.join(allowed)}")
    return value


def field_map(pairs: Sequence[str] | None) -> dict[str, str]:
    split_pairs = [p.split("=", 1) for p in pairs or []]
    if any(len(p) != 2 or not all(p) for p in split_pairs):
        raise ConfigError("--map: expected field=column, e.g. --map input=text")
    return dict(split_pairs)


def writable(out: Path, option: str = "--out") -> Path:
    """Fail before any work when the output folder cannot be written (not after the first cell)."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".ftscope-write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as e:
        raise ConfigError(f"{option} {out}: not writable ({e.strerror}); give a folder you can write to") from None
    return out


def metrics_table(summary: dict, title: str = "") -> Table:
    table = Table("dataset", "shots", "metric", "value", "± se", "n", title=title)
    for dataset, by_shots in summary.get("results", {}).items():
        for k, m in by_shots.items():
            key = "accuracy" if "accuracy" in m else "rougeL"
            table.add_row(dataset, k, key, f"{m[key]:.3f}", f"{m.get(key + '_se', float('nan')):.3f}", str(m["n"]))
    return table
