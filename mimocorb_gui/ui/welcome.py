"""The welcome page: shown with no setup open (how to open one, recent setups, their recent runs, examples)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from mimocorb_gui.shipped import example_setups
from mimocorb_gui.ui.run_menu import add_recent_runs

if TYPE_CHECKING:
    from mimocorb_gui.ui.main_window import MainWindow


class WelcomePage(QWidget):
    """Shown with no setup open: how to open one, and the recent ones."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window_ = window
        outer = QVBoxLayout(self)
        outer.addStretch(1)
        box = QFrame(self)
        box.setMaximumWidth(620)
        box.setObjectName("welcome")
        box.setStyleSheet(
            "QFrame#welcome { border: 1px solid #d0d0d0; border-radius: 8px; background: #fafafa; }"
        )
        lay = QVBoxLayout(box)
        title = QLabel("<h2>mimoCoRB</h2>", box)
        lay.addWidget(title)
        text = QLabel(
            "Open a setup file to see its buffers and workers, start a run and watch it live.<br>"
            "<b>File ▸ Open…</b> (Ctrl+O), a recent setup below, or <b>drop a setup .yaml</b> onto this window.",
            box,
        )
        text.setWordWrap(True)
        lay.addWidget(text)
        open_btn = QPushButton("Open a setup…", box)
        open_btn.clicked.connect(lambda: window.actions["open"].trigger())
        lay.addWidget(open_btn, 0, Qt.AlignmentFlag.AlignLeft)
        lay.addWidget(QLabel("Recent setups:", box))
        self.recent = QListWidget(box)
        self.recent.setMaximumHeight(180)
        self.recent.itemActivated.connect(self._activated)
        lay.addWidget(self.recent)
        self.recent_runs = add_recent_runs(box, window, lay)  # finished runs of those setups, read-only
        examples = example_setups()
        self.examples = QListWidget(box)
        for path in examples:
            item = QListWidgetItem(f"{path.parent.name}  —  {path}")
            item.setData(Qt.ItemDataRole.UserRole, str(path))
            self.examples.addItem(item)
        self.examples.itemActivated.connect(self._activated)
        self.examples.setMaximumHeight(140)
        if examples:
            lay.addWidget(
                QLabel("Example setups (they run without hardware, except where their README says):", box)
            )
            lay.addWidget(self.examples)
        else:
            self.examples.hide()
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(box, 3)
        row.addStretch(1)
        outer.addLayout(row)
        outer.addStretch(2)

    def _activated(self, item: QListWidgetItem) -> None:
        path = item.data(Qt.ItemDataRole.UserRole)
        if path:
            self.window_.open_setup(path)

    def set_recent(self, paths: list[str]) -> None:
        self.recent.clear()
        for p in paths:
            item = QListWidgetItem(p)
            item.setData(Qt.ItemDataRole.UserRole, p)
            if not Path(p).exists():
                item.setForeground(Qt.GlobalColor.gray)
                item.setToolTip("file not found")
            self.recent.addItem(item)
        if not paths:
            self.recent.addItem("(none yet)")
        self.recent_runs.refill(paths)
