"""The oscilloscope's trace item: min/max per pixel column (nothing lost), re-decimated on zoom."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6.QtGui import QColor

from mimocorb_gui.ui.docks.scope_trace import ScopeTrace, peak_decimate


def column_extremes_by_loop(y: np.ndarray, columns: int) -> tuple[list[float], list[float]]:
    """Written out sample by sample: column c holds samples c*per .. c*per+per-1, the rest goes to the last."""
    per = len(y) // columns
    lows, highs = [], []
    for c in range(columns):
        end = len(y) if c == columns - 1 else (c + 1) * per
        part = [float(v) for v in y[c * per : end]]
        lows.append(min(part))
        highs.append(max(part))
    return lows, highs


@pytest.mark.parametrize("n, columns", [(4250, 700), (4250, 1000), (1001, 333), (10, 3)])
def test_peak_decimate_keeps_every_columns_min_and_max(n, columns):
    rng = np.random.default_rng(n)
    x = np.arange(n) * 0.004
    y = rng.normal(0.0, 1.0, n)
    y[n // 3] = 50.0  # a one-sample spike
    xs, ys = peak_decimate(x, y, columns)
    if n <= 2 * columns:
        assert xs is x and ys is y
        return
    lows, highs = column_extremes_by_loop(y, columns)
    assert len(xs) == len(ys) == 2 * columns
    assert ys[0::2].tolist() == lows and ys[1::2].tolist() == highs
    assert ys.max() == 50.0 and ys.min() == y.min()
    assert np.all(np.diff(xs) >= 0) and xs[0] == x[0]


def test_trace_draws_two_points_per_column_and_all_samples_when_zoomed(qtbot):
    widget = pg.PlotWidget()
    qtbot.addWidget(widget)
    widget.resize(500, 300)
    widget.show()
    qtbot.waitExposed(widget)
    plot = widget.getPlotItem()
    plot.enableAutoRange(x=False, y=False)
    trace = ScopeTrace(pg.mkPen("#ff0000", width=1))
    plot.addItem(trace)
    x = np.arange(4250) * 0.004
    y = np.sin(x)
    y[2000] = 3.0
    plot.setXRange(x[0], x[-1], padding=0)
    plot.setYRange(-1.5, 3.5, padding=0)
    trace.setData(x, y)
    width = plot.getViewBox().width()
    assert trace.drawn_points() <= 2 * width
    assert trace.dataBounds(1) == (pytest.approx(y.min()), 3.0)
    assert trace.dataBounds(0) == (0.0, pytest.approx(x[-1]))
    assert trace.xData is not None and len(trace.yData) == 4250
    # zoomed to 100 samples: every one of them is drawn (and one beyond either edge)
    plot.setXRange(x[1000], x[1099], padding=0)
    qtbot.waitUntil(lambda: trace.drawn_points() < 2 * width, timeout=2000)
    assert 100 <= trace.drawn_points() <= 102
    # the spike is on the screen at full view
    plot.setXRange(x[0], x[-1], padding=0)
    image = widget.grab().toImage()
    red = QColor("#ff0000").rgb()
    top_rows = [
        (col, row)
        for row in range(image.height() // 6)
        for col in range(image.width())
        if image.pixel(col, row) == red
    ]
    assert top_rows, "the one-sample spike at 3.0 is drawn near the top"


def test_trace_empty_and_mismatched_data():
    trace = ScopeTrace()
    trace.setData([], [])
    assert trace.xData is None and trace.drawn_points() == 0 and trace.boundingRect().isNull()
    assert trace.dataBounds(0) == (None, None)
    with pytest.raises(ValueError, match="differ in length"):
        trace.setData([0.0, 1.0], [1.0])
