"""Connections of the editor graph: one edge per source, sink or observed buffer of a worker, and the
rubber line shown while a connection is dragged from a port."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QPainter, QPainterPath, QPainterPathStroker, QPen, QPolygonF
from PySide6.QtWidgets import QGraphicsItem, QGraphicsPathItem

from mimocorb_gui.ui.editor.item_style import ERROR_COLOR, ROLE_PEN, SELECT_COLOR, WARNING_COLOR, escape_html
from mimocorb_gui.ui.editor.layout import LANE, line_break_route
from mimocorb_gui.ui.editor.nodes import BufferNode, WorkerNode

EDGE_HIT_PX = 14.0  # a connection is clicked (selected, hovered) within 7 screen pixels of its line


def _rect(r: QRectF) -> tuple[float, float, float, float]:
    return (r.x(), r.y(), r.width(), r.height())


def _rounded(points: list[QPointF], radius: float = 10.0) -> QPainterPath:
    """A polyline through ``points`` with its corners rounded."""
    path = QPainterPath(points[0])
    for before, corner, after in zip(points, points[1:], points[2:], strict=False):
        d_in, d_out = corner - before, after - corner
        len_in = (d_in.x() ** 2 + d_in.y() ** 2) ** 0.5
        len_out = (d_out.x() ** 2 + d_out.y() ** 2) ** 0.5
        r = min(radius, len_in / 2, len_out / 2)
        if r < 0.5:
            path.lineTo(corner)
            continue
        path.lineTo(corner - d_in * (r / len_in))
        path.quadTo(corner, corner + d_out * (r / len_out))
    path.lineTo(points[-1])
    return path


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
        nodes = getattr(self.scene(), "nodes", None)
        if b.x() < a.x() + 2 * LANE and nodes:  # back to the left (a wrapped layout): along a free lane
            obstacles = [_rect(n.sceneBoundingRect()) for n in nodes.values()]
            corners = line_break_route((a.x(), a.y()), (b.x(), b.y()), obstacles)
            self.setPath(_rounded([QPointF(x, y) for x, y in corners]))
            return
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
            lines.append(f"<span style='color:{color}'>{p.severity}: {escape_html(p.message)}</span>")
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
        before = path.pointAtPercent(path.percentAtLength(max(0.0, path.length() - 6.0)))  # the last 6 units
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
