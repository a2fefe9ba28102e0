"""Lazy frame readers: TIFF stacks (memory-mapped or chunked through zarr), folders of images, arrays.

Nothing here reads a whole file up front or imports torch: a reader returns an array-like with
``shape``, ``dtype`` and per-frame ``[t]`` indexing. Damaged or truncated TIFFs are refused with a
message that says how much of the file could be read (:func:`check_tiff`).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
from PIL import Image

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp"}


class _ImageFolder:
    """A folder of single-frame images as a lazy ``(T, H, W[, C])`` array, in natural order (by the
    last number in the name, then by name: ``2.png`` before ``10.png``), as the official video
    predictor takes a folder of frames. Every frame's size is read from its header up front, so a
    folder of mixed sizes is refused before any work."""

    def __init__(self, folder: Path) -> None:
        files = [
            p
            for p in folder.iterdir()
            if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")
        ]
        if not files:
            raise ValueError(
                f"no images ({', '.join(sorted(IMAGE_SUFFIXES))}) found in folder {folder}"
            )

        def key(p: Path):
            nums = re.findall(r"\d+", p.stem)
            return (int(nums[-1]) if nums else -1, p.name)

        self.files = sorted(files, key=key)
        first = self._read(0)
        shapes: dict[tuple, list[str]] = {}
        for path in self.files:
            shapes.setdefault(_frame_shape(path, first), []).append(path.name)
        if len(shapes) > 1:
            sizes = "; ".join(
                f"{'x'.join(map(str, shape))}: {len(names)} file(s), e.g. {names[0]}"
                for shape, names in shapes.items()
            )
            raise ValueError(
                f"the frames in folder {folder} differ in size ({sizes}): a movie needs frames "
                "of one size"
            )
        self.shape = (len(self.files), *first.shape)
        self.dtype = first.dtype
        self.ndim = len(self.shape)

    def _read(self, i: int) -> np.ndarray:
        path = self.files[i]
        try:
            if path.suffix.lower() in (".tif", ".tiff"):
                import tifffile

                return tifffile.imread(path)
            with Image.open(path) as im:
                return np.asarray(
                    im.convert("RGB") if im.mode not in ("L", "I;16", "I", "F", "RGB") else im
                )
        except (OSError, ValueError) as exc:
            raise ValueError(f"cannot read frame {i} of the folder, {path}: {exc}") from None

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key) -> np.ndarray:
        """Numpy-style indexing; the first index picks frames (read lazily), the rest is applied to them."""
        first, rest = (key[0], key[1:]) if isinstance(key, tuple) else (key, ())
        if isinstance(first, slice):
            return np.stack([self._read(i)[rest] for i in range(*first.indices(len(self)))])
        i = int(first)
        if not -len(self) <= i < len(self):
            raise IndexError(f"frame {i} is outside the {len(self)} frames of the folder")
        frame = self._read(i % len(self))
        if frame.shape != self.shape[1:]:
            raise ValueError(
                f"{self.files[i % len(self)]} changed size since the folder was opened"
            )
        return frame[rest]


def _frame_shape(path: Path, first: np.ndarray) -> tuple:
    """A frame's shape from its file header (no pixels read), in the layout :class:`_ImageFolder` reads."""
    if path.suffix.lower() in (".tif", ".tiff"):
        import tifffile

        try:
            with tifffile.TiffFile(path) as tif:
                return tuple(tif.series[0].shape)
        except Exception as exc:  # tifffile raises many kinds for a file that is not a TIFF
            raise ValueError(f"cannot read {path} as a TIFF frame: {exc}") from None
    try:
        with Image.open(path) as im:
            w, h = im.size
            grey = im.mode in ("L", "I;16", "I", "F")
    except OSError as exc:
        raise ValueError(f"cannot read {path} as an image: {exc}") from None
    return (h, w) if grey else (h, w, 3)


class _Records:
    """Collects what tifffile logs while a file is parsed (it logs, not raises, on a broken page chain)."""

    def __init__(self) -> None:
        import logging

        self.messages: list[str] = []
        self.handler = logging.Handler(logging.WARNING)
        self.handler.emit = lambda record: self.messages.append(record.getMessage())
        self.logger = logging.getLogger("tifffile")

    def __enter__(self) -> "_Records":
        self.logger.addHandler(self.handler)
        return self

    def __exit__(self, *exc) -> None:
        self.logger.removeHandler(self.handler)


def _data_end(page) -> int:
    return max((o + c for o, c in zip(page.dataoffsets, page.databytecounts)), default=0)


def check_tiff(path: str | os.PathLike) -> None:
    """Raise a ValueError naming ``path`` when the TIFF is damaged or cut short: pages whose data lie
    past the end of the file, a broken chain of pages, or fewer frames than its metadata declares.
    The message says what could be read. (tifffile itself would return the first page or pages as
    if they were the whole file.)"""
    import tifffile

    path = Path(path)
    size = path.stat().st_size
    try:
        _check_tiff(path, size, tifffile)
    except tifffile.TiffFileError as exc:  # the structure itself is cut or garbled
        raise ValueError(
            f"cannot read {path}: it is a damaged or truncated TIFF, or not a TIFF ({size} bytes; "
            f"{exc}). Copy or export the file again"
        ) from None


def _check_tiff(path: Path, size: int, tifffile) -> None:
    with _Records() as log, tifffile.TiffFile(path) as tif:
        pages = tif.pages
        n_pages = len(pages)  # walks the whole chain of pages; a broken link is logged
        last = pages[n_pages - 1] if n_pages else None
        series = tif.series[0] if tif.series else None
        declared = None
        if tif.is_imagej and tif.imagej_metadata:
            declared = tif.imagej_metadata.get("images")
        elif tif.is_shaped and tif.shaped_metadata and "shape" in tif.shaped_metadata[0]:
            shape = tuple(tif.shaped_metadata[0]["shape"])
            declared = (
                int(np.prod(shape[:-2]))
                if len(shape) > 2 and shape[-1] not in (3, 4)
                else int(np.prod(shape[:-3]))
                if len(shape) > 3
                else 1
            )
        contiguous_end = None
        if series is not None and getattr(series, "dataoffset", None) is not None:
            contiguous_end = series.dataoffset + series.nbytes
        # tifffile prefixes its messages with the object's repr ("<tifffile.TiffPages @8> ...")
        broken = [
            m.split("> ", 1)[-1]
            for m in log.messages
            if "invalid" in m.lower() or "corrupt" in m.lower()
        ]
        # ImageJ writes big stacks as one page followed by all frames' data: then fewer pages are fine
        all_data_present = contiguous_end is not None and contiguous_end <= size
        damaged = (
            bool(broken)
            or (last is not None and _data_end(last) > size)
            or (contiguous_end is not None and contiguous_end > size)
            or (declared is not None and declared > n_pages and not all_data_present)
        )
        if not damaged:
            return
        complete = 0
        for page in pages:
            if page.dataoffsets and _data_end(page) <= size:
                complete += 1
            else:
                break
        first = pages[0] if n_pages else None
    what = (
        f"{complete} complete page(s) of {first.shape} {first.dtype} could be read"
        if first is not None
        else "no page could be read"
    )
    if declared is not None:
        what += f" of the {declared} its metadata declare"
    elif broken:
        what += " before the chain of pages breaks"
    raise ValueError(
        f"{path} is a damaged or truncated TIFF ({size} bytes): {what}"
        f"{' (' + broken[0] + ')' if broken else ''}. Copy or export the file again"
    )


def _open_tiff(path: Path):
    """A TIFF stack as a lazy array that reads the pages a frame needs from the file when asked.

    Not a memory map: the pages of a mapped file that tracking has read stay in the process's
    resident memory, so a 1200-frame movie would hold all of its frames by the end."""
    import tifffile
    import zarr

    check_tiff(path)
    return zarr.open(tifffile.imread(path, aszarr=True), mode="r")


def open_frames(frames) -> object:
    """Resolve a path into a lazy array; arrays are returned as they are.

    Paths: a TIFF stack, a zarr array (a ``.zarr`` folder), a folder of images (the official
    JPEG folder among them), or a video file (``.mp4``, ``.mov``, ``.avi``, ``.mkv``) with the
    optional video reader (:func:`read_video`).
    """
    if isinstance(frames, (str, os.PathLike)):
        path = Path(frames)
        if path.suffix.lower() == ".zarr" and path.is_dir():
            return _open_zarr(path)
        if path.is_dir():
            return _ImageFolder(path)
        if not path.exists():
            raise ValueError(f"video path not found: {path}")
        if path.suffix.lower() in VIDEO_SUFFIXES:
            return read_video(path)
        if path.suffix.lower() in (".tif", ".tiff"):
            try:
                return _open_tiff(path)
            except ValueError as exc:
                if "damaged or truncated TIFF" in str(exc):
                    raise
                raise ValueError(f"cannot read {path} as a TIFF stack: {exc}") from None
            except Exception as exc:
                raise ValueError(f"cannot read {path} as a TIFF stack: {exc}") from None
        suffixes = ", ".join(sorted(VIDEO_SUFFIXES))
        raise ValueError(
            f"unsupported video path {path}: give a TIFF stack, a zarr array, a "
            f"folder of images, a video file ({suffixes}) or an array"
        )
    if not hasattr(frames, "shape") or not hasattr(frames, "__getitem__"):
        frames = np.asarray(frames)
    return frames


def _open_zarr(path: Path):
    """The array of a ``.zarr`` folder: the array itself, or the only array of a group."""
    import zarr

    try:
        node = zarr.open(str(path), mode="r")
    except Exception as exc:
        raise ValueError(f"cannot read {path} as a zarr array: {exc}") from None
    if isinstance(node, zarr.Array):
        return node
    arrays = [name for name, _ in node.arrays()]
    if len(arrays) != 1:
        example = path / (arrays[0] if arrays else "name")
        raise ValueError(
            f"{path} is a zarr group with {len(arrays)} arrays "
            f"({', '.join(arrays) or 'none'}): give the path of the one to use, "
            f"e.g. {example}"
        )
    return node[arrays[0]]


VIDEO_SUFFIXES = {".mp4", ".mov", ".avi", ".mkv"}
VIDEO_EXTRA_HELP = (
    "install the optional video reader with `pip install 'napari-sam2[video]'` "
    "(PyAV), or extract the frames into a folder of images, e.g. "
    "`ffmpeg -i movie.mp4 -q:v 2 -start_number 0 frames/%05d.jpg`"
)


def read_video(path: str | os.PathLike) -> np.ndarray:
    """All frames of a video file as one ``(T, H, W, 3)`` uint8 RGB array, decoded with PyAV (the
    ``video`` extra). Compressed video is decoded whole, as the official loader does: a long movie
    at full resolution needs T x H x W x 3 bytes of memory. Without PyAV, an ImportError says how to
    install it or how to turn the movie into a folder of images."""
    path = Path(path)
    try:
        import av
    except ImportError:
        raise ImportError(
            f"reading the video file {path} needs PyAV, which is not installed: {VIDEO_EXTRA_HELP}"
        ) from None
    try:
        with av.open(str(path)) as container:
            frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]
    except Exception as exc:
        raise ValueError(f"cannot read {path} as a video: {exc}") from None
    if not frames:
        raise ValueError(f"{path} holds no video frames")
    return np.stack(frames)
