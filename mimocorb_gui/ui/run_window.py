"""A finished run, reopened read-only in its own window: histograms, recorded events, notes, setup, log.

The docks are the live ones (built from the setup copy in the run directory by docks.catalog),
shown without a run controller: nothing can be started here. Histogram docks get the analysis
settings (fit models, regions, calibrations) the original setup has in the settings file, and
the run's own calibration.json where it has one.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QMainWindow, QWidget

from mimocorb_gui.ui.docks.run_access import is_run_dir, original_setup_path

__all__ = ["RunWindow", "open_run_window"]

log = logging.getLogger(__name__)


class RunWindow(QMainWindow):
    """Read-only view of one run directory."""

    def __init__(self, run_dir, settings=None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        from mimocorb_gui.core.setup import Setup
        from mimocorb_gui.ui.docks.catalog import build_docks
        from mimocorb_gui.ui.docks.run_info import RunInfoDock

        self.run_dir = Path(run_dir)
        if not is_run_dir(self.run_dir):
            raise ValueError(f"{self.run_dir}: not a run directory (it needs setup.yaml and run.log)")
        self.setWindowTitle(f"Run {self.run_dir.name} (read-only) – mimoCoRB")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        setup = Setup.load(self.run_dir / "setup.yaml")
        original = original_setup_path(self.run_dir)
        named = original or self.run_dir.parent.parent / "setup.yaml"
        self.setup_name = named.parent.name if named.stem == "setup" else named.stem
        saved = self._saved_dock_settings(settings)
        self.docks = {}
        self.skipped: list[str] = []  # buffers shown by an oscilloscope in the setup but not recorded
        for dock in build_docks(setup, None):  # parentless: docks not used here are never shown
            kind = dock.dock_id.split(":", 1)[0]
            if kind not in ("histogram", "oscilloscope"):
                dock.deleteLater()
                continue
            if kind == "histogram":
                dock.setup_name = self.setup_name
                entry = (saved or {}).get(dock.dock_id, {}).get("settings")
                if isinstance(entry, dict):
                    dock.apply_settings(entry)  # the setup's models, regions and calibrations
            if not self._open(dock) and kind == "oscilloscope":
                self.skipped.append(dock.buffer)  # nothing recorded of its buffer: no dock
                dock.deleteLater()
                continue
            dock.setParent(self)
            dock.setMinimumHeight(420)  # the plots get the height, the run dock below the rest
            self.docks[dock.dock_id] = dock
            area = (
                Qt.DockWidgetArea.LeftDockWidgetArea
                if kind == "oscilloscope"
                else Qt.DockWidgetArea.RightDockWidgetArea
            )
            self.addDockWidget(area, dock)
        info = RunInfoDock(self)
        info.open_run(self.run_dir)
        if self.skipped:
            info.setWindowTitle(
                info.windowTitle() + f" (no recorded events of {', '.join(sorted(set(self.skipped)))})"
            )
        self.docks["run_info"] = info
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, info)
        if len(self.docks) == 1:
            self.setCentralWidget(
                QLabel(f"{self.run_dir.name}: this setup shows no histograms or oscilloscopes.")
            )
        self.resize(1400, 900)

    def _open(self, dock) -> bool:
        try:
            return dock.open_run(self.run_dir) is not False
        except (ValueError, OSError) as exc:
            log.info("%s: %s", dock.dock_id, exc)
            dock.empty.show(str(exc))
            return False

    def _saved_dock_settings(self, settings) -> dict | None:
        original = original_setup_path(self.run_dir)
        if settings is None or original is None:
            return None
        from mimocorb_gui.ui.settings import layout_key

        layout = settings.layout(layout_key(original))
        docks = layout.get("docks") if isinstance(layout, dict) else None
        return docks if isinstance(docks, dict) else None


def open_run_window(run_dir, settings=None, parent: QWidget | None = None) -> RunWindow:
    window = RunWindow(run_dir, settings, parent)
    window.show()
    return window
