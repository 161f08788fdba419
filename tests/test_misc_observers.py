"""observers.oscilloscope / histogram (config parsing, headless behaviour) and the visualizers alias."""

from __future__ import annotations

import logging
import re
import textwrap
import time

import numpy as np
import pytest

from mimocorb_gui.core.livehist import BinSpec
from mimocorb_gui.core.loader import function_doc, load_function
from mimocorb_gui.functions import observers, visualizers
from mimocorb_gui.functions.observers import (
    DEFAULT_COLORS,
    OscilloscopeConfig,
    Scaling,
    check_histogram_config,
    check_oscilloscope_config,
    normalize_color,
    parse_histogram_config,
    parse_oscilloscope_config,
)

WAVE = np.dtype([("chA", "f4"), ("chB", "f4"), ("chC", "f4"), ("chD", "f4")])


def test_oscilloscope_defaults_follow_the_manual():
    cfg = parse_oscilloscope_config({}, WAVE)
    assert cfg == OscilloscopeConfig(
        channels=("chA", "chB", "chC", "chD"),
        ylim=None,
        t_scaling=Scaling(1.0, 0.0, "Samples"),
        y_scaling=Scaling(1.0, 0.0, "Value"),
        trigger_level=None,
        update_interval=1.0,
        colors=dict(zip(("chA", "chB", "chC", "chD"), DEFAULT_COLORS, strict=False)),
    )
    assert parse_oscilloscope_config(None, WAVE) == cfg


def test_oscilloscope_config_is_parsed_and_normalized():
    cfg = parse_oscilloscope_config(
        {
            "ylim": (-1, 0.5),
            "t_scaling": [0.004, -0.4, "µs"],
            "y_scaling": (1000, 0),
            "channels": ["chC", "chA"],
            "trigger_level": -50,
            "update_interval": 0.2,
            "colors": ["orange", [0, 128, 255]],
        },
        WAVE,
    )
    assert cfg.channels == ("chC", "chA") and cfg.ylim == (-1.0, 0.5)
    assert cfg.t_scaling == Scaling(0.004, -0.4, "µs") and cfg.y_scaling == Scaling(1000.0, 0.0, "Value")
    assert cfg.trigger_level == -50.0 and cfg.update_interval == 0.2
    assert cfg.colors == {"chC": "#ffa500", "chA": "#0080ff"}
    assert np.allclose(cfg.time_axis(3), [-0.4, -0.396, -0.392])
    assert np.allclose(cfg.y_scaling.apply([0.001, 0.002]), [1.0, 2.0])
    assert parse_oscilloscope_config({"channels": "chB", "colors": {"chB": "r"}}, WAVE).colors == {
        "chB": "#ff0000"
    }


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"ylim": [1]}, "config 'ylim' must be [min, max] with min < max, or null"),
        ({"ylim": [1, 0]}, "config 'ylim' must be [min, max] with min < max"),
        ({"t_scaling": [0, 0, "s"]}, "config 't_scaling' must be [scaling, offset, unit] with a non-zero scaling, e.g. [1, 0, 'Samples']"),
        ({"y_scaling": "mV"}, "config 'y_scaling' must be [scaling, offset, unit]"),
        ({"channels": ["chA", "chX"]}, "config 'channels': 'chX' is not a field of the buffer (fields: chA, chB, chC, chD)"),
        ({"channels": 5}, "config 'channels' must be a list of field names"),
        ({"trigger_level": "high"}, "config 'trigger_level' must be a number"),
        ({"update_interval": 0}, "config 'update_interval' must be a number of seconds > 0"),
        ({"colors": ["nocolour"]}, "config 'colors' of 'chA': 'nocolour' is not a colour"),
        ({"colors": {"chZ": "red"}}, "config 'colors': 'chZ' is not a shown channel"),
    ],
)  # fmt: skip
def test_oscilloscope_config_errors_name_the_key_and_the_choices(config, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_oscilloscope_config(config, WAVE)
    assert len(check_oscilloscope_config(config, WAVE)) == 1


def test_check_lists_every_problem():
    problems = check_oscilloscope_config({"ylim": 3, "update_interval": -1, "channels": ["x"]}, WAVE)
    assert len(problems) == 3
    assert check_oscilloscope_config({"ylim": [0, 1]}, WAVE) == []
    assert check_oscilloscope_config({"channels": ["anything"]}, None) == []  # no dtype: names not checked


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("orange", "#ffa500"),
        ("Dark Green", "#006400"),
        ("k", "#000000"),
        ("C1", DEFAULT_COLORS[1]),
        ("#F80", "#ff8800"),
        ("ff880080", "#ff880080"),
        ([255, 0, 16], "#ff0010"),
        ((1, 2, 3, 4), "#01020304"),
    ],
)
def test_normalize_color(value, expected):
    assert normalize_color(value) == expected


@pytest.mark.parametrize("value", ["", "#12345", "nope", [256, 0, 0], [1.0, 0, 0], None, 3])
def test_normalize_color_rejects(value):
    with pytest.raises(ValueError, match="is not a colour"):
        normalize_color(value)


def test_histogram_display_config():
    dtype = np.dtype([("decay_time", "f8"), ("height", "f8")])
    cfg = parse_histogram_config({}, dtype)
    assert cfg.bins is None and cfg.channels is None and cfg.plot_type == "step" and not cfg.log_y
    assert list(cfg.colors) == ["decay_time", "height"]
    cfg = parse_histogram_config(
        {"bins": {"decay_time": (0, 8, 40)}, "channels": ["decay_time"], "log_y": True, "plot_type": "Bar"},
        dtype,
    )
    assert cfg.bins == {"decay_time": BinSpec(0.0, 8.0, 40)} and cfg.plot_type == "bar" and cfg.log_y
    # mimoCoRB2's visualizers.csv keys are understood
    assert parse_histogram_config({"histtype": "stepfilled", "filename": "x"}, dtype).plot_type == "bar"
    problems = check_histogram_config(
        {"bins": {"decay_time": [8, 0, 4]}, "plot_type": "pie", "log_y": "yes", "channels": ["nope"]}, dtype
    )
    text = "; ".join(problems)
    assert "bins.decay_time: min must be below max" in text
    assert "config 'plot_type' must be one of 'step', 'line', 'bar', got 'pie'" in text
    assert "config 'log_y' must be true or false" in text and "'nope' is not a field" in text
    assert "have no bins" in "; ".join(
        check_histogram_config({"bins": {"height": [0, 1, 2]}, "channels": ["decay_time"]}, dtype)
    )


def test_display_functions_documented_and_aliased():
    for name in ("observers.oscilloscope", "observers.histogram"):
        doc = function_doc(name)
        assert doc.documented and doc.type == "Observer" and doc.observes.startswith("1")
    keys = [c.key for c in function_doc("observers.oscilloscope").configs]
    assert keys == [
        "ylim",
        "t_scaling",
        "y_scaling",
        "channels",
        "trigger_level",
        "update_interval",
        "colors",
    ]
    assert function_doc("observers.oscilloscope").config("update_interval").default == "1"
    assert load_function(None, "visualizers.histogram") is observers.histogram
    assert load_function(None, "visualizers.csv") is observers.histogram
    assert visualizers.histogram is observers.histogram
    assert function_doc("misc.copy").type == "Filter"


# ---------------------------------------------------------------------------------------------
# headless runs


SETUP = """
    Buffers:
      Waves: {slot_count: 16, data_length: 200, data_dtype: {chA: float32, chB: float32}}
      Params: {slot_count: 16, data_length: 1, data_dtype: {decay_time: float64}}
    Workers:
      source:
        function: simulators.muon_pulses
        sinks: [Waves]
        config: {rate: %(rate)s, number_of_events: %(n)s, seed: 1}
      drain: {function: exporters.drain, sources: [Waves]}
      scope:
        function: observers.oscilloscope
        observes: [Waves]
        config: %(scope)s
      spectrum: {function: observers.histogram, observes: [Waves], config: {bins: {chA: [-1, 0, 10]}}}
      old_view: {function: visualizers.histogram, observes: [Params]}
"""


def _run(tmp_path, rate=0, n=200, scope="{t_scaling: [0.004, 0, us], colors: [red, blue]}"):
    from mimocorb_gui.core.run import Run
    from mimocorb_gui.core.setup import Setup

    (tmp_path / "setup.yaml").write_text(textwrap.dedent(SETUP % {"rate": rate, "n": n, "scope": scope}))
    return Run(Setup.load(tmp_path / "setup.yaml"), run_root=tmp_path / "runs")


def _log(run, level=logging.DEBUG) -> str:
    return "\n".join(e.format() for e in run.log_history() if e.levelno >= level)


@pytest.mark.timeout(60)
def test_displays_end_with_the_pipeline_and_say_so_once(tmp_path):
    run = _run(tmp_path)
    try:
        run.start()
        assert run.wait(30), _log(run)
    finally:
        run.close()
    assert run.state == "finished", _log(run)
    log = _log(run, logging.INFO)
    for worker, function, buffer in (
        ("scope", "observers.oscilloscope", "Waves"),
        ("spectrum", "observers.histogram", "Waves"),
        ("old_view", "observers.histogram", "Params"),  # a buffer nobody writes is closed at once
    ):
        line = f"[{worker}] {function} of buffer '{buffer}' is display-only"
        assert log.count(line) == 1, log
    assert log.count("display-only") == 3


@pytest.mark.timeout(60)
def test_displays_idle_without_cpu_and_stop_with_the_run(tmp_path):
    run = _run(tmp_path, rate=200, n=-1)
    try:
        run.start()
        time.sleep(1.0)
        run.stats()  # starts the CPU measurement interval
        time.sleep(1.5)
        stats = run.stats()
        assert stats.workers["scope"].alive == 1 and stats.workers["spectrum"].alive == 1
        assert stats.workers["scope"].cpu_percent < 5 and stats.workers["spectrum"].cpu_percent < 5
        t0 = time.monotonic()
        assert run.stop(timeout=10), _log(run)
        assert time.monotonic() - t0 < 3
    finally:
        run.close()
    assert run.state == "finished" and not _log(run, logging.ERROR)


@pytest.mark.timeout(60)
def test_invalid_display_config_is_an_error_before_the_start(tmp_path):
    from mimocorb_gui.core.run import SetupInvalid

    with pytest.raises(SetupInvalid) as exc:
        _run(tmp_path, scope="{ylim: [1], channels: [chQ]}")
    errors = str(exc.value)
    assert "Workers.scope.config" in errors
    assert "config 'ylim' must be [min, max]" in errors
    assert "'chQ' is not a field of the buffer (fields: chA, chB)" in errors
    assert not (tmp_path / "runs").exists()  # nothing started


@pytest.mark.timeout(60)
def test_invalid_display_config_still_fails_the_worker_with_the_key(tmp_path):
    """A setup validated without function checks (or edited after) still fails loudly in the worker."""
    from unittest import mock

    from mimocorb_gui.core.setup import Setup

    original = Setup.validate
    with mock.patch.object(Setup, "validate", lambda self, check_functions=True: original(self, False)):
        run = _run(tmp_path, scope="{ylim: [1], channels: [chQ]}")
        try:
            run.start()
            assert run.wait(30)
        finally:
            run.close()
    errors = _log(run, logging.ERROR)
    assert "worker 'scope': config 'ylim' must be [min, max]" in errors
    assert "'chQ' is not a field of the buffer (fields: chA, chB)" in errors
    assert "'chQ' is not a field of the buffer (fields: chA, chB)" in errors
