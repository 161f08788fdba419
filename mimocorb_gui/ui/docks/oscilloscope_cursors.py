"""Two measurement cursors of the oscilloscope: time cursors t1/t2 and level cursors V1/V2 to drag.

The readout (Δt, 1/Δt, ΔV with units) is core.analysis.scope.cursor_readout; this module draws
the lines and keeps them where the user dragged them.
"""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import QObject, Qt, Signal

from mimocorb_gui.core.analysis.scope import CursorReadout, cursor_readout

__all__ = ["ScopeCursors"]

CURSOR_COLOURS = ("#66d9e8", "#ffa8a8")


class ScopeCursors(QObject):
    """Vertical cursors (time) and horizontal cursors (level) on a plot; ``changed`` when one moves."""

    changed = Signal()

    def __init__(self, plot: pg.PlotItem, t_unit: str, v_unit: str) -> None:
        super().__init__()
        self.plot = plot
        self.t_unit = t_unit
        self.v_unit = v_unit
        self.time_lines: list[pg.InfiniteLine] = []
        self.level_lines: list[pg.InfiniteLine] = []
        for i, colour in enumerate(CURSOR_COLOURS):
            pen = pg.mkPen(colour, width=1, style=Qt.PenStyle.DashDotLine)
            t = pg.InfiniteLine(angle=90, movable=True, pen=pen, label=f"t{i + 1}",
                                labelOpts={"position": 0.04, "color": colour})  # at the bottom: pulses are at the top or bottom  # fmt: skip
            v = pg.InfiniteLine(angle=0, movable=True, pen=pen, label=f"V{i + 1}",
                                labelOpts={"position": 0.97, "color": colour})  # fmt: skip
            for line in (t, v):
                line.setZValue(30)
                line.setVisible(False)
                line.sigPositionChanged.connect(lambda *_: self.changed.emit())
                plot.addItem(line, ignoreBounds=True)
            self.time_lines.append(t)
            self.level_lines.append(v)
        self.visible = False

    def show(self, on: bool) -> None:
        """Show the cursors; the first time at 1/3 and 2/3 of the view."""
        if on and not self.visible and all(line.value() == 0 for line in self.time_lines):
            self.reset()
        self.visible = on
        for line in (*self.time_lines, *self.level_lines):
            line.setVisible(on)
        self.changed.emit()

    def reset(self) -> None:
        (x0, x1), (y0, y1) = self.plot.viewRange()
        for i, line in enumerate(self.time_lines):
            line.setValue(x0 + (i + 1) * (x1 - x0) / 3)
        for i, line in enumerate(self.level_lines):
            line.setValue(y0 + (i + 1) * (y1 - y0) / 3)

    def set_positions(self, t1: float, t2: float, v1: float, v2: float) -> None:
        self.time_lines[0].setValue(t1)
        self.time_lines[1].setValue(t2)
        self.level_lines[0].setValue(v1)
        self.level_lines[1].setValue(v2)

    def readout(self) -> CursorReadout:
        t1, t2 = (float(line.value()) for line in self.time_lines)
        v1, v2 = (float(line.value()) for line in self.level_lines)
        return cursor_readout(t1, t2, v1, v2, self.t_unit, self.v_unit)
