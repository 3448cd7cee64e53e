"""Freed memory given back to the operating system.

glibc keeps what torch frees on its heap for reuse, so a process's resident set only grows: after a training
stage, the reloaded model of the reload check and the weight comparison came on top of ~1.5 GB the stage had
already freed (SmolLM2-135M, LoRA: 3.2 GB peak). `malloc_trim` hands those pages back; elsewhere it is a
no-op. Called where a large model or its activations have just been dropped.
"""

from __future__ import annotations

import ctypes
import gc
import sys


def release_freed_memory() -> None:
    gc.collect()
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL("libc.so.6").malloc_trim(0)
        except (OSError, AttributeError):  # musl and other C libraries: nothing to trim this way
            pass
