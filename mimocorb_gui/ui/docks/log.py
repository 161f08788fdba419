"""Log dock: everything workers print and log, filterable by worker, level and text; errors stand out."""

from __future__ import annotations

import bisect
import datetime as _dt
import logging
from typing import Any

from PySide6.QtCore import QModelIndex, QSortFilterProxyModel, Qt
from PySide6.QtGui import QAction, QBrush, QColor, QFont, QFontDatabase
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QSplitter,
    QTableView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from mimocorb_gui.ui.docks.base import ColumnTableModel, EmptyState, MonitorDock

__all__ = ["LEVELS", "LogDock", "LogFilter", "LogModel"]

COLUMNS = ("Time", "Level", "Worker", "Message")
MAX_ROWS = 20000
ENTRY_ROLE = Qt.ItemDataRole.UserRole + 1
LEVELS = (("All levels", 0), ("Info and worse", 20), ("Warnings and errors", 30), ("Errors only", 40))
ALL_WORKERS = "All workers"
DEFAULT_LEVEL = 20  # debug lines (e.g. "config keys ... are not used") only when asked for
DETAIL_LINES = 14  # the detail pane grows to show this many lines of a traceback


def _entry_time(entry) -> float:
    return entry.time


class LogModel(ColumnTableModel):
    columns = COLUMNS

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.entries: list = []

    def row_count(self) -> int:
        return len(self.entries)

    def add(self, entries: list) -> None:
        """Add entries in time order: worker processes' lines arrive through a queue, later than the run's
        own lines of the same moment, so an entry may belong before ones already shown."""
        if not entries:
            return
        entries = sorted(entries, key=_entry_time)
        overflow = len(self.entries) + len(entries) - MAX_ROWS
        if overflow > 0:
            drop = min(len(self.entries), overflow + MAX_ROWS // 10)
            self.beginRemoveRows(QModelIndex(), 0, drop - 1)
            del self.entries[:drop]
            self.endRemoveRows()
            entries = entries[-MAX_ROWS:]
        late = []
        if self.entries:
            last = self.entries[-1].time
            late = [e for e in entries if e.time < last]
            entries = [e for e in entries if e.time >= last]
        for e in late:  # rare and few: one insert each at its place
            row = bisect.bisect_right(self.entries, e.time, key=_entry_time)
            self.beginInsertRows(QModelIndex(), row, row)
            self.entries.insert(row, e)
            self.endInsertRows()
        if entries:
            first = len(self.entries)
            self.beginInsertRows(QModelIndex(), first, first + len(entries) - 1)
            self.entries.extend(entries)
            self.endInsertRows()

    def clear(self) -> None:
        self.beginResetModel()
        self.entries = []
        self.endResetModel()

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        e = self.entries[index.row()]
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if col == 0:
                return _dt.datetime.fromtimestamp(e.time).strftime("%H:%M:%S.%f")[:-3]
            if col == 1:
                return e.level
            if col == 2:
                return e.worker
            lines = e.message.splitlines() or [""]
            return lines[0] + (f"   [+{len(lines) - 1} lines]" if len(lines) > 1 else "")
        if role == ENTRY_ROLE:
            return e
        if role == Qt.ItemDataRole.ToolTipRole and col == 3 and "\n" in e.message:
            return e.message if len(e.message) < 4000 else e.message[:4000] + "\n…"
        if role == Qt.ItemDataRole.BackgroundRole:
            if e.levelno >= logging.ERROR:
                return QBrush(QColor("#f8d7da"))
            if e.levelno >= logging.WARNING:
                return QBrush(QColor("#fff3cd"))
        if role == Qt.ItemDataRole.ForegroundRole and e.levelno >= logging.ERROR:
            return QBrush(QColor("#8b0000"))
        if role == Qt.ItemDataRole.FontRole and e.levelno >= logging.ERROR and col == 1:
            f = QFont()
            f.setBold(True)
            return f
        return None


class LogFilter(QSortFilterProxyModel):
    """Rows of a LogModel whose worker, level and text match."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.worker = ""
        self.min_level = 0
        self.text = ""

    def set_filter(
        self, worker: str | None = None, min_level: int | None = None, text: str | None = None
    ) -> None:
        begin = getattr(self, "beginFilterChange", None)  # Qt >= 6.9; invalidateFilter is deprecated there
        if begin is not None:
            begin()
        if worker is not None:
            self.worker = "" if worker == ALL_WORKERS else worker
        if min_level is not None:
            self.min_level = min_level
        if text is not None:
            self.text = text.lower()
        if begin is not None:
            self.endFilterChange()
        else:
            self.invalidateFilter()

    def filterAcceptsRow(self, row: int, parent) -> bool:
        e = self.sourceModel().entries[row]
        if e.levelno < self.min_level:
            return False
        if self.worker and e.worker != self.worker:
            return False
        if self.text and self.text not in e.message.lower() and self.text not in e.worker.lower():
            return False
        return True


class LogDock(MonitorDock):
    def __init__(self, workers: list[str], parent: QWidget | None = None) -> None:
        super().__init__("log", "Log", parent)
        self.model = LogModel(self)
        self.proxy = LogFilter(self)
        self.proxy.setSourceModel(self.model)
        self.error_count = 0

        body = QWidget(self)
        layout = QVBoxLayout(body)
        layout.setContentsMargins(4, 2, 4, 2)
        layout.setSpacing(2)
        bar = QHBoxLayout()
        layout.addLayout(bar)
        self.worker_box = QComboBox(body)
        self.worker_box.addItem(ALL_WORKERS)
        self.worker_box.addItem("run")
        for w in workers:
            self.worker_box.addItem(w)
        self.worker_box.setToolTip("Show only the lines of one worker ('run': the run controller)")
        self.worker_box.currentTextChanged.connect(lambda t: self.proxy.set_filter(worker=t))
        bar.addWidget(self.worker_box)
        self.level_box = QComboBox(body)
        for label, level in LEVELS:
            self.level_box.addItem(label, level)
        self.level_box.setToolTip("'All levels' shows debug lines too")
        self.level_box.currentIndexChanged.connect(
            lambda _i: self.proxy.set_filter(min_level=int(self.level_box.currentData()))
        )
        self.level_box.setCurrentIndex([lvl for _, lvl in LEVELS].index(DEFAULT_LEVEL))
        for box in (self.worker_box, self.level_box):  # narrow screens: the dock may get narrow
            box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            box.setMinimumContentsLength(8)
        bar.addWidget(self.level_box)
        self.search = QLineEdit(body)
        self.search.setPlaceholderText("Filter text…")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(lambda t: self.proxy.set_filter(text=t))
        bar.addWidget(self.search, 1)
        self.actions["clear"] = act = QAction("Clear", self)
        act.setToolTip("Clear the lines shown here (run.log in the run directory keeps them)")
        act.triggered.connect(self.clear)
        btn = QToolButton(body)
        btn.setDefaultAction(act)
        bar.addWidget(btn)
        self.count_label = QLabel("", body)
        self.count_label.setTextFormat(Qt.TextFormat.RichText)
        bar.addWidget(self.count_label)

        self.view = QTableView(body)
        self.view.setModel(self.proxy)
        self.view.verticalHeader().hide()
        self.view.verticalHeader().setDefaultSectionSize(20)
        self.view.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QTableView.SelectionMode.SingleSelection)
        self.view.setWordWrap(False)
        self.view.setHorizontalScrollMode(QTableView.ScrollMode.ScrollPerPixel)
        header = self.view.horizontalHeader()
        # fixed widths: ResizeToContents would measure every row on every insert (slow with 20 000 lines)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        fm = self.view.fontMetrics()
        longest = max(["Worker", "run", *workers], key=fm.horizontalAdvance)
        for col, sample in enumerate(("00:00:00.000", "WARNING", longest)):
            header.resizeSection(col, min(fm.horizontalAdvance(sample) + 16, 170))
        header.setStretchLastSection(True)
        self.view.selectionModel().currentRowChanged.connect(self._show_detail)
        self.detail = QPlainTextEdit(body)
        self.detail.setReadOnly(True)
        self.detail.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.detail.setPlaceholderText("Select a line to see it whole (tracebacks included).")
        self.split = split = QSplitter(Qt.Orientation.Vertical, body)
        split.addWidget(self.view)
        split.addWidget(self.detail)
        split.setStretchFactor(0, 4)
        split.setStretchFactor(1, 1)
        split.setCollapsible(0, False)
        line = self.detail.fontMetrics().lineSpacing()
        split.setSizes([40 * line, 3 * line])  # the table gets the height; a traceback enlarges the pane
        layout.addWidget(split, 1)
        self.setWidget(body)
        self.empty = EmptyState(self.view.viewport())
        self.empty.show("Worker output and log messages appear here once the run starts.")

    def add_entries(self, entries: list) -> None:
        if not entries:
            return
        bar = self.view.verticalScrollBar()
        at_bottom = bar.value() >= bar.maximum() - 2
        for e in entries:
            if self.worker_box.findText(e.worker) < 0:
                self.worker_box.addItem(e.worker)
            if e.levelno >= logging.ERROR:
                self.error_count += 1
        self.model.add(entries)
        self.empty.hide()
        if at_bottom:
            self.view.scrollToBottom()
        self._update_count()

    def _update_count(self) -> None:
        n = len(self.model.entries)
        text = f"{n:,} lines"
        if self.error_count:
            text += f", <span style='color:#b00000; font-weight:bold'>{self.error_count} error(s)</span>"
        self.count_label.setText(text)

    def clear(self) -> None:
        self.model.clear()
        self.error_count = 0
        self.detail.clear()
        self._update_count()

    def run_started(self, run_dir) -> None:
        self.error_count = 0
        self._update_count()

    def select_last_error(self) -> bool:
        """Select (and show whole) the newest error of a worker (else of the run); False if none is shown."""
        rows = []
        for row in range(self.proxy.rowCount() - 1, -1, -1):
            e = self.proxy.index(row, 0).data(ENTRY_ROLE)
            if e is not None and e.levelno >= logging.ERROR:
                rows.append((e.worker == "run", row))
        if not rows:
            return False
        row = min(rows, key=lambda r: r[0])[1]  # stable: the newest worker error first
        index = self.proxy.index(row, 0)
        self.view.selectRow(row)
        self.view.scrollTo(index)
        self._show_detail(index, None)
        return True

    def _show_detail(self, current, _previous) -> None:
        e = current.data(ENTRY_ROLE) if current is not None and current.isValid() else None
        if e is None:
            return
        self.detail.setPlainText(e.format())
        self._fit_detail(e.format().count("\n") + 1)

    def _fit_detail(self, lines: int) -> None:
        """Give a traceback room (up to DETAIL_LINES lines, at most two thirds of the dock); a one-line
        message leaves the sizes alone."""
        sizes = self.split.sizes()
        total = sum(sizes)
        if lines <= 3 or total <= 0:
            return
        line = self.detail.fontMetrics().lineSpacing()
        want = min(min(lines, DETAIL_LINES) * line + 2 * self.detail.frameWidth() + 8, total * 2 // 3)
        if sizes[1] < want:
            self.split.setSizes([total - want, want])

    def visible_messages(self) -> list[str]:
        return [self.proxy.index(r, 0).data(ENTRY_ROLE).message for r in range(self.proxy.rowCount())]

    def settings(self) -> dict[str, Any]:
        return {"level": int(self.level_box.currentData())}

    def apply_settings(self, values: dict[str, Any]) -> None:
        lvl = values.get("level")
        for i, (_, level) in enumerate(LEVELS):
            if lvl == level:
                self.level_box.setCurrentIndex(i)
