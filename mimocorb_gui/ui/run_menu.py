"""File ▸ Open Run… and the welcome page's recent runs: open finished runs read-only (ui.run_window).

The main window calls ``install_open_run(window, menu)`` once and ``add_recent_runs(welcome, window)``
for its welcome page; everything else lives here.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog, QLabel, QListWidget, QListWidgetItem, QMessageBox, QWidget

from mimocorb_gui.ui.docks.run_access import recent_runs

__all__ = ["add_recent_runs", "install_open_run", "open_run"]

log = logging.getLogger(__name__)


def open_run(window, run_dir) -> QWidget | None:
    """Open ``run_dir`` read-only in its own window (kept by ``window.run_windows``); None on failure."""
    from mimocorb_gui.ui.run_window import open_run_window

    try:
        view = open_run_window(run_dir, getattr(window, "settings", None), None)
    except Exception as exc:
        log.warning("cannot open run %s", run_dir, exc_info=True)
        QMessageBox.warning(window, "Open Run", f"Cannot open {run_dir} as a run:\n{exc}")
        return None
    runs = getattr(window, "run_windows", None)
    if runs is None:
        runs = window.run_windows = []
    runs.append(view)
    view.destroyed.connect(lambda *_: runs.remove(view) if view in runs else None)
    return view


def _start_dir(window) -> str:
    setup = getattr(window, "setup", None)
    if setup is not None and getattr(setup, "path", None) is not None:
        return str(Path(setup.path).parent / "runs")
    found = recent_runs(getattr(getattr(window, "settings", None), "recent", []) or [], limit=1)
    return str(found[0].parent) if found else ""


def install_open_run(window, menu) -> QAction:
    """Add File ▸ Open Run… (Ctrl+Shift+O) to ``menu``; ``window.actions["open_run"]``."""
    act = QAction("Open &Run…", window)
    act.setShortcut(QKeySequence("Ctrl+Shift+O"))
    act.setToolTip("Open a finished run directory read-only: histograms, recorded events, notes, setup, log")

    def choose() -> None:
        path = QFileDialog.getExistingDirectory(window, "Open a finished run", _start_dir(window))
        if path:
            open_run(window, path)

    act.triggered.connect(choose)
    window.actions["open_run"] = act
    menu.addAction(act)
    return act


def add_recent_runs(welcome, window, layout, limit: int = 8) -> QListWidget:
    """A 'Recent runs' list on the welcome page (runs of the recent setups, newest first)."""
    layout.addWidget(QLabel("Recent runs (open read-only):", welcome))
    runs_list = QListWidget(welcome)
    runs_list.setMaximumHeight(140)
    runs_list.itemActivated.connect(
        lambda item: (
            open_run(window, item.data(Qt.ItemDataRole.UserRole))
            if item.data(Qt.ItemDataRole.UserRole)
            else None
        )
    )
    layout.addWidget(runs_list)

    def refill(setup_paths) -> None:
        runs_list.clear()
        for run in recent_runs(setup_paths, limit):
            item = QListWidgetItem(f"{run.name}  —  {run.parent.parent.name}")
            item.setData(Qt.ItemDataRole.UserRole, str(run))
            item.setToolTip(str(run))
            runs_list.addItem(item)
        if runs_list.count() == 0:
            runs_list.addItem("(no runs yet)")

    runs_list.refill = refill
    refill(getattr(getattr(window, "settings", None), "recent", []) or [])
    return runs_list
