"""Graphics items of the graph editor: buffer and worker nodes, their ports, and edges.

Items only draw; they read what they show from plain values the scene hands them and report
user gestures (port drags, moves) to the scene. They never edit the setup model.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFont,
    QFontMetricsF,
    QPainter,
    QPainterPath,
    QPainterPathStroker,
    QPen,
    QPolygonF,
)
from PySide6.QtWidgets import QGraphicsItem, QGraphicsObject, QGraphicsPathItem, QStyle

from mimocorb_gui.ui.editor.layout import NODE_HEIGHT, NODE_WIDTH

ERROR_COLOR = QColor("#d32f2f")
WARNING_COLOR = QColor("#f0a000")
SELECT_COLOR = QColor("#1e88e5")
TEMPLATE_COLORS = {
    "Importer": QColor("#3f9b5a"),
    "Filter": QColor("#c98a1b"),
    "Processor": QColor("#7159b8"),
    "Exporter": QColor("#2f7f9e"),
    "Observer": QColor("#6d7b8a"),
    "IsAlive": QColor("#6d7b8a"),
}
DEFAULT_TEMPLATE_COLOR = QColor("#5f6b77")
ROLE_PEN = {
    "sources": QColor("#4a6f96"),
    "sinks": QColor("#3f8a55"),
    "observes": QColor("#8a8f99"),
}


def _font(size: float = 8.5, bold: bool = False) -> QFont:
    font = QFont()
    font.setPointSizeF(size)
    font.setBold(bold)
    return font


def format_rate(rate: float | None) -> str:
    if rate is None:
        return ""
    if rate >= 1e6:
        return f"{rate / 1e6:.2f} MHz"
    if rate >= 1e4:
        return f"{rate / 1e3:.1f} kHz"
    if rate >= 100:
        return f"{rate:.0f} Hz"
    return f"{rate:.1f} Hz"


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
            lines.append(f"<span style='color:{color}'>{p.severity}: {p.location}: {_html(p.message)}</span>")
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
        painter.setFont(_font(8, True))
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


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _elide(text: str, font: QFont, width: float) -> str:
    return QFontMetricsF(font).elidedText(text, Qt.TextElideMode.ElideRight, width)


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
        title = _font(9.5, True)
        small = _font(8)
        painter.setPen(QColor("#1d3552"))
        painter.setFont(title)
        painter.drawText(
            QRectF(pad, 5, inner, 18),
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            _elide(self.name, title, inner - (8 if self.problem_color() else 0)),
        )
        painter.setFont(small)
        painter.setPen(QColor("#3b4d63"))
        painter.drawText(
            QRectF(pad, 23, inner, 14),
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            _elide(self.size_text(), small, inner),
        )
        line3 = QRectF(pad, 38, inner, 15)
        if self.run is None:
            painter.drawText(
                line3,
                Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                _elide(self.fields_text(), small, inner),
            )
        else:  # during a run: fill level bar and rate instead of the dtype line
            state = self.run.get("state")
            running = state in (None, "", "running")
            rate = self.run.get("rate")
            label = format_rate(rate) if (running or rate) else str(state)
            bold = _font(8, True)
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
        text = f"worker {self.name} — {_html(self.function)}{_html(where)}{kind}"
        if self.run is not None:
            text += f"<br>{_html(self.status_text())}"
        if self.run and self.run.get("error"):
            text += f"<br><span style='color:{ERROR_COLOR.name()}'>{_html(str(self.run['error']))}</span>"
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
        title = _font(9.5, True)
        small = _font(8)
        painter.setFont(title)
        painter.setPen(QColor("white"))
        painter.drawText(
            QRectF(pad, 1, inner - (10 if self.problem_color() else 0), self.HEADER),
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            _elide(self.name, title, inner - (10 if self.problem_color() else 0)),
        )
        painter.setFont(small)
        painter.setPen(QColor("#2a3138"))
        func = self.function or "(no function)"
        if self.file:
            func = f"{func} · {self.file}"
        painter.drawText(
            QRectF(pad, self.HEADER + 3, inner, 15),
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            _elide(func, small, inner),
        )
        tag = self.template or ""
        tag_font = _font(7.5)
        tag_w = QFontMetricsF(tag_font).horizontalAdvance(tag) + 6 if tag else 0.0
        line3 = QRectF(pad, self.HEADER + 19, inner, 15)
        if tag:
            painter.setFont(tag_font)
            painter.setPen(TEMPLATE_COLORS.get(self.template, DEFAULT_TEMPLATE_COLOR).darker(115))
            painter.drawText(line3, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, tag)
        text = self.status_text()
        if self.run is not None:
            status_font = _font(8, True)
            painter.setPen(ERROR_COLOR if self.failed else QColor("#1f5e33"))
        else:
            status_font = small
            painter.setPen(QColor("#5b6570"))
        painter.setFont(status_font)
        painter.drawText(
            line3.adjusted(0, 0, -tag_w, 0),
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            _elide(text, status_font, inner - tag_w),
        )
        self.paint_badge(painter)


EDGE_HIT_PX = 14.0  # a connection is clicked (selected, hovered) within 7 screen pixels of its line


class Edge(QGraphicsPathItem):
    """A connection: ``buffer -> worker`` for sources, ``worker -> buffer`` for sinks, dashed for observes."""

    def __init__(self, worker: WorkerNode, buffer: BufferNode, role: str) -> None:
        super().__init__()
        self.worker = worker
        self.buffer = buffer
        self.role = role
        self.problems: list = []
        self.setFlags(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable)
        self.setAcceptHoverEvents(True)
        self.setZValue(0)
        self._hover = False
        worker.edges.append(self)
        buffer.edges.append(self)
        self.update_path()
        self.refresh_tooltip()

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.worker.name, self.role, self.buffer.name)

    def detach(self) -> None:
        for node in (self.worker, self.buffer):
            if self in node.edges:
                node.edges.remove(self)

    def endpoints(self) -> tuple[QPointF, QPointF]:
        if self.role == "sinks":
            return self.worker.out_port.scenePos(), self.buffer.in_port.scenePos()
        if self.role == "observes":
            return self.buffer.out_port.scenePos(), self.worker.observe_port.scenePos()
        return self.buffer.out_port.scenePos(), self.worker.in_port.scenePos()

    def update_path(self) -> None:
        self.prepareGeometryChange()
        a, b = self.endpoints()
        path = QPainterPath(a)
        dx = max(40.0, abs(b.x() - a.x()) * 0.5)
        path.cubicTo(QPointF(a.x() + dx, a.y()), QPointF(b.x() - dx, b.y()), b)
        self.setPath(path)

    def set_problems(self, problems: list) -> None:
        self.problems = list(problems)
        self.refresh_tooltip()
        self.update()

    def refresh_tooltip(self) -> None:
        role = {"sources": "reads", "sinks": "writes", "observes": "observes"}[self.role]
        lines = [f"<b>{self.worker.name}</b> {role} <b>{self.buffer.name}</b> ({self.role})"]
        for p in self.problems:
            color = ERROR_COLOR.name() if p.severity == "error" else "#b07000"
            lines.append(f"<span style='color:{color}'>{p.severity}: {_html(p.message)}</span>")
        self.setToolTip("<br>".join(lines))

    def _hit_width(self) -> float:
        """EDGE_HIT_PX screen pixels wide whatever the zoom (a zoomed-out graph has thin lines)."""
        scene = self.scene()
        views = scene.views() if scene is not None else []
        scale = views[0].transform().m11() if views else 1.0
        return max(12.0, EDGE_HIT_PX / max(scale, 0.05))

    def shape(self) -> QPainterPath:
        stroker = QPainterPathStroker()
        stroker.setWidth(self._hit_width())
        return stroker.createStroke(self.path())

    def boundingRect(self) -> QRectF:
        half = self._hit_width() / 2 + 2
        return super().boundingRect().adjusted(-half, -half, half, half)

    def hoverEnterEvent(self, event) -> None:
        self._hover = True
        self.update()

    def hoverLeaveEvent(self, event) -> None:
        self._hover = False
        self.update()

    def color(self) -> QColor:
        if any(p.severity == "error" for p in self.problems):
            return ERROR_COLOR
        if self.problems:
            return WARNING_COLOR
        return ROLE_PEN[self.role]

    def paint(self, painter: QPainter, option, widget=None) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        selected = self.isSelected()
        color = SELECT_COLOR if selected else self.color()
        width = 2.6 if (selected or self._hover or self.problems) else 1.7
        pen = QPen(color, width)
        if self.role == "observes":
            pen.setStyle(Qt.PenStyle.DashLine)
        painter.setPen(pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(self.path())
        # arrow head at the end
        path = self.path()
        end = path.pointAtPercent(1.0)
        before = path.pointAtPercent(0.97)
        direction = end - before
        length = (direction.x() ** 2 + direction.y() ** 2) ** 0.5 or 1.0
        ux, uy = direction.x() / length, direction.y() / length
        size = 8.0
        tip = end - QPointF(ux * 5.5, uy * 5.5)  # stop at the port's rim
        left = tip - QPointF(ux * size, uy * size) + QPointF(-uy * size * 0.5, ux * size * 0.5)
        right = tip - QPointF(ux * size, uy * size) - QPointF(-uy * size * 0.5, ux * size * 0.5)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QBrush(color))
        painter.drawPolygon(QPolygonF([tip, left, right]))


class PendingEdge(QGraphicsPathItem):
    """The rubber line shown while a connection is dragged from a port."""

    def __init__(self, start: QPointF) -> None:
        super().__init__()
        self.start = start
        pen = QPen(SELECT_COLOR, 1.8, Qt.PenStyle.DashLine)
        self.setPen(pen)
        self.setZValue(5)
        self.set_end(start)

    def set_end(self, end: QPointF) -> None:
        path = QPainterPath(self.start)
        dx = max(30.0, abs(end.x() - self.start.x()) * 0.5)
        path.cubicTo(QPointF(self.start.x() + dx, self.start.y()), QPointF(end.x() - dx, end.y()), end)
        self.setPath(path)
