"""Calibration and other runs of the histogram dock: the energy calibration of a channel, a finished
run overlaid or subtracted as background. A mixin of HistogramDock (it uses the dock's state)."""

from __future__ import annotations

import logging
import math

import numpy as np
from PySide6.QtWidgets import QFileDialog

from mimocorb_gui.core.analysis import Calibration, Spectrum, rebin, save_calibration, subtract_background
from mimocorb_gui.ui.docks.run_access import FinishedRun, finished_run

__all__ = ["CalibrationAndRuns"]

log = logging.getLogger(__name__)


class CalibrationAndRuns:
    """Methods of HistogramDock for calibrations and other runs."""

    # ----- calibration --------------------------------------------------------------------------
    def open_calibration(self):
        """The calibration dialog on the raw (rebinned) counts of the channel; applied when accepted."""
        from mimocorb_gui.ui.docks.calibration_dialog import CalibrationDialog

        spec = self.spectrum()
        if spec is None:
            self.fit_panel.text.setText("Calibration needs counts: start a run or open one first.")
            return None
        dialog = CalibrationDialog(spec.edges, spec.counts, self.channel, self.units.get(self.channel, ""),
                                   self.calibration, self)  # fmt: skip
        dialog.accepted.connect(lambda d=dialog: self.set_calibration(None if d.removed else d.calibration))
        self.calibration_dialog = dialog
        dialog.open()
        return dialog

    def set_calibration(self, cal: Calibration | None, channel: str | None = None) -> None:
        """Use ``cal`` for a channel (None: raw values again); kept per setup and in the run directory."""
        channel = channel or self.channel
        if cal is None:
            self.calibrations.pop(channel, None)
        else:
            self.calibrations[channel] = cal
        if self.run_dir is not None:
            try:
                save_calibration(self.run_dir, self.buffer, channel, cal)
            except OSError:
                log.warning("cannot write the calibration into %s", self.run_dir, exc_info=True)
        if channel == self.channel:
            self._set_axis_label()
            self.regions.redisplay()
            a, b = (
                self.scaled(self.data[channel][0], channel)[[0, -1]] if channel in self.data else (0.0, 1.0)
            )
            self.plot.setXRange(float(self.to_display(a)), float(self.to_display(b)), padding=0.02)
            self.redraw()

    def _write_calibrations(self) -> None:
        for ch, cal in self.calibrations.items():
            try:
                save_calibration(self.run_dir, self.buffer, ch, cal)
            except OSError:
                log.warning("cannot write the calibration into %s", self.run_dir, exc_info=True)

    # ----- other runs ---------------------------------------------------------------------------
    def choose_run(self, role: str) -> None:
        start = str(self.run_dir.parent) if self.run_dir is not None else ""
        path = QFileDialog.getExistingDirectory(self, f"Finished run for the {role}", start)
        if path:
            self.set_other_run(role, path)

    def set_other_run(self, role: str, run_dir) -> FinishedRun | None:
        """Overlay or subtract (``role``: 'overlay' or 'background') a finished run; None clears it."""
        run = finished_run(run_dir, self.buffer) if run_dir is not None else None
        setattr(self, role, run)
        self.redraw()
        return run

    def clear_other_runs(self) -> None:
        self.overlay = self.background = None
        self.redraw()

    def _background_counts(self, spec: Spectrum) -> tuple[np.ndarray | None, str]:
        """The spectrum minus the background run (live-time scaled), or None and why not."""
        bg_entry = self.background.data.get(self.channel) if self.background is not None else None
        if bg_entry is None:
            return None, f"background run {self.background.name} has no '{self.channel}'"
        e, c = rebin(self.scaled(bg_entry[0]), bg_entry[1], self.rebin_factor)
        bg = Spectrum(e, c, self.channel, live_time=self.background.times.live)
        try:
            net, err = subtract_background(spec, bg)
        except ValueError as exc:
            return None, str(exc)
        self._variance = err**2
        return net, f"background run {self.background.name} subtracted (×{spec.live_time / bg.live_time:.3g})"

    def _draw_overlay(self) -> None:
        self._overlay_note = ""
        entry = self.overlay.data.get(self.channel) if self.overlay is not None else None
        if entry is None:
            self.overlay_curve.setData([], [])
            return
        e, c = rebin(self.scaled(entry[0]), entry[1], self.rebin_factor)
        scale = 1.0
        live = self.channel_times().live
        if live > 0 and self.overlay.times.live > 0:
            scale = live / self.overlay.times.live
            self._overlay_note = f" (scaled ×{scale:.3g} to this live time)"
        self.overlay_curve.setData(np.asarray(self.to_display(e), float), c.astype(float) * scale)

    def _entries_text(self, in_range: int, total: int) -> str:
        text = f"{in_range:,} entries"
        if total > in_range:
            text += f" ({total - in_range:,} outside the range)"
        t = self.channel_times()
        if t is not self.times:  # the source's own timers (Red Pitaya spectrum importer)
            text += f"; board timers: live {t.live:.1f} s, real {t.real:.1f} s"
        elif math.isfinite(t.real):
            text += f" · real time {t.real:.1f} s"
        if t is not self.times and t.live > 0:
            text += f" · {in_range / t.live:.4g} ± {math.sqrt(in_range) / t.live:.2g} /s (per live s)"
        elif math.isfinite(t.live):
            dead = 100 * (1 - t.live / t.real) if t.real > 0 else 0.0
            text += f" · live time {t.live:.1f} s ({dead:.1f} % dead)"
            if t.live > 0:
                text += f" · {in_range / t.live:.4g} ± {math.sqrt(in_range) / t.live:.2g} /s (per live s)"
        if self.read_only_run is not None:
            text += f" · run {self.read_only_run.name} (read-only)"
        if self._background_note:
            text += f" · {self._background_note}"
        if self.overlay is not None:
            text += f" · overlay: run {self.overlay.name}{self._overlay_note}"
        return text
