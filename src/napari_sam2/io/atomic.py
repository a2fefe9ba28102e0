"""Safe outputs: what an output may replace, and writing under a temporary name renamed into place.

The rule (docs/engine.md, "Outputs"): an output may replace only a file or folder of the kind it
writes, and only when asked (``overwrite``). It never replaces an input of the same command, never a
folder when it writes a file (or a file when it writes a folder), and never a folder that holds files
this package did not write. Every folder written here carries a small marker file (:data:`MARKER`)
that lists the files written into it; a folder is replaced only when it holds nothing else.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import uuid
from pathlib import Path

MARKER = ".napari-sam2-output.json"  # in every folder written here: the files written into it
SHOWN = 5  # foreign files named in a refusal


class OutputExistsError(FileExistsError):
    """An output exists already and replacing it was not asked for; ``filename`` is its path."""

    def __init__(self, path) -> None:
        super().__init__(
            errno.EEXIST, "already exists (pass overwrite=True to replace it)", str(path)
        )

    def __str__(self) -> str:
        return f"{self.filename} {self.strerror}"


class OutputRefused(ValueError):
    """Writing an output would destroy something that is not ours to replace (the message says what)."""


def exists_error(path) -> FileExistsError:
    """The error for an output that exists already (an :class:`OutputExistsError`)."""
    return OutputExistsError(path)


def _key(path) -> tuple[str, ...]:
    """A path as comparable parts: absolute, symlinks and ``..`` resolved, case-folded (a
    case-insensitive disk sees ``A.tif`` and ``a.tif`` as one file; refusing both is the safe side)."""
    return tuple(p.casefold() for p in Path(os.path.realpath(os.path.abspath(path))).parts)


def same_path(a, b) -> bool:
    """Whether ``a`` and ``b`` name one file or folder (after resolving links, ``..`` and case)."""
    if _key(a) == _key(b):
        return True
    try:
        return os.path.samefile(a, b)  # hard links, case-insensitive disks
    except OSError:
        return False


def inside(inner, outer) -> bool:
    """Whether ``inner`` lies strictly inside the folder ``outer`` (after resolving, as :func:`same_path`)."""
    a, b = _key(inner), _key(outer)
    return len(a) > len(b) and a[: len(b)] == b


def _blocking_parent(path: Path) -> Path | None:
    """The nearest existing ancestor of ``path`` when it is a file (nothing can be made inside it)."""
    for parent in Path(os.path.abspath(path)).parents:
        if parent.exists():
            return None if parent.is_dir() else parent
    return None


def written_files(folder) -> set[str]:
    """The files a folder's marker says were written into it (relative, '/'-separated); empty when
    it has no readable marker."""
    try:
        data = json.loads((Path(folder) / MARKER).read_text(encoding="utf-8"))
        return {str(f) for f in data["files"]}
    except (OSError, ValueError, KeyError, TypeError):
        return set()


def one_of(words) -> str:
    """``a, b or c``, for messages."""
    words = list(words)
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} or {words[-1]}"


def foreign_files(folder) -> list[str]:
    """Files in ``folder`` (relative, sorted) that its marker does not list: everything when it has none."""
    folder = Path(folder)
    ours = written_files(folder) | {MARKER}
    found = []
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        for name in sorted(files):
            rel = (Path(root) / name).relative_to(folder).as_posix()
            if rel not in ours:
                found.append(rel)
    return found


def mark_folder(folder) -> None:
    """Write the marker that lists every file now in ``folder`` (the folder is then ours to replace)."""
    folder = Path(folder)
    files = []
    for root, _dirs, names in os.walk(folder):
        files += [(Path(root) / n).relative_to(folder).as_posix() for n in names]
    files = [f for f in files if f != MARKER]
    text = json.dumps({"written_by": "napari-sam2", "files": sorted(files)}, indent=1)
    (folder / MARKER).write_text(text + "\n", encoding="utf-8")


def check_output(
    path, *, folder: bool = False, overwrite: bool = False, inputs=(), name: str | None = None
) -> Path:
    """Refuse, before anything is written, an output at ``path`` that would destroy something.

    folder: the output is a folder (zarr store, CTC folder), else a file. inputs: paths the same
    command reads, which no output may be, lie inside, or hold. name: how messages call the output
    (e.g. ``"--out out/labels.tif"``; default: the path). Raises :class:`OutputRefused` (a
    ValueError) for what ``overwrite`` cannot allow, :class:`OutputExistsError` for an existing
    output without ``overwrite``. Returns ``Path(path)``.
    """
    path = Path(path)
    name = name or str(path)
    blocker = _blocking_parent(path)
    if blocker is not None:
        raise OutputRefused(f"cannot write {name}: {blocker} is a file, not a folder")
    for src in inputs:
        if same_path(path, src):
            raise OutputRefused(
                f"{name} is an input of this command ({src}): give the output another name"
            )
        if inside(src, path):
            raise OutputRefused(f"{name} holds the input {src}: give the output another name")
        if inside(path, src):
            raise OutputRefused(
                f"{name} lies inside the input folder {src}: write outputs elsewhere"
            )
    if not (path.exists() or path.is_symlink()):
        return path
    if path.is_dir() and not folder:
        raise OutputRefused(
            f"{name} is a folder, and this output is a file: give a file name (the folder is kept)"
        )
    if folder and not path.is_dir():
        raise OutputRefused(
            f"{name} is a file, and this output is a folder: give another name (the file is kept)"
        )
    if not overwrite:
        raise exists_error(path)
    if folder:
        foreign = foreign_files(path)
        if foreign:
            shown = ", ".join(foreign[:SHOWN]) + (
                f" and {len(foreign) - SHOWN} more" if len(foreign) > SHOWN else ""
            )
            raise OutputRefused(
                f"{name} holds files that napari-sam2 did not write ({shown}); "
                "replacing the folder would delete them: give another name, or "
                "move them out first"
            )
    return path


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists() or path.is_symlink():
        path.unlink()


def replace_with(tmp: Path, path: Path) -> None:
    """Move the finished ``tmp`` to ``path``, replacing what is there (already checked by
    :func:`check_output`); on failure the old ``path`` is put back."""
    if path.exists() and (
        path.is_dir() or tmp.is_dir()
    ):  # os.replace cannot swap these in one step
        old = path.parent / f".{path.name}.old-{uuid.uuid4().hex[:8]}"
        os.replace(path, old)
        try:
            os.replace(tmp, path)
        except BaseException:
            os.replace(old, path)
            raise
        _remove(old)
    else:
        os.replace(tmp, path)


@contextlib.contextmanager
def atomic_output(path, overwrite: bool, folder: bool = False):
    """Yield a temporary sibling path to write; on success it replaces ``path`` (a folder gets its
    :data:`MARKER`), on failure it is deleted and ``path`` stays as it was. What may be replaced is
    :func:`check_output`'s rule, checked here again right before writing."""
    path = check_output(path, folder=folder, overwrite=overwrite)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.tmp-{uuid.uuid4().hex[:8]}"
    try:
        yield tmp
        if folder:
            mark_folder(tmp)
        check_output(path, folder=folder, overwrite=overwrite)  # nothing foreign arrived meanwhile
        replace_with(tmp, path)
    except BaseException:
        _remove(tmp)
        raise
