"""Screenshots of the histogram dock's analysis on simulated data, into docs/screenshots/.

    QT_QPA_PLATFORM=offscreen .venv/bin/python scripts/analysis_screenshots.py [--out docs/screenshots]

analysis_muon_fit.png       the muon setup's decay_time spectrum with the exponential lifetime fit
analysis_gamma_keV.png      the gamma setup's spectrum calibrated in keV with two regions and the photopeak fit
analysis_reopened_run.png   a finished run reopened read-only, with a background run subtracted
analysis_run_window.png     a real run of the muon setup (``--run DIR``, e.g. from ``mimocorb run``) reopened read-only
analysis_scope_cursors.png  the muon oscilloscope with persistence and two cursors on muon and decay pulses
The data come from the project's simulators (seeded), histogrammed as the setups do.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mimocorb_gui.core.analysis import Calibration, RunTimes  # noqa: E402
from mimocorb_gui.core.livehist import BinSpec, LiveHistogramWriter  # noqa: E402
from mimocorb_gui.functions.simulators import muon_event, sample_gamma_energies  # noqa: E402

SIZE = (1000, 720)


def settle(app, n=20):
    for _ in range(n):
        app.processEvents()


def muon_fit(app, out: Path) -> None:
    from mimocorb_gui.ui.docks.histogram import HistogramDock

    rng = np.random.default_rng(1)
    times = [muon_event(rng, 1, 8, stopped_fraction=1.0, noise=0.0)[1].decay_time_us for _ in range(1500)]
    values = np.concatenate([times, rng.uniform(0, 8, 150)])
    edges = np.linspace(0, 8, 41)
    dock = HistogramDock("histograms", "PulseParameters", {"decay_time": [0, 8, 40]}, setup_name="muon_lifetime",
                         units={"decay_time": "µs"}, log_y=True)  # fmt: skip
    dock.resize(*SIZE)
    dock.show()
    dock.set_data("decay_time", edges, np.histogram(values, bins=edges)[0])
    dock.times = RunTimes(600.0, 3.2)
    dock.redraw()
    settle(app)
    dock.grab().save(str(out / "analysis_muon_fit.png"))


def gamma_dock(app, bins):
    from mimocorb_gui.ui.docks.histogram import HistogramDock

    dock = HistogramDock("spectrum", "PulseHeights", bins, setup_name="gamma_spectroscopy",
                         units={"peak_heights": "V"})  # fmt: skip
    dock.resize(*SIZE)
    dock.show()
    return dock


def gamma_calibrated(app, out: Path) -> Calibration:
    rng = np.random.default_rng(2)
    edges = np.linspace(0, 0.8, 101)
    dock = gamma_dock(app, {"peak_heights": [0, 0.8, 100]})
    # calibrate with Ba-133 (356 keV) and Na-22 (511 keV) lines, as a user does in the dialog
    calib = np.concatenate([sample_gamma_energies(rng, 20000, e) / 1000 for e in (356.0, 511.0)])
    dock.set_data("peak_heights", edges, np.histogram(calib, bins=edges)[0])
    dialog = dock.open_calibration()
    positions = [dialog.peak_list.item(i).data(256) for i in range(dialog.peak_list.count())]
    for energy in (356.0, 511.0):
        dialog.peak_list.setCurrentRow(int(np.argmin([abs(p - energy / 1000) for p in positions])))
        dialog.energy.setCurrentIndex(dialog.energy.findData(energy))
        dialog.actions["mark"].trigger()
    settle(app)
    dialog.grab().save(str(out / "analysis_calibration_dialog.png"))
    dialog.actions["apply"].trigger()
    cs = sample_gamma_energies(rng, 30000) / 1000
    dock.set_data("peak_heights", edges, np.histogram(cs, bins=edges)[0])
    dock.times = RunTimes(300.0, 4.5)
    dock.add_region(0.14, 0.22)  # the backscatter peak
    dock.regions.select(0)
    dock.redraw()
    settle(app)
    dock.grab().save(str(out / "analysis_gamma_keV.png"))
    return dock.calibration


def reopened_run(app, out: Path, cal: Calibration) -> None:
    rng = np.random.default_rng(3)
    bins = {"peak_heights": [0, 0.8, 100]}
    tmp = Path(tempfile.mkdtemp(prefix="mimocorb_shots_"))

    def write_run(name, values, times):
        run = tmp / name
        with LiveHistogramWriter(
            run / "Histograms_PulseHeights", {"peak_heights": BinSpec(0, 0.8, 100)}
        ) as w:
            w.add({"peak_heights": values})
        times.write(run)
        return run

    room = rng.exponential(0.15, 6000) % 0.8  # room background: falling with energy
    source = np.concatenate([sample_gamma_energies(rng, 20000) / 1000, rng.exponential(0.15, 3000) % 0.8])
    run = write_run("2026-12-02_10-00-00", source, RunTimes(300.0, 6.0))
    bg = write_run("2026-12-02_09-00-00_background", room, RunTimes(600.0, 2.0))
    from mimocorb_gui.core.analysis import save_calibration

    save_calibration(run, "PulseHeights", "peak_heights", cal)
    dock = gamma_dock(app, bins)
    dock.open_run(run)
    dock.set_other_run("background", bg)
    settle(app)
    dock.grab().save(str(out / "analysis_reopened_run.png"))


def scope_cursors(app, out: Path) -> None:
    from mimocorb_gui.ui.docks.oscilloscope import OscilloscopeDock

    cfg = {"t_scaling": [0.008, 0, "µs"], "y_scaling": [1, 0, "V"], "ylim": [-0.8, 0.05], "trigger_level": -0.05,
           "colors": ["gold", "cyan", "magenta", "limegreen"]}  # setups/muon_lifetime's raw_scope  # fmt: skip
    dtype = np.dtype([(c, "f4") for c in ("chA", "chB", "chC", "chD")])
    dock = OscilloscopeDock("raw_scope", "RawPulses", cfg, dtype, 1000)
    dock.resize(*SIZE)
    dock.show()
    dock._running = True
    dock.persistence.setValue(3)
    dock.actions["autoscale"].setChecked(True)
    rng = np.random.default_rng(7)
    meta = np.array([(0, 0.0, 0.0)], dtype=[("counter", "<i8"), ("timestamp", "<f8"), ("deadtime", "<f8")])
    shown = 0
    while shown < 4:
        waves, truth = muon_event(rng, 4, 1000, sample_time_ns=8.0, pulse_width_ns=30, noise=0.004,
                                  stopped_fraction=1.0 if shown == 3 else 0.0)  # fmt: skip
        if shown == 3 and not (truth.decay_time_us < 6.0):
            continue
        data = np.zeros(1000, dtype)
        for i, ch in enumerate(dtype.names):
            data[ch] = waves[i]
        meta["counter"] = 100 + shown
        dock.show_event(meta, data)
        shown += 1
    t0 = truth.trigger_time_ns / 1000
    dock.actions["cursors"].trigger()
    k = int((truth.trigger_time_ns + truth.decay_time_us * 1000) / 8.0)  # the decay pulse's sample
    decay_min = min(float(data[ch][k : k + 20].min()) for ch in dtype.names)
    dock.cursors.set_positions(t0, t0 + truth.decay_time_us, 0.0, decay_min)
    settle(app)
    dock.grab().save(str(out / "analysis_scope_cursors.png"))


def run_window(app, out: Path, run_dir: Path) -> None:
    from mimocorb_gui.ui.run_window import RunWindow

    window = RunWindow(run_dir)
    window.resize(1500, 950)
    window.show()
    settle(app)
    scope = window.docks.get("oscilloscope:accepted_scope")
    if scope is not None and scope.recording is not None:
        scope.actions["rec_next"].trigger()
        scope.actions["rec_next"].trigger()
    settle(app, 40)
    window.grab().save(str(out / "analysis_run_window.png"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    parser.add_argument(
        "--run", help="a finished run directory of the muon setup for analysis_run_window.png"
    )
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    from PySide6.QtWidgets import QApplication

    from mimocorb_gui.ui.docks.base import configure_pyqtgraph

    app = QApplication.instance() or QApplication(sys.argv)
    configure_pyqtgraph()
    muon_fit(app, out)
    cal = gamma_calibrated(app, out)
    reopened_run(app, out, cal)
    scope_cursors(app, out)
    if args.run:
        run_window(app, out, Path(args.run))
    print(f"screenshots in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
