"""What every monitor dock shares: run hooks, per-dock settings, named actions, an empty-state overlay."""

from __future__ import annotations

from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import QAbstractTableModel, QEvent, QModelIndex, QObject, Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QDockWidget, QLabel, QTableView, QWidget

__all__ = [
    "CHANNEL_COLORS",
    "ColumnTableModel",
    "EmptyState",
    "MonitorDock",
    "axis_label",
    "configure_pyqtgraph",
    "fast_plot_item",
    "size_columns",
]

# matplotlib's tab10: distinguishable on a white background, familiar from the reference's plots
CHANNEL_COLORS = [
    "#1f77b4",
    "#d62728",
    "#2ca02c",
    "#ff7f0e",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
]

_configured = False


def configure_pyqtgraph() -> None:
    """Global pyqtgraph options for every plot: light background, no antialiasing (speed)."""
    global _configured
    if _configured:
        return
    pg.setConfigOptions(antialias=False, background="w", foreground="#202020", exitCleanup=False)
    _configured = True


def axis_label(quantity: str, unit: str | None) -> str:
    """'Time [µs]' for a short unit; a long free-text unit ('Voltage (mV)') stands as the label itself."""
    unit = (unit or "").strip()
    if not unit:
        return quantity
    if unit.lower() in ("samples", "sample"):
        return "Sample number"
    if unit.lower() == "value":  # the manual's default y unit: no unit known
        return quantity
    if len(unit) > 8 or " " in unit or "(" in unit or "[" in unit:
        return unit
    return f"{quantity} [{unit}]"


def fast_plot_item(plot: pg.PlotItem, minor_grid: bool = True) -> None:
    """Settings that keep large traces fast: peak downsampling of what is visible only.

    Grid lines at minor ticks triple the cost of a repaint (about 15 instead of 5 ms for a
    760×420 plot with 4 × 4250 samples, raster engine): plots that redraw many times a second
    get ``minor_grid=False`` (grid and ticks at major steps only).
    """
    plot.setDownsampling(auto=True, mode="peak")
    plot.setClipToView(True)
    plot.showGrid(x=True, y=True, alpha=0.25)
    for name in ("left", "bottom"):
        axis = plot.getAxis(name)
        axis.enableAutoSIPrefix(False)
        if not minor_grid:
            axis.setStyle(maxTickLevel=0)


class EmptyState(QObject):
    """A centred message over a widget (e.g. 'Start the run to see traces'), hidden when data arrives."""

    def __init__(self, host: QWidget) -> None:
        super().__init__(host)
        self._host = host
        self.label = QLabel(host)
        self.label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.label.setWordWrap(True)
        self.label.setObjectName("emptyState")
        self.label.setStyleSheet(
            "QLabel#emptyState { color: #404040; background: rgba(255, 255, 255, 215);"
            " border: 1px solid #c8c8c8; border-radius: 6px; padding: 10px 14px; font-size: 10.5pt; }"
        )
        self.label.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        host.installEventFilter(self)
        self.label.hide()

    def show(self, text: str) -> None:
        if self.label.text() != text:
            self.label.setText(text)
        self._place()
        self.label.show()
        self.label.raise_()

    def hide(self) -> None:
        self.label.hide()

    @property
    def visible(self) -> bool:
        return not self.label.isHidden()

    def _place(self) -> None:
        host = self._host
        width = max(120, min(host.width() - 40, 460))
        self.label.setFixedWidth(width)
        self.label.adjustSize()
        h = self.label.sizeHint().height()
        self.label.move((host.width() - width) // 2, max(0, (host.height() - h) // 2))

    def eventFilter(self, obj, event) -> bool:  # Qt API
        if obj is self._host and event.type() == QEvent.Type.Resize:
            self._place()
        return False


class MonitorDock(QDockWidget):
    """A dock that shows something about the run. Subclasses override the hooks they need."""

    def __init__(self, dock_id: str, title: str, parent: QWidget | None = None) -> None:
        super().__init__(title, parent)
        self.dock_id = dock_id
        self.setObjectName(dock_id)
        self.setFeatures(
            QDockWidget.DockWidgetFeature.DockWidgetClosable
            | QDockWidget.DockWidgetFeature.DockWidgetMovable
            | QDockWidget.DockWidgetFeature.DockWidgetFloatable
        )
        self.actions: dict[str, QAction] = {}
        self.controller = None

    def attach(self, controller) -> None:
        """Connect to a RunController's signals."""
        self.controller = controller
        controller.run_started.connect(self.run_started)
        controller.stats_updated.connect(self.stats_updated)
        controller.run_finishing.connect(self.run_finishing)
        controller.run_finished.connect(self.run_finished)

    def detach(self) -> None:
        """Disconnect from the controller (the dock is about to be deleted)."""
        c = self.controller
        if c is None:
            return
        for signal, slot in (
            (c.run_started, self.run_started),
            (c.stats_updated, self.stats_updated),
            (c.run_finishing, self.run_finishing),
            (c.run_finished, self.run_finished),
        ):
            try:
                signal.disconnect(slot)
            except (RuntimeError, TypeError):
                pass
        self.run_finishing()
        self.controller = None

    def hidden_in_window(self) -> bool:
        """True when the window is shown but this dock's content is not (closed, or a tab behind another).

        Qt keeps a dock behind another's tab "visible" and moves it off the window instead, so the
        content's visible region says it: polling, copying and drawing for it was a good part of
        the GUI's CPU during a run (a second oscilloscope and the rates plot behind tabs).
        """
        widget = self.widget()
        if not self.window().isVisible():
            return False
        return widget is None or not widget.isVisible() or widget.visibleRegion().isEmpty()

    # hooks -----------------------------------------------------------------------------------
    def run_started(self, run_dir) -> None:
        pass

    def stats_updated(self, stats) -> None:
        pass

    def run_finishing(self) -> None:
        """Drop every handle into the run's shared memory (it is released right after)."""

    def run_finished(self, state: str, run_dir) -> None:
        pass

    # per-dock settings (JSON) ----------------------------------------------------------------
    def settings(self) -> dict[str, Any]:
        return {}

    def apply_settings(self, values: dict[str, Any]) -> None:
        pass


class ColumnTableModel(QAbstractTableModel):
    """A flat table with fixed column titles (``columns``); subclasses say how many rows there are."""

    columns: tuple[str, ...] = ()

    def row_count(self) -> int:
        raise NotImplementedError

    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else self.row_count()

    def columnCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.columns)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return self.columns[section]
        return None


def size_columns(view: QTableView, widest: list[str], cap: int = 360) -> None:
    """Size a table's columns once for the widest text each will show (and its title), at most ``cap``
    pixels (a very long function name is cut; its tooltip and a wider column show it whole)."""
    fm = view.fontMetrics()
    header = view.horizontalHeader()
    hfm = header.fontMetrics()
    model = view.model()
    pad = 2 * view.style().pixelMetric(view.style().PixelMetric.PM_HeaderMargin) + 14
    for col, text in enumerate(widest):
        title = str(model.headerData(col, Qt.Orientation.Horizontal) or "")
        width = max(fm.horizontalAdvance(text or ""), hfm.horizontalAdvance(title)) + pad
        header.resizeSection(col, min(width, cap))
