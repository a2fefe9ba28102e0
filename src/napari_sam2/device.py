"""Choosing the torch device to run on (cuda, then mps, then cpu), and what it computes fast."""

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


def bf16_is_fast(device) -> bool:
    """Whether ``device`` computes bfloat16 natively (else emulated bf16 is many times slower than fp32)."""
    import torch

    kind = torch.device(device).type
    if kind == "cuda":
        return torch.cuda.is_bf16_supported()
    if kind == "cpu":
        return torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()
    return False


def check_precision(precision: str, device) -> None:
    """A ValueError when ``precision`` would be slow on ``device`` (bf16 without native support)."""
    import torch

    if precision == "bf16" and not bf16_is_fast(device):
        raise ValueError(
            f"precision 'bf16' needs native bfloat16 on {torch.device(device).type} "
            "(CUDA, or a CPU with AVX512-BF16/AMX); here it would be many times slower "
            "than fp32: use 'fp32'"
        )
