"""The editor view: zoom (wheel), pan (middle button, space + drag, scrollbars), fit, rubber band, drops.

Fitting a graph never shrinks its text below READABLE_TEXT_PX unless asked to show it whole (Fit to
View): on a small screen a long graph is shown readable from its start, with scrollbars.
"""

from __future__ import annotations

from PySide6.QtCore import QMimeData, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QPainter
from PySide6.QtWidgets import QGraphicsView

from mimocorb_gui.ui.editor.item_style import SMALLEST_TEXT_PT
from mimocorb_gui.ui.editor.palette import MIME_TYPE

SCENE_MARGIN = 40.0  # the scene reaches this far beyond the nodes; a fit shows it too (no scrollbars)
READABLE_TEXT_PX = 9.0  # the nodes' smallest text is at least this high on screen after an automatic fit


class EditorView(QGraphicsView):
    """A QGraphicsView for the editor scene; palette drops are reported by ``drop_requested``."""

    drop_requested = Signal(QMimeData, QPointF)  # mime data, scene position
    resized = Signal()  # the viewport changed size (before the view fits again)

    MIN_ZOOM = 0.15
    MAX_ZOOM = 3.0

    def __init__(self, scene, parent=None) -> None:
        super().__init__(scene, parent)
        self.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.TextAntialiasing)
        self.setDragMode(QGraphicsView.DragMode.RubberBandDrag)
        self.setRubberBandSelectionMode(Qt.ItemSelectionMode.IntersectsItemShape)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.BoundingRectViewportUpdate)
        self.setAcceptDrops(True)
        # pan with the middle button, space + drag or the scrollbars (shown when the graph is larger)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.drops_enabled = True
        self._pan_from: QPointF | None = None
        self._space = False
        self.fitted = False  # showing the graph as a fit left it: a resize (maximising) fits again
        self._fit_readable = True
        self._fitted_size = self.size()

    # ---- zoom

    def zoom(self) -> float:
        return self.transform().m11()

    def zoom_by(self, factor: float) -> None:
        new = min(self.MAX_ZOOM, max(self.MIN_ZOOM, self.zoom() * factor))
        factor = new / self.zoom()
        self.scale(factor, factor)
        self.fitted = False
        self._zoom_changed()

    def _zoom_changed(self) -> None:
        """Connections are clickable a fixed number of screen pixels wide: their shapes follow the zoom."""
        for edge in getattr(self.scene(), "edges", {}).values():
            edge.update_path()

    def readable_zoom(self) -> float:
        """The smallest zoom at which the nodes' smallest text is READABLE_TEXT_PX high (at most 1)."""
        px_per_pt = max(self.logicalDpiY(), 72) / 72.0
        return min(1.0, READABLE_TEXT_PX / (SMALLEST_TEXT_PT * px_per_pt))

    def layout_area(self) -> tuple[float, float]:
        """Scene units the viewport shows at the readable zoom (what an automatic layout should fill)."""
        # the whole view, scrollbars or not: a layout that made them appear must not change the area
        # it was made for (else showing a scrollbar would wrap the graph anew, and again, ...)
        frame = 2 * self.frameWidth()
        width, height = self.width() - frame, self.height() - frame
        if width <= 200:
            width, height = 1000, 560
        zoom = self.readable_zoom()
        return max(300.0, width / zoom - 60), max(200.0, height / zoom - 60)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        # only a new size of the view itself: a scrollbar shown or hidden by the fit below resizes the
        # viewport, and fitting again for that would show or hide it again, for ever
        if self.size() == self._fitted_size:
            return
        self._fitted_size = self.size()
        self.resized.emit()
        if self.fitted:
            self.fit(readable=self._fit_readable)

    def wheelEvent(self, event) -> None:
        delta = event.angleDelta().y()
        if delta == 0:
            super().wheelEvent(event)
            return
        self.zoom_by(1.0015**delta)
        event.accept()

    def fit(self, readable: bool = False) -> None:
        """Show all nodes, never magnified above 1.3; ``readable``: never below ``readable_zoom`` either
        (a graph larger than that is shown from its top left, the start of the data flow)."""
        scene = self.scene()
        rect = scene.itemsBoundingRect() if scene is not None else QRectF()
        if rect.isEmpty():
            self.resetTransform()
            return
        rect = rect.adjusted(-SCENE_MARGIN, -SCENE_MARGIN, SCENE_MARGIN, SCENE_MARGIN)  # = the scene rect
        self.update_scene_rect()
        self.fitInView(rect, Qt.AspectRatioMode.KeepAspectRatio)
        smallest = self.readable_zoom() if readable else self.MIN_ZOOM
        if self.zoom() > 1.3:
            self.resetTransform()
            self.scale(1.3, 1.3)
        elif self.zoom() < smallest:
            self.resetTransform()
            self.scale(smallest, smallest)
        shown = self.mapToScene(self.viewport().rect()).boundingRect()
        center = rect.center()
        if shown.width() < rect.width():
            center.setX(rect.left() + shown.width() / 2)
        if shown.height() < rect.height():
            center.setY(rect.top() + shown.height() / 2)
        self.centerOn(center)
        self.fitted = True
        self._fit_readable = readable
        self._zoom_changed()

    def update_scene_rect(self) -> None:
        """The scene reaches a margin beyond the nodes (room to drop and pan; the scrollbars' range)."""
        scene = self.scene()
        if scene is None:
            return
        m = SCENE_MARGIN
        scene.setSceneRect(scene.itemsBoundingRect().adjusted(-m, -m, m, m))

    def center_on_item(self, item) -> None:
        self.ensureVisible(item.sceneBoundingRect(), 60, 60)
        self.centerOn(item)

    # ---- pan: middle button, or space held with the left button

    def keyPressEvent(self, event) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = True
            self.fitted = False
            self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
            event.accept()
            return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = False
            self.setDragMode(QGraphicsView.DragMode.RubberBandDrag)
            event.accept()
            return
        super().keyReleaseEvent(event)

    def mousePressEvent(self, event) -> None:
        if event.button() == Qt.MouseButton.MiddleButton:
            self._pan_from = event.position()
            self.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event) -> None:
        if self._pan_from is not None:
            delta = event.position() - self._pan_from
            self._pan_from = event.position()
            self.fitted = False
            self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() - int(delta.x()))
            self.verticalScrollBar().setValue(self.verticalScrollBar().value() - int(delta.y()))
            event.accept()
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event) -> None:
        if event.button() == Qt.MouseButton.MiddleButton and self._pan_from is not None:
            self._pan_from = None
            self.viewport().unsetCursor()
            event.accept()
            return
        super().mouseReleaseEvent(event)

    # ---- drops from the palette

    def _accepts(self, mime: QMimeData | None) -> bool:
        return self.drops_enabled and mime is not None and mime.hasFormat(MIME_TYPE)

    def dragEnterEvent(self, event) -> None:
        if self._accepts(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:
        if self._accepts(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event) -> None:
        if not self._accepts(event.mimeData()):
            event.ignore()
            return
        event.acceptProposedAction()
        self.drop_requested.emit(event.mimeData(), self.mapToScene(event.position().toPoint()))
