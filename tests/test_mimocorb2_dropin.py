"""mimoCoRB2's users' code, scripts and recordings work here unchanged (issue 10).

Each expectation comes from mimoCoRB2's manual or code (reference/mimoCoRB2), never from our
earlier output: the pickle header of its .mimo files, the manual's histogram reading example
(section 2.2.1), ``mimocorb2.control.Control`` (2.5), the raw observer loop, the template base's
members, ``SetupError`` / ``UfuncError`` and the importer's ``deadtime`` fraction.
"""

from __future__ import annotations

import logging
import os
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from mimocorb_gui.core.mimofile import METADATA_DTYPE, MimoFormatError, MimoReader, read_mimo
from mimocorb_gui.core.run import Run
from mimocorb_gui.core.setup import Setup

EXAMPLES = Path(__file__).parent / "data" / "mimocorb2_examples"
WAVE = np.dtype([("chA", "<f4"), ("chB", "<i2")])


def write_reference_mimo(path: Path, data: np.ndarray, metadata: np.ndarray) -> None:
    """A .mimo file as mimoCoRB2's functions/data.py mimoFile writes it: a pickled info dict
    (from_buffer_object), then per event data.tobytes() followed by metadata.tobytes()."""
    info = {
        "version": 1,
        "header": "This is a mimoCoRB file",
        "data_dtype": data.dtype,
        "data_length": data.shape[1],
        "metadata_dtype": metadata.dtype,
        "metadata_length": 1,
    }
    with path.open("wb") as f:
        pickle.dump(info, f)
    with path.open("ab") as f:
        for i in range(len(data)):
            f.write(data[i].tobytes())
            f.write(metadata[i : i + 1].tobytes())


def recording(n: int = 40, length: int = 16) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    data = np.zeros((n, length), dtype=WAVE)
    data["chA"] = rng.normal(size=(n, length))
    data["chB"] = np.arange(n)[:, None]
    metadata = np.zeros(n, dtype=METADATA_DTYPE)
    metadata["counter"] = np.arange(n)
    metadata["timestamp"] = 1.7e9 + 0.01 * np.arange(n)
    metadata["deadtime"] = 0.125
    return data, metadata


def run_setup(tmp_path: Path, text: str, timeout: float = 90) -> Run:
    (tmp_path / "setup.yaml").write_text(textwrap.dedent(text))
    setup = Setup.load(tmp_path / "setup.yaml")
    run = Run(setup, run_root=tmp_path / "runs")
    try:
        run.start()
        assert run.wait(timeout), [e.format() for e in run.log_history()]
    finally:
        run.close()
    return run


# ---------------------------------------------------------------------------------------------
# recordings of mimoCoRB2


def test_a_reference_mimo_file_reads_as_written(tmp_path):
    data, metadata = recording()
    write_reference_mimo(tmp_path / "old.mimo", data, metadata)
    meta_read, data_read, header = read_mimo(tmp_path / "old.mimo")
    assert header["legacy"] is True
    assert data_read.tobytes() == data.tobytes() and meta_read.tobytes() == metadata.tobytes()
    with MimoReader(tmp_path / "old.mimo") as reader:
        events = list(reader)
    assert [int(m["counter"][0]) for m, _ in events] == list(range(40))
    assert events[3][1].tobytes() == data[3].tobytes()


@pytest.mark.timeout(120)
def test_a_reference_mimo_file_replays_through_clocked_importer(tmp_path):
    data, metadata = recording()
    (tmp_path / "recordings").mkdir()
    write_reference_mimo(tmp_path / "recordings" / "old.mimo", data, metadata)
    run = run_setup(
        tmp_path,
        """
        Buffers:
          Waves: {slot_count: 8, data_length: 16, data_dtype: {chA: float32, chB: int16}}
        Workers:
          replay: {function: data.clocked_importer, sinks: [Waves],
                   config: {filename: recordings/old.mimo, rate: 0}}
          save: {function: data.export, sources: [Waves]}
        """,
    )
    assert run.state == "finished", [e.format() for e in run.log_history()]
    _, replayed, _ = read_mimo(run.run_dir / "Waves.mimo")
    assert replayed.tobytes() == data.tobytes()  # every event, in order, byte for byte
    log = "\n".join(e.format() for e in run.log_history())
    assert f"replaying {tmp_path / 'recordings' / 'old.mimo'} (40 events, mimoCoRB2 format)" in log


def test_convert_mimo_writes_our_format(tmp_path):
    data, metadata = recording()
    write_reference_mimo(tmp_path / "old.mimo", data, metadata)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "mimocorb_gui",
            "convert-mimo",
            str(tmp_path / "old.mimo"),
            str(tmp_path / "new.mimo"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert "40 events" in proc.stdout
    assert (tmp_path / "new.mimo").read_bytes()[:4] == b"MIMO"
    meta_new, data_new, header = read_mimo(tmp_path / "new.mimo")
    assert "legacy" not in header and header["info"]["converted_from"].endswith("old.mimo")
    assert data_new.tobytes() == data.tobytes() and meta_new.tobytes() == metadata.tobytes()


class _Payload:
    """What a hostile .mimo header could carry: unpickling it would create the marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


@pytest.mark.parametrize("where", ["top", "inside"])
def test_a_pickle_naming_another_class_is_refused_without_running_it(tmp_path, where):
    marker = tmp_path / "code_ran"
    info = {
        "version": 1,
        "data_dtype": WAVE,
        "data_length": 16,
        "metadata_dtype": METADATA_DTYPE,
        "metadata_length": 1,
    }
    payload = _Payload(marker) if where == "top" else {**info, "header": _Payload(marker)}
    path = tmp_path / "evil.mimo"
    path.write_bytes(pickle.dumps(payload))
    assert not marker.exists()
    with pytest.raises(MimoFormatError, match=r"refusing to load 'pathlib\.(Path|PosixPath)\.touch'"):
        read_mimo(path)
    assert not marker.exists()  # refused before anything was called
    (tmp_path / "setup.yaml").write_text(
        textwrap.dedent(
            """
            Buffers:
              Waves: {slot_count: 8, data_length: 16, data_dtype: {chA: float32, chB: int16}}
            Workers:
              replay: {function: data.clocked_importer, sinks: [Waves], config: {filename: evil.mimo, rate: 0}}
              save: {function: data.export, sources: [Waves]}
            """
        )
    )
    problems = [str(p) for p in Setup.load(tmp_path / "setup.yaml").validate() if p.is_error]
    assert any("mimoCoRB2 header refused" in p for p in problems), problems
    assert not marker.exists()


# ---------------------------------------------------------------------------------------------
# the manual's histogram reading example (section 2.2.1), verbatim

MANUAL_HISTOGRAM_EXAMPLE = """
>>> import numpy as np
>>> import matplotlib.pyplot as plt
>>> import pandas as pd
>>> info_df = pd.read_csv('info.csv')
>>> bins = {ch: np.linspace(info_df['Min'][i], info_df['Max'][i], info_df['NBins'][i]) for i, ch in enumerate(info_df['Channel'])}
>>> for ch in info_df['Channel']:
...     data = np.load(f'{ch}.npy')
...     plt.plot(bins[ch][:-1], data, label=ch)
>>> plt.legend()
>>> plt.show()
"""


@pytest.mark.timeout(120)
def test_the_manuals_histogram_example_plots_every_channel(tmp_path, monkeypatch):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    _write_heights(tmp_path)
    run = run_setup(
        tmp_path,
        """
        Buffers:
          Heights: {slot_count: 32, data_length: 1, data_dtype: {a: float64, b: int32, c: float32}}
        Workers:
          source: {function: data.clocked_importer, sinks: [Heights], config: {filename: heights.mimo, rate: 0}}
          hist: {function: exporters.histogram, sources: [Heights],
                 config: {bins: {a: [-3, 3, 61], b: [0, 100, 11], c: [0, 1, 2]}}}
        """,
    )
    assert run.state == "finished", [e.format() for e in run.log_history()]
    monkeypatch.chdir(run.run_dir / "Histograms_Heights")
    plt.close("all")
    code = "\n".join(line[4:] for line in MANUAL_HISTOGRAM_EXAMPLE.strip().splitlines())
    exec(compile(code, "manual-2.2.1", "exec"), {})
    lines = plt.gca().get_lines()
    assert [ln.get_label() for ln in lines] == ["a", "b", "c"]
    heights = np.load(tmp_path / "heights.npy")
    for ln, (ch, (lo, hi, n)) in zip(
        lines, {"a": (-3, 3, 61), "b": (0, 100, 11), "c": (0, 1, 2)}.items(), strict=True
    ):
        x, y = ln.get_data()
        assert len(x) == len(y) == n - 1
        assert y.tolist() == np.histogram(heights[ch], bins=np.linspace(lo, hi, n))[0].tolist()
    plt.close("all")


def _write_heights(tmp_path: Path) -> None:
    from mimocorb_gui.core.mimofile import MimoWriter

    rng = np.random.default_rng(3)
    dtype = np.dtype([("a", "<f8"), ("b", "<i4"), ("c", "<f4")])
    values = np.zeros(500, dtype=dtype)
    values["a"] = rng.normal(size=500)
    values["b"] = rng.integers(0, 120, size=500)
    values["c"] = rng.random(500)
    np.save(tmp_path / "heights.npy", values)
    with MimoWriter(tmp_path / "heights.mimo", dtype, 1) as w:
        for i in range(500):
            w.write((i, float(i), 0.0), values[i : i + 1])


# ---------------------------------------------------------------------------------------------
# mimocorb2.control from a plain script, and the package itself


@pytest.mark.timeout(180)
def test_a_plain_script_runs_a_setup_with_control_in_stats_mode(tmp_path):
    import shutil

    shutil.copytree(EXAMPLES / "simple", tmp_path / "simple")
    script = tmp_path / "analysis.py"
    script.write_text(
        textwrap.dedent(
            """
            from mimocorb2.control import Control

            if __name__ == "__main__":
                control = Control.from_setup_file("simple/setup.yaml", mode="stats")
                control()
                print("RUN_DIR", control.run_dir)
            """
        )
    )
    proc = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=170
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    run_dir = Path(proc.stdout.split("RUN_DIR", 1)[1].strip())
    assert run_dir.parent == tmp_path / "simple" / "runs"
    stats = (run_dir / "stats.csv").read_text().splitlines()
    assert stats[0].startswith("buffers.raw_osc.event_count,") and len(stats) >= 3
    assert stats[-1].split(",")[0] == "2000"  # the last row: every event of the importer written


def test_import_mimocorb2_in_a_plain_interpreter_and_its_command_line():
    code = (
        "import mimocorb2, mimocorb_gui\n"
        "from mimocorb2 import mimo_buffer, mimo_worker, worker_templates, control, helpers\n"
        "from mimocorb2.functions import data, exporters, analyzers, observers, visualizers, misc\n"
        "from mimocorb2.functions.importers import redpitaya\n"
        "import mimocorb_gui.functions.exporters as ours\n"
        "assert exporters is ours and data.mimoFile\n"
        "assert mimocorb2.Importer is mimocorb_gui.Importer is worker_templates.Importer\n"
        "assert mimo_worker.BufferIO is mimocorb2.BufferIO and mimocorb2.Control is control.Control\n"
        "print('ok', mimocorb2.__version__)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd="/")
    assert proc.returncode == 0 and "ok 0.0.3" in proc.stdout, proc.stderr
    helptext = subprocess.run(
        [sys.executable, "-m", "mimocorb2", "--help"], capture_output=True, text=True, timeout=60
    ).stdout
    assert "setup_file" in helptext and "kbd+stats" in helptext and "gui+stats" in helptext


def test_control_modes_are_checked(tmp_path):
    from mimocorb2.control import Control

    with pytest.raises(ValueError, match=r"mode 'kbd\+web': unknown web \(valid: kbd\+gui\+stats\)"):
        Control.from_setup_file(EXAMPLES / "simple" / "setup.yaml", mode="kbd+web")


def test_buffer_io_from_setup_takes_the_workers_own_dict_and_loads_config_files(tmp_path):
    from mimocorb2.mimo_buffer import mimoBuffer
    from mimocorb2.mimo_worker import BufferIO

    (tmp_path / "cfg.yaml").write_text("threshold: 3\nname: from file\n")
    buffers = {
        "In": mimoBuffer("In", 4, 2, np.dtype([("x", "<f8")])),
        "Out": mimoBuffer.from_setup("Out", {"slot_count": 4, "data_length": 2, "data_dtype": {"x": "f8"}}),
    }
    try:
        worker = {"sources": ["In"], "sinks": ["Out"], "config": ["cfg.yaml", {"name": "inline"}]}
        io = BufferIO.from_setup("w", worker, tmp_path, tmp_path, buffers, base_config={"base": 1})
        assert dict(io.config) == {"base": 1, "threshold": 3, "name": "inline"}
        assert io.buffer_names_in == ["In"] and io.buffer_names_out == ["Out"]
        with pytest.raises(KeyError, match="sink buffer 'Nope' is not defined"):
            BufferIO.from_setup("w", {"sinks": ["Nope"]}, tmp_path, tmp_path, buffers)
        # mimo_buffer's interfaces: writer, reader, observer; any writer's flush shuts the buffer
        from mimocorb2.mimo_buffer import BufferObserver, BufferReader, BufferWriter

        writer, reader, observer = (
            BufferWriter(buffers["In"]),
            BufferReader(buffers["In"]),
            BufferObserver(buffers["In"]),
        )
        with writer as (metadata, data):
            data["x"] = [1.0, 2.0]
            metadata["counter"] = 5
        with observer as (metadata, data):
            assert int(metadata["counter"][0]) == 5 and data["x"].tolist() == [1.0, 2.0]
        with reader as (metadata, data):
            assert data["x"].tolist() == [1.0, 2.0]
        assert not reader.is_shutdown.value
        writer.shutdown_buffer()
        assert reader.is_shutdown.value and buffers["In"].flush_event_received.value
        with reader as (metadata, data):
            assert (metadata, data) == (None, None)
        with observer as (metadata, data):
            assert (metadata, data) == (None, None)
        stats = buffers["In"].get_stats()
        assert stats["event_count"] == 1 and stats["flush_event_received"] is True
    finally:
        for b in buffers.values():
            b.unlink()


# ---------------------------------------------------------------------------------------------
# templates: members, errors, deadtime, the raw observer


def test_templates_carry_the_members_of_mimocorb2s_template_base(tmp_path):
    import mimocorb2 as mi2
    from mimocorb_gui.core.ringbuffer import RingBuffer

    a = RingBuffer("a", 4, 3, {"x": "f4"})
    b = RingBuffer("b", 4, 3, {"x": "f4"})
    try:

        def io(read=(), write=(), observe=()):
            return mi2.BufferIO(
                "w", list(read), list(write), list(observe), {"k": 1}, tmp_path, tmp_path / "run"
            )

        base = ("io", "read", "write", "observe", "config", "logger", "name", "run_dir", "setup_dir")
        templates = {
            mi2.Importer: (io(write=[a.writer()]), ("data_example", "metadata_example", "counter")),
            mi2.Exporter: (io(read=[a.reader()]), ("data_example", "metadata_example")),
            mi2.Filter: (io(read=[a.reader()], write=[b.writer()]), ("data_example",)),
            mi2.Processor: (io(read=[a.reader()], write=[b.writer()]), ()),
            mi2.Observer: (io(observe=[a.observer()]), ("data_example",)),
            mi2.IsAlive: (io(observe=[a.observer()]), ()),
        }
        for cls, (buffer_io, own) in templates.items():
            t = cls(buffer_io)
            for member in (*base, *own):
                assert hasattr(t, member), (cls.__name__, member)
            assert t.io is buffer_io and t.config["k"] == 1 and t.setup_dir == tmp_path
            assert callable(t.shutdown_sinks) and callable(t.drain_sources)
        assert mi2.Importer(io(write=[a.writer()])).data_example.shape == (3,)
        with pytest.raises(mi2.SetupError, match="needs exactly 1 sinks"):
            mi2.Importer(io())
    finally:
        a.unlink()
        b.unlink()


UFUNC_FAILS = '''
import mimocorb2 as mi2
import numpy as np


def source(buffer_io):
    importer = mi2.Importer(buffer_io)

    def ufunc():
        for i in range(100000):
            yield np.full(importer.data_example.shape, i, dtype=importer.data_example.dtype)
        yield None

    importer(ufunc)


def broken(buffer_io):
    processor = mi2.Processor(buffer_io)

    def ufunc(data):
        if data["x"][0] == 7:
            raise ZeroDivisionError("cannot handle 7")
        return [data]

    processor(ufunc)


def keep(buffer_io):
    for data, metadata in mi2.Exporter(buffer_io):
        pass


def watch(buffer_io):
    """The manual's raw observer loop (section 2.4): with io.observe[0] ... if data is None: break."""
    seen = []
    while True:
        with buffer_io.observe[0] as (metadata, data):
            if data is None:
                break
            seen.append(int(metadata["counter"][0]))
    assert seen == sorted(set(seen)), seen  # newer events only, never one twice or out of order
    buffer_io.logger.info("observer loop ended after %d events", len(seen))
'''


@pytest.mark.timeout(120)
def test_ufunc_error_shuts_sinks_drains_sources_and_the_raw_observer_loop_ends(tmp_path):
    (tmp_path / "workers.py").write_text(UFUNC_FAILS)
    run = run_setup(
        tmp_path,
        """
        Buffers:
          A: {slot_count: 4, data_length: 1, data_dtype: {x: int64}}
          B: {slot_count: 4, data_length: 1, data_dtype: {x: int64}}
        Workers:
          source: {file: workers.py, function: source, sinks: [A]}
          broken: {file: workers.py, function: broken, sources: [A], sinks: [B]}
          keep: {file: workers.py, function: keep, sources: [B]}
          watch: {file: workers.py, function: watch, observes: [A]}
        """,
    )
    assert run.state == "failed" and run.failed_workers == ["broken"]
    log = "\n".join(e.format() for e in run.log_history())
    assert "ufunc failed (ZeroDivisionError: cannot handle 7)" in log and "UfuncError" in log
    assert "Input: [(7,)]" in log  # mimoCoRB2 logs the ufunc's input
    assert "[watch] observer loop ended after" in log
    errors = [
        e for e in run.log_history() if e.levelno >= logging.ERROR and e.worker not in ("broken", "run")
    ]
    assert errors == []


def test_raw_observe_waits_for_a_newer_event_and_gives_none_at_shutdown():
    import threading
    import time

    from mimocorb_gui.core.bufferio import BufferIO, StopFlag
    from mimocorb_gui.core.ringbuffer import RingBuffer

    rb = RingBuffer("r", 4, 1, {"x": "i8"})
    try:
        stop = StopFlag()
        io = BufferIO("obs", [], [], [rb.observer()], stop_flag=stop)
        writer = rb.writer()

        def write_later(value, delay):
            time.sleep(delay)
            with writer as (metadata, data):
                metadata["counter"] = value

        t = threading.Thread(target=write_later, args=(1, 0.2))
        t0 = time.monotonic()
        t.start()
        with io.observe[0] as (metadata, data):
            waited = time.monotonic() - t0
            assert int(metadata["counter"][0]) == 1 and waited >= 0.15  # waited for the first event
        t.join()
        result = []
        threading.Thread(target=lambda: result.append(io.observe[0].__enter__())).start()
        time.sleep(0.2)
        assert result == []  # nothing newer yet: still waiting
        stop.set()  # the run's stop request ends the wait
        deadline = time.monotonic() + 5
        while not result and time.monotonic() < deadline:
            time.sleep(0.01)
        assert result == [(None, None)]
        # the non-blocking sampler of the GUI and of the Observer template is unchanged
        meta, data = rb.observer().get()
        assert int(meta["counter"][0]) == 1
        writer.close()
    finally:
        rb.unlink()


@pytest.mark.timeout(60)
def test_importer_deadtime_is_mimocorb2s_fraction(tmp_path):
    import threading
    import time

    from mimocorb_gui.core.bufferio import BufferIO
    from mimocorb_gui.core.ringbuffer import RingBuffer
    from mimocorb_gui.core.templates import Importer

    rb = RingBuffer("d", 2, 1, {"x": "i8"})
    try:
        reader = rb.reader()
        got = []

        def slow_reader():
            while True:
                with reader as (metadata, data):
                    if metadata is None:
                        return
                    got.append(float(metadata["deadtime"][0]))
                time.sleep(0.05)  # the importer waits for a free slot: dead time

        t = threading.Thread(target=slow_reader)
        t.start()

        def ufunc():
            for i in range(12):
                yield np.full(1, i, dtype=rb.dtype)
            yield None

        Importer(BufferIO("imp", [], [rb.writer()], []))(ufunc)
        t.join(10)
        assert len(got) == 12 and all(0.0 <= d <= 1.0 for d in got)
        # blocked by the slow reader: almost all the time since the previous event was spent waiting
        assert np.median(got[4:]) > 0.8
        assert rb.stats().deadtime_total > 0.3  # the header total (GUI figures) stays in seconds
    finally:
        rb.unlink()


def test_check_reports_pha_and_simulator_config_problems_before_the_start(tmp_path):
    (tmp_path / "setup.yaml").write_text(
        textwrap.dedent(
            """
            Buffers:
              Waves: {slot_count: 8, data_length: 100, data_dtype: {IN1: int16}}
              Heights: {slot_count: 8, data_length: 1, data_dtype: {peak_heights: int16, widths: float32}}
              Waves2: {slot_count: 8, data_length: 100, data_dtype: {chA: float32}}
            Workers:
              source: {function: simulators.gamma_pulses, sinks: [Waves], config: {rate: -5}}
              muons: {function: simulators.muon_pulses, sinks: [Waves2], config: {stopped_fraction: 2}}
              pha: {function: analyzers.pha, sources: [Waves], sinks: [Heights],
                    config: {channel: IN2, height: 500, all_peaks: maybe}}
              save: {function: exporters.csv, sources: [Heights]}
            """
        )
    )
    proc = subprocess.run(
        [sys.executable, "-m", "mimocorb_gui", "check", str(tmp_path / "setup.yaml")],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )
    assert proc.returncode == 2, proc.stdout
    assert "'IN2' is not a field of source 'Waves' (fields: IN1)" in proc.stdout
    assert "all_peaks: must be true or false" in proc.stdout
    assert "field 'widths' needs config 'width'" in proc.stdout
    # the simulators' config checks run before the start too
    assert "Workers.source.config: config 'rate' must be a number >= 0, got -5" in proc.stdout
    assert "config 'stopped_fraction' must be a number >= 0 and <= 1, got 2" in proc.stdout


def test_mimofile_reads_both_formats_and_writes_ours(tmp_path):
    from mimocorb2.functions.data import mimoFile

    data, metadata = recording(n=5)
    write_reference_mimo(tmp_path / "old.mimo", data, metadata)

    class Buffer:  # what from_buffer_object reads of a buffer
        name = "Copy"
        data_example = np.zeros(16, dtype=WAVE)
        metadata_example = np.zeros(1, dtype=METADATA_DTYPE)

    with (
        mimoFile.from_file(tmp_path / "old.mimo") as old,
        mimoFile.from_buffer_object(Buffer, tmp_path) as new,
    ):
        assert (old.data_dtype, old.data_length) == (WAVE, 16)
        events = list(old.read_data())
        assert events[-1] == (None, None) and len(events) == 6
        for d, m in events[:-1]:
            new.write_data(d, m)
    with mimoFile.from_file(tmp_path / "Copy.mimo") as copy:
        copied = [(d, m) for d, m in copy.read_data() if d is not None]
    assert np.concatenate([d for d, _ in copied]).tobytes() == data.tobytes()
    assert np.concatenate([m for _, m in copied]).tobytes() == metadata.tobytes()


def test_the_mimocorb2_command_reports_a_bad_setup_instead_of_a_traceback(tmp_path):
    (tmp_path / "bad.yaml").write_text(
        "Buffers:\n  A: {slot_count: 4, data_length: 1, data_dtype: {x: f8}}\n"
        "Workers:\n  w: {function: exporters.nothing, sources: [A]}\n"
    )
    proc = subprocess.run(
        [sys.executable, "-m", "mimocorb2", str(tmp_path / "bad.yaml"), "-c", "stats"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "Workers.w.function: function 'nothing' not found in prebuilt module 'exporters'" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_data_flow_picture_and_stats_schedule_follow_mimocorb2(tmp_path):
    import xml.etree.ElementTree as ET

    from mimocorb_gui.core.runrecord import data_flow_svg, save_interval

    setup = Setup.load(EXAMPLES / "muon" / "spin_setup.yaml")
    svg = data_flow_svg(setup, root_buffers={"InputBuffer"})
    root = ET.fromstring(svg)  # well-formed SVG, no display or graphviz needed
    ns = "{http://www.w3.org/2000/svg}"
    labels = [t.text for t in root.iter(f"{ns}text")]
    assert sorted(labels) == sorted([*setup.buffers, *setup.workers])
    ellipses = {e.find(f"{ns}title").text: e.get("stroke") for e in root.iter(f"{ns}ellipse")}
    assert ellipses["buffer InputBuffer"] == "blue" and ellipses["buffer AcceptedPulses"] == "black"
    assert len(list(root.iter(f"{ns}rect"))) == len(setup.workers)
    lines = list(root.iter(f"{ns}line"))
    edges = sum(len(w.sources) + len(w.sinks) + len(w.observes) for w in setup.workers.values())
    assert len(lines) == edges
    dotted = [ln for ln in lines if ln.get("stroke-dasharray")]
    assert len(dotted) == sum(len(w.observes) for w in setup.workers.values()) == 4
    # mimoCoRB2's control_stats_logger THRESHOLDS and FINAL_INTERVAL
    assert [save_interval(t) for t in (0, 9.9, 10, 59, 60, 599, 600, 3599, 3600, 10**6)] == [
        1,
        1,
        10,
        10,
        60,
        60,
        600,
        600,
        3600,
        3600,
    ]


@pytest.mark.timeout(120)
def test_control_gui_mode_opens_the_main_window_on_the_setup_and_starts_it(tmp_path, qtbot, monkeypatch):
    import shutil

    from PySide6.QtWidgets import QApplication

    from mimocorb2.control import Control
    from mimocorb_gui.ui.main_window import MainWindow

    shutil.copytree(EXAMPLES / "simple", tmp_path / "simple")
    seen = {}
    monkeypatch.setattr(
        MainWindow, "start_run", lambda self: seen.setdefault("started", self.setup.path) and True
    )
    monkeypatch.setattr(QApplication, "exec", lambda self: 0)  # the event loop a user would close
    control = Control.from_setup_file(tmp_path / "simple" / "setup.yaml", mode="gui+stats")
    assert control() == 0
    assert seen["started"] == (tmp_path / "simple" / "setup.yaml").resolve()
    for window in QApplication.topLevelWidgets():
        if isinstance(window, MainWindow):
            window.hide()
            window.deleteLater()
