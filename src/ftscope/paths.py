"""Where ftscope keeps what it can rebuild: converted models, retrieval indexes."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

CACHE_ENV = "FTSCOPE_CACHE"


def cache_root() -> Path:
    """$FTSCOPE_CACHE, else the user cache dir (~/.cache/ftscope on Linux)."""
    return Path(os.environ.get(CACHE_ENV) or platformdirs.user_cache_dir("ftscope"))
