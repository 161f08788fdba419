"""Histogram dock: live counts of every event a histogram exporter has seen, with MCA-style region tools.

One dock per ``exporters.histogram`` worker (and per buffer watched by an old setup's
``observers.histogram`` / ``visualizers.histogram`` worker). Counts are the exporter's own live
counts (core.livehist: all events so far, not a sample); if those cannot be opened, the dock falls
back to the ``Histograms_<buffer>/<channel>.npy`` files the exporter saves every update_interval.
A draggable region shows gross and net counts and a Gaussian fit (core.fitting).
"""

from __future__ import annotations

import csv
import logging
import math
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QToolButton, QVBoxLayout, QWidget

from mimocorb_gui.core.fitting import fit_gaussian, gauss_line, peak_region, rebin, region_sum
from mimocorb_gui.core.livehist import open_live_histograms
from mimocorb_gui.ui.docks.base import EmptyState, MonitorDock, fast_plot_item

__all__ = ["HistogramDock", "HistogramFeed"]

log = logging.getLogger(__name__)

REBIN_FACTORS = (1, 2, 4, 8, 16, 32)
REFRESH_MS = 500
REFIT_FRACTION = 0.02  # refit the region when its counts changed by more than this (or it moved)


def _as_bins(value: Any) -> tuple[float, float, int] | None:
    """(min, max, n_bins) from a core.livehist.BinSpec or a [min, max, n] config entry."""
    if hasattr(value, "n_bins"):
        return float(value.min), float(value.max), int(value.n_bins)
    try:
        lo, hi, n = value
        return float(lo), float(hi), int(n)
    except (TypeError, ValueError):
        return None


class HistogramFeed:
    """Where a dock gets counts: the exporter's live histograms, else its saved .npy files."""

    def __init__(self, run_dir: Path, buffer: str) -> None:
        self.run_dir = Path(run_dir)
        self.buffer = buffer
        self._live: dict | None = None
        self.kind = "none"
        self.error = ""

    def _open_live(self) -> dict | None:
        try:
            live = open_live_histograms(self.run_dir, self.buffer)
        except (FileNotFoundError, KeyError, ValueError, OSError) as exc:
            self.error = str(exc)
            return None
        return live or None

    def read(self) -> dict[str, tuple[np.ndarray, np.ndarray, int]] | None:
        """{channel: (edges, counts copy, total entries)} or None when nothing is there yet."""
        if self._live is None:
            self._live = self._open_live()
        if self._live:
            out = {}
            try:
                for ch, h in self._live.items():
                    counts = np.array(_attr(h, "counts"), copy=True)
                    edges = np.asarray(_attr(h, "edges"), dtype=float)
                    total = getattr(h, "entries_seen", None)  # bins + underflow + overflow + NaN
                    total = int(total) if total is not None else int(counts.sum())
                    out[str(ch)] = (edges, counts, total)
                self.kind = "live"
                return out
            except (AttributeError, ValueError, TypeError, BufferError) as exc:
                self.error = f"live histogram unreadable: {exc}"
                self.close()
        files = self._read_files()
        if files:
            self.kind = "files"
        return files

    def _read_files(self) -> dict[str, tuple[np.ndarray, np.ndarray, int]] | None:
        folder = self.run_dir / f"Histograms_{self.buffer}"
        info = folder / "info.csv"
        try:
            with open(info, newline="", encoding="utf-8") as fh:
                rows = list(csv.DictReader(fh))
        except (OSError, csv.Error):
            return None
        out = {}
        for row in rows:
            try:
                ch = row.get("Channel") or row.get("channel")
                lo = float(row.get("Min", row.get("min")))
                hi = float(row.get("Max", row.get("max")))
                n = int(float(row.get("NBins", row.get("nbins"))))
                counts = np.load(folder / f"{ch}.npy")
            except (OSError, TypeError, ValueError, EOFError):
                continue
            edges = np.linspace(lo, hi, len(counts) + 1) if len(counts) != n else np.linspace(lo, hi, n + 1)
            try:
                total = sum(int(float(row[k])) for k in ("Entries", "Underflow", "Overflow", "NaN"))
            except (KeyError, TypeError, ValueError):
                total = int(counts.sum())
            out[str(ch)] = (edges, counts, max(total, int(counts.sum())))
        return out or None

    def close(self) -> None:
        live, self._live = self._live, None
        for h in (live or {}).values():
            close = getattr(h, "close", None)
            if callable(close):
                try:
                    close()
                except Exception:  # releasing a view must not break the GUI
                    log.debug("closing live histogram failed", exc_info=True)


def _attr(obj: Any, name: str) -> Any:
    return obj.get(name) if isinstance(obj, dict) else getattr(obj, name)


class HistogramDock(MonitorDock):
    """A spectrum per channel; linear/log y, rebinning, a region with net counts and a Gaussian fit."""

    def __init__(
        self,
        worker: str,
        buffer: str,
        bins: dict[str, Any] | None,
        parent: QWidget | None = None,
        note: str = "",
        log_y: bool = False,
        channel: str | None = None,
    ) -> None:
        super().__init__(f"histogram:{worker}", f"Histogram: {worker} ({buffer})", parent)
        self.worker = worker
        self.buffer = buffer
        self.note = note
        self.bins = {str(k): b for k, v in (bins or {}).items() if (b := _as_bins(v)) is not None}
        self.feed: HistogramFeed | None = None
        self.data: dict[str, tuple[np.ndarray, np.ndarray, int]] = {}
        self._running = False
        self._fit = None
        self._fit_basis = None  # (region/binning key, gross counts in the region) of the last fit

        body = QWidget(self)
        layout = QVBoxLayout(body)
        layout.setContentsMargins(4, 2, 4, 2)
        layout.setSpacing(2)
        self._build_toolbar(body, layout)
        self._build_plot(body, layout)
        self._build_footer(body, layout)
        self.setWidget(body)

        self.empty = EmptyState(self.plot_widget)
        self._fit_timer = QTimer(self)
        self._fit_timer.setSingleShot(True)
        self._fit_timer.setInterval(60)
        self._fit_timer.timeout.connect(self._update_region)
        self.timer = QTimer(self)
        self.timer.setInterval(REFRESH_MS)
        self.timer.timeout.connect(self.refresh)
        if channel and self.channel_box.findText(channel) >= 0:
            self.channel_box.setCurrentText(channel)
        self._channel_changed(self.channel_box.currentText())
        if log_y:
            self.actions["log"].setChecked(True)
        self._show_idle("Start the run to fill this histogram with every event of buffer '{buffer}'.")

    def _build_toolbar(self, body: QWidget, layout: QVBoxLayout) -> None:
        """Channel, Log y, Rebin, Region + fit, Fit view."""
        bar = QHBoxLayout()
        bar.setSpacing(4)
        layout.addLayout(bar)
        bar.addWidget(QLabel("Channel:"))
        self.channel_box = QComboBox(body)
        self.channel_box.addItems(list(self.bins))
        self.channel_box.currentTextChanged.connect(self._channel_changed)
        bar.addWidget(self.channel_box)
        self.actions["log"] = act = QAction("Log y", self)
        act.setCheckable(True)
        act.setToolTip("Logarithmic count axis")
        act.toggled.connect(self._log_toggled)
        bar.addWidget(_button(act))
        bar.addWidget(QLabel("Rebin:"))
        self.rebin_box = QComboBox(body)
        for f in REBIN_FACTORS:
            self.rebin_box.addItem(f"×{f}" if f > 1 else "off", f)
        self.rebin_box.setToolTip(
            "Merge neighbouring bins (display only; the saved histogram keeps all bins)"
        )
        self.rebin_box.currentIndexChanged.connect(lambda _i: self.redraw())
        bar.addWidget(self.rebin_box)
        self.actions["region"] = act = QAction("Region + fit", self)
        act.setCheckable(True)
        act.setChecked(True)
        act.setToolTip("A draggable region: counts in it and a Gaussian fit on a linear background")
        act.toggled.connect(self._region_toggled)
        bar.addWidget(_button(act))
        self.actions["fit_view"] = act = QAction("Fit view", self)
        act.triggered.connect(lambda: self.plot.autoRange())
        bar.addWidget(_button(act))
        bar.addStretch(1)

    def _build_plot(self, body: QWidget, layout: QVBoxLayout) -> None:
        """The spectrum plot: step curve, fit curve and the draggable region."""
        self.plot_widget = pg.PlotWidget(parent=body)
        self.plot: pg.PlotItem = self.plot_widget.getPlotItem()
        fast_plot_item(self.plot, minor_grid=False)
        self.plot.setLabel("left", "Counts per bin")
        self.plot.setYRange(0, 10)  # until counts arrive (then the y axis follows them)
        self.curve = pg.PlotDataItem(
            stepMode="center",
            fillLevel=0,
            brush=pg.mkBrush(31, 119, 180, 70),
            pen=pg.mkPen("#1f77b4", width=1),
        )
        self.plot.addItem(self.curve)
        self.fit_curve = pg.PlotDataItem(pen=pg.mkPen("#d62728", width=2))
        self.fit_curve.setZValue(20)
        self.plot.addItem(self.fit_curve)
        self.region = pg.LinearRegionItem(
            values=(0, 1), brush=pg.mkBrush(255, 165, 0, 45), pen=pg.mkPen("#ff7f0e", width=1)
        )
        self.region.setZValue(15)
        self.plot.addItem(self.region)
        self.region.sigRegionChanged.connect(self._region_moved)
        self.region.sigRegionChangeFinished.connect(self._region_set_by_user)
        self._user_region = False
        self._placing = False  # True while the program (not the user) moves the region
        self._first_counts = True
        layout.addWidget(self.plot_widget, 1)

    def _build_footer(self, body: QWidget, layout: QVBoxLayout) -> None:
        """The entries line and the region/fit result under the plot."""
        self.entries_label = QLabel("", body)
        self.entries_label.setStyleSheet("color: #555;")
        layout.addWidget(self.entries_label)
        self.result = QLabel("", body)
        self.result.setTextFormat(Qt.TextFormat.RichText)
        self.result.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.result.setWordWrap(True)
        layout.addWidget(self.result)

    # ----- run hooks ----------------------------------------------------------------------------
    def run_started(self, run_dir) -> None:
        self.close_feed()
        self.feed = HistogramFeed(Path(run_dir), self.buffer)
        self.data = {}
        self._running = True
        self._first_counts = True
        self.curve.setData([], [])
        self.fit_curve.setData([], [])
        self._show_idle("Waiting for the first entries of buffer '{buffer}'…")
        self.timer.start()

    def run_finishing(self) -> None:
        if self.feed is not None:
            self.refresh(force=True)  # the final counts, before the live view goes away
        self.timer.stop()
        self.close_feed(keep_dir=True)

    def run_finished(self, state: str, run_dir) -> None:
        self._running = False
        self.timer.stop()
        if run_dir is not None:
            feed = HistogramFeed(Path(run_dir), self.buffer)
            final = feed.read()  # the exporter's final counts
            feed.close()
            if final:
                self.data = final
                self.redraw()
        if not self.data:
            self._show_idle(
                f"The run {state} without entries for this histogram. Start a new run to fill it."
            )
        self.close_feed()

    def close_feed(self, keep_dir: bool = False) -> None:
        if self.feed is not None:
            self.feed.close()
            if not keep_dir:
                self.feed = None

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

    def displayed(self) -> tuple[np.ndarray, np.ndarray] | None:
        """(edges, counts) of the current channel after rebinning, or None."""
        entry = self.data.get(self.channel)
        if entry is None:
            return None
        edges, counts, _ = entry
        return rebin(edges, counts, int(self.rebin_box.currentData() or 1))

    def redraw(self) -> None:
        shown = self.displayed()
        if shown is None:
            self.curve.setData([], [])
            self.entries_label.setText("")
            return
        edges, counts = shown
        self.curve.setData(edges, counts.astype(float))
        _, raw, total = self.data[self.channel]
        in_range = int(raw.sum())
        text = f"{in_range:,} entries"
        if total > in_range:
            text += f" ({total - in_range:,} outside the range)"
        if self.feed is not None:  # the Red Pitaya's own spectrum: the board's live and real time
            from mimocorb_gui.functions.importers.rp_spectrum import timers_text

            board = timers_text(self.feed.run_dir / f"Histograms_{self.buffer}", str(self.channel))
            text += f"; {board}" if board else ""
        self.entries_label.setText(text)
        if in_range > 0:
            self.empty.hide()
            if self._first_counts:
                self._first_counts = False
                self.plot.enableAutoRange(axis="y", enable=True)
                self._show_region(True)
            if not self._user_region:
                self._region_around_peak(edges, counts)
            if self.actions["log"].isChecked():
                self._log_decades(counts)
        elif total > 0:
            self._show_idle(
                f"{total:,} values of '{{channel}}' so far, all outside the range {edges[0]:g} – {edges[-1]:g}."
            )
        elif self._running:
            self._show_idle("Waiting for the first entries of buffer '{buffer}'…")
        self._update_region()

    # ----- controls -----------------------------------------------------------------------------
    def _channel_changed(self, channel: str) -> None:
        self.plot.setLabel("bottom", channel or "value")
        b = self.bins.get(channel)
        entry = self.data.get(channel)
        if entry is not None:
            lo, hi = float(entry[0][0]), float(entry[0][-1])
        elif b is not None:
            lo, hi = b[0], b[1]
        else:
            lo, hi = 0.0, 1.0
        if hi > lo:
            self.plot.setXRange(lo, hi, padding=0.02)
            span = hi - lo
            self.region.setBounds((lo, hi))
            self._user_region = False  # another channel: the old region means nothing here
            self._first_counts = True
            self._place_region(lo + 0.4 * span, lo + 0.6 * span)
        entry = self.data.get(channel)
        self._show_region(entry is not None and entry[1].sum() > 0)
        self.redraw()

    def _log_toggled(self, on: bool) -> None:
        self.plot.setLogMode(x=False, y=on)
        self.plot.setLabel("left", "Counts per bin (log)" if on else "Counts per bin")
        if on:
            self.plot.setYRange(-0.3, 3, padding=0)  # whole decades; redraw follows the counts
        else:
            self.plot.enableAutoRange(axis="y", enable=True)
        self.redraw()

    def _region_toggled(self, on: bool) -> None:
        entry = self.data.get(self.channel)
        self._show_region(on and entry is not None and entry[1].sum() > 0)
        self.result.setVisible(on)
        self._update_region()

    def set_region(self, lo: float, hi: float) -> None:
        self._user_region = True
        self.region.setRegion((lo, hi))
        self._update_region()

    def _region_set_by_user(self) -> None:
        if not self._placing:
            self._user_region = True

    def _region_around_peak(self, edges: np.ndarray, counts: np.ndarray) -> None:
        """Until the user moves it, the region follows the most prominent peak (as MCA programs' auto ROI)."""
        found = peak_region(edges, counts)
        if found is None:
            return
        lo, hi = self.region.getRegion()
        new_lo, new_hi = found
        centre = 0.5 * (new_lo + new_hi)
        if lo <= centre <= hi and abs((new_hi - new_lo) - (hi - lo)) < 0.4 * (hi - lo):
            return  # about the same place: keep it still
        self._place_region(new_lo, new_hi)

    def _log_decades(self, counts: np.ndarray) -> None:
        """Log y over whole decades (at least three): pyqtgraph labels a log axis cleanly only then."""
        top = math.ceil(math.log10(max(float(counts.max()), 1.0) * 1.5))
        self.plot.setYRange(min(-0.3, top - 3), max(top, 1), padding=0)

    def _show_region(self, on: bool) -> None:
        on = on and self.actions["region"].isChecked()
        self.region.setVisible(on)
        self.fit_curve.setVisible(on)

    def _place_region(self, lo: float, hi: float) -> None:
        self._placing = True
        try:
            self.region.setRegion((lo, hi))
        finally:
            self._placing = False

    def _region_moved(self) -> None:
        self._fit_timer.start()

    def _region_fit(self, edges, counts, lo: float, hi: float, gross: float):
        """The Gaussian fit of the region, redone only when the region, the binning or the channel
        changed, or the counts in the region changed by more than REFIT_FRACTION since the last fit.

        A fit costs 10-100 ms (more on a loaded PC) and the dock refreshes every update interval:
        refitting every time was the largest cost of the GUI process during a run (profiled on the
        muon setup: half of the main thread). Between refits the statistical errors shrink by less
        than 1 %, so the numbers shown do not move by more than they mean.
        """
        key = (self.channel, lo, hi, len(edges), float(edges[0]), float(edges[-1]))
        last = self._fit_basis
        if (
            self._fit is not None
            and last is not None
            and last[0] == key
            and abs(gross - last[1]) <= REFIT_FRACTION * max(last[1], 1.0)
        ):
            return self._fit
        self._fit = fit_gaussian(edges, counts, lo, hi)
        self._fit_basis = (key, float(gross))
        return self._fit

    def _update_region(self) -> None:
        if not self.actions["region"].isChecked():
            return
        shown = self.displayed()
        lo, hi = self.region.getRegion()
        if shown is None or shown[1].sum() <= 0:
            self.fit_curve.setData([], [])
            self.result.setText(
                "A region with net counts and a Gaussian fit appears over the strongest peak once counts arrive; drag it where you like."
            )
            self._fit = None
            return
        edges, counts = shown
        s = region_sum(edges, counts, lo, hi)
        fit = self._region_fit(edges, counts, lo, hi, s.gross)
        parts = [
            f"<b>Region</b> {lo:.4g} – {hi:.4g}: gross <b>{s.gross:,.0f}</b>, "
            f"net <b>{s.net:,.0f}</b> ± {s.net_error:,.0f} (linear background {s.background:,.0f})"
        ]
        if fit.ok:
            x = np.linspace(lo, hi, 200)
            y = gauss_line(x, fit.amplitude, fit.centre, fit.sigma, fit.background0, fit.background1)
            if self.actions["log"].isChecked():
                y = np.where(y > 0, y, np.nan)
            self.fit_curve.setData(x, y)
            res = (
                f" ({100 * fit.resolution:.1f} %)" if math.isfinite(fit.resolution) and fit.centre > 0 else ""
            )
            parts.append(
                f"<b>Gauss fit</b>: centre <b>{fit.centre:.5g}</b> ± {fit.centre_error:.2g}, "
                f"σ {fit.sigma:.4g} ± {fit.sigma_error:.2g}, FWHM <b>{fit.fwhm:.4g}</b>{res}, "
                f"net <b>{fit.net:,.0f}</b> ± {fit.net_error:,.0f}, χ²/ndf {fit.chi2_ndf:.2f}"
            )
        else:
            self.fit_curve.setData([], [])
            parts.append(f"<b>Gauss fit</b>: {fit.message}")
        self.result.setText("<br>".join(parts))

    @property
    def fit(self):
        return self._fit

    def _show_idle(self, template: str) -> None:
        text = template.format(buffer=self.buffer, channel=self.channel)
        if self.note:
            text += "\n" + self.note
        self.empty.show(text)

    # ----- settings -----------------------------------------------------------------------------
    def settings(self) -> dict[str, Any]:
        lo, hi = self.region.getRegion()
        return {
            "channel": self.channel,
            "log": self.actions["log"].isChecked(),
            "rebin": int(self.rebin_box.currentData() or 1),
            "region_on": self.actions["region"].isChecked(),
            "region": [float(lo), float(hi)],
        }

    def apply_settings(self, values: dict[str, Any]) -> None:
        ch = values.get("channel")
        if isinstance(ch, str) and self.channel_box.findText(ch) >= 0:
            self.channel_box.setCurrentText(ch)
        if isinstance(values.get("log"), bool):
            self.actions["log"].setChecked(values["log"])
        r = values.get("rebin")
        if isinstance(r, int) and r in REBIN_FACTORS:
            self.rebin_box.setCurrentIndex(REBIN_FACTORS.index(r))
        if isinstance(values.get("region_on"), bool):
            self.actions["region"].setChecked(values["region_on"])
        reg = values.get("region")
        if isinstance(reg, list) and len(reg) == 2 and all(isinstance(v, (int, float)) for v in reg):
            self.set_region(float(reg[0]), float(reg[1]))


def _button(action: QAction) -> QToolButton:
    btn = QToolButton()
    btn.setDefaultAction(action)
    btn.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
    return btn
