"""Rates dock: events written per second into each buffer over the last minutes, log y."""

from __future__ import annotations

import collections
import html
import math
import time
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from mimocorb_gui.ui.docks.base import CHANNEL_COLORS, EmptyState, MonitorDock, fast_plot_item

__all__ = ["RatesDock"]

WINDOWS = ((60, "1 min"), (300, "5 min"), (900, "15 min"), (0, "whole run"))
MAX_POINTS = 20000  # per buffer; at 5 polls/s about an hour
WORD_JOINER = "\u2060"  # no line break after the slash of "/s"
REDRAW_S = 1.0  # the curves are redrawn at most this often (points are kept at every poll)


class RatesDock(MonitorDock):
    def __init__(self, buffers: list[str], parent: QWidget | None = None) -> None:
        super().__init__("rates", "Rates", parent)
        self.buffers = list(buffers)
        self.history: dict[str, collections.deque] = {}
        self._t: collections.deque = collections.deque(maxlen=MAX_POINTS)
        self._last_draw = 0.0
        body = QWidget(self)
        layout = QVBoxLayout(body)
        layout.setContentsMargins(4, 2, 4, 2)
        layout.setSpacing(2)
        bar = QHBoxLayout()
        layout.addLayout(bar)
        bar.addWidget(QLabel("Show:"))
        self.window_box = QComboBox(body)
        for seconds, label in WINDOWS:
            self.window_box.addItem(label, seconds)
        self.window_box.setCurrentIndex(1)
        self.window_box.currentIndexChanged.connect(lambda _i: self._redraw())
        bar.addWidget(self.window_box)
        bar.addStretch(1)
        # the legend: buffer names in their curve colours with the current rate (not over the curves)
        self.now_label = QLabel("", body)
        self.now_label.setTextFormat(Qt.TextFormat.RichText)
        self.now_label.setWordWrap(True)
        layout.addWidget(self.now_label)

        self.plot_widget = pg.PlotWidget(parent=body)
        self.plot: pg.PlotItem = self.plot_widget.getPlotItem()
        fast_plot_item(self.plot, minor_grid=False)
        self.plot.setLogMode(x=False, y=True)
        self.plot.setLabel("left", "Rate [events/s]")
        self.plot.setLabel(
            "bottom", "Time since Start [s]"
        )  # the status bar's run time starts at the first event
        self.plot.setYRange(0, 3, padding=0)  # 1 .. 1000 events/s until there are rates
        self.curves: dict[str, pg.PlotDataItem] = {}
        self.colors: dict[str, str] = {}
        for i, name in enumerate(self.buffers):
            self.colors[name] = CHANNEL_COLORS[i % len(CHANNEL_COLORS)]
            self.curves[name] = self.plot.plot(
                pen=pg.mkPen(self.colors[name], width=2), name=name, connect="finite"
            )
            self.history[name] = collections.deque(maxlen=MAX_POINTS)
        self._legend({})
        layout.addWidget(self.plot_widget, 1)
        self.setWidget(body)
        self.empty = EmptyState(self.plot_widget)
        self.empty.show("Start the run to see the event rate of every buffer.")
        self.visibilityChanged.connect(self._shown)

    def _shown(self, visible: bool) -> None:
        if visible and self._t:  # brought to the front: catch up at once (hidden, it kept the points only)
            self._redraw()

    def run_started(self, run_dir) -> None:
        self._t.clear()
        for h in self.history.values():
            h.clear()
        self.empty.show("Measuring rates…")

    def stats_updated(self, stats) -> None:
        if stats is None or not stats.buffers:
            return
        if self._t and stats.time <= self._t[-1]:
            return
        self._t.append(stats.time)
        for name in self.buffers:
            b = stats.buffers.get(name)
            self.history[name].append(b.rate if b is not None else 0.0)
        due = time.monotonic() - self._last_draw >= REDRAW_S or len(self._t) <= 2
        if due and not self.hidden_in_window():
            self._redraw()
            self._legend({n: b.rate for n, b in stats.buffers.items()})
        if len(self._t) >= 2:
            self.empty.hide()

    def _legend(self, rates: dict[str, float]) -> None:
        """One entry per buffer; a line breaks only between entries, never inside one ("7.0/ s")."""
        parts = []
        for name in self.buffers:
            rate = f"&nbsp;{rates[name]:,.1f}/{WORD_JOINER}s" if name in rates else ""
            parts.append(
                f"<span style='color:{self.colors[name]}; font-weight:bold'>━&nbsp;{html.escape(name)}</span>"
                f"{rate}"
            )
        self.now_label.setText(" &nbsp; ".join(parts))

    def _redraw(self) -> None:
        if not self._t:
            return
        self._last_draw = time.monotonic()
        t = np.fromiter(self._t, float, len(self._t))
        window = self.window_box.currentData() or 0
        start = int(np.searchsorted(t, t[-1] - window)) if window else 0
        for name, curve in self.curves.items():
            r = np.fromiter(self.history[name], float, len(self.history[name]))[start:]
            r = np.where(r > 0, r, np.nan)  # log axis: no rate is a gap, not -inf
            curve.setData(t[start:], r)
        self._set_decades(start)
        if window:
            self.plot.setXRange(max(0.0, t[-1] - window), max(t[-1], 1.0), padding=0.01)
        else:
            self.plot.setXRange(0.0, max(t[-1], 1.0), padding=0.01)

    def _set_decades(self, start: int) -> None:
        """Whole decades, at least three: pyqtgraph labels a log axis cleanly only then."""
        values = [v for h in self.history.values() for v in list(h)[start:] if v > 0]
        if not values:
            return
        top = math.ceil(math.log10(max(values) * 1.2))
        bottom = min(math.floor(math.log10(min(values))), top - 3)
        self.plot.setYRange(bottom, top, padding=0)

    def settings(self) -> dict[str, Any]:
        return {"window": int(self.window_box.currentData() or 0)}

    def apply_settings(self, values: dict[str, Any]) -> None:
        w = values.get("window")
        for i, (seconds, _) in enumerate(WINDOWS):
            if w == seconds:
                self.window_box.setCurrentIndex(i)
