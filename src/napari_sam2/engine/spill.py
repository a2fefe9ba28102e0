"""Results at scale: the low-res logits of far tracked frames go to a file on disk, so RAM holds a bounded part
of a long run's results.

Every object-frame keeps its low-res logits, because exact corrections rebuild memory from them and the
label image and exports are made from them. They are 16 KB per object-frame in a 256 px window and 256 KB at
a 1024 px input: 10 objects over 2,000 whole frames at 1024 px would hold 5 GB. A session keeps at most
``results_ram`` MB of them in RAM. When the logits it made exceed that, the results furthest (in frames)
from the frame just tracked are written to one temporary file, down to three quarters of the bound, and
read back whenever they are used: the same float32 values, so labels, corrections and exports do not change.
Prompted frames and the frames near the one being tracked stay in RAM.

The file is anonymous (``tempfile.TemporaryFile`` in the system's temporary folder, ``TMPDIR``): nothing is
left on disk when the session ends. It only grows: a frame tracked again writes its new logits at the end.
"""

from __future__ import annotations

import math
import tempfile
import threading
from typing import Mapping, NamedTuple

import torch

from .results import ObjectTrack

MB = 2**20
KEEP_NEAR = 16  # frames on either side of the tracked one whose results are never spilled
SPILL_TO = 0.75  # a spill goes down to this fraction of the bound, so the next one is far off


class Spilled(NamedTuple):
    """Where one result's logits lie in a :class:`SpillFile`."""

    file: "SpillFile"
    offset: int
    shape: tuple[int, ...]
    dtype: torch.dtype
    device: torch.device

    def read(self) -> torch.Tensor:
        return self.file.read(self)


class SpillFile:
    """Tensors appended to one anonymous temporary file and read back by position (thread-safe)."""

    def __init__(self) -> None:
        self._file = None
        self._lock = threading.Lock()
        self.nbytes = 0

    def write(self, tensor: torch.Tensor) -> Spilled:
        data = tensor.detach().cpu().contiguous().view(torch.uint8).numpy().tobytes()
        with self._lock:
            if self._file is None:
                self._file = tempfile.TemporaryFile(prefix="napari-sam2-results-")
            offset = self.nbytes
            self._file.seek(offset)
            self._file.write(data)
            self.nbytes += len(data)
        return Spilled(self, offset, tuple(tensor.shape), tensor.dtype, tensor.device)

    def read(self, where: Spilled) -> torch.Tensor:
        size = math.prod(where.shape) * where.dtype.itemsize
        with self._lock:
            self._file.seek(where.offset)
            data = bytearray(self._file.read(size))
        if len(data) != size:
            raise OSError(
                "the temporary file of spilled results is shorter than written: "
                f"{len(data)} of {size} bytes at {where.offset}"
            )
        return torch.frombuffer(data, dtype=where.dtype).reshape(where.shape).to(where.device)

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None


class ResultSpill:
    """Keeps the logits a session holds in RAM under ``ram_mb`` (see the module).

    :meth:`after_frame` is called after each tracked frame. It counts the logits made on that frame, and once
    the count passes the bound it counts what is really held (results replaced since were freed) and spills
    the furthest results."""

    def __init__(self, ram_mb: float) -> None:
        self.bound = ram_mb * MB
        self.file = SpillFile()
        # bytes of logits counted as in RAM (results replaced since make it an over-count)
        self.held = 0
        self.spilled = 0  # object-frames written to the file

    def after_frame(self, f: int, objects: Mapping[int, ObjectTrack], ids) -> None:
        """Count the results ``ids`` got on ``f``; spill the furthest ones when past the bound."""
        for oid in ids:
            r = objects[oid].results.get(f)
            if r is not None and r.in_ram and f not in objects[oid].prompts:
                self.held += r.nbytes
        if self.held > self.bound:
            self._spill(f, objects)

    def _spill(self, f: int, objects: Mapping[int, ObjectTrack]) -> None:
        held = [
            (abs(t - f), r)
            for obj in objects.values()
            for t, r in obj.results.items()
            if r.in_ram and t not in obj.prompts
        ]
        total = sum(r.nbytes for _, r in held)
        held.sort(key=lambda item: item[0], reverse=True)  # furthest first
        for distance, r in held:
            if total <= SPILL_TO * self.bound or distance <= KEEP_NEAR:
                break
            total -= r.nbytes
            r.spill(self.file)
            self.spilled += 1
        self.held = total
