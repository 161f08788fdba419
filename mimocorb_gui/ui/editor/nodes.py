"""Graph nodes of the editor: buffers and workers with their ports.

Items only draw; they read what they show from plain values the scene hands them and report
user gestures (port drags, moves) to the scene. They never edit the setup model.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFontMetricsF, QPainter, QPainterPath, QPen, QPolygonF
from PySide6.QtWidgets import QGraphicsItem, QGraphicsObject, QStyle

from mimocorb_gui.ui.editor.item_style import (
    DEFAULT_TEMPLATE_COLOR,
    ERROR_COLOR,
    SELECT_COLOR,
    SMALLEST_TEXT_PT,
    TEMPLATE_COLORS,
    WARNING_COLOR,
    elide,
    escape_html,
    format_rate,
    item_font,
)
from mimocorb_gui.ui.editor.layout import NODE_HEIGHT, NODE_WIDTH

if TYPE_CHECKING:
    from mimocorb_gui.ui.editor.edges import Edge


class Port(QGraphicsItem):
    """A connection handle on a node; drag from it to another node to connect."""

    RADIUS = 5.5

    def __init__(self, node: NodeItem, side: str) -> None:
        super().__init__(node)
        self.node = node
        self.side = side  # 'in' | 'out' | 'observe'
        self.setAcceptHoverEvents(True)
        self.setCursor(Qt.CursorShape.CrossCursor)
        self._hover = False
        self.setZValue(2)
        tip = {
            ("worker", "in"): "drag to a buffer: the worker reads it (sources)",
            ("worker", "out"): "drag to a buffer: the worker writes it (sinks)",
            ("worker", "observe"): "drag to a buffer: the worker observes it (observes)",
            ("buffer", "in"): "drag to a worker: the worker writes this buffer (sinks)",
            (
                "buffer",
                "out",
            ): "drag to a worker: the worker reads this buffer (sources; observes for observers)",
        }
        self.setToolTip(tip.get((node.kind, side), ""))

    def boundingRect(self) -> QRectF:
        r = self.RADIUS + 2
        return QRectF(-r, -r, 2 * r, 2 * r)

    def shape(self) -> QPainterPath:
        path = QPainterPath()
        r = self.RADIUS + 3
        path.addEllipse(QRectF(-r, -r, 2 * r, 2 * r))
        return path

    def paint(self, painter: QPainter, option, widget=None) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        color = QColor("#ffffff") if not self._hover else SELECT_COLOR.lighter(170)
        painter.setBrush(color)
        painter.setPen(QPen(QColor("#4b5563"), 1.3))
        r = self.RADIUS
        if self.side == "observe":
            poly = QPolygonF([QPointF(0, -r), QPointF(r, 0), QPointF(0, r), QPointF(-r, 0)])
            painter.drawPolygon(poly)
        else:
            painter.drawEllipse(QRectF(-r, -r, 2 * r, 2 * r))

    def hoverEnterEvent(self, event) -> None:
        self._hover = True
        self.update()

    def hoverLeaveEvent(self, event) -> None:
        self._hover = False
        self.update()

    def mousePressEvent(self, event) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self.scene() is not None:
            event.accept()
            self.scene().start_connection(self, event.scenePos())
        else:
            event.ignore()

    def mouseMoveEvent(self, event) -> None:
        if self.scene() is not None:
            self.scene().move_connection(event.scenePos())

    def mouseReleaseEvent(self, event) -> None:
        if self.scene() is not None:
            self.scene().finish_connection(event.scenePos())


class NodeItem(QGraphicsObject):
    """Common behaviour of buffer and worker nodes: selection, problems marker, ports."""

    WIDTH = 170.0
    HEIGHT = 66.0
    kind = "node"

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name
        self.edges: list[Edge] = []
        self.problems: list = []
        self.setFlags(
            QGraphicsItem.GraphicsItemFlag.ItemIsMovable
            | QGraphicsItem.GraphicsItemFlag.ItemIsSelectable
            | QGraphicsItem.GraphicsItemFlag.ItemSendsGeometryChanges
        )
        self.setAcceptHoverEvents(True)
        self.setZValue(1)
        self.in_port = Port(self, "in")
        self.out_port = Port(self, "out")
        self.in_port.setPos(0, self.HEIGHT / 2)
        self.out_port.setPos(self.WIDTH, self.HEIGHT / 2)

    @property
    def key(self) -> tuple[str, str]:
        return (self.kind, self.name)

    def ports(self) -> list[Port]:
        return [self.in_port, self.out_port]

    def boundingRect(self) -> QRectF:
        return QRectF(-4, -4, self.WIDTH + 8, self.HEIGHT + 8)

    def shape(self) -> QPainterPath:
        path = QPainterPath()
        path.addRect(QRectF(0, 0, self.WIDTH, self.HEIGHT))
        return path

    def body_rect(self) -> QRectF:
        return QRectF(0, 0, self.WIDTH, self.HEIGHT)

    def rename(self, name: str) -> None:
        self.name = name
        self.refresh_tooltip()
        self.update()

    # ---- problems

    def set_problems(self, problems: list) -> None:
        self.problems = list(problems)
        self.refresh_tooltip()
        self.update()

    def problem_color(self) -> QColor | None:
        if any(p.severity == "error" for p in self.problems):
            return ERROR_COLOR
        if self.problems:
            return WARNING_COLOR
        return None

    def describe(self) -> str:
        return self.name

    def refresh_tooltip(self) -> None:
        lines = [f"<b>{self.describe()}</b>"]
        for p in self.problems:
            color = ERROR_COLOR.name() if p.severity == "error" else "#b07000"
            lines.append(
                f"<span style='color:{color}'>{p.severity}: {p.location}: {escape_html(p.message)}</span>"
            )
        self.setToolTip("<br>".join(lines))

    def paint_frame(
        self, painter: QPainter, option, path: QPainterPath, fill: QColor, border: QColor
    ) -> None:
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        pcolor = self.problem_color()
        if selected:  # a halo outside the frame, so a problem's colour stays visible
            halo = QColor(SELECT_COLOR)
            halo.setAlpha(150)
            painter.setPen(QPen(halo, 7.0))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawPath(path)
        if pcolor is not None:
            painter.setPen(QPen(pcolor, 2.4))
        elif selected:
            painter.setPen(QPen(SELECT_COLOR.darker(120), 1.6))
        else:
            painter.setPen(QPen(border, 1.3))
        painter.setBrush(fill)
        painter.drawPath(path)

    def paint_badge(self, painter: QPainter) -> None:
        pcolor = self.problem_color()
        if pcolor is None:
            return
        r = 8.0
        center = QPointF(self.WIDTH - 2, 2)
        painter.setPen(QPen(QColor("white"), 1.2))
        painter.setBrush(pcolor)
        painter.drawEllipse(center, r, r)
        painter.setFont(item_font(SMALLEST_TEXT_PT, True))
        painter.drawText(
            QRectF(center.x() - r, center.y() - r, 2 * r, 2 * r), Qt.AlignmentFlag.AlignCenter, "!"
        )

    # ---- movement

    def itemChange(self, change, value):
        if change == QGraphicsItem.GraphicsItemChange.ItemPositionChange and isinstance(value, QPointF):
            return QPointF(round(value.x()), round(value.y()))  # whole pixels: tidy side file
        if change == QGraphicsItem.GraphicsItemChange.ItemPositionHasChanged:
            for edge in self.edges:
                edge.update_path()
        return super().itemChange(change, value)


class BufferNode(NodeItem):
    """A ring buffer: rounded 'tank' with its size, the dtype fields and (during a run) fill and rate."""

    WIDTH = NODE_WIDTH["buffer"]
    HEIGHT = NODE_HEIGHT["buffer"]
    kind = "buffer"

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.slot_count = None
        self.data_length = None
        self.fields: dict[str, str] = {}
        self.run: dict | None = None

    def set_spec(self, slot_count, data_length, fields: dict[str, str]) -> None:
        self.slot_count, self.data_length, self.fields = slot_count, data_length, dict(fields)
        self.refresh_tooltip()
        self.update()

    def set_run(self, run: dict | None) -> None:
        if run == self.run:
            return  # nothing shown changed: no repaint (every node at every stats update cost CPU)
        self.run = run
        self.refresh_tooltip()
        self.update()

    def size_text(self) -> str:
        slots = self.slot_count if self.slot_count is not None else "?"
        length = self.data_length if self.data_length is not None else "?"
        return f"{slots} slots × {length}"

    def fields_text(self) -> str:
        if not self.fields:
            return "no dtype"
        types = set(self.fields.values())
        if len(types) == 1 and len(self.fields) > 1:
            return f"{len(self.fields)} × {next(iter(types))}: {', '.join(self.fields)}"
        return ", ".join(f"{k}: {v}" for k, v in self.fields.items())

    def describe(self) -> str:
        fields = ", ".join(f"{k}: {v}" for k, v in self.fields.items())
        text = f"buffer {self.name} — {self.size_text()} — {{{fields}}}"
        if self.run is not None:
            fill = 100 * float(self.run.get("fill", 0.0))
            text += f"<br>{format_rate(self.run.get('rate')) or '–'}, {fill:.0f}% full"
            if self.run.get("written") is not None:
                text += f", {self.run['written']} events written"
            if self.run.get("state"):
                text += f", {self.run['state']}"
        return text

    def paint(self, painter: QPainter, option, widget=None) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        rect = self.body_rect()
        path = QPainterPath()
        path.addRoundedRect(rect, 13, 13)
        self.paint_frame(painter, option, path, QColor("#e3eef9"), QColor("#4a78a8"))
        pad = 11.0
        inner = rect.width() - 2 * pad
        title = item_font(9.5, True)
        small = item_font(SMALLEST_TEXT_PT)
        painter.setPen(QColor("#1d3552"))
        painter.setFont(title)
        painter.drawText(
            QRectF(pad, 5, inner, 18),
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            elide(self.name, title, inner - (8 if self.problem_color() else 0)),
        )
        painter.setFont(small)
        painter.setPen(QColor("#3b4d63"))
        painter.drawText(
            QRectF(pad, 23, inner, 14),
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            elide(self.size_text(), small, inner),
        )
        line3 = QRectF(pad, 38, inner, 15)
        if self.run is None:
            painter.drawText(
                line3,
                Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                elide(self.fields_text(), small, inner),
            )
        else:  # during a run: fill level bar and rate instead of the dtype line
            state = self.run.get("state")
            running = state in (None, "", "running")
            rate = self.run.get("rate")
            label = format_rate(rate) if (running or rate) else str(state)
            bold = item_font(SMALLEST_TEXT_PT, True)
            label_w = QFontMetricsF(bold).horizontalAdvance(label) + 6
            painter.setFont(bold)
            painter.setPen(QColor("#1f5e33") if running else QColor("#5b6570"))
            painter.drawText(line3, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, label)
            fill = max(0.0, min(1.0, float(self.run.get("fill", 0.0))))
            bar = QRectF(pad, line3.center().y() - 3.5, max(20.0, inner - label_w), 7)
            painter.setPen(QPen(QColor("#4a78a8"), 0.8))
            painter.setBrush(QColor("white"))
            painter.drawRoundedRect(bar, 2, 2)
            color = QColor("#3f9b5a") if fill < 0.5 else (QColor("#e0a020") if fill < 0.9 else ERROR_COLOR)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(color)
            if fill > 0:
                painter.drawRoundedRect(
                    QRectF(bar.x(), bar.y(), max(bar.width() * fill, 2.0), bar.height()), 2, 2
                )
        self.paint_badge(painter)


class WorkerNode(NodeItem):
    """A worker: header coloured by its template, function name, processes; red when it failed."""

    WIDTH = NODE_WIDTH["worker"]
    HEIGHT = NODE_HEIGHT["worker"]
    HEADER = 21.0
    kind = "worker"

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.function = ""
        self.file = None
        self.template = ""
        self.processes = 1
        self.run: dict | None = None
        self.observe_port = Port(self, "observe")
        self.observe_port.setPos(0, self.HEADER / 2)  # left, in the header: dashed edges come in here
        self.in_port.setPos(0, (self.HEIGHT + self.HEADER) / 2)
        self.out_port.setPos(self.WIDTH, (self.HEIGHT + self.HEADER) / 2)

    def ports(self) -> list[Port]:
        return [self.in_port, self.out_port, self.observe_port]

    def set_spec(self, function: str, file: str | None, template: str, processes) -> None:
        self.function, self.file, self.template, self.processes = function, file, template, processes
        self.refresh_tooltip()
        self.update()

    def set_run(self, run: dict | None) -> None:
        if run == self.run:
            return  # nothing shown changed: no repaint (every node at every stats update cost CPU)
        self.run = run
        self.refresh_tooltip()
        self.update()

    @property
    def failed(self) -> bool:
        return bool(self.run and self.run.get("failed"))

    def describe(self) -> str:
        where = f" from {self.file}" if self.file else ""
        kind = f" ({self.template})" if self.template else ""
        text = f"worker {self.name} — {escape_html(self.function)}{escape_html(where)}{kind}"
        if self.run is not None:
            text += f"<br>{escape_html(self.status_text())}"
        if self.run and self.run.get("error"):
            text += (
                f"<br><span style='color:{ERROR_COLOR.name()}'>{escape_html(str(self.run['error']))}</span>"
            )
        return text

    def status_text(self) -> str:
        if self.run is None:
            n = self.processes
            return f"{n} processes" if isinstance(n, int) and n != 1 else "1 process"
        alive, total = self.run.get("alive", 0), self.run.get("processes", self.processes)
        if self.failed:
            error = str(self.run.get("error") or "").strip().splitlines()
            return f"failed: {error[-1]}" if error else "failed"
        if alive:
            return f"{alive}/{total} running"
        return str(self.run.get("state") or "stopped")

    def problem_color(self) -> QColor | None:
        if self.failed:
            return ERROR_COLOR
        return super().problem_color()

    def paint(self, painter: QPainter, option, widget=None) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        rect = self.body_rect()
        path = QPainterPath()
        path.addRoundedRect(rect, 5, 5)
        fill = QColor("#fde2e1") if self.failed else QColor("#fbfbfc")
        self.paint_frame(painter, option, path, fill, QColor("#59636e"))
        head = QPainterPath()
        head.addRoundedRect(QRectF(1, 1, rect.width() - 2, self.HEADER), 4, 4)
        head.addRect(QRectF(1, self.HEADER - 4, rect.width() - 2, 5))
        color = ERROR_COLOR if self.failed else TEMPLATE_COLORS.get(self.template, DEFAULT_TEMPLATE_COLOR)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(color)
        painter.drawPath(head.simplified())
        pad = 9.0
        inner = rect.width() - 2 * pad
        title = item_font(9.5, True)
        small = item_font(SMALLEST_TEXT_PT)
        painter.setFont(title)
        painter.setPen(QColor("white"))
        painter.drawText(
            QRectF(pad, 1, inner - (10 if self.problem_color() else 0), self.HEADER),
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            elide(self.name, title, inner - (10 if self.problem_color() else 0)),
        )
        painter.setFont(small)
        painter.setPen(QColor("#2a3138"))
        func = self.function or "(no function)"
        if self.file:
            func = f"{func} · {self.file}"
        painter.drawText(
            QRectF(pad, self.HEADER + 3, inner, 15),
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            elide(func, small, inner),
        )
        tag = self.template or ""
        tag_font = item_font(SMALLEST_TEXT_PT)
        tag_w = QFontMetricsF(tag_font).horizontalAdvance(tag) + 6 if tag else 0.0
        line3 = QRectF(pad, self.HEADER + 19, inner, 15)
        if tag:
            painter.setFont(tag_font)
            painter.setPen(TEMPLATE_COLORS.get(self.template, DEFAULT_TEMPLATE_COLOR).darker(115))
            painter.drawText(line3, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, tag)
        text = self.status_text()
        if self.run is not None:
            status_font = item_font(SMALLEST_TEXT_PT, True)
            painter.setPen(ERROR_COLOR if self.failed else QColor("#1f5e33"))
        else:
            status_font = small
            painter.setPen(QColor("#5b6570"))
        painter.setFont(status_font)
        painter.drawText(
            line3.adjusted(0, 0, -tag_w, 0),
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            elide(text, status_font, inner - tag_w),
        )
        self.paint_badge(painter)
