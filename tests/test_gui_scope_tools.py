"""Oscilloscope tools driven by their named actions: cursors, single shot, refresh rate, Auto Y with persistence."""

from __future__ import annotations

import numpy as np
import pytest
from plot_files import check_png, check_svg

from mimocorb_gui.ui.docks.oscilloscope import OscilloscopeDock

WAVE = np.dtype([("chA", "f4"), ("chB", "f4")])
META = np.array([(1, 0.0, 0.0)], dtype=[("counter", "<i8"), ("timestamp", "<f8"), ("deadtime", "<f8")])
CFG = {
    "t_scaling": [0.008, 0, "µs"],
    "y_scaling": [1, 0, "V"],
    "trigger_level": -0.05,
    "update_interval": 0.5,
}


def event(height: float, counter: int, n: int = 1000) -> tuple[np.ndarray, np.ndarray]:
    data = np.zeros(n, WAVE)
    t = np.arange(n)
    data["chA"] = -height * np.exp(-0.5 * ((t - 300) / 5.0) ** 2)
    meta = META.copy()
    meta["counter"] = counter
    return meta, data


class FakeObserver:
    """Hands out queued events the way core.ringbuffer's observer does (newest copy, count of new ones)."""

    def __init__(self, events):
        self.events = list(events)

    def new_events(self):
        return len(self.events)

    def get(self):
        return self.events.pop(0)


class FakeController:
    def __init__(self, observer):
        self._observer = observer

    def observer(self, buffer):
        return self._observer


def make_scope(qtbot):
    dock = OscilloscopeDock("scope", "RawPulses", CFG, WAVE, 1000)
    qtbot.addWidget(dock)
    dock.resize(900, 500)
    dock.show()
    dock._running = True
    return dock


def test_cursors_read_dt_inverse_dt_and_dv(qtbot):
    dock = make_scope(qtbot)
    dock.show_event(*event(0.3, 1))
    dock.actions["cursors"].trigger()
    assert all(line.isVisible() for line in dock.cursors.time_lines + dock.cursors.level_lines)
    dock.cursors.set_positions(1.0, 3.2, -0.25, 0.05)
    assert dock.cursor_label.text() == "Δt = 2.2 µs   1/Δt = 0.4545 MHz   ΔV = 0.3 V"
    dock.cursors.time_lines[1].setValue(1.5)  # dragged
    assert "Δt = 0.5 µs   1/Δt = 2 MHz" in dock.cursor_label.text()
    dock.actions["cursors"].trigger()
    assert dock.cursor_label.text() == "" and not dock.cursors.time_lines[0].isVisible()


def test_single_shot_shows_the_next_triggering_event_and_holds(qtbot):
    dock = make_scope(qtbot)
    small, big, later = event(0.02, 1), event(0.3, 2), event(0.4, 3)  # 0.02 V stays above -0.05 V
    dock.controller = FakeController(FakeObserver([small, big, later]))
    dock.actions["single"].trigger()
    assert "armed" in dock.status.text()
    assert dock.update_frame() is False  # no crossing: not shown
    assert dock.update_frame() is True and dock.last_counter == 2
    assert dock.actions["freeze"].isChecked() and not dock.actions["single"].isChecked()
    assert dock.update_frame() is False and dock.last_counter == 2  # held
    dock.controller = None


def test_refresh_rate_chosen_in_the_dock_overrides_the_setup_for_display(qtbot):
    dock = make_scope(qtbot)
    assert dock.timer.interval() == 500 and "setup (0.5 s)" in dock.actions["refresh:setup"].text()
    dock.actions["refresh:0.05"].trigger()
    assert dock.timer.interval() == 50 and dock.settings()["refresh"] == 0.05
    assert "every 0.05 s" in dock.status.text()
    again = make_scope(qtbot)
    again.apply_settings(dock.settings())
    assert again.timer.interval() == 50 and again.actions["refresh:0.05"].isChecked()
    again.actions["refresh:setup"].trigger()
    assert again.timer.interval() == 500


def test_auto_y_keeps_the_persistence_traces_inside(qtbot):
    dock = make_scope(qtbot)
    dock.persistence.setValue(5)
    dock.show_event(*event(0.6, 1))  # a big pulse, then small ones
    for i in range(3):
        dock.show_event(*event(0.05, 2 + i))
    lo, _hi = dock.plot.viewRange()[1]
    assert lo < -0.6  # the big pulse is still drawn as a persistence trace: Auto Y keeps it in view
    dock.persistence.setValue(0)
    dock.show_event(*event(0.05, 9))
    assert dock.plot.viewRange()[1][0] == pytest.approx(-0.05 - 0.08 * 0.05, abs=0.01)


def test_recorded_events_stepped_first_prev_next_last_and_jump(qtbot, tmp_path):
    from mimocorb_gui.core.mimofile import MimoWriter

    run = tmp_path / "run"
    run.mkdir()
    with MimoWriter(run / "RawPulses.mimo", WAVE, 1000, source_buffer="RawPulses") as w:
        for counter in (3, 5, 8, 13):
            meta, data = event(0.1 * counter / 13, counter)
            w.write(meta, data)
    dock = make_scope(qtbot)
    other = OscilloscopeDock("scope2", "AcceptedPulses", CFG, WAVE, 1000)
    qtbot.addWidget(other)
    assert not other.open_run(run) and "RawPulses (RawPulses.mimo)" in other.empty.label.text()
    assert dock.open_run(run) and dock.recording_bar.isVisibleTo(dock)
    assert dock.last_counter == 3 and "event 1 of 4" in dock.recording_label.text()
    assert not dock.actions["rec_prev"].isEnabled()
    dock.actions["rec_next"].trigger()
    assert dock.last_counter == 5
    assert dock.curves["chA"].yData.min() == pytest.approx(-0.1 * 5 / 13, rel=1e-5)
    dock.actions["rec_last"].trigger()
    assert dock.last_counter == 13 and not dock.actions["rec_next"].isEnabled()
    dock.actions["rec_prev"].trigger()
    assert dock.last_counter == 8
    dock.actions["rec_first"].trigger()
    assert dock.last_counter == 3
    dock.counter_box.setValue(6)  # not recorded: the next one
    dock.actions["rec_jump"].trigger()
    assert dock.last_counter == 8
    assert "recorded" in dock.windowTitle()
    dock.run_started(tmp_path)  # a live run takes over
    assert dock.recording is None and not dock.recording_bar.isVisibleTo(dock)
    dock.run_finished("stopped", None)


def test_units_of_the_buffer_label_the_y_axis_when_the_config_has_no_y_scaling(qtbot):
    from mimocorb_gui.core.units import FieldUnit

    units = {"chA": FieldUnit("mV", 1000.0), "chB": FieldUnit("mV", 1000.0)}
    dock = OscilloscopeDock("scope", "raw", {}, WAVE, 1000, units=units)
    qtbot.addWidget(dock)
    dock._running = True
    dock.show_event(*event(0.3, 1))
    assert dock.plot.getAxis("left").labelText == "Signal [mV]"
    assert dock.curves["chA"].yData.min() == pytest.approx(-300, rel=1e-4)
    scaled = OscilloscopeDock("scope", "raw", {"y_scaling": [1, 0, "V"]}, WAVE, 1000, units=units)
    qtbot.addWidget(scaled)
    assert scaled.plot.getAxis("left").labelText == "Signal [V]"  # the config's y_scaling wins


def test_save_writes_the_traces_and_the_plot_into_the_run_directory(qtbot, tmp_path):
    dock = make_scope(qtbot)
    dock.setup_name = "muon_lifetime"
    dock.run_started(tmp_path / "run7")
    dock.timer.stop()
    dock.show_event(*event(0.3, 42))
    dock.actions["save"].trigger()
    folder = tmp_path / "run7" / "analysis"
    assert sorted(p.name for p in folder.iterdir()) == [
        "scope_event42.csv",
        "scope_event42.png",
        "scope_event42.svg",
    ]
    lines = (folder / "scope_event42.csv").read_text().splitlines()
    assert "# run: run7" in lines and "# setup: muon_lifetime" in lines
    assert lines[5] == "time [µs],chA [V],chB [V]" and len(lines) == 6 + 1000
    assert float(lines[6 + 300].split(",")[1]) == pytest.approx(-0.3, rel=1e-5)
    check_png(folder / "scope_event42.png", dock.plot_widget)
    check_svg(folder / "scope_event42.svg", dock.plot_widget, "run run7")
    assert dock.plot.titleLabel.maximumHeight() == 0  # the caption was there for the files only
    dock.run_finished("stopped", tmp_path / "run7")
