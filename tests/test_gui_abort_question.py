"""Stop pressed again while a run stops in order asks "Abort the run?"; the question belongs to that run.

A worker that takes seconds to close its files keeps the run in 'stopping'. The user presses Shift+F5
(Stop) to stop, then again: the window-modal question appears. If the run ends while it is shown, the
question goes away and nothing is aborted; answered with Abort while the run still stops, the run ends
at once. Offscreen Qt, real runs (spawned workers).
"""

from __future__ import annotations

import time

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QMessageBox

from mimocorb_gui.ui.main_window import MainWindow
from mimocorb_gui.ui.settings import Settings

pytestmark = pytest.mark.timeout(120)

WAIT_MS = 40000  # a loaded 2-core machine starts spawned processes slowly
CLOSE_SECONDS = 5.0  # how long the exporter takes to "complete its file" after its end of stream

SETUP = """\
Buffers:
  raw: {slot_count: 16, data_length: 10, data_dtype: {value: float32}}
Workers:
  source:
    function: simulators.muon_pulses
    config: {rate: 50, seed: 3}
    sinks: [raw]
  slow_writer:
    file: slow.py
    function: close_slowly
    sources: [raw]
target_directory: runs
"""

SLOW_WORKER = f"""\
import time
from pathlib import Path

from mimocorb_gui import Exporter


def close_slowly(buffer_io):
    n = 0
    for data, metadata in Exporter(buffer_io):
        n += 1
    time.sleep({CLOSE_SECONDS})  # completing a file on a slow disk
    (Path(buffer_io.run_dir) / "slow_writer_done.txt").write_text(f"{{n}}\\n")
"""


@pytest.fixture
def window(qtbot, tmp_path, no_shm_leak):
    w = MainWindow(settings=Settings(tmp_path / "config" / "settings.json"))
    w.controller.run_root = tmp_path / "runs"
    w.inform = lambda title, text: None
    qtbot.addWidget(w)
    w.resize(1200, 800)
    w.show()
    qtbot.waitExposed(w)
    yield w
    if w.controller.busy:
        w.controller.stop_and_wait(10.0)
    w.controller.shutdown()


def _start_then_stop(qtbot, w, tmp_path):
    folder = tmp_path / "slow"
    folder.mkdir()
    (folder / "setup.yaml").write_text(SETUP, encoding="utf-8")
    (folder / "slow.py").write_text(SLOW_WORKER, encoding="utf-8")
    assert w.open_setup(folder / "setup.yaml")
    QTest.keyClick(w, Qt.Key.Key_F5)
    qtbot.waitUntil(
        lambda: w.controller.state == "running" and w.controller.first_event_seen, timeout=WAIT_MS
    )
    QTest.keyClick(w, Qt.Key.Key_F5, Qt.KeyboardModifier.ShiftModifier)  # Stop: in order
    qtbot.waitUntil(lambda: w.controller.state == "stopping", timeout=5000)
    QTest.keyClick(w, Qt.Key.Key_F5, Qt.KeyboardModifier.ShiftModifier)  # Stop again: "Abort the run?"
    qtbot.waitUntil(lambda: _question() is not None, timeout=5000)
    return _question()


def _question() -> QMessageBox | None:
    for widget in QApplication.topLevelWidgets():
        if (
            isinstance(widget, QMessageBox)
            and widget.isVisible()
            and widget.windowTitle() == "Abort the run?"
        ):
            return widget
    return None


def test_abort_question_closes_when_the_run_ends_by_itself(qtbot, window, tmp_path):
    w = window
    _start_then_stop(qtbot, w, tmp_path)
    assert w.controller.state == "stopping"
    # nobody answers; the slow writer completes its file and the run ends in order
    qtbot.waitUntil(lambda: w.controller.state in ("finished", "failed"), timeout=WAIT_MS)
    qtbot.waitUntil(lambda: _question() is None, timeout=3000)
    assert w.controller.state == "finished"
    assert (w.controller.run_dir / "slow_writer_done.txt").exists()  # ended in order, not aborted
    assert "Run finished" in w.statusBar().currentMessage()
    assert w.actions["start"].isEnabled() and w.abort_question is None


def test_abort_answered_while_stopping_ends_the_run_at_once(qtbot, window, tmp_path):
    w = window
    box = _start_then_stop(qtbot, w, tmp_path)
    asked = time.monotonic()
    box.button(QMessageBox.StandardButton.Abort).click()
    qtbot.waitUntil(lambda: not w.controller.busy, timeout=WAIT_MS)
    assert time.monotonic() - asked < CLOSE_SECONDS - 1.0  # did not wait for the slow writer
    assert not (w.controller.run_dir / "slow_writer_done.txt").exists()  # terminated before it wrote
    assert _question() is None and w.abort_question is None
