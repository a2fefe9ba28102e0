"""Label stack files read or written one frame at a time: :class:`LabelStack` and :class:`LabelWriter`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tifffile

from .atomic import _remove, check_output, mark_folder, replace_with


class LabelStack:
    """A (T, Y, X) label stack read or computed one frame at a time.

    ``frame(t)`` returns frame ``t`` as a (Y, X) array of non-negative integers and ``max_id``
    bounds the ids; frames come out as ``dtype`` (default: uint16 below 65536, else uint32).
    Iterating gives the frames in order; ``stack[t]`` one frame.
    """

    ndim = 3

    def __init__(
        self, n_frames: int, height: int, width: int, frame, max_id: int, dtype=None
    ) -> None:
        if min(n_frames, height, width) < 1:
            raise ValueError(f"labels must not be empty, got shape {(n_frames, height, width)}")
        if not 0 <= int(max_id) < 2**32:
            raise ValueError(f"labels: max id {max_id} must be in [0, 2**32)")
        self.shape = (int(n_frames), int(height), int(width))
        self.max_id = int(max_id)
        self.dtype = np.dtype(dtype or (np.uint16 if self.max_id < 65536 else np.uint32))
        self._frame = frame

    @classmethod
    def from_file(cls, path) -> "LabelStack":
        """The label stack a writer here made (.tif/.tiff or .zarr), read back a frame at a time."""
        path = Path(path)
        if path.suffix.lower() == ".zarr":
            import zarr

            arr = zarr.open_array(str(path), mode="r")
        else:  # the lazy TIFF reader (one open file, no page walk per frame)
            from .readers import open_frames

            arr = open_frames(path)
        shape, dtype = tuple(arr.shape), arr.dtype
        frame = (lambda t: arr[t]) if len(shape) == 3 else (lambda t: arr[...])
        return cls(*_as_tyx_shape(shape), frame, np.iinfo(dtype).max, dtype)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, t) -> np.ndarray:
        if not isinstance(t, (int, np.integer)):
            raise TypeError(
                f"a LabelStack gives one frame at a time: index it with an integer, not {t!r}"
            )
        if not -len(self) <= t < len(self):
            raise IndexError(f"frame {t} is outside 0..{len(self) - 1}")
        frame = np.asarray(self._frame(int(t) % len(self)))
        if frame.shape != self.shape[1:] or not np.issubdtype(frame.dtype, np.integer):
            raise ValueError(
                f"frame {t}: expected integer labels of shape {self.shape[1:]}, "
                f"got {frame.dtype} {frame.shape}"
            )
        return frame.astype(self.dtype, copy=False)

    def __iter__(self):
        return (self[t] for t in range(len(self)))

    def max(self) -> int:
        return self.max_id


def _as_tyx_shape(shape) -> tuple[int, int, int]:
    if len(shape) not in (2, 3):
        raise ValueError(f"labels must have shape (T, Y, X) or (Y, X), got {tuple(shape)}")
    return tuple(shape) if len(shape) == 3 else (1, *shape)


def imagej_ok(shape, dtype) -> bool:
    """Whether a label stack is written as an ImageJ hyperstack: uint16, and not a single frame (an
    ImageJ TIFF of one frame reads back as (Y, X); a plain TIFF keeps (1, Y, X))."""
    return np.dtype(dtype) == np.uint16 and not (len(shape) == 3 and shape[0] == 1)


def partial_path(path) -> Path:
    """Where :class:`LabelWriter` keeps a stack while it is written: ``labels.partial.tif`` beside
    ``labels.tif`` (``labels.partial.zarr`` beside ``labels.zarr``)."""
    path = Path(path)
    return path.with_name(f"{path.stem}.partial{path.suffix}")


class LabelWriter:
    """A label stack ``(T, Y, X)`` written into ``path`` (.tif/.tiff or .zarr) a frame at a time.

    The frames go into :func:`partial_path` first, made at full size when the writer opens (every
    frame 0), and each :meth:`write` goes to disk at once (flushed). :meth:`commit` (a ``with``
    block that ends without an error) renames the finished file to ``path``. A run that stops early
    (Ctrl-C, an error) leaves the partial file with every frame written so far readable (the others
    0), and ``path`` as it was. TIFFs are uncompressed (an ImageJ hyperstack for uint16, as
    :func:`write_labels_tiff`; a plain TIFF for uint32) and zarr arrays have one chunk per frame and
    ``{"axes": "TYX"}``. The dtype is uint16 when ``max_id`` < 65536, else uint32. ``path`` and the
    partial file follow :func:`~napari_sam2.io.atomic.check_output` (an existing one is replaced only
    with ``overwrite``).
    """

    def __init__(self, path, shape, max_id: int, overwrite: bool = False) -> None:
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix not in (".tif", ".tiff", ".zarr"):
            raise ValueError(f"a label stack file must end in .tif, .tiff or .zarr, got {path}")
        shape = tuple(int(s) for s in shape)
        if len(shape) != 3 or min(shape) < 1:
            raise ValueError(f"shape must be three positive numbers (T, Y, X), got {shape}")
        if not 0 <= int(max_id) < 2**32:
            raise ValueError(f"max id {max_id} must be in [0, 2**32)")
        self.folder = suffix == ".zarr"
        self.partial = partial_path(path)
        check_output(path, folder=self.folder, overwrite=overwrite)
        check_output(self.partial, folder=self.folder, overwrite=overwrite)
        _remove(self.partial)
        self.path, self.shape, self.overwrite = path, shape, overwrite
        self.dtype = np.dtype(np.uint16 if int(max_id) < 65536 else np.uint32)
        path.parent.mkdir(parents=True, exist_ok=True)
        if self.folder:
            import zarr

            self._out = zarr.open_array(
                store=str(self.partial),
                mode="w",
                shape=shape,
                chunks=(1, *shape[1:]),
                dtype=self.dtype,
                fill_value=0,
            )
            self._out.attrs["axes"] = "TYX"
        else:
            # tifffile lays out the file (header, then every frame, contiguous and uncompressed); frames
            # are then written at their place with plain file writes, not through the mapping, whose
            # written pages would stay in the process's resident memory until the end of the run
            layout = tifffile.memmap(
                self.partial,
                shape=shape,
                dtype=self.dtype,
                imagej=imagej_ok(shape, self.dtype),
                metadata={"axes": "TYX"},
            )
            layout.flush()
            self._offset, self._frame_bytes = layout.offset, layout[0].nbytes
            del layout
            self._out = open(self.partial, "r+b")
        self.committed = False

    def write(self, t: int, frame) -> None:
        """Store frame ``t`` (a (Y, X) array of ids) and flush it to disk."""
        if self._out is None:
            raise ValueError(f"{self.partial} is closed")
        t = int(t)
        if not 0 <= t < self.shape[0]:
            raise ValueError(f"frame {t} is outside 0..{self.shape[0] - 1}")
        frame = np.asarray(frame)
        if frame.shape != self.shape[1:]:
            raise ValueError(f"frame {t}: expected shape {self.shape[1:]}, got {frame.shape}")
        frame = frame.astype(self.dtype, copy=False)
        if self.folder:
            self._out[t] = frame
        else:
            self._out.seek(self._offset + t * self._frame_bytes)
            self._out.write(np.ascontiguousarray(frame).tobytes())
            self._out.flush()

    def close(self) -> None:
        """Flush and close the partial file (it stays, with the frames written so far)."""
        if not self.folder and self._out is not None:
            self._out.close()
        self._out = None

    def commit(self) -> Path:
        """Close, and move the finished stack from the partial file to ``path``; returns ``path``."""
        self.close()
        if self.folder:
            mark_folder(self.partial)
        check_output(self.path, folder=self.folder, overwrite=self.overwrite)
        replace_with(self.partial, self.path)
        self.committed = True
        return self.path

    def __enter__(self) -> "LabelWriter":
        return self

    def __exit__(self, kind, *exc) -> None:
        if kind is None:
            self.commit()
        else:
            self.close()
