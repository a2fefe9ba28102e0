"""CPU threads for torch: one place that chooses and sets them, with a default that holds up on a shared machine."""

from __future__ import annotations

import os

ENV = "NAPARI_SAM2_THREADS"


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity where the system tells it, else all)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def default_threads() -> int:
    """``NAPARI_SAM2_THREADS`` when set, else one core less than available (at least 1, at most 8).

    Why not all cores: torch waits at the end of each operation for its slowest thread; when
    another program (or napari's own GUI thread) takes a core, one thread stalls every operation
    and a run can become tens of times slower (docs/threads.md has the numbers). Leaving one core
    free costs little when the machine is quiet.
    """
    text = os.environ.get(ENV, "").strip()
    if text:
        return check_threads(text, ENV)
    return max(1, min(available_cores() - 1, 8))


def check_threads(value, name: str = "threads") -> int:
    """``value`` as a positive whole number of threads, or a ValueError naming ``name``."""
    try:
        n = int(str(value).strip())
    except ValueError:
        n = 0
    if n < 1:
        raise ValueError(f"{name} must be a whole number of threads, 1 or more, got {value!r}")
    return n


def set_threads(n: int | None = None) -> int:
    """Set torch's intra-op threads to ``n`` (default: :func:`default_threads`); returns the number set."""
    import torch

    n = default_threads() if n is None else check_threads(n)
    torch.set_num_threads(n)
    return n
