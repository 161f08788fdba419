"""Histogram dock: live counts of every event a histogram exporter has seen, with MCA-style analysis.

One dock per ``exporters.histogram`` worker (and per buffer watched by an old setup's
``observers.histogram`` / ``visualizers.histogram`` worker). Counts come through
run_access (the run's live histograms, or a finished run's files). Beside the plot: regions
with their figures (histogram_regions), a Poisson-likelihood fit of the selected region
(histogram_fit), an energy calibration (calibration_dialog), live and real time, a background
run subtracted, another run overlaid, and Save / Copy results. The numbers are core.analysis's.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QSplitter,
    QTableWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from mimocorb_gui.core.analysis import (
    Calibration,
    RunTimes,
    Spectrum,
    guess_model,
    read_run_times,
    rebin,
)
from mimocorb_gui.ui.docks.base import EmptyState, MonitorDock, axis_label, fast_plot_item
from mimocorb_gui.ui.docks.histogram_analysis import RegionsAndFit, load_fit_libraries
from mimocorb_gui.ui.docks.histogram_fit import FitPanel
from mimocorb_gui.ui.docks.histogram_regions import RegionsTable
from mimocorb_gui.ui.docks.histogram_runs import CalibrationAndRuns
from mimocorb_gui.ui.docks.histogram_save import ResultsSaving
from mimocorb_gui.ui.docks.histogram_settings import REBIN_FACTORS, HistogramSettings
from mimocorb_gui.ui.docks.run_access import FinishedRun, HistogramFeed, board_times, finished_run

__all__ = ["HistogramDock", "HistogramFeed"]

log = logging.getLogger(__name__)

REFRESH_MS = 500


def _as_bins(value: Any) -> tuple[float, float, int] | None:
    """(min, max, NBins) from a core.livehist.BinSpec or a [min, max, NBins] config entry (NBins edges)."""
    if hasattr(value, "nbins"):
        return float(value.min), float(value.max), int(value.nbins)
    try:
        lo, hi, n = value
        return float(lo), float(hi), int(n)
    except (TypeError, ValueError):
        return None


class HistogramDock(RegionsAndFit, CalibrationAndRuns, ResultsSaving, HistogramSettings, MonitorDock):
    """A spectrum per channel: regions, fits, calibration, live time, background, overlay, saving."""

    def __init__(
        self,
        worker: str,
        buffer: str,
        bins: dict[str, Any] | None,
        parent: QWidget | None = None,
        note: str = "",
        log_y: bool = False,
        channel: str | None = None,
        units: dict[str, Any] | None = None,
        setup_name: str = "",
    ) -> None:
        super().__init__(f"histogram:{worker}", f"Histogram: {worker} ({buffer})", parent)
        self.worker = worker
        self.buffer = buffer
        self.note = note
        self.setup_name = setup_name
        # a field's unit (str) or core.units.FieldUnit (unit and scale: shown = value × scale)
        self.units = {str(k): str(getattr(v, "unit", v)) for k, v in (units or {}).items()}
        self.scales = {str(k): float(getattr(v, "scale", 1.0)) for k, v in (units or {}).items()}
        self.bins = {str(k): b for k, v in (bins or {}).items() if (b := _as_bins(v)) is not None}
        self.feed: HistogramFeed | None = None
        self.data: dict[str, tuple[np.ndarray, np.ndarray, int]] = {}
        self.times = RunTimes()
        self.run_dir: Path | None = None
        self.read_only_run: FinishedRun | None = None
        self.overlay: FinishedRun | None = None
        self.background: FinishedRun | None = None
        self.models: dict[str, str] = {}
        self.calibrations: dict[str, Calibration] = {}
        self.region_state: dict[str, list] = {}
        self.calibration_dialog = None
        self.save_dir: Path | None = None  # where Save writes without a run (tests, or the user's choice)
        self._running = False
        self._fit = None
        self._first_counts = True
        self._shown_channel = ""
        self._overlay_note = self._background_note = ""
        self._variance = None
        self._build()
        if channel and self.channel_box.findText(channel) >= 0:
            self.channel_box.setCurrentText(channel)
        self._channel_changed(self.channel_box.currentText())
        if log_y:
            self.actions["log"].setChecked(True)
        self._show_idle("Start the run to fill this histogram with every event of buffer '{buffer}'.")
        QTimer.singleShot(0, load_fit_libraries)  # after the window is drawn, before any run

    # ----- widgets ------------------------------------------------------------------------------
    def _build(self) -> None:
        body = QWidget(self)
        layout = QVBoxLayout(body)
        layout.setContentsMargins(4, 2, 4, 2)
        layout.setSpacing(2)
        bar = QHBoxLayout()
        bar.setSpacing(4)
        layout.addLayout(bar)
        bar.addWidget(QLabel("Channel:"))
        self.channel_box = QComboBox(body)
        self.channel_box.addItems(list(self.bins))
        self.channel_box.currentTextChanged.connect(self._channel_changed)
        bar.addWidget(self.channel_box)
        self._add_action(bar, "log", "Log y", "Logarithmic count axis", self._log_toggled, checkable=True)
        bar.addWidget(QLabel("Rebin:"))
        self.rebin_box = QComboBox(body)
        for f in REBIN_FACTORS:
            self.rebin_box.addItem(f"×{f}" if f > 1 else "off", f)
        self.rebin_box.setToolTip(
            "Merge neighbouring bins (display only; the saved histogram keeps all bins)"
        )
        self.rebin_box.currentIndexChanged.connect(lambda _i: self._rebinned())
        bar.addWidget(self.rebin_box)
        self._add_action(
            bar, "fit_view", "Fit view", "Show the whole histogram", lambda: self.plot.autoRange()
        )
        self._add_action(bar, "calibrate", "Calibrate…", "Energy calibration from marked peaks",
                         self.open_calibration)  # fmt: skip
        bar.addStretch(1)
        self._add_action(bar, "save", "Save", "Spectrum (CSV), plot (PNG, SVG) and results (CSV, JSON) "
                         "into the run directory", lambda: self.save())  # fmt: skip
        self._add_action(
            bar, "copy", "Copy results", "Region and fit figures to the clipboard", self.copy_results
        )
        bar2 = QHBoxLayout()
        bar2.setSpacing(4)
        layout.addLayout(bar2)
        self._add_action(bar2, "region", "Regions", "Show the regions and fit", self._region_toggled,
                         checkable=True, checked=True)  # fmt: skip
        self._add_action(bar2, "add_region", "Add region", "A new region in the middle of the view",
                         lambda: self.add_region())  # fmt: skip
        self._add_action(bar2, "delete_region", "Delete region", "Delete the selected region",
                         lambda: self.regions.delete())  # fmt: skip
        self.fit_panel = FitPanel(body)
        self.fit_panel.layout().setContentsMargins(8, 0, 0, 0)
        self.fit_panel.model_changed.connect(self._model_changed)
        bar2.addWidget(QLabel("  Fit:"))
        bar2.addWidget(self.fit_panel.model_box)
        bar2.addStretch(1)
        self._add_action(bar2, "overlay", "Overlay run…", "Draw a finished run's spectrum over this one",
                         lambda: self.choose_run("overlay"))  # fmt: skip
        self._add_action(bar2, "background", "Background run…", "Subtract a finished run's spectrum, "
                         "scaled by live time", lambda: self.choose_run("background"))  # fmt: skip
        self._add_action(bar2, "clear_runs", "Clear", "Remove overlay and background", self.clear_other_runs)

        split = QSplitter(Qt.Orientation.Vertical, body)
        layout.addWidget(split, 1)
        self.plot_widget = pg.PlotWidget(parent=split)
        self.plot: pg.PlotItem = self.plot_widget.getPlotItem()
        fast_plot_item(self.plot, minor_grid=False)
        # no clipping or downsampling: pyqtgraph slices x and y of a step curve alike, which breaks
        # stepMode ("len(X) must be len(Y)+1" on zoom, rebin, channel change); spectra are small
        self.plot.setClipToView(False)
        self.plot.setDownsampling(ds=1, auto=False)
        self.plot.setLabel("left", "Counts per bin")
        self.plot.setYRange(0, 10)
        self.curve = pg.PlotDataItem(stepMode="center", fillLevel=0, brush=pg.mkBrush(31, 119, 180, 70),
                                     pen=pg.mkPen("#1f77b4", width=1))  # fmt: skip
        self.plot.addItem(self.curve)
        self.overlay_curve = pg.PlotDataItem(
            stepMode="center", pen=pg.mkPen("#555555", width=1, style=Qt.PenStyle.DashLine)
        )
        self.overlay_curve.setZValue(5)
        self.plot.addItem(self.overlay_curve)
        self.fit_curve = pg.PlotDataItem(pen=pg.mkPen("#d62728", width=2))
        self.fit_curve.setZValue(20)
        self.plot.addItem(self.fit_curve)
        lower = QWidget(split)
        lower_layout = QVBoxLayout(lower)
        lower_layout.setContentsMargins(0, 0, 0, 0)
        lower_layout.setSpacing(2)
        self.entries_label = QLabel("", lower)
        self.entries_label.setStyleSheet("color: #555;")
        self.entries_label.setWordWrap(True)
        lower_layout.addWidget(self.entries_label)
        self.result = self.fit_panel.text
        lower_layout.addWidget(self.fit_panel)
        self.region_table = QTableWidget(lower)
        lower_layout.addWidget(self.region_table, 1)
        split.addWidget(self.plot_widget)
        split.addWidget(lower)
        split.setStretchFactor(0, 4)
        split.setStretchFactor(1, 1)
        split.setSizes([460, 170])
        split.setChildrenCollapsible(False)
        self.regions = RegionsTable(self.plot, self.region_table, self.to_display, self.to_raw)
        self.regions.changed.connect(self._schedule_analysis)
        self.regions.selected.connect(lambda _i: self._schedule_analysis())
        self.setWidget(body)
        self.empty = EmptyState(self.plot_widget)
        self._analysis_timer = QTimer(self)
        self._analysis_timer.setSingleShot(True)
        self._analysis_timer.setInterval(60)
        self._analysis_timer.timeout.connect(self.update_analysis)
        self.timer = QTimer(self)
        self.timer.setInterval(REFRESH_MS)
        self.timer.timeout.connect(self.refresh)

    def _add_action(self, bar, key, text, tip, slot, checkable=False, checked=False) -> QAction:
        self.actions[key] = act = QAction(text, self)
        act.setToolTip(tip)
        act.setCheckable(checkable)
        if checkable:
            act.setChecked(checked)
            act.toggled.connect(slot)
        else:
            act.triggered.connect(slot)
        btn = QToolButton()
        btn.setDefaultAction(act)
        btn.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        bar.addWidget(btn)
        return act

    # ----- run hooks ----------------------------------------------------------------------------
    def run_started(self, run_dir) -> None:
        self.close_feed()
        self.read_only_run = None
        self.run_dir = Path(run_dir)
        # the run's counts, local or served elsewhere alike (RunSource.histograms); a dock without a
        # controller (tests) reads the run directory
        source = self.controller.histograms(self.buffer) if self.controller is not None else None
        self.feed = source if source is not None else HistogramFeed(self.run_dir, self.buffer)
        self.data = {}
        self.times = RunTimes()
        self._running = True
        self._first_counts = True
        self.curve.setData([], [])
        self.fit_curve.setData([], [])
        self._show_idle("Waiting for the first entries of buffer '{buffer}'…")
        self._write_calibrations()
        self.timer.start()

    def stats_updated(self, stats) -> None:
        if self._running:
            self.times = RunTimes.from_stats(stats)

    def run_finishing(self) -> None:
        if self.feed is not None:
            self.refresh(force=True)  # the final counts, before the live view goes away
        self.timer.stop()
        self.close_feed(keep_dir=True)

    def run_finished(self, state: str, run_dir) -> None:
        self._running = False
        self.timer.stop()
        if run_dir is not None:
            self.run_dir = Path(run_dir)
            written = read_run_times(self.run_dir)  # core.run wrote the final figures when it ended
            if math.isfinite(written.real):
                self.times = written
            final = self.feed.read() if self.feed is not None else None  # the exporter's final counts
            if final:
                self.data = final
                self.redraw()
        if not any(np.sum(counts) for _edges, counts, *_ in self.data.values()):  # none, or all zero
            self._show_idle(
                f"The run {state} without entries for this histogram. Start a new run to fill it."
            )
        self.close_feed()

    def close_feed(self, keep_dir: bool = False) -> None:
        if self.feed is not None:
            self.feed.close()
            if not keep_dir:
                self.feed = None

    def open_run(self, run_dir) -> FinishedRun:
        """Show a finished run read-only (its counts, times and calibrations); ValueError if it has none."""
        run = finished_run(run_dir, self.buffer)
        self.timer.stop()
        self.close_feed()
        self._running = False
        self.read_only_run = run
        self.run_dir = run.run_dir
        self.data = dict(run.data)
        self.times = run.times
        self.calibrations.update(run.calibrations)  # the run's own calibration wins over the setup's
        self.setWindowTitle(f"Histogram: {self.worker} ({self.buffer}) – run {run.name} (read-only)")
        for ch in self.data:
            if self.channel_box.findText(ch) < 0:
                self.channel_box.addItem(ch)
        self._first_counts = True
        self._channel_changed(self.channel)
        return run

    # ----- data ---------------------------------------------------------------------------------
    def refresh(self, force: bool = False) -> None:
        if self.feed is None or (self.hidden_in_window() and not force):
            return  # hidden docks catch up when shown (the counts are the exporter's, nothing is lost)
        data = self.feed.read()
        if not data:
            return
        old = self.data.get(self.channel)
        new = data.get(self.channel)
        self.data = data
        for ch in data:
            if self.channel_box.findText(ch) < 0:
                self.channel_box.addItem(ch)
        if old is not None and new is not None and old[2] == new[2] and np.array_equal(old[1], new[1]):
            return  # nothing new in the channel shown: no redraw, no refit
        self.redraw()

    def set_data(self, channel: str, edges, counts, total: int | None = None) -> None:
        """Show counts directly (tests, or a finished run's files)."""
        counts = np.asarray(counts)
        self.data[channel] = (np.asarray(edges, float), counts, int(counts.sum() if total is None else total))
        if self.channel_box.findText(channel) < 0:
            self.channel_box.addItem(channel)
        self.redraw()

    @property
    def channel(self) -> str:
        return self.channel_box.currentText()

    @property
    def rebin_factor(self) -> int:
        return int(self.rebin_box.currentData() or 1)

    @property
    def calibration(self) -> Calibration | None:
        return self.calibrations.get(self.channel)

    @property
    def unit(self) -> str:
        """The unit of the x axis shown: the calibration's (keV) or the channel's."""
        cal = self.calibration
        return cal.unit if cal is not None else self.units.get(self.channel, "")

    def scaled(self, edges, channel: str | None = None) -> np.ndarray:
        """Bin edges in the field's shown unit (its ``units`` scale; the files keep the raw values)."""
        return np.asarray(edges, dtype=float) * self.scales.get(channel or self.channel, 1.0)

    def channel_times(self) -> RunTimes:
        """Live and real time of the channel shown: the source's own timers where it has them, else the run's."""
        if self.run_dir is not None:
            board = board_times(self.run_dir, self.buffer, self.channel)
            if board is not None:
                return board
        return self.times

    def to_display(self, x):
        cal = self.calibration
        return cal(x) if cal is not None else x

    def to_raw(self, x):
        cal = self.calibration
        return cal.inverse(x) if cal is not None else x

    def spectrum(self) -> Spectrum | None:
        """The current channel's counts (rebinned, raw x) with live and real time."""
        entry = self.data.get(self.channel)
        if entry is None:
            return None
        edges, counts = rebin(self.scaled(entry[0]), entry[1], self.rebin_factor)
        times = self.channel_times()  # once: a board's timers are read from its files
        return Spectrum(edges, counts, self.channel, self.units.get(self.channel, ""), times.live, times.real)

    def displayed(self) -> tuple[np.ndarray, np.ndarray] | None:
        """(edges, counts) as shown: rebinned, background subtracted, x calibrated; or None."""
        spec = self.spectrum()
        if spec is None:
            return None
        counts = spec.counts
        self._background_note = ""
        self._variance = None  # per bin, once a background is subtracted (the fit is then a χ² fit)
        if self.background is not None:
            net, self._background_note = self._background_counts(spec)
            if net is not None:
                counts = net
        return np.asarray(self.to_display(spec.edges), dtype=float), counts

    def redraw(self) -> None:
        shown = self.displayed()
        if shown is None:
            self.curve.setData([], [])
            self.entries_label.setText("")
            return
        edges, counts = shown
        self.curve.setData(edges, counts.astype(float))
        self._draw_overlay()
        _, raw, total = self.data[self.channel]
        in_range = int(raw.sum())
        self.entries_label.setText(self._entries_text(in_range, total))
        if in_range > 0:
            self.empty.hide()
            if self._first_counts:
                self._first_counts = False
                self.plot.enableAutoRange(axis="y", enable=True)
                self._region_toggled(self.actions["region"].isChecked())
            self._auto_region()
            if self.actions["log"].isChecked():
                self._log_decades(counts)
        elif total > 0:
            self._show_idle(
                f"{total:,} values of '{{channel}}' so far, all outside the range {edges[0]:g} – {edges[-1]:g}."
            )
        elif self._running:
            self._show_idle("Waiting for the first entries of buffer '{buffer}'…")
        self.update_analysis()

    # ----- controls -----------------------------------------------------------------------------
    def _channel_changed(self, channel: str) -> None:
        if self._shown_channel:
            self.region_state[self._shown_channel] = self.regions.state()
        self.regions.clear()
        self._shown_channel = channel
        self.fit_panel.set_model(
            self.models.get(channel) or guess_model(channel, self.units.get(channel, ""))
        )
        self._set_axis_label()
        b = self.bins.get(channel)
        entry = self.data.get(channel)
        if entry is not None:
            lo, hi = float(self.scaled(entry[0], channel)[0]), float(self.scaled(entry[0], channel)[-1])
        elif b is not None:
            lo, hi = b[0] * self.scales.get(channel, 1.0), b[1] * self.scales.get(channel, 1.0)
        else:
            lo, hi = 0.0, 1.0
        if hi > lo:
            dlo, dhi = float(self.to_display(lo)), float(self.to_display(hi))
            self.plot.setXRange(dlo, dhi, padding=0.02)
        for i, (rlo, rhi, touched) in enumerate(self.region_state.get(channel, [])):
            self.regions.add(rlo, rhi, touched=bool(touched), name=f"R{i + 1}")
        self._first_counts = True
        self.redraw()

    def _set_axis_label(self) -> None:
        cal = self.calibration
        if cal is not None:
            self.plot.setLabel("bottom", axis_label(f"{self.channel} → energy", cal.unit))
        else:
            self.plot.setLabel(
                "bottom", axis_label(self.channel or "value", self.units.get(self.channel, ""))
            )

    def _rebinned(self) -> None:
        self.redraw()

    def _log_toggled(self, on: bool) -> None:
        self.plot.setLogMode(x=False, y=on)
        self.plot.setLabel("left", "Counts per bin (log)" if on else "Counts per bin")
        if on:
            self.plot.setYRange(-0.3, 3, padding=0)
        else:
            self.plot.enableAutoRange(axis="y", enable=True)
        self.redraw()

    def _region_toggled(self, on: bool) -> None:
        entry = self.data.get(self.channel)
        self._show_regions(on and entry is not None and entry[1].sum() > 0)
        self.fit_panel.text.setVisible(on)
        self.update_analysis()

    def _show_regions(self, on: bool) -> None:
        self.regions.set_visible(on and self.actions["region"].isChecked())
        self.fit_curve.setVisible(on and self.actions["region"].isChecked())

    def _log_decades(self, counts: np.ndarray) -> None:
        """Log y over whole decades (at least three): pyqtgraph labels a log axis cleanly only then."""
        top = math.ceil(math.log10(max(float(np.nanmax(counts)), 1.0) * 1.5))
        self.plot.setYRange(min(-0.3, top - 3), max(top, 1), padding=0)

    def _show_idle(self, template: str) -> None:
        text = template.format(buffer=self.buffer, channel=self.channel)
        if self.note:
            text += "\n" + self.note
        self.empty.show(text)

    # ----- settings -----------------------------------------------------------------------------
