"""Monitor docks on their own (no processes): drawing real data, controls, models, filters."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QColor

from mimocorb_gui.core.run import LogEntry
from mimocorb_gui.ui.docks.base import axis_label, configure_pyqtgraph
from mimocorb_gui.ui.docks.buffers import BuffersModel
from mimocorb_gui.ui.docks.histogram import HistogramDock
from mimocorb_gui.ui.docks.log import LogDock
from mimocorb_gui.ui.docks.oscilloscope import OscilloscopeDock
from mimocorb_gui.ui.docks.rates import RatesDock
from mimocorb_gui.ui.docks.workers import WorkersModel

pytestmark = pytest.mark.timeout(60)

WAVE = np.dtype([("chA", "f4"), ("chB", "f4"), ("chC", "f4"), ("chD", "f4")])


@pytest.fixture(autouse=True)
def _pg():
    configure_pyqtgraph()


def muon_event(n=4250, seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    data = np.zeros(n, WAVE)
    t = np.arange(n)
    for i, ch in enumerate(WAVE.names):
        pulse = -0.3 * np.exp(-np.clip(t - 400 - 10 * i, 0, None) / 20.0) * (t >= 400 + 10 * i)
        data[ch] = pulse + rng.normal(0, 0.01, n)
    return data


def colour_pixels(image, colour: str, tol: int = 40) -> int:
    """How many pixels of a QImage are close to ``colour``."""
    c = QColor(colour)
    img = image.convertToFormat(image.Format.Format_RGB32)
    ptr = img.constBits()
    arr = np.frombuffer(ptr, np.uint8, img.sizeInBytes()).reshape(img.height(), img.bytesPerLine())[
        :, : img.width() * 4
    ]
    px = arr.reshape(img.height(), img.width(), 4)[..., :3].astype(int)  # BGRA
    target = np.array([c.blue(), c.green(), c.red()])
    return int((np.abs(px - target).max(axis=2) <= tol).sum())


def test_plot_curve_item_paints_real_data(qtbot):
    """Guards the PySide6/pyqtgraph pin: 6.12.0 + pyqtgraph 0.14 crash in PlotCurveItem.generatePath."""
    w = pg.PlotWidget()
    qtbot.addWidget(w)
    w.resize(600, 300)
    x = np.arange(4250, dtype=np.float64) * 0.004
    y = np.sin(x * 3).astype(np.float32)
    item = pg.PlotCurveItem(x, y, pen=pg.mkPen("#d62728", width=1), skipFiniteCheck=True)
    w.addItem(item)
    w.show()
    qtbot.waitExposed(w)
    image = w.grab().toImage()
    assert colour_pixels(image, "#d62728") > 200


def test_oscilloscope_draws_four_channels_of_real_data(qtbot):
    cfg = {
        "t_scaling": [0.004, 0, "µs"],
        "y_scaling": [1000, 0, "mV"],
        "trigger_level": -50,
        "colors": ["r", "g", "b", "k"],
    }
    dock = OscilloscopeDock("scope", "RawPulses", cfg, WAVE, 4250)
    qtbot.addWidget(dock)
    dock.resize(900, 500)
    dock.show()
    qtbot.waitExposed(dock)
    assert dock.empty.visible and "Start the run" in dock.empty.label.text()
    dock._running = True
    dock.show_event(
        np.array([(7, 0.0, 0.0)], dtype=[("counter", "<i8"), ("timestamp", "<f8"), ("deadtime", "<f8")]),
        muon_event(),
    )
    assert not dock.empty.visible and dock.last_counter == 7 and dock.frames == 1
    x, y = dock.curves["chA"].xData, dock.curves["chA"].yData
    assert len(x) == 4250 and math.isclose(x[-1], 4249 * 0.004) and y.min() < -250  # scaled to mV
    assert dock.trigger_line is not None and dock.trigger_line.value() == -50
    assert dock.plot.getAxis("bottom").labelText == "Time [µs]"
    assert dock.plot.getAxis("left").labelText == "Signal [mV]"
    # fast drawing: a thin pen, at most two points per pixel column of the plot
    assert dock.curves["chA"].opts["pen"].width() <= 1
    assert dock.curves["chA"].drawn_points() <= 2 * dock.plot.getViewBox().width() + 2
    image = dock.grab().toImage()
    assert colour_pixels(image, "#ff0000") > 100  # channel A drawn in its configured colour


def test_oscilloscope_controls(qtbot):
    dock = OscilloscopeDock("scope", "raw", {"channels": ["chB", "chD"], "ylim": [-0.5, 0.1]}, WAVE, 4250)
    qtbot.addWidget(dock)
    assert list(dock.curves) == ["chB", "chD"]
    assert dock.plot.getAxis("bottom").labelText == "Sample number"
    assert dock.plot.viewRange()[1] == pytest.approx([-0.5, 0.1])
    assert not dock.actions["autoscale"].isChecked()  # ylim given: fixed axis
    dock._running = True
    # channel toggle
    dock.actions["channel:chB"].setChecked(False)
    assert not dock.curves["chB"].isVisible() and not dock.channel_buttons["chB"].isChecked()
    # persistence: the previous traces stay, fading
    dock.persistence.setValue(3)
    for i in range(5):
        dock.show_event(None, muon_event(seed=i))
    ghosts = dock._ghosts["chD"]
    assert len(ghosts) == 3 and all(len(g.xData) == 4250 for g in ghosts)
    alphas = [g.opts["pen"].color().alphaF() for g in ghosts]
    assert alphas == sorted(alphas)  # older traces fainter
    dock.persistence.setValue(0)
    assert dock._ghosts["chD"] == []
    # freeze: no new frames drawn
    dock.actions["freeze"].setChecked(True)
    frames = dock.frames
    assert dock.update_frame() is False and dock.frames == frames
    # cursor readout in the axis units
    assert dock.readout_text(1.5, -0.25) == "t = 1.5 samples   y = -0.25"
    s = dock.settings()
    assert s == {"hidden_channels": ["chB"], "persistence": 0, "autoscale": False, "refresh": None}


def test_oscilloscope_config_error_is_explained(qtbot):
    dock = OscilloscopeDock("scope", "raw", {"channels": ["chX"]}, WAVE, 100)
    qtbot.addWidget(dock)
    assert dock.config_error and "chX" in dock.empty.label.text()


def gauss_counts(seed=3):
    rng = np.random.default_rng(seed)
    values = np.concatenate([rng.normal(662, 25, 4000), rng.uniform(0, 1000, 8000)])
    counts, edges = np.histogram(values, bins=500, range=(0, 1000))
    return edges, counts


def test_histogram_dock_region_fit_log_rebin(qtbot):
    dock = HistogramDock("hist", "Heights", {"energy": [0, 1000, 500]})
    qtbot.addWidget(dock)
    dock.resize(800, 500)
    dock.show()
    assert "Start the run" in dock.empty.label.text()
    edges, counts = gauss_counts()
    dock.set_data("energy", edges, counts)
    assert not dock.empty.visible
    assert "12,000 entries" in dock.entries_label.text()
    dock.set_region(560, 760)
    fit = dock.fit
    assert fit.ok and abs(fit["centre"].value - 662) < 3 and abs(fit["sigma"].value - 25) < 3
    assert abs(fit["net"].value - 4000) < 4 * fit["net"].error
    assert "FWHM" in dock.result.text() and "net" in dock.result.text()
    fx, _fy = dock.fit_curve.xData, dock.fit_curve.yData
    assert len(fx) == 300
    dock.rebin_box.setCurrentIndex(2)  # ×4
    e4, c4 = dock.displayed()
    assert len(c4) == 125 and c4.sum() == counts.sum()
    assert dock.fit.ok and abs(dock.fit["centre"].value - 662) < 4
    dock.actions["log"].setChecked(True)
    assert dock.plot.getAxis("left").logMode
    image = dock.grab().toImage()
    assert colour_pixels(image, "#1f77b4") > 100
    s = dock.settings()
    assert s["log"] is True and s["rebin"] == 4 and s["regions"]["energy"][0][:2] == pytest.approx([560, 760])


def test_histogram_region_is_refitted_only_when_its_counts_change_by_more_than_2_percent(qtbot, monkeypatch):
    from mimocorb_gui.ui.docks import histogram_analysis

    fits = []
    real_fit = histogram_analysis.fit
    monkeypatch.setattr(histogram_analysis, "fit", lambda *a, **k: fits.append(1) or real_fit(*a, **k))
    clock = [100.0]  # a live refit also waits REFIT_MIN_S after the last one
    monkeypatch.setattr(histogram_analysis.time, "monotonic", lambda: clock[0])
    dock = HistogramDock("hist", "Heights", {"energy": [0, 1000, 501]})
    qtbot.addWidget(dock)
    dock.show()
    dock._running = True  # counts arriving: the throttle applies
    edges, counts = gauss_counts()
    dock.set_data("energy", edges, counts)
    dock.set_region(560, 760)
    first, n = dock.fit, len(fits)
    assert first is not None and n >= 1
    more = counts.copy()
    more[330] += 20  # +20 counts in a region of about 4 000: the fit shown stays
    dock.set_data("energy", edges, more)
    dock.update_analysis()
    assert len(fits) == n and dock.fit is first
    clock[0] += histogram_analysis.REFIT_MIN_S
    dock.set_data("energy", edges, counts * 2)  # twice the counts: refitted
    dock.update_analysis()
    assert len(fits) > n and dock.fit is not first
    n = len(fits)
    dock.set_region(500, 800)  # a moved region is refitted at once
    assert len(fits) == n + 1


def test_histogram_outside_range_is_explained(qtbot):
    dock = HistogramDock("hist", "Heights", {"energy": [0, 10, 10]})
    qtbot.addWidget(dock)
    dock._running = True
    dock.set_data("energy", np.linspace(0, 10, 11), np.zeros(10, int), total=25)
    assert "25 values" in dock.empty.label.text() and "outside" in dock.empty.label.text()


@dataclass
class FakeBufferStats:
    name: str = "raw"
    slot_count: int = 10
    filled: int = 5
    events_written: int = 100
    events_read: int = 95
    dropped_paused: int = 0
    dropped_aborted: int = 0
    paused: bool = False
    closed: bool = False
    aborted: bool = False

    @property
    def fill_level(self):
        return self.filled / self.slot_count


@dataclass
class FakeBufferRunStats:
    stats: FakeBufferStats
    rate: float = 50.0
    deadtime_fraction: float = 0.01
    root: bool = True


@dataclass
class FakeRunStats:
    time: float
    buffers: dict = field(default_factory=dict)
    workers: dict = field(default_factory=dict)
    state: str = "running"

    @property
    def total_events(self):
        return sum(b.stats.events_written for b in self.buffers.values() if b.root)


def test_buffers_model_shows_fill_and_state(qtbot):
    from mimocorb_gui.core.setup import BufferSpec

    specs = {"raw": BufferSpec("raw", 10, 4250, np.dtype(WAVE), {"chA": "float32"})}
    model = BuffersModel(specs)
    assert model.data(model.index(0, 7)) == "not started"
    model.set_stats({"raw": FakeBufferRunStats(FakeBufferStats(paused=True))})
    assert model.data(model.index(0, 1)) == "5 / 10"
    assert model.data(model.index(0, 1), Qt.ItemDataRole.UserRole + 1) == 0.5
    assert model.data(model.index(0, 4)) == "50.0/s"
    assert model.data(model.index(0, 7)) == "paused"
    model.set_stats({"raw": FakeBufferRunStats(FakeBufferStats(closed=True))})
    assert model.data(model.index(0, 7)) == "closed"


def test_workers_model_counts_errors(qtbot):
    from mimocorb_gui.core.workers import WorkerStats

    model = WorkersModel({"a": None, "b": None})
    model.set_stats(
        {
            "a": WorkerStats("a", "f", 3, 3, 12.0, [None] * 3, False),
            "b": WorkerStats("b", "g", 1, 0, 0.0, [1], True, "process 0 exited with code 1"),
        }
    )
    model.add_log([LogEntry(0.0, "b", "ERROR", logging.ERROR, "ValueError: bad\nTraceback ...")])
    assert model.data(model.index(0, 2)) == "3 / 3 alive"
    assert model.data(model.index(0, 3)) == "12 %"
    assert model.data(model.index(1, 4)) == "failed"
    assert model.data(model.index(1, 5)) == "1: ValueError: bad"
    assert model.data(model.index(1, 0), Qt.ItemDataRole.BackgroundRole) is not None


def test_log_dock_filters_by_worker_level_and_text(qtbot):
    dock = LogDock(["source", "filter"])
    qtbot.addWidget(dock)
    entries = [
        LogEntry(1.0, "run", "INFO", logging.INFO, "run started"),
        LogEntry(2.0, "source", "DEBUG", logging.DEBUG, "generated 10 events"),
        LogEntry(3.0, "filter", "WARNING", logging.WARNING, "slow"),
        LogEntry(
            4.0, "filter", "ERROR", logging.ERROR, "KeyError: 'x'\nTraceback (most recent call last):\n ..."
        ),
    ]
    dock.add_entries(entries)
    assert dock.level_box.currentText() == "Info and worse"  # debug lines only when asked for
    assert dock.proxy.rowCount() == 3 and dock.error_count == 1
    dock.level_box.setCurrentIndex(0)
    assert dock.proxy.rowCount() == 4
    dock.worker_box.setCurrentText("filter")
    assert dock.visible_messages() == ["slow", entries[3].message]
    dock.level_box.setCurrentIndex(3)  # errors only
    assert dock.visible_messages() == [entries[3].message]
    dock.worker_box.setCurrentIndex(0)
    dock.level_box.setCurrentIndex(0)
    dock.search.setText("generated")
    assert dock.visible_messages() == ["generated 10 events"]
    dock.search.clear()
    idx = dock.proxy.index(3, 3)
    assert idx.data().startswith("KeyError: 'x'") and "+2 lines" in idx.data()
    assert idx.data(Qt.ItemDataRole.BackgroundRole).color() == QColor("#f8d7da")
    assert dock.select_last_error() and "Traceback" in dock.detail.toPlainText()
    dock.worker_box.setCurrentText("nobody")  # unknown text: no match, no crash


def test_rates_dock_log_axis_and_window(qtbot, monkeypatch):
    import mimocorb_gui.ui.docks.rates as rates

    monkeypatch.setattr(rates, "REDRAW_S", 0.0)  # redraw at every update (normally at most once a second)
    dock = RatesDock(["raw", "kept"])
    qtbot.addWidget(dock)
    assert "Start the run" in dock.empty.label.text()
    for i in range(10):
        dock.stats_updated(
            FakeRunStats(
                time=float(i),
                buffers={
                    "raw": FakeBufferRunStats(FakeBufferStats(), rate=100.0 + i),
                    "kept": FakeBufferRunStats(
                        FakeBufferStats(name="kept"), rate=0.0 if i < 3 else 2.0, root=False
                    ),
                },
            )
        )
    assert not dock.empty.visible
    x, _y = dock.curves["raw"].xData, dock.curves["raw"].yData
    assert len(x) == 10
    assert dock.plot.getAxis("left").logMode
    lo, hi = dock.plot.viewRange()[1]
    assert hi - lo >= 3 - 1e-9  # whole decades
    assert "raw</span>&nbsp;109.0/\u2060s" in dock.now_label.text()
    # laid out narrower than the legend, lines break between entries only, never inside "2.0/s"
    from PySide6.QtGui import QTextDocument

    doc = QTextDocument()
    doc.setDefaultFont(dock.now_label.font())
    doc.setHtml(dock.now_label.text())
    doc.setTextWidth(120)
    doc.size()  # lays the text out
    layout = doc.begin().layout()
    text = doc.begin().text()
    lines = [
        text[layout.lineAt(i).textStart() :][: layout.lineAt(i).textLength()]
        for i in range(layout.lineCount())
    ]
    assert len(lines) == 2, lines
    assert [line.replace("\u00a0", " ").replace("\u2060", "").strip() for line in lines] == [
        "━ raw 109.0/s",
        "━ kept 2.0/s",
    ]


def test_axis_labels():
    assert axis_label("Time", "µs") == "Time [µs]"
    assert axis_label("Time", "Samples") == "Sample number"
    assert axis_label("Signal", "Voltage (mV)") == "Voltage (mV)"
    assert axis_label("Signal", "") == "Signal"


def test_empty_state_follows_resize(qtbot):
    dock = RatesDock(["raw"])
    qtbot.addWidget(dock)
    dock.resize(700, 400)
    dock.show()
    qtbot.waitExposed(dock)
    label = dock.empty.label
    host = dock.plot_widget
    centre = label.geometry().center()
    assert abs(centre.x() - host.width() / 2) < 5
    assert QPointF(centre).x() > 0


def test_oscilloscope_auto_y_follows_with_hysteresis_and_yields_to_zoom(qtbot):
    dock = OscilloscopeDock("scope", "raw", {"channels": ["chA"]}, WAVE, 1000)
    qtbot.addWidget(dock)
    assert dock.actions["autoscale"].isChecked()
    dock._running = True
    data = np.zeros(1000, WAVE)
    data["chA"][:] = np.linspace(-1, 1, 1000)
    dock.show_event(None, data)
    lo, hi = dock.plot.viewRange()[1]
    assert lo < -1 and hi > 1
    data["chA"] *= 0.8  # smaller but still more than 40 % of the range: the axis stays
    dock.show_event(None, data)
    assert dock.plot.viewRange()[1] == pytest.approx([lo, hi])
    data["chA"] *= 0.1  # much smaller: the axis follows
    dock.show_event(None, data)
    assert dock.plot.viewRange()[1][1] < 0.2
    dock.plot.getViewBox().sigRangeChangedManually.emit([True, True])  # the user zooms
    assert not dock.actions["autoscale"].isChecked()


def test_histogram_region_follows_the_strongest_peak_until_moved(qtbot):
    dock = HistogramDock("hist", "Heights", {"energy": [0, 1000, 500]})
    qtbot.addWidget(dock)
    edges, counts = gauss_counts()
    dock.set_data("energy", edges, counts)
    lo, hi = dock.regions.regions[0].item.getRegion()
    assert lo < 662 < hi and hi - lo < 250
    assert dock.fit.ok and abs(dock.fit["centre"].value - 662) < 5
    dock.set_region(100, 300)  # the user's choice stays
    dock.set_data("energy", edges, counts * 2)
    assert dock.regions.regions[0].item.getRegion() == pytest.approx((100, 300))


def test_histogram_log_axis_spans_whole_decades(qtbot):
    dock = HistogramDock("hist", "Heights", {"energy": [0, 1000, 500]}, log_y=True)
    qtbot.addWidget(dock)
    edges, counts = gauss_counts()
    dock.set_data("energy", edges, counts)
    lo, hi = dock.plot.viewRange()[1]
    assert hi == int(hi) and hi - lo >= 3 - 1e-9


def test_dock_behind_a_tab_is_hidden_and_catches_up_when_brought_forward(qtbot, monkeypatch):
    """Qt keeps a dock behind another's tab 'visible' (moved off the window): it must not draw then."""
    from PySide6.QtWidgets import QMainWindow

    import mimocorb_gui.ui.docks.rates as rates

    monkeypatch.setattr(rates, "REDRAW_S", 0.0)
    window = QMainWindow()
    qtbot.addWidget(window)
    front, behind = RatesDock(["raw"]), RatesDock(["raw"])
    behind.setObjectName("rates behind")
    for dock in (front, behind):
        window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
    window.tabifyDockWidget(front, behind)
    window.resize(800, 500)
    window.show()
    qtbot.waitExposed(window)
    front.raise_()
    qtbot.waitUntil(lambda: behind.widget().visibleRegion().isEmpty(), timeout=2000)
    assert behind.isVisible() and not front.hidden_in_window() and behind.hidden_in_window()
    for i in range(3):
        stats = FakeRunStats(time=float(i), buffers={"raw": FakeBufferRunStats(FakeBufferStats(), rate=10.0)})
        front.stats_updated(stats)
        behind.stats_updated(stats)
    assert front.curves["raw"].xData is not None and len(front.curves["raw"].xData) == 3
    assert behind.curves["raw"].xData is None or len(behind.curves["raw"].xData) < 3  # kept, not drawn
    behind.raise_()
    qtbot.waitUntil(lambda: not behind.hidden_in_window(), timeout=2000)
    qtbot.waitUntil(lambda: len(behind.curves["raw"].xData) == 3, timeout=2000)
