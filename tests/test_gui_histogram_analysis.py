"""Histogram dock analysis driven as a user does: named actions for regions, fits, calibration, saving, runs."""

from __future__ import annotations

import json

import numpy as np
import pytest
from plot_files import SVG_NS, check_png, check_svg
from PySide6.QtGui import QGuiApplication

from mimocorb_gui.core.analysis import RunTimes, load_calibrations
from mimocorb_gui.core.livehist import BinSpec, LiveHistogramWriter
from mimocorb_gui.functions.simulators import sample_gamma_energies
from mimocorb_gui.ui.docks.histogram import HistogramDock

GAMMA_BINS = {"peak_heights": [0, 0.8, 100]}  # setups/gamma_spectroscopy (V)
MUON_BINS = {"decay_time": [0, 8, 40], "panels_hit": [0.5, 4.5, 4]}  # setups/muon_lifetime


def gamma_heights(n, energy=661.657, seed=1):
    return sample_gamma_energies(np.random.default_rng(seed), n, energy) / 1000.0


def write_run(run_dir, buffer, bins, values, times=None):
    """A finished run directory as exporters.histogram leaves it (written with its own writer)."""
    specs = {ch: BinSpec(*b) for ch, b in bins.items()}
    with LiveHistogramWriter(run_dir / f"Histograms_{buffer}", specs) as w:
        w.add(values)
    (run_dir / "run.log").write_text("12:00:00.000 INFO    [run] run stopped after 60.0 s\n")
    if times is not None:
        times.write(run_dir)
    return run_dir


def make_dock(qtbot, buffer, bins, **kw):
    dock = HistogramDock("spectrum", buffer, bins, setup_name="test setup", **kw)
    qtbot.addWidget(dock)
    dock.resize(900, 650)
    dock.show()
    return dock


def test_decay_time_channel_gets_an_exponential_fit_over_its_range(qtbot):
    dock = make_dock(qtbot, "PulseParameters", MUON_BINS, units={"decay_time": "µs"})
    rng = np.random.default_rng(4)
    edges = np.linspace(0, 8, 41)
    dock.set_data("decay_time", edges, np.histogram(rng.exponential(2.197, 3000), bins=edges)[0])
    assert dock.fit_panel.model == "exponential"
    region = dock.regions.regions[0]
    assert (region.lo, region.hi) == (0.0, 8.0)
    result = dock.fit
    assert result.ok, result.message
    assert abs(result["tau"].value - 2.197) < 3 * result["tau"].error
    text = dock.result.text()
    assert "τ" in text and "µs" in text and "χ²/ndf" in text and "entries" in text
    assert dock.plot.getAxis("bottom").labelText == "decay_time [µs]"
    assert len(dock.fit_curve.xData) == 300
    # the user picks another model for the channel: remembered in the settings
    dock.fit_panel.model_box.setCurrentIndex(dock.fit_panel.model_box.findData("line"))
    assert dock.fit.model == "line" and dock.settings()["models"]["decay_time"] == "line"


def test_fit_over_nothing_refuses_with_a_message(qtbot):
    dock = make_dock(qtbot, "Heights", {"energy": [0, 1, 100]})
    flat = np.random.default_rng(2).poisson(50, 100)
    dock.set_data("energy", np.linspace(0, 1, 101), flat)
    dock.set_region(0.4, 0.6)
    assert not dock.fit.ok
    assert "no fit" in dock.result.text() and "no significant peak" in dock.result.text()
    assert "centre" not in dock.result.text() and not dock.fit.parameters
    assert dock.fit_curve.xData is None or len(dock.fit_curve.xData) == 0


def test_regions_added_dragged_deleted_and_counted_like_numpy(qtbot):
    dock = make_dock(qtbot, "Heights", GAMMA_BINS)
    edges = np.linspace(0, 0.8, 101)
    counts = np.histogram(gamma_heights(20000), bins=edges)[0]
    dock.set_data("peak_heights", edges, counts)
    auto = dock.regions.regions[0]
    assert auto.lo < 0.6617 < auto.hi and not auto.touched
    dock.actions["add_region"].trigger()
    assert len(dock.regions.regions) == 2
    second = dock.regions.regions[1]
    second.item.setRegion((0.1, 0.3))  # the user drags it
    second.item.sigRegionChangeFinished.emit(second.item)
    dock.update_analysis()
    centres = 0.5 * (edges[1:] + edges[:-1])
    for r in dock.regions.regions:
        assert r.figures.gross == counts[(centres >= r.lo) & (centres <= r.hi)].sum()
    assert second.touched and second.lo == pytest.approx(0.1)
    assert dock.region_table.rowCount() == 2 and "±" in dock.region_table.item(1, 4).text()
    dock.rebin_box.setCurrentIndex(2)  # ×4: the same regions, wider bins
    e4 = edges[::4]
    c4 = counts.reshape(-1, 4).sum(axis=1)
    c4_centres = 0.5 * (e4[1:] + e4[:-1])
    for r in dock.regions.regions:
        assert r.figures.gross == c4[(c4_centres >= r.lo) & (c4_centres <= r.hi)].sum()
    dock.regions.select(1)
    dock.actions["delete_region"].trigger()
    assert len(dock.regions.regions) == 1 and dock.region_table.rowCount() == 1
    # the automatic region stays put once the user touched it
    auto.item.setRegion((0.2, 0.4))
    auto.item.sigRegionChangeFinished.emit(auto.item)
    dock.set_data("peak_heights", edges, counts * 2)
    assert auto.item.getRegion() == pytest.approx((0.2, 0.4))


def test_integer_channel_region_counts_its_bins(qtbot):
    dock = make_dock(qtbot, "PulseParameters", MUON_BINS, channel="panels_hit")
    counts = np.array([40, 125, 60, 20])
    dock.set_data("panels_hit", np.linspace(0.5, 4.5, 5), counts)
    dock.set_region(2.1, 2.9)  # between the integer values' centres
    assert dock.regions.current().figures.gross == 60
    dock.set_region(1.5, 3.5)
    assert dock.regions.current().figures.gross == 125 + 60


def test_calibration_by_marked_peaks_in_kev_survives_a_restart_and_a_reopened_run(qtbot, tmp_path):
    dock = make_dock(qtbot, "PulseHeights", GAMMA_BINS)
    edges = np.linspace(0, 0.8, 101)
    # a calibration spectrum with two lines: Ba-133 356 keV and Na-22 511 keV
    values = np.concatenate([gamma_heights(20000, 356.0, 1), gamma_heights(20000, 511.0, 2)])
    dock.set_data("peak_heights", edges, np.histogram(values, bins=edges)[0])
    dock.run_dir = tmp_path
    dialog = dock.actions["calibrate"].trigger() or dock.calibration_dialog
    dialog.actions["search"].trigger()
    positions = [dialog.peak_list.item(i).data(256) for i in range(dialog.peak_list.count())]
    for energy in (356.0, 511.0):
        row = int(np.argmin([abs(p - energy / 1000) for p in positions]))
        dialog.peak_list.setCurrentRow(row)
        dialog.energy.setCurrentIndex(dialog.energy.findData(energy))
        dialog.actions["mark"].trigger()
    assert dialog.points.rowCount() == 2 and dialog.actions["apply"].isEnabled()
    dialog.actions["apply"].trigger()
    assert dock.calibration is not None and dock.unit == "keV"
    assert "keV" in dock.plot.getAxis("bottom").labelText
    # the Cs-137 run: the photopeak reads 662 keV within 1 %
    cs = np.histogram(gamma_heights(20000, 661.657, 3), bins=edges)[0]
    dock.set_data("peak_heights", edges, cs)
    assert dock.regions.regions[0].lo < 0.6617 < dock.regions.regions[0].hi
    assert dock.fit.ok and dock.fit["centre"].value == pytest.approx(661.66, rel=0.01)
    assert dock.regions.regions[0].figures.centroid == pytest.approx(661.66, rel=0.01)
    assert "keV" in dock.region_table.item(0, 5).text()
    assert "PulseHeights/peak_heights" in load_calibrations(tmp_path)
    # a restart: a new dock gets the calibration from the per-setup settings
    saved = json.loads(json.dumps(dock.settings()))
    again = make_dock(qtbot, "PulseHeights", GAMMA_BINS)
    again.apply_settings(saved)
    assert again.calibration == dock.calibration
    # a finished run reopened read-only brings its own calibration file
    run = write_run(tmp_path / "run_cs", "PulseHeights", GAMMA_BINS, {"peak_heights": gamma_heights(20000, 661.657, 4)},
                    RunTimes(60.0, 1.5))  # fmt: skip
    (run / "calibration.json").write_text((tmp_path / "calibration.json").read_text())
    fresh = make_dock(qtbot, "PulseHeights", GAMMA_BINS)
    fresh.open_run(run)
    assert fresh.calibration is not None and "read-only" in fresh.windowTitle()
    assert fresh.fit.ok and fresh.fit["centre"].value == pytest.approx(661.66, rel=0.01)
    assert "live time 58.5 s" in fresh.entries_label.text()


def test_save_and_copy_results_into_the_run_directory(qtbot, tmp_path):
    run = write_run(tmp_path / "run1", "PulseHeights", GAMMA_BINS, {"peak_heights": gamma_heights(5000)},
                    RunTimes(50.0, 10.0))  # fmt: skip
    dock = make_dock(qtbot, "PulseHeights", GAMMA_BINS)
    dock.open_run(run)
    dock.actions["save"].trigger()
    folder = run / "analysis"
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["spectrum_peak_heights.csv", "spectrum_peak_heights.png", "spectrum_peak_heights.svg",
                     "spectrum_peak_heights_results.csv", "spectrum_peak_heights_results.json"]  # fmt: skip
    text = (folder / "spectrum_peak_heights.csv").read_text()
    assert "# live_time_s: 40.0" in text and "# run: run1" in text and "# setup: test setup" in text
    doc = json.loads((folder / "spectrum_peak_heights_results.json").read_text())
    row = doc["results"][0]
    assert row["fit_ok"] is True and row["gross"] > 0 and row["net_rate"] == pytest.approx(row["net"] / 40.0)
    check_png(folder / "spectrum_peak_heights.png", dock.plot_widget)
    svg = check_svg(folder / "spectrum_peak_heights.svg", dock.plot_widget, "run run1 · peak_heights")
    assert "spectrum of PulseHeights/peak_heights" in svg.find(f"{SVG_NS}desc").text
    assert dock.plot.titleLabel.maximumHeight() == 0
    dock.actions["copy"].trigger()
    clip = QGuiApplication.clipboard().text()
    assert clip.splitlines()[0].startswith("setup\trun") and "fit_centre_error" in clip


def test_overlay_and_background_scaled_by_live_time(qtbot, tmp_path):
    values = {"peak_heights": gamma_heights(4000, seed=5)}
    bg_values = {"peak_heights": np.random.default_rng(6).uniform(0, 0.8, 2000)}
    here = write_run(tmp_path / "here", "PulseHeights", GAMMA_BINS, values, RunTimes(100.0, 0.0))
    background = write_run(tmp_path / "bg", "PulseHeights", GAMMA_BINS, bg_values, RunTimes(200.0, 0.0))
    dock = make_dock(qtbot, "PulseHeights", GAMMA_BINS)
    dock.open_run(here)
    raw = dock.displayed()[1].astype(float)
    dock.set_other_run("background", background)
    net = dock.displayed()[1]
    bg_counts = np.histogram(bg_values["peak_heights"], bins=np.linspace(0, 0.8, 100))[0]  # NBins edges
    assert net == pytest.approx(raw - 0.5 * bg_counts)
    assert "subtracted (×0.5)" in dock.entries_label.text()
    # the net spectrum is fitted by χ² with the subtraction's variance (its counts may be negative)
    assert dock.fit.ok, dock.fit.message
    assert dock.fit["centre"].value == pytest.approx(0.6617, abs=3 * dock.fit["centre"].error + 0.002)
    dock.set_other_run("overlay", background)
    assert dock.overlay_curve.yData.sum() == pytest.approx(0.5 * bg_counts.sum())
    dock.actions["clear_runs"].trigger()
    assert dock.background is None and dock.overlay is None


def test_field_unit_and_scale_from_the_setup_are_used_by_axis_regions_and_fit(qtbot):
    from mimocorb_gui.core.units import FieldUnit

    dock = make_dock(qtbot, "PulseHeights", GAMMA_BINS, units={"peak_heights": FieldUnit("keV", 1000.0)})
    edges = np.linspace(0, 0.8, 101)  # the exporter's bins stay in volts
    dock.set_data("peak_heights", edges, np.histogram(gamma_heights(20000), bins=edges)[0])
    assert dock.plot.getAxis("bottom").labelText == "peak_heights [keV]"
    assert dock.spectrum().edges[-1] == pytest.approx(800.0)
    r = dock.regions.regions[0]
    assert r.lo < 661.66 < r.hi
    assert dock.fit.ok and dock.fit["centre"].value == pytest.approx(661.66, rel=0.01)
    assert "keV" in dock.result.text() and "keV" in dock.region_table.horizontalHeaderItem(1).text()


def test_run_pickers_regions_toggle_and_calibration_removal_by_their_actions(qtbot, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    values = {"peak_heights": gamma_heights(4000, seed=7)}
    here = write_run(tmp_path / "here", "PulseHeights", GAMMA_BINS, values, RunTimes(100.0, 0.0))
    other = write_run(tmp_path / "other", "PulseHeights", GAMMA_BINS, values, RunTimes(50.0, 0.0))
    dock = make_dock(qtbot, "PulseHeights", GAMMA_BINS)
    dock.open_run(here)
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(other))
    dock.actions["overlay"].trigger()
    assert dock.overlay is not None and dock.overlay_curve.yData.sum() == pytest.approx(2 * 4000, rel=0.01)
    dock.actions["background"].trigger()
    assert dock.background is not None and abs(dock.displayed()[1].sum() + 4000) < 50  # 4000 − 2 × 4000
    dock.actions["clear_runs"].trigger()
    dock.actions["region"].trigger()  # off: regions and fit curve hidden
    assert not dock.regions.regions[0].item.isVisible() and not dock.fit_curve.isVisible()
    dock.actions["region"].trigger()
    assert dock.regions.regions[0].item.isVisible()
    dialog = dock.open_calibration()
    dialog.add_point(0.356, 356.0)
    dialog.add_point(0.511, 511.0)
    dialog.add_point(0.6617, 661.66)
    dialog.points.selectRow(2)
    dialog.actions["remove_point"].trigger()
    assert dialog.points.rowCount() == 2
    dialog.actions["apply"].trigger()
    assert dock.calibration is not None
    again = dock.open_calibration()
    again.actions["clear"].trigger()  # Remove calibration: raw values again
    assert dock.calibration is None and dock.plot.getAxis("bottom").labelText == "peak_heights"


def test_live_refit_waits_for_new_counts_and_time(qtbot, monkeypatch):
    """While a run fills the histogram, the fit is redone only for > 2 % more counts and not within 2 s of
    the last one; the region's sums follow every refresh; the run's end refits at once."""
    from mimocorb_gui.ui.docks import histogram_analysis

    clock = [1000.0]
    monkeypatch.setattr(histogram_analysis.time, "monotonic", lambda: clock[0])
    dock = make_dock(qtbot, "PulseParameters", MUON_BINS, units={"decay_time": "µs"})
    dock._running = True
    edges = np.linspace(0, 8, 41)
    decays = np.random.default_rng(5).exponential(2.197, 40000)
    fits = []
    real_fit = histogram_analysis.fit
    monkeypatch.setattr(histogram_analysis, "fit", lambda *a, **k: fits.append(1) or real_fit(*a, **k))

    def refresh(n, seconds_later):
        clock[0] += seconds_later
        dock.set_data("decay_time", edges, np.histogram(decays[:n], bins=edges)[0])

    refresh(2000, 0.0)
    assert len(fits) == 1 and dock.fit.ok
    refresh(2500, 0.5)  # 25 % more, 0.5 s later: too soon
    assert len(fits) == 1
    in_range = np.histogram(decays[:2500], bins=edges)[0].sum()
    assert dock.regions.regions[0].figures.gross == in_range  # the sums are current all the same
    refresh(2520, 2.0)  # 2 s after the last fit, 26 % more counts than it had: refit
    assert len(fits) == 2
    refresh(2540, 5.0)  # long after, but < 2 % more than 2520: the fit still describes it
    assert len(fits) == 2
    dock._running = False  # the run ended: the final counts get their fit at once
    refresh(2545, 0.1)
    assert len(fits) == 3


def test_fit_libraries_are_loaded_when_the_dock_is_made_not_at_the_first_fit_of_a_run():
    import subprocess
    import sys
    import textwrap

    code = textwrap.dedent("""
        import os, sys
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
        from PySide6.QtWidgets import QApplication
        app = QApplication([])
        from mimocorb_gui.ui.docks.histogram import HistogramDock
        before = {m for m in ("scipy.special", "scipy.signal", "iminuit") if m in sys.modules}
        dock = HistogramDock("spectrum", "Heights", {"energy": [0, 1, 100]})
        app.processEvents()
        after = {m for m in ("scipy.special", "scipy.signal", "iminuit") if m in sys.modules}
        print(sorted(before), "|", sorted(after))
        """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    before, after = out.stdout.strip().split(" | ")
    assert "iminuit" not in before and after == "['iminuit', 'scipy.signal', 'scipy.special']"
