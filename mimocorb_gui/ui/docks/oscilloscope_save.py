"""Save in the oscilloscope dock: the traces shown as CSV, the plot as PNG and SVG with setup, run,
event and time in its title, into ``<run>/analysis/``. A mixin of OscilloscopeDock."""

from __future__ import annotations

import csv
import time
from pathlib import Path

import numpy as np
from PySide6.QtWidgets import QFileDialog

from mimocorb_gui.ui.docks.plot_export import save_plot_images

__all__ = ["TraceSaving"]


class TraceSaving:
    """Methods of OscilloscopeDock for Save."""

    run_dir: Path | None = None
    save_dir: Path | None = None  # where Save writes without a run (tests, or the user's choice)
    setup_name = ""

    def save(self, directory=None) -> list[Path]:
        """``<worker>_event<counter>.csv`` (time and every channel) and ``.png`` / ``.svg`` of the plot."""
        directory = Path(directory) if directory else self.save_dir
        run_dir = self.recording.path.parent if self.recording is not None else self.run_dir
        if directory is None and run_dir is not None:
            directory = Path(run_dir) / "analysis"
        if directory is None:
            chosen = QFileDialog.getExistingDirectory(self, "Save traces into")
            if not chosen:
                return []
            directory = Path(chosen)
        if not self._last_data:
            return []
        directory.mkdir(parents=True, exist_ok=True)
        stem = directory / f"{self.worker}_event{max(self.last_counter, 0)}"
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        run = run_dir.name if run_dir is not None else "no run"
        channels = [c for c in self.curves if c in self._last_data]
        t_unit = self._t_unit if self._t_unit != "Samples" else "samples"
        y_unit = self._y_unit if self._y_unit != "Value" else ""
        with open(stem.with_suffix(".csv"), "w", newline="", encoding="utf-8") as fh:
            fh.write(f"# setup: {self.setup_name}\n# run: {run}\n# buffer: {self.buffer}\n")
            fh.write(f"# event counter: {self.last_counter}\n# saved: {stamp}\n")
            w = csv.writer(fh)
            w.writerow([f"time [{t_unit}]"] + [f"{c} [{y_unit}]" if y_unit else c for c in channels])
            t = self._t[: min(len(self._last_data[c]) for c in channels)]
            for i, ti in enumerate(t):
                w.writerow(
                    [repr(float(ti))] + [repr(float(np.asarray(self._last_data[c])[i])) for c in channels]
                )
        caption = (
            f"{self.setup_name or 'setup'} · run {run} · {self.buffer} event {self.last_counter} · {stamp}"
        )
        png, svg = save_plot_images(self.plot_widget, stem, caption, "#aab4be")
        self.status.setText(f"saved {stem.name}.csv/.png/.svg into {directory}")
        return [stem.with_suffix(".csv"), png, svg]
