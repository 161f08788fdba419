"""Workers dock: processes alive, CPU %, state and errors of every worker (model/view)."""

from __future__ import annotations

import logging

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QHeaderView, QTableView, QWidget

from mimocorb_gui.ui.docks.base import ColumnTableModel, MonitorDock, size_columns

__all__ = ["WorkersDock", "WorkersModel"]

COLUMNS = ("Worker", "Function", "Processes", "CPU", "State", "Errors")
WIDEST_COUNTS = ("10 / 10 alive", "100 %", "not started")  # Processes, CPU, State in a long run


class WorkersModel(ColumnTableModel):
    columns = COLUMNS

    def __init__(self, specs: dict, parent=None) -> None:
        super().__init__(parent)
        self.names = list(specs)
        self.specs = specs
        self.stats: dict = {}
        self.errors: dict[str, list[str]] = {n: [] for n in self.names}

    def row_count(self) -> int:
        return len(self.names)

    def _changed(self) -> None:
        if self.names:
            self.dataChanged.emit(self.index(0, 0), self.index(len(self.names) - 1, len(COLUMNS) - 1))

    def set_stats(self, stats: dict, notify: bool = True) -> None:
        self.stats = dict(stats)
        if not notify:
            return
        self._changed()

    def clear_errors(self) -> None:
        self.errors = {n: [] for n in self.names}
        self._changed()

    def add_log(self, entries) -> None:
        changed = False
        for e in entries:
            if e.levelno >= logging.ERROR and e.worker in self.errors:
                self.errors[e.worker].append(e.message)
                changed = True
        if changed:
            self._changed()

    def error_count(self, name: str) -> int:
        return len(self.errors.get(name, []))

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        name = self.names[index.row()]
        col = index.column()
        w = self.stats.get(name)
        spec = self.specs.get(name)
        if role == Qt.ItemDataRole.DisplayRole:
            if col == 0:
                return name
            if col == 1:
                return (f"{spec.file}: " if spec is not None and spec.file else "") + (
                    spec.function if spec else ""
                )
            if col == 2:
                n = spec.number_of_processes if spec is not None else "?"
                return f"{w.alive} / {w.processes} alive" if w is not None else f"{n}"
            if col == 3:
                return f"{w.cpu_percent:.0f} %" if w is not None else ""
            if col == 4:
                return w.state if w is not None else "not started"
            if col == 5:
                n = self.error_count(name)
                if n == 0 and w is not None and w.error:
                    return w.error.splitlines()[0]
                if n:
                    return f"{n}: " + self.errors[name][-1].splitlines()[0]
                return ""
        if role == Qt.ItemDataRole.ToolTipRole and col == 5:
            msgs = self.errors.get(name) or ([w.error] if w is not None and w.error else [])
            return "\n\n".join(msgs[-3:]) if msgs else None
        if role == Qt.ItemDataRole.TextAlignmentRole and col in (2, 3):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.BackgroundRole:
            if w is not None and w.failed:
                return QBrush(QColor("#f8d7da"))
            if self.error_count(name):
                return QBrush(QColor("#fff3cd"))
        if (
            role == Qt.ItemDataRole.ForegroundRole
            and col == 5
            and (self.error_count(name) or (w and w.failed))
        ):
            return QBrush(QColor("#a00000"))
        return None


class WorkersDock(MonitorDock):
    def __init__(self, specs: dict, parent: QWidget | None = None) -> None:
        super().__init__("workers", "Workers", parent)
        self.model = WorkersModel(specs, self)
        self.view = QTableView(self)
        self.view.setModel(self.model)
        self.view.verticalHeader().hide()
        self.view.setAlternatingRowColors(True)
        self.view.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
        self.view.setWordWrap(False)
        header = self.view.horizontalHeader()
        # Interactive, sized once for the widest texts: ResizeToContents would measure every cell at every
        # update; a narrow dock scrolls sideways instead of cutting the state
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        functions = [self.model.data(self.model.index(r, 1)) or "" for r in range(self.model.rowCount())]
        size_columns(
            self.view,
            [max(self.model.names, key=len, default=""), max(functions, key=len, default=""), *WIDEST_COUNTS],
        )
        self.setWidget(self.view)
        self.visibilityChanged.connect(self._shown)

    def _shown(self, visible: bool) -> None:
        if visible and self.model.rowCount():
            self.model.set_stats(self.model.stats)

    def run_started(self, run_dir) -> None:
        self.model.clear_errors()

    def stats_updated(self, stats) -> None:
        if stats is not None:
            self.model.set_stats(stats.workers, notify=self.view.isVisible() and not self.hidden_in_window())

    def add_log(self, entries) -> None:
        self.model.add_log(entries)
