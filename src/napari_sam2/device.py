"""Choosing the torch device to run on: cuda, then mps, then cpu."""

from __future__ import annotations


def pick_device(name: str = "auto") -> str:
    """ "auto" -> cuda, then mps, then cpu; other names are checked (a ValueError when not available)."""
    import torch  # lazily: importing this module (the CLI, the widget) must not load torch

    if name == "auto":
        if torch.cuda.is_available():
            return "cuda"
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return "mps"
        return "cpu"
    if name not in ("cpu", "cuda", "mps"):
        raise ValueError(f"device must be auto, cpu, cuda or mps, got {name!r}")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' was asked for but torch sees no CUDA device")
    if name == "mps" and not (
        getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()
    ):
        raise ValueError("device 'mps' was asked for but it is not available")
    return name


def available_memory() -> int | None:
    """Bytes of memory this machine can still give a process (Linux's MemAvailable, else the physical
    memory), or None when it cannot be told."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        import os

        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None
