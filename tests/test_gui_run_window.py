"""A finished run reopened read-only: histograms with analysis, recorded events, notes/setup/log."""

from __future__ import annotations

import numpy as np

from mimocorb_gui.core.analysis import Calibration, RunTimes
from mimocorb_gui.core.livehist import BinSpec, LiveHistogramWriter
from mimocorb_gui.core.mimofile import MimoWriter
from mimocorb_gui.core.setup import Setup
from mimocorb_gui.core.yaml_values import block_yaml
from mimocorb_gui.ui.docks.run_access import is_run_dir, original_setup_path, recent_runs
from mimocorb_gui.ui.run_window import RunWindow
from mimocorb_gui.ui.settings import Settings, layout_key

MUON = "mimocorb_gui/setups/muon_lifetime/setup.yaml"


def make_muon_run(root, setup_path):
    """A run directory as core.run and the muon setup's workers leave it."""
    run = root / "runs" / "2026-12-02_10-00-00"
    run.mkdir(parents=True)
    setup = Setup.load(setup_path)
    (run / "setup.yaml").write_text(f"# resolved copy of {setup.path}\n" + block_yaml(setup.resolved_dict()))
    (run / "notes.txt").write_text("PMT HV 1850 V, lead shield in place")
    (run / "run.log").write_text(
        "10:00:00.000 INFO    [run] run started\n10:10:00.000 INFO    [run] run stopped after 600.0 s\n"
    )
    RunTimes(600.0, 6.0).write(run)
    rng = np.random.default_rng(3)
    bins = {"decay_time": BinSpec(0, 8, 40), "decay_height": BinSpec(0, 0.6, 60),
            "trigger_height": BinSpec(0, 0.8, 80), "panels_hit": BinSpec(0.5, 4.5, 4)}  # fmt: skip
    with LiveHistogramWriter(run / "Histograms_PulseParameters", bins) as w:
        w.add({"decay_time": rng.exponential(2.197, 2000), "decay_height": rng.uniform(0, 0.5, 2000),
               "trigger_height": rng.uniform(0, 0.7, 2000), "panels_hit": rng.integers(1, 5, 2000)})  # fmt: skip
    wave = np.dtype([(c, "f4") for c in ("chA", "chB", "chC", "chD")])
    meta = np.zeros(1, dtype=[("counter", "<i8"), ("timestamp", "<f8"), ("deadtime", "<f8")])
    with MimoWriter(run / "AcceptedPulses.mimo", wave, 1000, source_buffer="AcceptedPulses") as w:
        for counter in (4, 9, 17):
            meta["counter"] = counter
            data = np.zeros(1000, wave)
            data["chA"][100:110] = -0.1 * counter
            w.write(meta, data)
    return run


def test_reopened_run_shows_histograms_recordings_and_texts(qtbot, tmp_path):
    run = make_muon_run(tmp_path, MUON)
    assert is_run_dir(run) and original_setup_path(run).name == "setup.yaml"
    settings = Settings(tmp_path / "settings.json")
    cal = Calibration.from_points([(0, 0), (8, 8000)], unit="ns")
    settings.set_layout(layout_key(original_setup_path(run)), {"docks": {"histogram:histograms": {
        "settings": {"channel": "decay_time", "calibrations": {"decay_height": cal.to_dict()}}}}})  # fmt: skip
    window = RunWindow(run, settings)
    qtbot.addWidget(window)
    window.show()
    hist = window.docks["histogram:histograms"]
    assert hist.read_only_run is not None and "read-only" in hist.windowTitle()
    assert (
        hist.channel == "decay_time"
        and hist.fit.ok
        and abs(hist.fit["tau"].value - 2.197) < 3 * hist.fit["tau"].error
    )
    assert "live time 594.0 s" in hist.entries_label.text()
    assert hist.calibrations["decay_height"] == cal  # the setup's calibration applies to the finished run
    scope = window.docks["oscilloscope:accepted_scope"]
    assert scope.recording is not None and scope.last_counter == 4
    scope.actions["rec_last"].trigger()
    assert scope.last_counter == 17
    assert "oscilloscope:raw_scope" not in window.docks and window.skipped == ["RawPulses"]
    assert "no recorded events of RawPulses" in window.docks["run_info"].windowTitle()
    info = window.docks["run_info"]
    assert "lead shield" in info.texts["notes"].toPlainText()
    assert "stopped after 600.0 s" in info.texts["log"].toPlainText()
    assert "lifetime_filter" in info.texts["setup"].toPlainText()
    # the calibration made in the reopened run is written into its directory
    hist.channel_box.setCurrentText("decay_height")
    hist.set_calibration(Calibration.from_points([(0, 0), (0.6, 600)]))
    assert "PulseParameters/decay_height" in (run / "calibration.json").read_text()


def test_recent_runs_of_setups_newest_first(tmp_path):
    setup = tmp_path / "setup.yaml"
    setup.write_text("target_directory: data\n")
    for i, name in enumerate(("a", "b", "c")):
        d = tmp_path / "data" / name
        d.mkdir(parents=True)
        (d / "setup.yaml").write_text("x: 1\n")
        (d / "run.log").write_text("")
        import os

        os.utime(d / "run.log", (1000 + i, 1000 + i))
    (tmp_path / "data" / "not_a_run").mkdir()
    assert [p.name for p in recent_runs([setup])] == ["c", "b", "a"]
    assert [p.name for p in recent_runs([setup], limit=1)] == ["c"]


def test_open_run_from_the_file_menu_and_the_welcome_page(qtbot, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    from mimocorb_gui.ui.main_window import MainWindow

    setup_dir = tmp_path / "muon"
    setup_dir.mkdir()
    setup_path = setup_dir / "setup.yaml"
    setup_path.write_text((__import__("pathlib").Path(MUON)).read_text(encoding="utf-8"), encoding="utf-8")
    run = make_muon_run(setup_dir, MUON)
    settings = Settings(tmp_path / "settings.json")
    settings.add_recent(setup_path)
    window = MainWindow(settings=settings)
    qtbot.addWidget(window)
    assert "open_run" in window.actions and window.actions["open_run"].shortcut().toString() == "Ctrl+Shift+O"
    listed = window.welcome.recent_runs
    assert listed.count() == 1 and listed.item(0).text().startswith(run.name)
    listed.itemActivated.emit(listed.item(0))
    assert len(window.run_windows) == 1 and window.run_windows[0].run_dir == run
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(run))
    window.actions["open_run"].trigger()
    assert len(window.run_windows) == 2
    for w in list(window.run_windows):
        w.close()
