"""Safe output paths: refuse to replace an existing output unless asked, and write atomically."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import uuid
from pathlib import Path


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists() or path.is_symlink():
        path.unlink()


class OutputExistsError(FileExistsError):
    """An output exists already and replacing it was not asked for; ``filename`` is its path."""

    def __init__(self, path) -> None:
        super().__init__(errno.EEXIST, "already exists (pass overwrite=True to replace it)", str(path))

    def __str__(self) -> str:
        return f"{self.filename} {self.strerror}"


def exists_error(path) -> FileExistsError:
    """The error for an output that exists already (an :class:`OutputExistsError`)."""
    return OutputExistsError(path)


@contextlib.contextmanager
def _atomic_target(path, overwrite: bool):
    """Yield a temporary sibling path; on success rename it to ``path``, on failure delete it."""
    path = Path(path)
    if (path.exists() or path.is_symlink()) and not overwrite:
        raise exists_error(path)
    tmp = path.parent / f".{path.name}.tmp-{uuid.uuid4().hex[:8]}"
    try:
        yield tmp
        if path.exists() and (path.is_dir() or tmp.is_dir()):  # os.replace cannot swap these in one step
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
    except BaseException:
        _remove(tmp)
        raise
