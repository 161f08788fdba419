"""ScopeTrace: one oscilloscope channel as a lean pyqtgraph item, decimated to the plot's pixel columns.

Why not ``PlotDataItem``: a frame of 4 × 4250 samples cost about 13 ms of CPU with it (setData,
bounds recomputed by ``nanmin``/``nanmax`` at every ``boundingRect``, paths rebuilt in Python),
6-7 ms with this item (``/tmp`` micro-benchmark of the dock on the 2-core machine, offscreen,
raster engine); at 30 frames/s that is a fifth of a core the workers keep. The picture is the same
as pyqtgraph's peak downsampling: every pixel column of the visible time range gets the minimum and
the maximum of its samples, so a single-sample spike is never lost; zoomed in so far that there
are fewer samples than columns, every sample is drawn. The bounds are computed once per event.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF
from PySide6.QtGui import QPainter, QPen, QPolygonF

__all__ = ["ScopeTrace", "peak_decimate"]


def peak_decimate(x: np.ndarray, y: np.ndarray, columns: int) -> tuple[np.ndarray, np.ndarray]:
    """Min and max of ``y`` per column, as a zig-zag of 2 points per column (x of the column's first sample).

    ``x`` must be increasing. With no more than 2 samples per column the data come back unchanged.
    The last column takes the samples that do not fill a whole column, so no sample is dropped.
    """
    n = len(y)
    columns = max(int(columns), 1)
    if n <= 2 * columns:
        return x, y
    per = n // columns
    whole = per * columns
    blocks = y[:whole].reshape(columns, per)
    lo = blocks.min(axis=1)
    hi = blocks.max(axis=1)
    if whole < n:  # the rest joins the last column
        lo[-1] = min(lo[-1], y[whole:].min())
        hi[-1] = max(hi[-1], y[whole:].max())
    xs = np.repeat(x[:whole:per], 2)
    ys = np.empty(2 * columns, dtype=np.float64)
    ys[0::2] = lo
    ys[1::2] = hi
    return xs, ys


class ScopeTrace(pg.GraphicsObject):
    """A trace for a pyqtgraph PlotItem: ``setData(x, y)`` with increasing x, drawn as one polyline.

    Offers what the dock and pyqtgraph's ViewBox use of PlotDataItem: ``xData``/``yData`` (the data
    as given), ``opts['pen']``, ``setPen``, ``dataBounds`` (for Fit / autoRange).
    """

    def __init__(self, pen=None) -> None:
        super().__init__()
        self.xData: np.ndarray | None = None
        self.yData: np.ndarray | None = None
        self.opts = {"pen": pg.mkPen(pen if pen is not None else "w")}
        self._bounds = QRectF()
        self._rect = QRectF()
        self._polygon = QPolygonF()
        self._shown_range: tuple[float, float, int] | None = None

    # ----- data -------------------------------------------------------------------------------
    def setData(self, x, y) -> None:  # pyqtgraph's name
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        if len(x) != len(y):
            raise ValueError(f"x and y differ in length ({len(x)} and {len(y)})")
        self.xData, self.yData = (x, y) if len(y) else (None, None)
        if self.yData is None:
            bounds = QRectF()
        else:
            lo, hi = float(np.nanmin(y)), float(np.nanmax(y))
            bounds = QRectF(float(x[0]), lo, float(x[-1] - x[0]), hi - lo)
        if bounds != self._bounds:
            self._bounds = bounds
            self._update_rect()
        self._shown_range = None
        self._build()
        self.update()

    def setPen(self, *args, **kwargs) -> None:  # pyqtgraph's name
        self.opts["pen"] = pg.mkPen(*args, **kwargs)
        self.update()

    def dataBounds(self, ax: int, frac: float = 1.0, orthoRange=None):  # pyqtgraph's name
        data = self.xData if ax == 0 else self.yData
        if data is None:
            return None, None
        return float(np.nanmin(data)), float(np.nanmax(data))

    # ----- view -------------------------------------------------------------------------------
    def _visible(self) -> tuple[float, float, int]:
        """The x range shown and the plot's width in pixels (the whole data without a view)."""
        vb = self.getViewBox()
        if vb is None or self.xData is None:
            return float("-inf"), float("inf"), 2000
        (x0, x1), _ = vb.viewRange()
        return float(x0), float(x1), max(int(vb.width()), 1)

    def _build(self) -> None:
        if self.xData is None:
            self._polygon = QPolygonF()
            return
        shown = self._visible()
        if shown == self._shown_range:
            return
        self._shown_range = shown
        x0, x1, width = shown
        x, y = self.xData, self.yData
        i0 = max(int(np.searchsorted(x, x0)) - 1, 0)  # one sample beyond each edge: the line leaves the plot
        i1 = min(int(np.searchsorted(x, x1, side="right")) + 1, len(x))
        xs, ys = peak_decimate(x[i0:i1], y[i0:i1], width)
        polygon = pg.functions.create_qpolygonf(len(xs))
        points = pg.functions.ndarray_from_qpolygonf(polygon)
        points[:, 0] = xs
        points[:, 1] = ys
        self._polygon = polygon

    def viewRangeChanged(self) -> None:  # pyqtgraph's hook
        self._build()
        self.update()

    def viewTransformChanged(self) -> None:  # pyqtgraph's hook (resize)
        self._update_rect()
        self._build()

    def _update_rect(self) -> None:
        """The bounds, half a pixel wider on every side (a flat trace has no height but is drawn)."""
        if self.yData is None:
            rect = QRectF()
        else:
            dx = self.pixelLength(pg.Point(1, 0)) or 0.0  # one pixel in data units (None without a view)
            dy = self.pixelLength(pg.Point(0, 1)) or 0.0
            rect = self._bounds.adjusted(-dx, -dy, dx, dy)
        if rect != self._rect:
            self.prepareGeometryChange()
            self._rect = rect

    # ----- drawing ----------------------------------------------------------------------------
    def drawn_points(self) -> int:
        """How many points the polyline on the screen has (at most 2 per pixel column)."""
        return self._polygon.size()

    def boundingRect(self) -> QRectF:  # Qt's name
        return QRectF(self._rect)

    def paint(self, painter: QPainter, *_args) -> None:
        if self._polygon.isEmpty():
            return
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        pen: QPen = self.opts["pen"]
        painter.setPen(pen)
        painter.drawPolyline(self._polygon)
