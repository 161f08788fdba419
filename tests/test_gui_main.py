"""The main window with real runs: start, watch events arrive, pause, resume, stop, crash, drop, close.

Offscreen Qt (conftest sets QT_QPA_PLATFORM=offscreen). Runs use the GUI's default start method
(spawn), so these tests also cover what Windows/macOS users and the PyInstaller bundle run.
"""

from __future__ import annotations

import logging
import os
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QTimer, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QMessageBox

from mimocorb_gui.core.mimofile import read_mimo
from mimocorb_gui.shipped import examples_dir
from mimocorb_gui.ui.main_window import MainWindow
from mimocorb_gui.ui.settings import Settings

pytestmark = pytest.mark.timeout(90)

ROOT = Path(__file__).resolve().parent.parent
WAIT_MS = 30000  # generous: a noisy 2-core CI machine starts 5 spawned processes

SETUP = """\
# GUI test setup: simulated muon waveforms -> pulse heights -> histogram (pass-through) -> .mimo
Buffers:
  raw: {slot_count: 16, data_length: 1000, data_dtype: {chA: float32, chB: float32}}
  heights: {slot_count: 256, data_length: 1, data_dtype: {position: int32, peak_heights: float32}}
  kept: {slot_count: 256, data_length: 1, data_dtype: {position: int32, peak_heights: float32}}
Workers:
  source:
    function: simulators.muon_pulses
    config: {rate: 150, seed: 1}
    sinks: [raw]
  pha:
    function: analyzers.pha
    sources: [raw]
    sinks: [heights]
    config: {channel: chA, height: 0.05, invert: true}
  hist:
    function: exporters.histogram
    sources: [heights]
    sinks: [kept]
    config: {bins: {peak_heights: [0, 1, 50]}, update_interval: 0.2}
  save:
    function: data.export
    sources: [kept]
  scope:
    function: observers.oscilloscope
    observes: [raw]
    config: {t_scaling: [0.004, 0, 'µs'], y_scaling: [1000, 0, 'mV'], trigger_level: -50, update_interval: 0.05}
target_directory: runs
"""

CRASH_SETUP = """\
Buffers:
  raw: {slot_count: 8, data_length: 500, data_dtype: {chA: float32}}
Workers:
  source:
    function: simulators.muon_pulses
    config: {rate: 200, seed: 2}
    sinks: [raw]
  analysis:
    file: crashing.py
    function: crash_after
    sources: [raw]
target_directory: runs
"""

CRASH_WORKER = """\
from mimocorb_gui import Exporter


def crash_after(buffer_io):
    n = 0
    for data, metadata in Exporter(buffer_io):
        n += 1
        print(f"analysed event {n}")
        if n >= 5:
            raise ZeroDivisionError("simulated failure in the analysis")
"""


def write_setup(folder: Path, text: str = SETUP, name: str = "setup.yaml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(tmp_path / "config" / "settings.json")


@pytest.fixture
def window(qtbot, settings, tmp_path, no_shm_leak):
    w = MainWindow(settings=settings)
    w.controller.run_root = tmp_path / "runs"
    w.messages = []
    w.inform = lambda title, text: w.messages.append((title, text))
    w.answers = []
    w.ask = lambda title, text, buttons, default: w.answers.pop(0) if w.answers else default
    qtbot.addWidget(w)
    w.resize(1400, 900)
    w.show()
    qtbot.waitExposed(w)
    yield w
    if w.controller.busy:
        w.controller.stop_and_wait(10.0)
    w.controller.shutdown()


def wait_state(qtbot, window, *states, timeout=WAIT_MS):
    qtbot.waitUntil(lambda: window.controller.state in states, timeout=timeout)


def test_simple_example_start_watch_pause_resume_stop(qtbot, window, tmp_path):
    """setups/simple as a student runs it: docks fill, pause/resume, stop; the run directory's files."""
    w = window
    assert w.open_setup(examples_dir() / "simple" / "setup.yaml")
    assert w.windowTitle() == "simple — ready — mimoCoRB"
    scope, hist = w.docks["oscilloscope:oscilloscope"], w.docks["histogram:histogram"]
    assert scope.plot.getAxis("bottom").labelText == "Time [µs]"
    assert scope.plot.getAxis("left").labelText == "Signal [mV]"
    assert w.actions["start"].isEnabled()
    w.actions["start"].trigger()
    wait_state(qtbot, w, "running")
    run_dir = w.controller.run_dir
    qtbot.waitUntil(lambda: scope.frames >= 2, timeout=WAIT_MS)
    hist.raise_()  # on the offscreen 800 px screen the plots are tabs, and a dock behind a tab does not poll
    qtbot.waitUntil(lambda: bool(hist.data) and hist.data["peak_heights"][1].sum() >= 5, timeout=WAIT_MS)
    assert not hist.empty.visible and "entries" in hist.entries_label.text()
    w.actions["pause"].trigger()
    wait_state(qtbot, w, "paused")
    qtbot.waitUntil(lambda: w.docks["buffers"].model.state_of("Waveforms") == "paused", timeout=5000)
    w.actions["resume"].trigger()
    wait_state(qtbot, w, "running")
    w.actions["stop"].trigger()
    wait_state(qtbot, w, "finished")
    rows = (run_dir / "PulsesToCsv.csv").read_text().strip().splitlines()
    counts = np.load(run_dir / "Histograms_Pulses" / "peak_heights.npy")
    import csv

    info = {r["Channel"]: r for r in csv.DictReader(open(run_dir / "Histograms_Pulses" / "info.csv"))}
    outside = sum(int(info["peak_heights"][k]) for k in ("Underflow", "Overflow", "NaN"))
    assert len(rows) - 1 == counts.sum() + outside > 0  # every pulse histogrammed and written to csv
    assert int(hist.data["peak_heights"][1].sum()) == int(counts.sum())
    assert (run_dir / "setup.yaml").is_file() and "run finished" in (run_dir / "run.log").read_text()


def test_run_cycle_start_watch_pause_resume_stop(qtbot, window, tmp_path):
    path = write_setup(tmp_path / "gui_setup")
    assert window.open_setup(path)
    w = window
    assert w.windowTitle().startswith("gui_setup — ready")
    assert set(w.docks) == {"oscilloscope:scope", "histogram:hist", "rates", "buffers", "workers", "log"}
    scope, hist = w.docks["oscilloscope:scope"], w.docks["histogram:hist"]
    assert "Start the run" in scope.empty.label.text() and scope.empty.visible
    assert "Start the run" in hist.empty.label.text()
    assert scope.plot.getAxis("bottom").labelText == "Time [µs]"
    assert scope.plot.getAxis("left").labelText == "Signal [mV]"
    enabled = {n: w.actions[n].isEnabled() for n in ("start", "pause", "resume", "stop")}
    assert enabled == {"start": True, "pause": False, "resume": False, "stop": False}

    w.notes.setText("detector B, HV 1.2 kV")
    w.actions["start"].trigger()
    wait_state(qtbot, w, "running")
    assert "running" in w.windowTitle()
    assert (
        not w.actions["start"].isEnabled()
        and w.actions["pause"].isEnabled()
        and w.actions["stop"].isEnabled()
    )
    run_dir = w.controller.run_dir
    assert run_dir.parent == tmp_path / "runs"
    assert (run_dir / "notes.txt").read_text() == "detector B, HV 1.2 kV\n"  # a text file: newline at the end

    # events arrive in the docks: a trace, histogram entries, buffer counters, rates
    qtbot.waitUntil(lambda: scope.frames >= 3, timeout=WAIT_MS)
    assert not scope.empty.visible
    x, _y = scope.curves["chA"].xData, scope.curves["chA"].yData
    assert len(x) == 1000 and np.isclose(x[1] - x[0], 0.004)
    hist.raise_()  # the offscreen screen is narrow: plots are tabs, and a dock behind a tab does not poll
    qtbot.waitUntil(lambda: bool(hist.data) and hist.data["peak_heights"][1].sum() > 0, timeout=WAIT_MS)
    assert hist.feed.kind == "live"
    qtbot.waitUntil(lambda: w.docks["buffers"].model.stats["raw"].stats.events_written > 0, timeout=5000)
    assert w.docks["buffers"].model.state_of("raw") == "running"
    qtbot.waitUntil(lambda: len(w.docks["rates"]._t) >= 2, timeout=5000)
    assert "events" in w.events_label.text()
    assert str(run_dir) in w.dir_label.text()

    w.actions["pause"].trigger()
    wait_state(qtbot, w, "paused")
    assert "paused" in w.windowTitle()
    assert w.actions["resume"].isEnabled() and not w.actions["pause"].isEnabled()
    qtbot.waitUntil(lambda: w.docks["buffers"].model.state_of("raw") == "paused", timeout=5000)
    w.actions["resume"].trigger()
    wait_state(qtbot, w, "running")

    w.notes.setText("detector B, HV 1.2 kV; Co-60 source at 10 cm")
    w.notes.editingFinished.emit()
    assert "Co-60" in (run_dir / "notes.txt").read_text()

    w.actions["stop"].trigger()
    wait_state(qtbot, w, "finished")
    assert "finished" in w.windowTitle()
    assert w.actions["start"].isEnabled() and not w.actions["stop"].isEnabled()
    # files of the run are complete
    assert (run_dir / "setup.yaml").is_file()
    assert "run finished" in (run_dir / "run.log").read_text()
    info = (run_dir / "Histograms_heights" / "info.csv").read_text()
    assert info.startswith("Channel,Min,Max,NBins")
    counts = np.load(run_dir / "Histograms_heights" / "peak_heights.npy")
    meta, data, _header = read_mimo(run_dir / "kept.mimo")
    assert len(data) > 0
    assert counts.sum() + _outside(run_dir) == len(data)  # every exported event was histogrammed
    # the dock shows the exporter's final counts, not a sample
    assert int(hist.data["peak_heights"][1].sum()) == int(counts.sum())
    assert not w.messages


def _outside(run_dir: Path) -> int:
    import csv

    rows = list(csv.DictReader(open(run_dir / "Histograms_heights" / "info.csv")))
    return sum(int(r["Underflow"]) + int(r["Overflow"]) + int(r["NaN"]) for r in rows)


def test_crashing_worker_shows_error_and_window_stays_responsive(qtbot, window, tmp_path):
    folder = tmp_path / "crash"
    path = write_setup(folder, CRASH_SETUP)
    (folder / "crashing.py").write_text(CRASH_WORKER)
    w = window
    assert w.open_setup(path)
    assert w.start_run()
    wait_state(qtbot, w, "failed")
    log_dock = w.docks["log"]
    errors = [e for e in log_dock.model.entries if e.levelno >= logging.ERROR]
    assert any("ZeroDivisionError" in e.message and "simulated failure" in e.message for e in errors)
    assert any("Traceback" in e.message for e in errors)
    assert any(e.worker == "analysis" for e in errors)
    assert "analysed event 1" in "\n".join(e.message for e in log_dock.model.entries)  # print() output
    assert w.banner.isVisible() and "analysis" in w.banner.label.text()
    assert "analysis" in w.statusBar().currentMessage() or "failed" in w.statusBar().currentMessage()
    assert log_dock.error_count >= 1
    workers = w.docks["workers"].model
    assert workers.stats["analysis"].failed
    assert workers.error_count("analysis") >= 1
    # the error line is highlighted and shown whole
    w.show_last_error()
    assert "ZeroDivisionError" in log_dock.detail.toPlainText()
    row = log_dock.view.currentIndex()
    assert row.data(Qt.ItemDataRole.BackgroundRole) is not None
    # responsive: the event loop runs timers promptly after the crash
    fired = []
    QTimer.singleShot(0, lambda: fired.append(time.monotonic()))
    qtbot.waitUntil(lambda: bool(fired), timeout=1000)
    assert w.actions["start"].isEnabled()  # a new run may start
    assert "failed" in w.windowTitle()


def test_drop_a_setup_file_opens_it(qtbot, window, tmp_path):
    path = write_setup(tmp_path / "dropped")
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    enter = QDragEnterEvent(
        QPoint(50, 50),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(window, enter)
    assert enter.isAccepted()
    drop = QDropEvent(
        QPointF(50, 50),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(window, drop)
    qtbot.waitUntil(lambda: window.setup is not None, timeout=5000)
    assert window.setup.path == path
    assert "dropped" in window.windowTitle()
    assert str(path) in window.settings.recent
    # something that is not a setup is refused
    other = tmp_path / "notes.txt"
    other.write_text("x")
    mime2 = QMimeData()
    mime2.setUrls([QUrl.fromLocalFile(str(other))])
    enter2 = QDragEnterEvent(
        QPoint(5, 5),
        Qt.DropAction.CopyAction,
        mime2,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    enter2.setAccepted(False)
    QApplication.sendEvent(window, enter2)
    assert not enter2.isAccepted()


def test_measurement_time_stops_the_run_in_order(qtbot, window, tmp_path):
    w = window
    assert w.open_setup(write_setup(tmp_path / "timed"))
    w.set_measurement_time(2)
    assert w.measurement_time() == 2.0
    assert w.start_run()
    qtbot.waitUntil(lambda: "left" in w.countdown.text(), timeout=WAIT_MS)
    wait_state(qtbot, w, "finished", timeout=WAIT_MS + 10000)
    assert w.controller.live_time() >= 2.0
    text = (w.controller.run_dir / "run.log").read_text()
    assert "measurement time of 00:00:02 reached" in text
    assert w.countdown.text() in ("", "⏱ time reached")


def test_errors_block_start(qtbot, window, tmp_path):
    bad = SETUP.replace("sources: [kept]", "sources: [kep]")
    w = window
    assert w.open_setup(write_setup(tmp_path / "bad", bad))
    assert w.has_errors()
    assert not w.actions["start"].isEnabled()
    assert w.banner.isVisible() and "kep" in w.banner.label.text()
    assert not w.start_run()
    assert w.messages and "kep" in w.messages[-1][1]
    assert w.controller.state == "ready" and w.controller.run_dir is None


def test_close_during_run_asks_then_stops_in_order(qtbot, settings, tmp_path, no_shm_leak):
    w = MainWindow(settings=settings)
    qtbot.addWidget(w)
    w.controller.run_root = tmp_path / "runs"
    asked = []
    answers = [QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Yes]

    def ask(title, text, buttons, default):
        asked.append(title)
        if title != "Quit during a run?":
            return QMessageBox.StandardButton.Discard
        return answers.pop(0)

    w.ask = ask
    w.show()
    assert w.open_setup(write_setup(tmp_path / "closing"))
    assert w.start_run()
    qtbot.waitUntil(lambda: w.docks["oscilloscope:scope"].frames >= 1, timeout=WAIT_MS)
    assert not w.close()  # Cancel: the window stays, the run goes on
    assert w.controller.busy
    assert w.close()  # Yes: stop in order, then close
    assert [t for t in asked if t == "Quit during a run?"] == ["Quit during a run?"] * 2
    assert w.controller.state == "finished"
    run_dir = w.controller.run_dir
    meta, data, _ = read_mimo(run_dir / "kept.mimo")
    assert len(data) > 0
    assert "run finished" in (run_dir / "run.log").read_text()
    # the layout of this setup was saved as JSON
    assert settings.layout(next(iter(settings.data["layouts"])))["docks"]["log"]["visible"] is True


def test_fallback_without_editor_says_so(qtbot, settings, tmp_path):
    w = MainWindow(settings=settings, use_editor=False)
    qtbot.addWidget(w)
    assert w.editor is None and w.overview is not None
    w.inform = lambda *a: None
    assert w.open_setup(write_setup(tmp_path / "plain"))
    assert w.stack.currentWidget() is w.overview
    texts = [lbl.text() for lbl in w.overview.findChildren(type(w.state_label))]
    assert any("graph editor is not available" in t for t in texts)
    names = [w.overview.tree.topLevelItem(0).child(i).text(0) for i in range(3)]
    assert names == ["raw", "heights", "kept"]
    assert w.overview.problems.item(0).text() == "none"


def test_welcome_page_and_recent_files(qtbot, settings, tmp_path):
    first, second = write_setup(tmp_path / "one"), write_setup(tmp_path / "two")
    settings.add_recent(first)
    settings.add_recent(second)
    w = MainWindow(settings=settings)
    qtbot.addWidget(w)
    assert w.stack.currentWidget() is w.welcome
    assert w.windowTitle() == "mimoCoRB"
    assert w.welcome.recent.count() == 2
    w.actions["recent:1"].trigger()  # the older one
    assert w.setup.path == first
    assert settings.recent[0] == str(first)


def test_layout_restore_tolerates_missing_and_new_docks(qtbot, settings, tmp_path):
    path = write_setup(tmp_path / "layout")
    w = MainWindow(settings=settings)
    qtbot.addWidget(w)
    w.show()
    assert w.open_setup(path)
    w.docks["rates"].hide()
    w.docks["histogram:hist"].apply_settings({"log": True, "rebin": 2})
    w.docks["oscilloscope:scope"].persistence.setValue(5)
    state = w.layout_state()
    import json

    json.dumps(state)  # JSON, never pickle
    w._save_layout()
    # the setup loses its histogram and gains a second oscilloscope
    changed = SETUP.replace(
        "  hist:\n    function: exporters.histogram", "  hist:\n    function: misc.copy"
    ).replace(
        "target_directory: runs",
        "  scope2:\n    function: observers.oscilloscope\n    observes: [raw]\ntarget_directory: runs",
    )
    path.write_text(changed)
    w.reload_setup()
    assert "histogram:hist" not in w.docks and "oscilloscope:scope2" in w.docks
    assert w.docks["rates"].isHidden()  # restored from the saved layout
    assert not w.docks["oscilloscope:scope2"].isHidden()  # new: default place, visible
    assert w.docks["oscilloscope:scope"].persistence.value() == 5
    # a saved entry for a dock that no longer exists is ignored without error
    assert w.restore_layout_state(state) in (True, False)
    # garbage in the settings does not stop the window
    assert (
        w.restore_layout_state({"qt_state": "not base64!", "docks": {"rates": {"visible": "yes"}}}) is False
    )
    w.actions["reset_layout"].trigger()
    assert not w.docks["rates"].isHidden()


def test_keyboard_shortcuts_and_named_actions(qtbot, window, tmp_path):
    from PySide6.QtTest import QTest

    w = window
    assert w.open_setup(write_setup(tmp_path / "keys"))
    assert w.actions["start"].shortcut().toString() == "F5"
    assert w.actions["stop"].shortcut().toString() == "Shift+F5"
    assert w.actions["pause"].shortcut().toString() == "F6"
    assert w.actions["resume"].shortcut().toString() == ""  # F6 belongs to pause while not paused
    for name in ("view:log", "view:rates", "view:buffers", "view:workers", "view:oscilloscope:scope"):
        assert name in w.actions
    w.actions["view:log"].trigger()
    assert w.docks["log"].isHidden()
    w.actions["show_log"].trigger()
    assert not w.docks["log"].isHidden()
    # the keys themselves, as a user presses them
    w.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is w, timeout=5000)
    QTest.keyClick(w, Qt.Key.Key_F5)
    wait_state(qtbot, w, "running")
    QTest.keyClick(w, Qt.Key.Key_F6)
    wait_state(qtbot, w, "paused")
    assert w.actions["resume"].shortcut().toString() == "F6"
    QTest.keyClick(w, Qt.Key.Key_F6)
    wait_state(qtbot, w, "running")
    QTest.keyClick(w, Qt.Key.Key_F5, Qt.KeyboardModifier.ShiftModifier)
    wait_state(qtbot, w, "finished")


@pytest.mark.parametrize(
    "name, docks",
    [
        ("simple", {"oscilloscope:oscilloscope", "histogram:histogram"}),
        ("muon_lifetime", {"oscilloscope:raw_scope", "oscilloscope:accepted_scope", "histogram:histograms"}),
        ("gamma_spectroscopy", {"oscilloscope:scope", "histogram:spectrum"}),
        ("replay", None),
        ("redpitaya_demo", None),
    ],
)
def test_example_setups_open_with_their_docks(qtbot, settings, name, docks):
    path = examples_dir() / name / "setup.yaml"
    w = MainWindow(settings=settings)
    qtbot.addWidget(w)
    w.inform = lambda title, text: pytest.fail(text)
    assert w.open_setup(path)
    assert not w.has_errors(), w.problems
    fixed = {"rates", "buffers", "workers", "log"}
    assert fixed <= set(w.docks)
    if docks is not None:
        assert set(w.docks) - fixed == docks
    if name == "muon_lifetime":  # observers.histogram of the same buffer: its hints, no second dock
        h = w.docks["histogram:histograms"]
        assert h.channel == "decay_time" and h.actions["log"].isChecked()
    for dock_id, dock in w.docks.items():
        if dock_id.startswith("oscilloscope:"):
            assert not dock.config_error, dock.config_error


def test_app_main_opens_the_window_and_returns(qtbot, tmp_path, monkeypatch):
    """``mimocorb SETUP`` path: main() shows the window with the setup and returns the exit code."""
    import signal

    from mimocorb_gui.ui import app as app_module

    monkeypatch.setenv("MIMOCORB_GUI_CONFIG_DIR", str(tmp_path / "cfg"))
    path = write_setup(tmp_path / "from_cli")
    seen = []

    def close_all() -> None:
        for widget in QApplication.topLevelWidgets():
            if isinstance(widget, MainWindow):
                seen.append(widget.windowTitle())
                widget.close()

    old = signal.getsignal(signal.SIGINT)
    QTimer.singleShot(1500, close_all)
    try:
        assert app_module.main(str(path)) == 0
    finally:
        signal.signal(signal.SIGINT, old)
    assert seen and seen[0].startswith("from_cli — ready")


def test_create_app_turns_off_qts_fill_thread_pool_unless_the_user_chose(qtbot, monkeypatch):
    from mimocorb_gui.ui.app import create_app

    monkeypatch.delenv("QT_NO_GUI_THREADPOOL", raising=False)
    create_app()
    assert os.environ["QT_NO_GUI_THREADPOOL"] == "1"
    monkeypatch.setenv("QT_NO_GUI_THREADPOOL", "0")
    create_app()
    assert os.environ["QT_NO_GUI_THREADPOOL"] == "0"
