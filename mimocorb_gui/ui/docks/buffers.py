"""Buffers dock: fill level, counters and state (running / paused / closed) of every buffer."""

from __future__ import annotations

from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QBrush, QColor, QPainter
from PySide6.QtWidgets import QHeaderView, QStyledItemDelegate, QTableView, QWidget

from mimocorb_gui.ui.docks.base import ColumnTableModel, MonitorDock, size_columns

__all__ = ["BuffersDock", "BuffersModel", "buffer_state"]

COLUMNS = ("Buffer", "Fill", "Written", "Read", "Rate", "Dead time", "Dropped", "State")
FILL_ROLE = Qt.ItemDataRole.UserRole + 1
# the widest text each column will show in a long run: columns are sized for it once, so numbers that
# grow are never cut ("104,9…") and the table does not relayout at every update
WIDEST = (
    None,
    "1024 / 1024",
    "999,999,999",
    "999,999,999",
    "99,999.9/s",
    "100.0 %",
    "99,999,999",
    "not started",
)


def buffer_state(st) -> str:
    """running / paused / closed / aborted for a BufferStats (or BufferRunStats)."""
    if st.aborted:
        return "aborted"
    if st.closed:
        return "closed"
    if st.paused:
        return "paused"
    return "running"


class BuffersModel(ColumnTableModel):
    columns = COLUMNS

    def __init__(self, specs: dict, parent=None) -> None:
        super().__init__(parent)
        self.names = list(specs)
        self.specs = specs
        self.stats: dict = {}

    def row_count(self) -> int:
        return len(self.names)

    def set_stats(self, stats: dict, notify: bool = True) -> None:
        self.stats = dict(stats)
        if not notify:
            return
        if self.names:
            self.dataChanged.emit(self.index(0, 1), self.index(len(self.names) - 1, len(COLUMNS) - 1))

    def state_of(self, name: str) -> str:
        b = self.stats.get(name)
        return buffer_state(b) if b is not None else "not started"

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        name = self.names[index.row()]
        col = index.column()
        b = self.stats.get(name)
        spec = self.specs.get(name)
        if role == FILL_ROLE and col == 1:
            return b.stats.fill_level if b is not None else 0.0
        if role == Qt.ItemDataRole.DisplayRole:
            if col == 0:
                return name
            if b is None:
                if col == 1 and spec is not None:
                    return f"– / {spec.slot_count}"
                return "not started" if col == 7 else ""
            s = b.stats
            return (
                None,
                f"{s.filled} / {s.slot_count}",
                f"{s.events_written:,}",
                f"{s.events_read:,}",
                f"{b.rate:,.1f}/s",
                f"{100 * b.deadtime_fraction:.1f} %" if b.root else "",
                f"{s.dropped_paused + s.dropped_aborted:,}",
                buffer_state(s),
            )[col]
        if role == Qt.ItemDataRole.TextAlignmentRole and 2 <= col <= 6:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ToolTipRole:
            if spec is not None:
                fields = ", ".join(f"{k}: {v}" for k, v in spec.data_dtype.items())
                return f"{name}: {spec.slot_count} slots × {spec.data_length} × {{{fields}}}"
        if role == Qt.ItemDataRole.BackgroundRole and col == 7 and b is not None:
            state = buffer_state(b.stats)
            return QBrush(
                QColor({"paused": "#fff3cd", "closed": "#e2e3e5", "aborted": "#f8d7da"}.get(state, "#d4edda"))
            )
        return None


class FillDelegate(QStyledItemDelegate):
    """Draws the fill level as a bar behind the 'filled / slots' text."""

    def paint(self, painter: QPainter, option, index) -> None:
        level = index.data(FILL_ROLE) or 0.0
        r: QRect = option.rect.adjusted(2, 3, -2, -3)
        painter.save()
        painter.fillRect(r, QColor("#eeeeee"))
        w = int(r.width() * max(0.0, min(1.0, float(level))))
        color = "#5cb85c" if level < 0.7 else ("#f0ad4e" if level < 0.95 else "#d9534f")
        painter.fillRect(QRect(r.left(), r.top(), w, r.height()), QColor(color))
        painter.setPen(QColor("#202020"))
        painter.drawText(r, int(Qt.AlignmentFlag.AlignCenter), str(index.data() or ""))
        painter.restore()


class BuffersDock(MonitorDock):
    def __init__(self, specs: dict, parent: QWidget | None = None) -> None:
        super().__init__("buffers", "Buffers", parent)
        self.model = BuffersModel(specs, self)
        self.view = QTableView(self)
        self.view.setModel(self.model)
        self.view.setItemDelegateForColumn(1, FillDelegate(self.view))
        self.view.verticalHeader().hide()
        self.view.setAlternatingRowColors(True)
        self.view.setSelectionMode(QTableView.SelectionMode.NoSelection)
        self.view.setWordWrap(False)
        header = self.view.horizontalHeader()
        # Interactive, sized once for the widest numbers: ResizeToContents would measure every cell at
        # every update; a narrow dock scrolls sideways instead of cutting numbers
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        size_columns(self.view, [max(self.model.names, key=len, default="Buffer"), *WIDEST[1:]])
        self.setWidget(self.view)
        self.visibilityChanged.connect(self._shown)

    def _shown(self, visible: bool) -> None:
        if visible and self.model.rowCount():
            self.model.set_stats(self.model.stats)

    def stats_updated(self, stats) -> None:
        if stats is not None:
            self.model.set_stats(stats.buffers, notify=self.view.isVisible() and not self.hidden_in_window())
