"""Giving freed memory back to the system during long runs.

glibc's allocator keeps the memory of freed blocks inside its heaps for re-use, and torch frees and
allocates blocks of many sizes on every frame; over a long movie the process's resident memory then
creeps up although what it holds does not grow (a 1200-frame run peaked 30 % above a 400-frame one,
docs/benchmarks.md). ``malloc_trim`` hands the free pages back. Elsewhere (macOS, Windows, musl)
there is nothing to call and :func:`release_free_memory` does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import sys
import time

EVERY_S = 1.0  # at most one trim a second: it walks the heaps (a few ms), frames take longer
_last = [float("-inf")]


@functools.lru_cache(maxsize=1)
def _malloc_trim():
    """glibc's ``malloc_trim``, or None where there is none."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc.malloc_trim
    except (OSError, AttributeError):
        return None


def release_free_memory(every_s: float = EVERY_S, clock=time.monotonic) -> bool:
    """Hand the allocator's free pages back to the system, unless that was done in the last
    ``every_s`` seconds; returns whether it trimmed."""
    trim = _malloc_trim()
    now = clock()
    if trim is None or now - _last[0] < every_s:
        return False
    _last[0] = now
    trim(0)
    return True
