"""data.export / simulate_importer / clocked_importer: in-process on ring buffers, and whole runs."""

from __future__ import annotations

import logging
import textwrap
import threading
import time

import numpy as np
import pytest
from ring_helpers import drain as _drain
from ring_helpers import rings
from waiting import wait_until

from mimocorb_gui.core.bufferio import BufferIO, StopFlag
from mimocorb_gui.core.mimofile import METADATA_DTYPE, MimoWriter, read_mimo
from mimocorb_gui.functions import data as data_functions

WAVE = {"chA": "float32", "chB": "int16"}


def _fill(rb, n, seed=0):
    rng = np.random.default_rng(seed)
    writer = rb.writer()
    sent = []
    for i in range(n):
        with writer as (meta, data):
            meta[0] = (i, 100.0 + 0.01 * i, 1e-4 * i)
            data["chA"] = rng.normal(size=rb.data_length)
            data["chB"] = rng.integers(-1000, 1000, rb.data_length)
            sent.append((meta.copy(), data.copy()))
    writer.close()
    return sent


def _mimo_file(path, n, length=8, timestamps=None, dtype=None):
    dtype = np.dtype(list((dtype or WAVE).items()))
    rng = np.random.default_rng(5)
    events = []
    with MimoWriter(path, dtype, length) as w:
        for i in range(n):
            meta = np.zeros(1, METADATA_DTYPE)
            meta[0] = (i, 50.0 + (timestamps[i] if timestamps is not None else i), 0.0)
            data = np.zeros(length, dtype)
            for name in dtype.names:
                data[name] = rng.integers(-100, 100, length)
            w.write(meta, data)
            events.append(data)
    return events


# ---------------------------------------------------------------------------------------------
# export


def test_export_writes_source_buffer_to_mimo_and_passes_through(tmp_path):
    with rings(("InputBuffer", 64, 16, WAVE), ("Copy", 64, 16, WAVE)) as (src, copy):
        sent = _fill(src, 40)
        io = BufferIO("export", [src.reader()], [copy.writer()], [], config={}, run_dir=tmp_path / "run")
        data_functions.export(io)
        copied = _drain(copy)
    metadata, data, header = read_mimo(tmp_path / "run" / "InputBuffer.mimo")
    assert header["source_buffer"] == "InputBuffer" and header["source_worker"] == "export"
    assert metadata.tobytes() == np.concatenate([m for m, _ in sent]).tobytes()
    assert data.tobytes() == np.stack([d for _, d in sent]).tobytes()
    assert len(copied) == 40 and copied[-1][1].tobytes() == sent[-1][1].tobytes()


def test_export_second_process_gets_own_file_and_filename_config(tmp_path):
    with rings(("B", 8, 4, WAVE), ("B2", 8, 4, WAVE)) as (b, b2):
        _fill(b, 3)
        _fill(b2, 5)
        data_functions.export(BufferIO("e", [b.reader()], [], [], run_dir=tmp_path))
        data_functions.export(
            BufferIO("e", [b2.reader()], [], [], config={"filename": "B.mimo"}, run_dir=tmp_path)
        )
    assert len(read_mimo(tmp_path / "B.mimo")[0]) == 3
    assert len(read_mimo(tmp_path / "B_1.mimo")[0]) == 5


def test_export_rejects_paths_as_filename(tmp_path):
    with rings(("B", 2, 4, WAVE)) as (b,):
        io = BufferIO("e", [b.reader()], [], [], config={"filename": "../elsewhere"}, run_dir=tmp_path)
        with pytest.raises(ValueError, match="plain file name"):
            data_functions.export(io)


def test_export_file_readable_while_running(tmp_path):
    """Flushed at least every flush_interval: a reader sees the events while the exporter still waits."""
    with rings(("Live", 16, 4, WAVE)) as (src,):
        writer = src.writer()
        io = BufferIO("e", [src.reader()], [], [], config={"flush_interval": 0.1}, run_dir=tmp_path)
        thread = threading.Thread(target=data_functions.export, args=(io,))
        thread.start()
        try:
            for i in range(3):
                with writer as (meta, _data):
                    meta[0] = (i, 0.0, 0.0)
            path = tmp_path / "Live.mimo"
            wait_until(lambda: path.exists() and len(read_mimo(path)[0]) == 3, what="3 events in the file")
        finally:
            writer.close()
            thread.join(10)
    assert not thread.is_alive()


# ---------------------------------------------------------------------------------------------
# importers from files


def _timestamps(events):
    return np.array([float(m["timestamp"][0]) for m, _ in events])


def test_clocked_importer_uniform_rate_and_content(tmp_path):
    sent = _mimo_file(tmp_path / "rec.mimo", 30)
    with rings(("S", 40, 8, WAVE)) as (sink,):
        io = BufferIO(
            "c", [], [sink.writer()], [], config={"filename": "rec.mimo", "rate": 200}, setup_dir=tmp_path
        )
        t0 = time.monotonic()
        data_functions.clocked_importer(io)
        elapsed = time.monotonic() - t0
        got = _drain(sink)
    assert len(got) == 30
    assert all(g.tobytes() == s.tobytes() for (_, g), s in zip(got, sent, strict=True))
    assert [int(m["counter"][0]) for m, _ in got] == list(range(30))
    assert 0.12 < elapsed < 0.6
    gaps = np.diff(_timestamps(got))
    assert gaps.mean() == pytest.approx(0.005, rel=0.2)
    assert gaps.std() < 0.3 * gaps.mean()


def test_clocked_importer_poisson_waiting_times(tmp_path):
    _mimo_file(tmp_path / "rec.mimo", 50)
    with rings(("S", 310, 8, WAVE)) as (sink,):
        io = BufferIO(
            "c",
            [],
            [sink.writer()],
            [],
            config={
                "filename": "rec.mimo",
                "rate": 500,
                "distribution": "poisson",
                "repeat": True,
                "seed": 1,
            },
            setup_dir=tmp_path,
            stop_flag=StopFlag(),
        )
        threading.Timer(0.6, io.stop_flag.set).start()
        data_functions.clocked_importer(io)
        got = _drain(sink)
    assert 150 < len(got) < 450  # ~300 events: the 50-event file repeated
    assert got[50][1].tobytes() == got[0][1].tobytes()
    gaps = np.diff(_timestamps(got))
    assert gaps.std() / gaps.mean() == pytest.approx(1.0, abs=0.35)  # exponential: CV = 1


def test_simulate_importer_replays_recorded_timing(tmp_path):
    offsets = [0.0, 0.1, 0.12, 0.3, 0.31, 0.5]
    (tmp_path / "sub").mkdir()
    sent = _mimo_file(tmp_path / "sub" / "rec.mimo", 6, timestamps=offsets)
    for speed in (1.0, 2.0):
        with rings(("S", 8, 8, WAVE)) as (sink,):
            io = BufferIO(
                "s",
                [],
                [sink.writer()],
                [],
                config={"filename": "sub/rec.mimo", "speed": speed},
                setup_dir=tmp_path,
            )
            data_functions.simulate_importer(io)
            got = _drain(sink)
        assert [g.tobytes() for _, g in got] == [s.tobytes() for s in sent]
        ts = _timestamps(got)
        expected = np.array(offsets) / speed
        # never early; late only by what a busy machine's scheduler adds (no drift: absolute schedule)
        assert np.all(ts - ts[0] >= expected - 0.005), (ts - ts[0], expected)
        assert np.all(ts - ts[0] <= expected + 0.08), (ts - ts[0], expected)


def test_simulate_importer_converts_compatible_dtypes(tmp_path):
    _mimo_file(tmp_path / "rec.mimo", 3, dtype={"chA": "float64", "chB": "int32"})
    with rings(("S", 4, 8, WAVE)) as (sink,):
        io = BufferIO(
            "s", [], [sink.writer()], [], config={"filename": "rec.mimo", "speed": 100}, setup_dir=tmp_path
        )
        data_functions.simulate_importer(io)
        got = _drain(sink)
    assert len(got) == 3 and got[0][1].dtype == np.dtype(list(WAVE.items()))


def test_importers_read_truncated_files(tmp_path, caplog):
    sent = _mimo_file(tmp_path / "rec.mimo", 5)
    raw = (tmp_path / "rec.mimo").read_bytes()
    (tmp_path / "cut.mimo").write_bytes(raw[:-7])  # power cut inside the last record
    with rings(("S", 8, 8, WAVE)) as (sink,):
        io = BufferIO(
            "c", [], [sink.writer()], [], config={"filename": "cut.mimo", "rate": 0}, setup_dir=tmp_path
        )
        with caplog.at_level(logging.WARNING, logger="mimocorb.worker.c"):
            data_functions.clocked_importer(io)
        got = _drain(sink)
    assert "ends inside a record (interrupted recording): 4 complete events" in caplog.text
    assert [g.tobytes() for _, g in got] == [s.tobytes() for s in sent[:4]]


@pytest.mark.parametrize(
    ("function", "config", "error", "message"),
    [
        ("clocked_importer", {"filename": "rec.mimo", "rate": 10, "distribution": "gauss"}, ValueError,
         r"config 'distribution' must be one of 'uniform', 'poisson', got 'gauss'"),
        ("clocked_importer", {"filename": "rec.mimo"}, ValueError, "config 'rate' .* is required"),
        ("clocked_importer", {"filename": "rec.mimo", "rate": -5}, ValueError, "config 'rate' must be a number >= 0"),
        ("clocked_importer", {"rate": 5}, ValueError, "config 'filename' is required"),
        ("simulate_importer", {"filename": "nope.mimo"}, FileNotFoundError, "nope.mimo does not exist"),
        ("simulate_importer", {"filename": "rec.mimo", "speed": 0}, ValueError, "config 'speed' must be a number > 0"),
        ("simulate_importer", {"filename": "other.mimo"}, ValueError, "has fields x; sink 'S' has chA, chB"),
        ("simulate_importer", {"filename": "short.mimo"}, ValueError, "has data_length 3, sink 'S' has 8"),
    ],
)  # fmt: skip
def test_importer_config_errors(tmp_path, function, config, error, message):
    _mimo_file(tmp_path / "rec.mimo", 1)
    _mimo_file(tmp_path / "other.mimo", 1, dtype={"x": "f4"})
    _mimo_file(tmp_path / "short.mimo", 1, length=3)
    with rings(("S", 2, 8, WAVE)) as (sink,):
        io = BufferIO("imp", [], [sink.writer()], [], config=config, setup_dir=tmp_path)
        with pytest.raises(error, match=message):
            getattr(data_functions, function)(io)


def test_docstrings_follow_the_manual_template():
    for name in ("export", "simulate_importer", "clocked_importer"):
        doc = getattr(data_functions, name).__doc__
        assert doc.startswith("mimoCoRB2 Function: ")
        for section in ("Type\n", "Buffers\n", "Configs\n", "Examples\n"):
            assert section in doc


# ---------------------------------------------------------------------------------------------
# whole runs: worker processes, YAML setups, stop in order


def _run_setup(tmp_path, text, name="setup.yaml", start_method=None):
    from mimocorb_gui.core.run import Run
    from mimocorb_gui.core.setup import Setup

    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return Run(Setup.load(path), run_root=tmp_path / "runs", start_method=start_method)


def _errors(run):
    return [e.format() for e in run.log_history() if e.levelno >= logging.ERROR]


MUON_SETUP = """
    Buffers:
      InputBuffer:
        slot_count: 32
        data_length: 1000
        data_dtype: {chA: float32, chB: float32, chC: float32, chD: float32}
    Workers:
      muons:
        function: simulators.muon_pulses
        sinks: [InputBuffer]
        config: {rate: 300, seed: 4, stopped_fraction: 0.5}
      export:
        function: data.export
        sources: [InputBuffer]
        number_of_processes: %d
"""


@pytest.mark.timeout(60)
@pytest.mark.parametrize("n_exporters", [1, 2])
def test_run_export_stopped_run_leaves_complete_files(tmp_path, n_exporters):
    run = _run_setup(tmp_path, MUON_SETUP % n_exporters)
    try:
        run_dir = run.start()
        wait_until(lambda: run.stats().buffers["InputBuffer"].stats.events_written > 150, timeout=20)
        assert run.stop(timeout=20), _errors(run)
        written = run.stats().buffers["InputBuffer"].stats.events_written
    finally:
        run.close()
    assert not _errors(run)
    files = sorted(run_dir.glob("InputBuffer*.mimo"))
    assert [f.name for f in files] == ["InputBuffer.mimo", "InputBuffer_1.mimo"][:n_exporters]
    counters = []
    for f in files:
        metadata, data, header = read_mimo(f)
        assert header["data_length"] == 1000 and data.dtype.names == ("chA", "chB", "chC", "chD")
        assert np.all(np.diff(metadata["counter"]) > 0)  # each reader sees events in write order
        assert np.all(data["chA"].min(axis=1) < -0.1)  # every event has its trigger pulse
        counters.extend(metadata["counter"].tolist())
    assert 100 < written
    assert sorted(counters) == list(range(written))  # every event exactly once, none lost at stop


GAMMA_SETUP = """
    Buffers:
      Pulses:
        slot_count: 64
        data_length: 600
        data_dtype: {IN1: float32}
      Heights:
        slot_count: 256
        data_length: 1
        data_dtype: {position: int32, peak_heights: float64, widths: float32}
    Workers:
      gammas:
        function: simulators.gamma_pulses
        sinks: [Pulses]
        config: {rate: 0, number_of_events: 2000, seed: 9, decay_time_ns: 100, resolution: 0.06}
      pha:
        function: analyzers.pha
        sources: [Pulses]
        sinks: [Heights]
        number_of_processes: 2
        config: {channel: IN1, height: 0.03, distance: 400, width: 1}
      export:
        function: data.export
        sources: [Heights]
"""


@pytest.mark.timeout(90)
def test_run_gamma_pha_export_pipeline(tmp_path):
    run = _run_setup(tmp_path, GAMMA_SETUP)
    try:
        run_dir = run.start()
        assert run.wait(60), _errors(run)
        stats = run.stats()
    finally:
        run.close()
    assert run.state == "finished" and not _errors(run)
    assert stats.buffers["Pulses"].stats.events_written == 2000
    metadata, data, _ = read_mimo(run_dir / "Heights.mimo")
    assert len(metadata) == stats.buffers["Heights"].stats.events_written
    assert 1000 < len(metadata) <= 2000  # at most one peak per pulse (distance), small deposits below height
    assert set(metadata["counter"].tolist()) <= set(range(2000))
    energies = data["peak_heights"][:, 0] * 1000.0  # default calibration: 1000 keV per volt
    photopeak = energies[np.abs(energies - 661.657) < 60]
    assert len(photopeak) > 0.25 * len(energies)
    assert np.median(photopeak) == pytest.approx(661.657, rel=0.02)


REPLAY_SETUP = """
    Buffers:
      InputBuffer:
        slot_count: 16
        data_length: 200
        data_dtype: {chA: float32, chB: float32}
    Workers:
      replay:
        function: data.%s
        sinks: [InputBuffer]
        config: {filename: %s, %s}
      export:
        function: data.export
        sources: [InputBuffer]
"""


@pytest.mark.timeout(120)
@pytest.mark.parametrize("start_method", ["fork", "spawn"])
def test_run_record_and_replay_round_trip(tmp_path, start_method):
    record = _run_setup(
        tmp_path,
        """
        Buffers:
          InputBuffer: {slot_count: 16, data_length: 200, data_dtype: {chA: float32, chB: float32}}
        Workers:
          muons:
            function: simulators.muon_pulses
            sinks: [InputBuffer]
            config: {rate: 0, number_of_events: 150, seed: 2}
          export: {function: data.export, sources: [InputBuffer]}
        """,
        name="record.yaml",
        start_method=start_method,
    )
    try:
        first_dir = record.start()
        assert record.wait(30), _errors(record)
    finally:
        record.close()
    recorded = first_dir / "InputBuffer.mimo"
    _, original, _ = read_mimo(recorded)
    assert len(original) == 150

    for function, extra in (("clocked_importer", "rate: 0"), ("simulate_importer", "speed: 1000")):
        replay = _run_setup(
            tmp_path,
            REPLAY_SETUP % (function, recorded, extra),
            name=f"{function}.yaml",
            start_method=start_method,
        )
        try:
            run_dir = replay.start()
            assert replay.wait(30), _errors(replay)
        finally:
            replay.close()
        metadata, data, _ = read_mimo(run_dir / "InputBuffer.mimo")
        assert data.tobytes() == original.tobytes(), function
        assert metadata["counter"].tolist() == list(range(150))


@pytest.mark.timeout(60)
def test_run_reports_config_error_of_prebuilt_function(tmp_path):
    _mimo_file(
        tmp_path / "x.mimo", 3, length=10, dtype={"chA": "float32"}
    )  # a fitting recording: only the config is bad
    run = _run_setup(
        tmp_path,
        """
        Buffers:
          InputBuffer: {slot_count: 4, data_length: 10, data_dtype: {chA: float32}}
        Workers:
          replay:
            function: data.clocked_importer
            sinks: [InputBuffer]
            config: {filename: x.mimo, rate: 5, distribution: gaussian}
          export: {function: data.export, sources: [InputBuffer]}
        """,
    )
    try:
        run.start()
        assert run.wait(30)
    finally:
        run.close()
    errors = "\n".join(_errors(run))
    assert "config 'distribution' must be one of 'uniform', 'poisson', got 'gaussian'" in errors
