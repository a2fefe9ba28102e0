"""Where the widget's exports go: save dialogs and the rule that nothing is replaced without the user's yes."""

from __future__ import annotations

from pathlib import Path

from qtpy.QtWidgets import QFileDialog, QMessageBox


def ask_path(parent, title: str, filter_: str = "", folder: bool = False, default: str = "") -> str | None:
    """A save dialog (or a folder chooser); None when cancelled. The dialog itself asks before
    replacing an existing file with exactly the name it returns."""
    if folder:
        path = QFileDialog.getExistingDirectory(parent, title)
    else:
        path, _ = QFileDialog.getSaveFileName(parent, title, default, filter_)
    return path or None


def with_suffix(path: str, suffix: str) -> Path:
    """``path`` ending in ``suffix`` (added when missing)."""
    return Path(path if str(path).rstrip("/\\").endswith(suffix) else str(path) + suffix)


def may_replace(parent, target: Path, chosen: str | None = None) -> bool:
    """Whether writing ``target`` may go ahead: it does not exist, or it is the very file the save
    dialog returned (``chosen``, which the dialog confirmed), or the user says yes now. A folder
    (zarr store, CTC result) is always asked about: a file dialog does not confirm replacing one."""
    target = Path(target)
    if not (target.exists() or target.is_symlink()):
        return True
    if chosen is not None and Path(chosen) == target and not target.is_dir():
        return True
    kind = "folder" if target.is_dir() else "file"
    answer = QMessageBox.question(parent, "Replace existing output?",
                                  f"{target} already exists. Replace this {kind}? Everything in it is deleted.",
                                  QMessageBox.Yes | QMessageBox.No, QMessageBox.No)
    return answer == QMessageBox.Yes
