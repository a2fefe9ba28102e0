"""The widget's dialogs: a yes/no question, and file and folder choosers that start where the user
was."""

from __future__ import annotations

from pathlib import Path

from qtpy.QtWidgets import QFileDialog, QMessageBox

from .exports import image_file


def confirm(parent, title: str, text: str) -> bool:
    """A yes/no question (No is the default)."""
    answer = QMessageBox.question(
        parent, title, text, QMessageBox.Yes | QMessageBox.No, QMessageBox.No
    )
    return answer == QMessageBox.Yes


class FileChooser:
    """Save, open and folder dialogs over ``parent``, starting in the folder used last, else the
    folder of the file ``controller``'s image was read from."""

    def __init__(self, parent, controller) -> None:
        self._parent, self._c = parent, controller
        self.last_folder: str | None = None

    def start(self) -> str:
        if self.last_folder:
            return self.last_folder
        source = image_file(self._c.layer or self._c.image_layer)
        return str(source.parent) if source else ""

    def ask(
        self,
        title: str,
        filter_: str = "",
        default: str = "",
        folder: bool = False,
        open_: bool = False,
    ) -> str | None:
        """The path the user chose (None when cancelled); a save dialog proposes ``default`` and
        itself asks before replacing an existing file with exactly the name it returns."""
        start = self.start()
        where = str(Path(start) / default) if start and default else (start or default)
        if folder:
            path = QFileDialog.getExistingDirectory(self._parent, title, start)
        elif open_:
            path, _ = QFileDialog.getOpenFileName(self._parent, title, where, filter_)
        else:
            path, _ = QFileDialog.getSaveFileName(self._parent, title, where, filter_)
        if path:
            self.last_folder = path if folder else str(Path(path).parent)
        return path or None
