"""SIGTERM and SIGINT to the GUI: the run stops in order, shared memory is released, the program quits.

The whole application as a subprocess (offscreen) with a run started by the self-test hook, then
``kill -TERM``: it must exit by itself, leave no worker process and no shared-memory segment, and the
run's event file must hold every event the run wrote (what ``run.log`` counts at an in-order end).
In-process: SIGINT reaches a window waiting in Qt's event loop (the wakeup through a socket pair),
and unsaved edits are kept beside the setup instead of asking.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys

import psutil
import pytest
from conftest import shm_segments
from waiting import wait_until

from mimocorb_gui.core.mimofile import read_mimo
from mimocorb_gui.core.ringbuffer import segment_prefix

SETUP = """\
Buffers:
  raw: {slot_count: 16, data_length: 200, data_dtype: {IN1: float32}}
Workers:
  source:
    function: simulators.gamma_pulses
    config: {rate: 100}
    sinks: [raw]
  save:
    function: data.export
    sources: [raw]
target_directory: runs
"""


def _events_counted(tmp_path) -> int:
    for stats in (tmp_path / "runs").glob("run_*/stats.csv"):
        lines = stats.read_text(encoding="utf-8").splitlines()
        if len(lines) > 1 and lines[-1].split(",")[0].isdigit():
            return int(lines[-1].split(",")[0])
    return 0


def _run_log(tmp_path) -> str:
    logs = list((tmp_path / "runs").glob("run_*/run.log"))
    return logs[0].read_text(encoding="utf-8") if logs else ""


@pytest.mark.timeout(120)
def test_sigterm_stops_the_run_in_order_and_quits_leaving_nothing(tmp_path):
    (tmp_path / "setup.yaml").write_text(SETUP, encoding="utf-8")
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", MIMOCORB_GUI_SELFTEST="600")  # starts the run
    env["XDG_CONFIG_HOME"] = str(tmp_path / "config")
    env["MIMOCORB_GUI_CONFIG_DIR"] = str(tmp_path / "config")
    proc = subprocess.Popen(
        [sys.executable, "-m", "mimocorb_gui", str(tmp_path / "setup.yaml")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        # events flow: stats.csv (a line a second) counts events written into raw
        wait_until(lambda: _events_counted(tmp_path) > 0, timeout=60, what="the run to write events")
        workers = psutil.Process(proc.pid).children(recursive=True)
        assert len(workers) >= 2  # source and save (and the start method's helpers)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert proc.returncode == 0, out + err
    assert "SIGTERM: stopping the run in order, then quitting" in err
    wait_until(lambda: not [p for p in workers if p.is_running() and p.status() != psutil.STATUS_ZOMBIE], 10)
    assert shm_segments(segment_prefix(proc.pid)) == set()
    log = _run_log(tmp_path)
    written = re.search(r"buffer 'raw': (\d+) written, (\d+) read", log)
    assert written, log  # the run's own end-of-run summary: it ended in order
    assert int(written[1]) > 0 and written[1] == written[2]
    data, _metadata, _header = read_mimo(next((tmp_path / "runs").glob("run_*/raw.mimo")))
    assert len(data) == int(written[1])  # the event file holds every event: completed, not cut


def test_sigint_closes_an_idle_window_and_keeps_unsaved_edits_beside_the_setup(qtbot, tmp_path):
    from PySide6.QtWidgets import QApplication

    from mimocorb_gui.ui.main_window import MainWindow
    from mimocorb_gui.ui.quit_signals import QuitOnSignal
    from mimocorb_gui.ui.settings import Settings

    path = tmp_path / "setup.yaml"
    path.write_text(SETUP, encoding="utf-8")
    w = MainWindow(settings=Settings(tmp_path / "config" / "settings.json"))
    asked = []
    w.ask = lambda *args: asked.append(args)
    qtbot.addWidget(w)
    w.show()
    assert w.open_setup(path)
    assert w.editor.rename_node("worker", "save", "keep")
    handler = QuitOnSignal(QApplication.instance(), w)
    quit_calls = []
    handler.app = type("App", (), {"quit": lambda self: quit_calls.append(True)})()  # the test's app goes on
    try:
        os.kill(os.getpid(), signal.SIGINT)  # as Ctrl+C in the terminal
        qtbot.waitUntil(lambda: not w.isVisible(), timeout=5000)
    finally:
        handler.uninstall()
    assert quit_calls and handler.received == [signal.SIGINT]
    assert asked == []  # nobody was asked
    assert "save:" in path.read_text()  # the setup file stays as it was saved
    kept = tmp_path / "setup.unsaved.yaml"
    assert "keep:" in kept.read_text() and "save:" not in kept.read_text()
