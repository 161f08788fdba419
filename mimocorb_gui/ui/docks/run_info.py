"""Run information dock of a reopened run: its notes, setup (the copy it ran with) and log, read-only."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QFont, QFontDatabase
from PySide6.QtWidgets import QPlainTextEdit, QTabWidget, QWidget

from mimocorb_gui.ui.docks.base import MonitorDock
from mimocorb_gui.ui.docks.run_access import run_texts

__all__ = ["RunInfoDock"]


class RunInfoDock(MonitorDock):
    """Tabs Notes / Setup / Log of a finished run."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("run_info", "Run", parent)
        self.tabs = QTabWidget(self)
        self.texts: dict[str, QPlainTextEdit] = {}
        mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        for key, title in (("notes", "Notes"), ("setup", "Setup"), ("log", "Log")):
            edit = QPlainTextEdit(self.tabs)
            edit.setReadOnly(True)
            if key != "notes":
                edit.setFont(QFont(mono))
                edit.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
            self.tabs.addTab(edit, title)
            self.texts[key] = edit
        self.setWidget(self.tabs)

    def open_run(self, run_dir) -> None:
        texts = run_texts(run_dir)
        self.setWindowTitle(f"Run {Path(run_dir).name}")
        for key, edit in self.texts.items():
            edit.setPlainText(texts[key] or f"(this run has no {key})")
        self.texts["log"].moveCursor(self.texts["log"].textCursor().MoveOperation.End)
