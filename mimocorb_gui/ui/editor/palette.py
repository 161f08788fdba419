"""The palette: a Buffer item and every prebuilt function grouped by module, dragged onto the canvas."""

from __future__ import annotations

import json

from PySide6.QtCore import QMimeData, QModelIndex, QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontMetrics
from PySide6.QtWidgets import (
    QAbstractItemView,
    QLineEdit,
    QPushButton,
    QStyle,
    QStyledItemDelegate,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

MIME_TYPE = "application/x-mimocorb-node"
PAYLOAD_ROLE = Qt.ItemDataRole.UserRole + 1
SUMMARY_ROLE = Qt.ItemDataRole.UserRole + 2


def node_mime(payload: dict) -> QMimeData:
    """The mime data the palette drags: ``{"kind": "buffer"}`` or ``{"kind": "worker", "function": ...}``."""
    mime = QMimeData()
    mime.setData(MIME_TYPE, json.dumps(payload).encode("utf-8"))
    mime.setText(payload.get("function", "Buffer"))
    return mime


def payload_of(mime: QMimeData) -> dict | None:
    if mime is None or not mime.hasFormat(MIME_TYPE):
        return None
    try:
        data = json.loads(bytes(mime.data(MIME_TYPE)).decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) and data.get("kind") in ("buffer", "worker") else None


class _TwoLineDelegate(QStyledItemDelegate):
    """Name in the first line, the docstring summary small and grey in the second."""

    def sizeHint(self, option, index: QModelIndex) -> QSize:
        size = super().sizeHint(option, index)
        if index.data(SUMMARY_ROLE):
            fm = QFontMetrics(option.font)
            return QSize(size.width(), int(fm.height() * 2.25) + 4)
        return size

    def paint(self, painter, option, index: QModelIndex) -> None:
        summary = index.data(SUMMARY_ROLE)
        if not summary:
            super().paint(painter, option, index)
            return
        self.initStyleOption(option, index)
        style = option.widget.style() if option.widget else None
        text = option.text
        option.text = ""
        if style is not None:
            style.drawControl(QStyle.ControlElement.CE_ItemViewItem, option, painter, option.widget)
        rect = option.rect.adjusted(4, 2, -4, -2)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        painter.save()
        bold = QFont(option.font)
        bold.setBold(True)
        fm = QFontMetrics(bold)
        painter.setFont(bold)
        painter.setPen(
            option.palette.highlightedText().color() if selected else option.palette.text().color()
        )
        top = QRect(rect.left(), rect.top(), rect.width(), fm.height())
        painter.drawText(
            top,
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            fm.elidedText(text, Qt.TextElideMode.ElideRight, rect.width()),
        )
        small = QFont(option.font)
        small.setPointSizeF(max(6.5, option.font.pointSizeF() * 0.86))
        sfm = QFontMetrics(small)
        painter.setFont(small)
        painter.setPen(option.palette.highlightedText().color() if selected else QColor("#66707a"))
        bottom = QRect(rect.left(), top.bottom() + 1, rect.width(), sfm.height() + 2)
        painter.drawText(
            bottom,
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            sfm.elidedText(summary, Qt.TextElideMode.ElideRight, rect.width()),
        )
        painter.restore()


class PaletteTree(QTreeWidget):
    """The tree whose items drag as :data:`MIME_TYPE`."""

    def mimeTypes(self) -> list[str]:
        return [MIME_TYPE]

    def mimeData(self, items) -> QMimeData | None:
        for item in items:
            payload = item.data(0, PAYLOAD_ROLE)
            if payload:
                return node_mime(dict(payload))
        return None


class FunctionPalette(QWidget):
    """Filterable palette; ``activated(payload)`` on double-click (add at the view centre)."""

    activated = Signal(dict)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.filter = QLineEdit(self)
        self.filter.setPlaceholderText("Filter functions…")
        self.filter.setClearButtonEnabled(True)
        self.tree = PaletteTree(self)
        self.tree.setHeaderHidden(True)
        self.tree.setDragEnabled(True)
        self.tree.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.tree.setItemDelegate(_TwoLineDelegate(self.tree))
        self.tree.setIndentation(12)
        self.tree.setUniformRowHeights(False)
        self.from_file_button = QPushButton("Worker from my file…", self)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(3)
        layout.addWidget(self.filter)
        layout.addWidget(self.tree, 1)
        layout.addWidget(self.from_file_button)
        self.filter.textChanged.connect(self.apply_filter)
        self.tree.itemDoubleClicked.connect(self._double_clicked)
        self.errors: dict[str, str] = {}
        self.populate()

    def populate(self) -> None:
        from mimocorb_gui.core import loader

        self.tree.clear()
        buffer = QTreeWidgetItem(self.tree, ["Buffer"])
        buffer.setData(0, PAYLOAD_ROLE, {"kind": "buffer"})
        buffer.setData(0, SUMMARY_ROLE, "a ring buffer between workers")
        buffer.setToolTip(
            0, "Drag onto the canvas to add a ring buffer (slot_count, data_length, data_dtype)"
        )
        self.errors = {}
        functions = loader.prebuilt_listing(errors=self.errors)  # read, not imported: fast start-up
        groups: dict[str, QTreeWidgetItem] = {}
        for qualname, summary in sorted(functions.items()):
            module, _, name = qualname.rpartition(".")
            group = groups.get(module)
            if group is None:
                group = QTreeWidgetItem(self.tree, [module])
                group.setFlags(group.flags() & ~Qt.ItemFlag.ItemIsDragEnabled)
                font = group.font(0)
                font.setBold(True)
                group.setFont(0, font)
                groups[module] = group
            item = QTreeWidgetItem(group, [name])
            item.setData(0, PAYLOAD_ROLE, {"kind": "worker", "function": qualname})
            item.setData(0, SUMMARY_ROLE, summary)
            item.setToolTip(0, f"<b>{qualname}</b><br>{summary}")
        self.tree.expandAll()

    def item_for(self, key: str) -> QTreeWidgetItem | None:
        """The item of ``'Buffer'`` or a function ``'module.function'``."""
        for item in self._all_items():
            payload = item.data(0, PAYLOAD_ROLE) or {}
            if (key == "Buffer" and payload.get("kind") == "buffer") or payload.get("function") == key:
                return item
        return None

    def mime_for(self, key: str) -> QMimeData:
        """The mime data a drag of item ``key`` carries (what a drop on the canvas receives)."""
        item = self.item_for(key)
        if item is None:
            raise KeyError(f"no palette item {key!r}")
        return self.tree.mimeData([item])

    def functions(self) -> list[str]:
        return [
            p["function"]
            for p in (i.data(0, PAYLOAD_ROLE) for i in self._all_items())
            if p and p.get("kind") == "worker"
        ]

    def _all_items(self) -> list[QTreeWidgetItem]:
        items = []
        for i in range(self.tree.topLevelItemCount()):
            top = self.tree.topLevelItem(i)
            items.append(top)
            items.extend(top.child(j) for j in range(top.childCount()))
        return items

    def apply_filter(self, text: str) -> None:
        text = text.strip().lower()
        for i in range(self.tree.topLevelItemCount()):
            top = self.tree.topLevelItem(i)
            if top.childCount() == 0:
                top.setHidden(bool(text) and text not in top.text(0).lower())
                continue
            visible = 0
            for j in range(top.childCount()):
                child = top.child(j)
                hay = f"{top.text(0)}.{child.text(0)} {child.data(0, SUMMARY_ROLE) or ''}".lower()
                hide = bool(text) and text not in hay
                child.setHidden(hide)
                visible += not hide
            top.setHidden(visible == 0)

    def _double_clicked(self, item: QTreeWidgetItem, _column: int) -> None:
        payload = item.data(0, PAYLOAD_ROLE)
        if payload:
            self.activated.emit(dict(payload))
