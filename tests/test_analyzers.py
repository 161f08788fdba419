"""Pulse height analysis: find_pulse_peaks on synthetic pulses, and the pha worker on real ring buffers."""

from __future__ import annotations

import numpy as np
import pytest
from ring_helpers import drain as _drain
from ring_helpers import rings

from mimocorb_gui.core.bufferio import BufferIO
from mimocorb_gui.functions import analyzers
from mimocorb_gui.functions.analyzers import (
    PEAK_FIELDS,
    available_peak_fields,
    find_pulse_peaks,
    sink_field_problems,
)


def gaussian_pulses(n: int, positions, heights, sigma: float = 3.0) -> np.ndarray:
    x = np.arange(n, dtype=np.float64)
    wave = np.zeros(n)
    for p, h in zip(positions, heights, strict=True):
        wave += h * np.exp(-0.5 * ((x - p) / sigma) ** 2)
    return wave


def test_finds_known_positions_and_heights():
    positions, heights = [100, 350, 600, 900], [1.0, 0.25, 2.5, 0.7]
    wave = gaussian_pulses(1000, positions, heights)
    peaks = find_pulse_peaks(wave, {"height": 0.1})
    assert peaks["position"].tolist() == positions
    assert peaks["peak_heights"] == pytest.approx(heights, rel=1e-9)
    assert peaks.dtype.names == ("position", "peak_heights")
    assert peaks["position"].dtype == np.int64


def test_height_threshold_and_noise():
    rng = np.random.default_rng(1)
    wave = gaussian_pulses(2000, [300, 1200], [1.0, 0.5]) + rng.normal(0, 0.01, 2000)
    peaks = find_pulse_peaks(wave, {"height": 0.2, "distance": 50})
    assert len(peaks) == 2
    assert np.abs(peaks["position"] - [300, 1200]).max() <= 2
    assert peaks["peak_heights"] == pytest.approx([1.0, 0.5], abs=0.04)
    assert len(find_pulse_peaks(wave, {"height": 0.7, "distance": 50})) == 1
    assert len(find_pulse_peaks(wave, {"height": [0.2, 0.7], "distance": 50})) == 1  # YAML [min, max]


def test_widths_prominences_and_invert():
    sigma = 4.0
    wave = -gaussian_pulses(500, [120, 330], [0.8, 0.4], sigma=sigma) + 0.05
    peaks = find_pulse_peaks(wave, {"invert": True, "height": 0.1, "width": 1, "prominence": 0.1})
    assert peaks["position"].tolist() == [120, 330]
    assert peaks["peak_heights"] == pytest.approx([0.75, 0.35], abs=1e-6)  # of -waveform
    assert peaks["prominences"] == pytest.approx([0.8, 0.4], abs=1e-3)
    assert peaks["widths"] == pytest.approx([2.3548 * sigma] * 2, rel=0.01)  # FWHM at rel_height 0.5
    assert peaks["left_ips"] == pytest.approx([120 - 1.1774 * sigma, 330 - 1.1774 * sigma], abs=0.05)
    full = find_pulse_peaks(wave, {"invert": True, "height": 0.1, "width": 1, "rel_height": 1.0})
    assert np.all(full["widths"] > peaks["widths"])


def test_plateau_and_thresholds():
    wave = np.zeros(100)
    wave[20:25] = 1.0  # flat top of 5 samples
    wave[60] = 0.5
    peaks = find_pulse_peaks(wave, {"plateau_size": 1})
    assert peaks["position"].tolist() == [22, 60]
    assert peaks["plateau_sizes"].tolist() == [5, 1]
    assert peaks["left_edges"].tolist() == [20, 60] and peaks["right_edges"].tolist() == [24, 60]
    # threshold: vertical distance to both neighbours (a flat top has 0)
    peaks = find_pulse_peaks(wave, {"threshold": 0.1})
    assert peaks["position"].tolist() == [60]
    assert peaks["left_thresholds"].tolist() == [0.5] and peaks["right_thresholds"].tolist() == [0.5]


def test_no_peaks_gives_empty_array_with_fields():
    peaks = find_pulse_peaks(np.zeros(50, dtype=np.int16), {"height": 1, "width": 1})
    assert len(peaks) == 0
    assert set(peaks.dtype.names) == {"position", "peak_heights", "prominences", "left_bases", "right_bases",
                                      "widths", "width_heights", "left_ips", "right_ips"}  # fmt: skip


def test_available_fields_follow_config():
    assert available_peak_fields({}) == ["position"]
    assert "prominences" in available_peak_fields({"width": 2})  # find_peaks computes them for widths
    assert set(available_peak_fields({k: 1 for k in analyzers.FIND_PEAKS_KEYS})) == set(PEAK_FIELDS)
    assert "peak_heights" in available_peak_fields({"height": [None, None]})


def test_sink_field_problems_name_field_and_key():
    problems = sink_field_problems(["position", "peak_heights", "widths", "energy"], {"prominence": 0.1})
    assert len(problems) == 3
    assert "field 'peak_heights' needs config 'height'" in problems[0]
    assert "field 'widths' needs config 'width'" in problems[1]
    assert "field 'energy' is not a peak property" in problems[2]
    assert sink_field_problems(["left_bases"], {"width": 1}) == []


# ---------------------------------------------------------------------------------------------
# the worker on real ring buffers


def _fill(rb, waves, field="ch1"):
    writer = rb.writer()
    for i, wave in enumerate(waves):
        with writer as (meta, data):
            meta[0] = (i, 1000.0 + i, 0.25 * i)
            data[field] = wave
    writer.close()


@pytest.mark.parametrize(
    "all_peaks, expected",
    [
        # mimoCoRB2's pha returns from inside its loop over the peaks: the first peak only
        (None, [(0, 50, 1.0), (1, 40, 0.5), (3, 300, 2.0)]),
        (False, [(0, 50, 1.0), (1, 40, 0.5), (3, 300, 2.0)]),
        (True, [(0, 50, 1.0), (1, 40, 0.5), (1, 200, 1.5), (1, 330, 0.9), (3, 300, 2.0)]),
    ],
)
def test_pha_worker_first_peak_or_every_peak(all_peaks, expected):
    waves = [
        gaussian_pulses(400, [50], [1.0]),
        gaussian_pulses(400, [40, 200, 330], [0.5, 1.5, 0.9]),
        np.zeros(400),
        gaussian_pulses(400, [300], [2.0]),
    ]
    src_dtype = {"ch0": "float32", "ch1": "float32"}
    out_dtype = {"position": "int32", "peak_heights": "float64", "widths": "float32"}
    config = {"channel": "ch1", "height": 0.2, "width": 1}
    if all_peaks is not None:
        config["all_peaks"] = all_peaks
    with rings(("src", 8, 400, src_dtype), ("peaks", 16, 1, out_dtype)) as (src, sink):
        _fill(src, waves)
        io = BufferIO("pha", [src.reader()], [sink.writer()], [], config=config)
        analyzers.pha(io)
        assert sink.closed
        events = _drain(sink)
    counters = [int(m["counter"][0]) for m, _ in events]
    assert counters == [c for c, _, _ in expected]  # metadata of the waveform each peak came from
    assert [float(m["timestamp"][0]) for m, _ in events] == [1000.0 + c for c, _, _ in expected]
    assert [int(d["position"][0]) for _, d in events] == [p for _, p, _ in expected]
    assert [float(d["peak_heights"][0]) for _, d in events] == pytest.approx(
        [h for _, _, h in expected], rel=1e-6
    )
    assert all(float(d["widths"][0]) == pytest.approx(2.3548 * 3, rel=0.02) for _, d in events)


def test_pha_default_channel_is_first_field():
    with rings(("src", 4, 100, {"a": "float64", "b": "float64"}), ("out", 4, 1, {"position": "int64"})) as (
        src,
        sink,
    ):
        _fill(src, [gaussian_pulses(100, [30], [1.0])], field="a")
        analyzers.pha(BufferIO("pha", [src.reader()], [sink.writer()], [], config={"height": 0.5}))
        assert [int(d["position"][0]) for _, d in _drain(sink)] == [30]


@pytest.mark.parametrize(
    ("config", "sink_dtype", "length", "message"),
    [
        (
            {"height": 0.1},
            {"position": "i8", "widths": "f8"},
            1,
            "sink 'out': field 'widths' needs config 'width'",
        ),
        ({}, {"peak_heights": "f8"}, 1, "field 'peak_heights' needs config 'height'"),
        ({"height": 0.1}, {"energy": "f8"}, 1, "field 'energy' is not a peak property"),
        ({"height": 0.1}, {"position": "i8"}, 4, "data_length must be 1"),
        ({"channel": "chX"}, {"position": "i8"}, 1, r"'chX' is not a field of source 'src' \(fields: a, b\)"),
        ({"distance": 0}, {"position": "i8"}, 1, "invalid find_peaks config"),
    ],
)
def test_pha_validates_before_running(config, sink_dtype, length, message):
    with rings(("src", 2, 50, {"a": "f4", "b": "f4"}), ("out", 2, length, sink_dtype)) as (src, sink):
        io = BufferIO("pha", [src.reader()], [sink.writer()], [], config=config)
        with pytest.raises(ValueError, match=message):
            analyzers.pha(io)


def test_pha_docstring_template():
    doc = analyzers.pha.__doc__
    assert doc.startswith("mimoCoRB2 Function: Pulse Height Analysis")
    for key in ("channel", *analyzers.FIND_PEAKS_KEYS):
        assert f"\n    {key} : " in doc
