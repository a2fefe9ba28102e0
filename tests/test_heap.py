"""Freed memory goes back to the system during long runs (napari_sam2.heap)."""

import sys

import pytest
import torch

from napari_sam2 import heap


def _rss_anon_mb() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("RssAnon"):
                return int(line.split()[1]) // 1024
    raise RuntimeError("no RssAnon in /proc/self/status")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim: Linux only")
def test_memory_freed_inside_the_heap_goes_back_to_the_system():
    # 4000 blocks of 200 KB, all freed but every 50th: the kept ones pin the heap, so free() alone
    # leaves the pages with the process
    blocks = [torch.empty(50_000).fill_(1.0) for _ in range(4000)]
    kept = blocks[49::50]
    del blocks
    held = _rss_anon_mb()
    assert heap.release_free_memory(every_s=0.0)
    after = _rss_anon_mb()
    assert len(kept) == 80
    assert held - after > 300, f"RSS {held} MB -> {after} MB after the trim"


def test_trims_at_most_once_per_interval(monkeypatch):
    calls = []
    monkeypatch.setattr(heap, "_malloc_trim", lambda: calls.append)
    monkeypatch.setattr(heap, "_last", [float("-inf")])
    clock = iter([10.0, 10.5, 11.2, 11.3]).__next__
    done = [heap.release_free_memory(1.0, clock) for _ in range(4)]
    assert done == [True, False, True, False]
    assert calls == [0, 0]
