"""File ▸ Connect to Run…: the window shows a served headless run in the same docks as a local one."""

from __future__ import annotations

import numpy as np
import pytest
from network_helpers import finish, ipc_address
from test_remote import serve_simple

from mimocorb_gui.ui.main_window import MainWindow
from mimocorb_gui.ui.settings import Settings

WAIT_MS = 30_000


@pytest.fixture
def window(qtbot, tmp_path):
    w = MainWindow(settings=Settings(tmp_path / "config" / "settings.json"))
    w.messages = []
    w.inform = lambda title, text: w.messages.append((title, text))
    w.ask = lambda title, text, buttons, default: default
    qtbot.addWidget(w)
    w.resize(1400, 900)
    w.show()
    qtbot.waitExposed(w)
    yield w
    w.controller.shutdown()


def _connect(qtbot, w, address: str, key: str = "") -> None:
    w.ask_connection = lambda: (address, key)
    w.actions["connect_run"].trigger()
    assert not w.messages, w.messages
    qtbot.waitUntil(lambda: w.controller.state == "running", timeout=WAIT_MS)


def _stop_and_finish(qtbot, w, proc) -> None:
    """Stop the attached run (the window holds its key) and see the served process end well."""
    w.actions["stop"].trigger()
    qtbot.waitUntil(lambda: w.controller.state == "finished", timeout=WAIT_MS)
    rc, err = finish(proc, 30)
    assert rc == 0, err[-2000:]


@pytest.mark.timeout(180)
def test_connect_to_a_served_run_watch_pause_and_stop_only_with_the_key(qtbot, window, tmp_path):
    proc, address = serve_simple(tmp_path / "served", "--serve", "tcp://127.0.0.1:0")
    w = window
    try:
        # without the key: it shows, but its stop is refused and the run goes on
        _connect(qtbot, w, address)
        assert w.controller.attached
        assert w.windowTitle() == "simple — running — mimoCoRB"  # the served setup, by its name
        scope, rates = w.docks["oscilloscope:oscilloscope"], w.docks["rates"]
        qtbot.waitUntil(lambda: scope.frames >= 2, timeout=WAIT_MS)
        qtbot.waitUntil(
            lambda: rates.history["Waveforms"] and max(rates.history["Waveforms"]) > 0, timeout=WAIT_MS
        )
        w.grab().save(str(tmp_path / "connected.png"))
        errors = []
        w.controller.error_logged.connect(errors.append)
        w.actions["stop"].trigger()
        qtbot.waitUntil(lambda: bool(errors), timeout=WAIT_MS)
        assert "does not hold the run's key" in errors[0].message
        qtbot.wait(1000)
        assert w.controller.state == "running" and proc.poll() is None
        w.controller.detach()  # the served run goes on
        assert w.controller.state == "ready" and not w.controller.attached
        qtbot.wait(500)
        assert proc.poll() is None

        # with the key: pause, resume, stop
        key_file = next((tmp_path / "served").glob("run_*/control.key"))
        _connect(qtbot, w, address, str(key_file))
        w.actions["pause"].trigger()
        qtbot.waitUntil(lambda: w.controller.state == "paused", timeout=WAIT_MS)
        qtbot.waitUntil(lambda: w.docks["buffers"].model.state_of("Waveforms") == "paused", timeout=WAIT_MS)
        w.actions["resume"].trigger()
        qtbot.waitUntil(lambda: w.controller.state == "running", timeout=WAIT_MS)
        _stop_and_finish(qtbot, w, proc)
    finally:
        if proc.poll() is None:
            proc.kill()


@pytest.mark.timeout(180)
def test_the_histogram_dock_of_an_attached_window_shows_the_served_counts(
    qtbot, window, tmp_path, monkeypatch
):
    """The dock reads through the RunSource: no file of the served run directory is opened here."""
    from mimocorb_gui.core import histfeed
    from mimocorb_gui.core.livehist import read_histograms

    def no_local_files(self):
        raise AssertionError(f"the attached window read histogram files in {self.run_dir}")

    monkeypatch.setattr(histfeed.HistogramFeed, "read", no_local_files)
    served = tmp_path / "served"
    proc, address = serve_simple(served, "--serve", ipc_address(tmp_path, "serve"))
    w = window
    try:
        _connect(qtbot, w, address, str(next(served.glob("run_*/control.key"))))
        hist = w.docks["histogram:histogram"]
        hist.raise_()
        assert hist.feed.kind == "remote"
        qtbot.waitUntil(lambda: hist.data.get("peak_heights", (0, 0, 0))[2] >= 10, timeout=WAIT_MS)
        qtbot.wait(600)  # one more refresh drawn
        assert "entries" in hist.entries_label.text() and not hist.empty.visible
        hist.grab().save(str(tmp_path / "attached_histogram.png"))
        _stop_and_finish(qtbot, w, proc)
    finally:
        if proc.poll() is None:
            proc.kill()
    files = read_histograms(next(served.glob("run_*")), "Pulses")
    for ch, (_edges, counts) in files.items():  # the dock kept the final counts it was sent
        assert np.array_equal(hist.data[ch][1], counts), ch
