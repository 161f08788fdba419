"""The editor view: zoom (wheel), pan (middle button or space + drag), fit, rubber band, drops."""

from __future__ import annotations

from PySide6.QtCore import QMimeData, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QPainter
from PySide6.QtWidgets import QGraphicsView

from mimocorb_gui.ui.editor.palette import MIME_TYPE


class EditorView(QGraphicsView):
    """A QGraphicsView for the editor scene; palette drops are reported by ``drop_requested``."""

    drop_requested = Signal(QMimeData, QPointF)  # mime data, scene position

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
        # pan with the middle button or space + drag; the scene is larger than the graph
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.drops_enabled = True
        self._pan_from: QPointF | None = None
        self._space = False
        self.fitted = False  # showing the whole graph as Fit left it: a resize (maximising) fits again

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

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self.fitted:
            self.fit()

    def wheelEvent(self, event) -> None:
        delta = event.angleDelta().y()
        if delta == 0:
            super().wheelEvent(event)
            return
        self.zoom_by(1.0015**delta)
        event.accept()

    def fit(self) -> None:
        """Show all nodes, never magnified above 1.3."""
        scene = self.scene()
        rect = scene.itemsBoundingRect() if scene is not None else QRectF()
        if rect.isEmpty():
            self.resetTransform()
            return
        rect = rect.adjusted(-30, -30, 30, 30)
        self.update_scene_rect()
        self.fitInView(rect, Qt.AspectRatioMode.KeepAspectRatio)
        if self.zoom() > 1.3:
            self.resetTransform()
            self.scale(1.3, 1.3)
        elif self.zoom() < self.MIN_ZOOM:
            self.resetTransform()
            self.scale(self.MIN_ZOOM, self.MIN_ZOOM)
        self.centerOn(rect.center())
        self.fitted = True
        self._zoom_changed()

    def update_scene_rect(self) -> None:
        scene = self.scene()
        if scene is None:
            return
        rect = scene.itemsBoundingRect().adjusted(-2000, -2000, 2000, 2000)
        scene.setSceneRect(rect.united(scene.sceneRect()) if not scene.sceneRect().isEmpty() else rect)

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
