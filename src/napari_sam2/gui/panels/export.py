"""The export panel: the labels, table, lineage files and Tracks layer under 'Export ▾', and Save
session and Load session as buttons of their own. Each asks for its path, then calls the
controller."""

from __future__ import annotations

from magicgui.widgets import PushButton
from qtpy.QtWidgets import QAction, QMenu, QToolButton

from ..dialogs import FileChooser
from ..words import TOOLTIPS
from .common import Panel, row

# menu entry -> (tooltip key, dialog title, file filter, proposed name); no title: no dialog
EXPORTS = {
    "Labels TIFF": ("tiff", "Save labels as TIFF", "TIFF (*.tif *.tiff)", "labels.tif"),
    "Labels zarr": ("zarr", "Save labels as zarr", "zarr (*.zarr)", "labels.zarr"),
    "Table CSV": ("table", "Save object table", "CSV (*.csv)", "objects.csv"),
    "CTC folder": ("ctc", "Cell Tracking Challenge result folder", "", ""),
    "GEFF": ("geff", "Save lineage as GEFF", "GEFF zarr (*.zarr)", "lineage.zarr"),
    "TrackMate XML": (
        "trackmate",
        "Save tracks as TrackMate XML",
        "TrackMate XML (*.xml)",
        "tracks.xml",
    ),
    "Tracks layer": ("tracks", None, "", ""),
}


class ExportPanel(Panel):
    """Files of ``controller``'s session. ``menu``: the exports by name (QActions, ``trigger()``
    runs one); ``save``, ``load``: the session buttons; ``chooser``: the file dialogs."""

    def __init__(self, controller) -> None:
        super().__init__("Export")
        self._c = controller
        self.chooser = FileChooser(self, controller)
        self._menu = QMenu(self)
        self._menu.setToolTipsVisible(True)
        self.menu: dict[str, QAction] = {}
        for name, (key, *_) in EXPORTS.items():
            action = self._menu.addAction(name)
            action.setToolTip(TOOLTIPS[key])
            action.triggered.connect(lambda *_, name=name: self.export(name))
            self.menu[name] = action
        self.export_button = QToolButton()
        self.export_button.setText("Export \u25be")
        self.export_button.setToolTip(
            "Save the labels, the object table or the lineage, or show the tracks."
        )
        # the text has one
        self.export_button.setStyleSheet("QToolButton::menu-indicator { image: none; }")
        self.export_button.setPopupMode(QToolButton.InstantPopup)
        self.export_button.setMenu(self._menu)
        self.save = PushButton(text="Save session")
        self.load = PushButton(text="Load session")
        self.save.tooltip, self.load.tooltip = TOOLTIPS["save_session"], TOOLTIPS["load_session"]
        self.put(row(self.save, self.load), self.export_button)

        self.save.clicked.connect(self.save_session)
        self.load.clicked.connect(self.load_session)

    def export(self, name: str) -> None:
        """Run export ``name`` (a key of :data:`EXPORTS`), asking where first."""
        c = self._c
        key, title, filter_, default = EXPORTS[name]
        if key == "tracks":
            c.add_tracks_layer()
            return
        if c.labels.present() is None:
            c.say("nothing to export yet", "info", status=False)
            return
        if key == "ctc":
            folder = self.chooser.ask(title, folder=True)
            if folder:
                c.export_ctc(folder)
            return
        path = self.chooser.ask(title, filter_, default)
        if path:
            getattr(c, f"export_{key}")(path, confirmed=True)

    def save_session(self) -> None:
        if self._c.session is None:
            self._c.say("No session to save: press Start session first.")
            return
        path = self.chooser.ask("Save session", "JSON (*.json)", "session.json")
        if path:
            self._c.save_session(path, confirmed=True)

    def load_session(self) -> None:
        if self._c.session is None:
            self._c.say("start a session on the same image first", "info", status=False)
            return
        path = self.chooser.ask("Load session", "JSON (*.json)", open_=True)
        if path:
            self._c.load_session(path)
