"""Saving the histogram dock's results: spectrum CSV, plot PNG/SVG, fit and region table CSV/JSON,
and the clipboard. A mixin of HistogramDock (it uses the dock's state); the files are core.analysis's."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QFileDialog

from mimocorb_gui.core.analysis import results_text, write_results, write_spectrum_csv
from mimocorb_gui.ui.docks.plot_export import save_plot_images

__all__ = ["ResultsSaving"]


class ResultsSaving:
    """Methods of HistogramDock for Save and Copy results."""

    # ----- results ------------------------------------------------------------------------------
    def result_rows(self) -> list[dict[str, Any]]:
        """One row per region (and its fit for the selected one), in display units."""
        rows = []
        base = {"setup": self.setup_name, "run": self.run_dir.name if self.run_dir else "", "buffer": self.buffer,
                "channel": self.channel, "unit": self.unit, "live_time_s": self.channel_times().live,
                "real_time_s": self.channel_times().real}  # fmt: skip
        current = self.regions.current()
        for r in self.regions.regions:
            s = r.figures
            row = dict(base, region=r.name, lo=float(self.to_display(r.lo)), hi=float(self.to_display(r.hi)))
            if s is not None:
                row.update(gross=s.gross, gross_error=s.gross_error, net=s.net, net_error=s.net_error,
                           centroid=s.centroid, centroid_error=s.centroid_error, fwhm=s.fwhm,
                           resolution=s.resolution)  # fmt: skip
                if self.channel_times().live > 0:
                    row.update(
                        net_rate=s.net / self.channel_times().live,
                        net_rate_error=s.net_error / self.channel_times().live,
                    )
            if r is current and self._fit is not None:
                row.update({f"fit_{k}": v for k, v in self._fit.as_dict().items() if k not in ("lo", "hi")})
            rows.append(row)
        return rows

    def copy_results(self) -> str:
        text = results_text(self.result_rows())
        QGuiApplication.clipboard().setText(text)
        return text

    def save(self, directory: str | Path | None = None) -> list[Path]:
        """Spectrum CSV, PNG and SVG of the plot, results CSV/JSON, into ``directory`` (default: the run's)."""
        directory = Path(directory) if directory else self.save_dir
        if directory is None and self.run_dir is not None:
            directory = self.run_dir / "analysis"
        if directory is None:
            chosen = QFileDialog.getExistingDirectory(self, "Save spectrum and results into")
            if not chosen:
                return []
            directory = Path(chosen)
        spec = self.spectrum()
        if spec is None:
            return []
        directory.mkdir(parents=True, exist_ok=True)
        stem = f"{self.worker}_{self.channel}"
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        header = {"setup": self.setup_name, "run": self.run_dir.name if self.run_dir else "", "saved": stamp,
                  "rebin": self.rebin_factor}  # fmt: skip
        cal = self.calibration
        energy = cal(spec.edges) if cal is not None else None
        if cal is not None:
            header["calibration"] = cal.describe(spec.unit)
        paths = [
            write_spectrum_csv(directory / f"{stem}.csv", spec, energy, cal.unit if cal else "keV", header)
        ]
        paths += self._export_plot(directory / stem, stamp)
        paths += list(write_results(directory, f"{stem}_results", self.result_rows(), header))
        self.fit_panel.text.setText(self.fit_panel.text.text() + f"<br><i>saved into {directory}</i>")
        return paths

    def _export_plot(self, stem: Path, stamp: str) -> list[Path]:
        """PNG and SVG of the plot with setup, run, channel and time in its title."""
        run = self.run_dir.name if self.run_dir else "no run"
        caption = f"{self.setup_name or 'setup'} · run {run} · {self.channel} · {stamp}"
        description = f"mimoCoRB GUI spectrum of {self.buffer}/{self.channel}"
        return save_plot_images(self.plot_widget, stem, caption, "#333", description)
