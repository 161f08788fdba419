"""exporters.drain / histogram / csv, misc.copy and core.livehist: units and whole multi-process runs."""

from __future__ import annotations

import io as _io
import logging
import textwrap
import threading
import time

import numpy as np
import pandas as pd
import pytest
from waiting import wait_until

from mimocorb_gui.core.bufferio import BufferIO
from mimocorb_gui.core.livehist import (
    BinSpec,
    LiveHistogramWriter,
    check_bins,
    histogram_dir,
    histogram_workers,
    open_live_histograms,
    parse_bins,
    read_histograms,
)
from mimocorb_gui.core.mimofile import read_mimo
from mimocorb_gui.core.ringbuffer import RingBuffer
from mimocorb_gui.functions import exporters
from mimocorb_gui.functions.exporters import CsvFormatter

PARAMS = {"x": "float64", "y": "float32", "k": "int32"}

# worker functions of the runs below, written to tmp_path (a user's function file)
GEN = '''
import time
import numpy as np
from mimocorb_gui import Filter, Importer


def params(buffer_io):
    """Random parameters: x normal (with NaN, +-inf and far outliers), y uniform float32, k int."""
    importer = Importer(buffer_io)
    n = buffer_io.get("n", 1000)
    rate = buffer_io.get("rate", 0)
    rng = np.random.default_rng(buffer_io.get("seed", 0))
    example = importer.data_example

    def ufunc():
        i = 0
        while n < 0 or i < n:
            d = example.copy()
            x = rng.normal(0.0, 1.3)
            if i % 97 == 5:
                x = np.nan
            elif i % 101 == 7:
                x = np.inf if i % 2 else -np.inf
            elif i % 89 == 3:
                x = 2.0  # exactly the upper edge: last bin
            d["x"] = x
            d["y"] = rng.random() * 1.2 - 0.1
            d["k"] = rng.integers(-10, 110)
            if rate:
                time.sleep(1.0 / rate)
            yield d
            i += 1
        yield None

    importer(ufunc)


def keep(buffer_io):
    """Pass events whose k is not a multiple of 3."""
    Filter(buffer_io)(lambda data: int(data["k"][0]) % 3 != 0)
'''


def _write_setup(tmp_path, text: str, name: str = "setup.yaml"):
    from mimocorb_gui.core.setup import Setup

    (tmp_path / "gen.py").write_text(GEN)
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return Setup.load(path)


def _run(setup, tmp_path, start_method=None):
    from mimocorb_gui.core.run import Run

    return Run(setup, run_root=tmp_path / "runs", start_method=start_method)


def _errors(run) -> list[str]:
    return [e.format() for e in run.log_history() if e.levelno >= logging.ERROR]


def _rings(*specs):
    return [RingBuffer(*s) for s in specs]


def _fill(rb, rows: list[tuple], close=True):
    w = rb.writer()
    for i, row in enumerate(rows):
        with w as (meta, data):
            meta[0] = (i, 1.0 + i, 0.0)
            data[0] = row
    if close:
        w.close()


# ---------------------------------------------------------------------------------------------
# bins and the live histogram files


def test_parse_bins_accepts_lists_and_tuples_and_reports_every_problem():
    dtype = np.dtype([("a", "f8"), ("b", "i4")])
    assert parse_bins({"a": (0, 1, 10), "b": [0, 100.0, 5.0]}, dtype) == {
        "a": BinSpec(0.0, 1.0, 10),
        "b": BinSpec(0.0, 100.0, 5),
    }
    problems = check_bins({"a": [1, 0, 10], "b": [0, 1, 0], "c": [0, 1, 2], "d": "x"}, dtype)
    text = "; ".join(problems)
    assert "bins.a: min must be below max" in text
    assert "bins.b: number_of_bins (NBins, the number of bin edges) must be an integer >= 2" in text
    assert "'c' is not a field of the buffer (fields: a, b)" in text
    assert len(problems) == 4
    assert "bins is required" in check_bins(None, dtype)[0]
    with pytest.raises(ValueError, match="min and max must be finite"):
        parse_bins({"a": [0, float("inf"), 3]})


def test_bin_counting_is_numpy_histogram_and_outside_values_are_counted_apart():
    spec = BinSpec(-1.0, 1.0, 9)  # NBins = 9 edges (mimoCoRB2's manual, 2.2.1): 8 bins
    v = np.array([-1.0, -0.999, 0.0, 0.25, 1.0, 1.0001, -1.5, np.nan, np.inf, -np.inf, 0.9999])
    counts, under, over, nan = spec.count(v)
    # mimoCoRB2's exporters.histogram: np.histogram(values, bins=np.linspace(Min, Max, NBins))
    assert counts.tolist() == np.histogram(v[np.isfinite(v)], bins=np.linspace(-1, 1, 9))[0].tolist()
    assert counts[-1] == 2  # 1.0 (the upper edge) is in the last bin
    assert (under, over, nan) == (2, 2, 1)
    assert counts.sum() + under + over + nan == len(v)
    assert spec.edges.tolist() == np.linspace(-1, 1, 9).tolist() and spec.n_bins == 8


def test_live_writer_shares_counts_between_writers_and_readers(tmp_path):
    specs = {"a": BinSpec(0, 10, 11), "b": BinSpec(0, 1, 5)}  # NBins edges: 10 and 4 bins
    directory = histogram_dir(tmp_path, "Buf")
    assert open_live_histograms(tmp_path, "Buf") == {}  # nothing yet: empty, no error
    w1 = LiveHistogramWriter(directory, specs)
    w2 = LiveHistogramWriter(directory, specs)  # a second process of the same exporter attaches
    live = open_live_histograms(tmp_path, "Buf")
    assert set(live) == {"a", "b"} and live["a"].total == 0
    w1.add({"a": np.array([0.5, 1.5, 11.0]), "b": np.array([0.1])})
    w2.add({"a": np.array([0.5, -3.0, np.nan])})
    # the reader's mapping shows the writers' updates without reading the file again
    assert live["a"].counts[:2].tolist() == [2, 1]
    assert (live["a"].total, live["a"].underflow, live["a"].overflow, live["a"].nan) == (3, 1, 1, 1)
    assert live["a"].entries_seen == 6
    with pytest.raises(ValueError, match="other bins"):
        LiveHistogramWriter(directory, {"a": BinSpec(0, 10, 21)})
    w1.close()
    w2.close()
    info = pd.read_csv(directory / "info.csv")
    assert info.columns.tolist()[:4] == ["Channel", "Min", "Max", "NBins"]
    assert info["NBins"].tolist() == [11, 5]  # as configured: the number of edges
    assert info["Entries"].tolist() == [3, 1] and info["Underflow"].tolist() == [1, 0]
    assert info["Overflow"].tolist() == [1, 0] and info["NaN"].tolist() == [1, 0]
    saved = read_histograms(tmp_path, "Buf")
    assert saved["a"][1].tolist() == [2, 1, 0, 0, 0, 0, 0, 0, 0, 0]
    assert saved["a"][0].tolist() == np.linspace(0, 10, 11).tolist()
    assert np.load(directory / "a.npy").dtype == np.int64
    for h in live.values():
        h.close()
    assert live["a"].total == 3  # closed: keeps the last counts


def test_histogram_workers_finds_exporters_and_displays():
    from mimocorb_gui.core.setup import Setup

    setup = Setup.from_text(
        textwrap.dedent(
            """
            Buffers:
              P: {slot_count: 8, data_length: 1, data_dtype: {a: float64, b: float64}}
            Workers:
              h: {function: exporters.histogram, sources: [P], config: {bins: {a: [0, 1, 10]}}}
              show: {function: observers.histogram, observes: [P]}
              old: {function: visualizers.histogram, observes: [P], config: {bins: {b: [0, 2, 4]}}}
              bad: {function: exporters.histogram, sources: [P], config: {bins: {zz: [0, 1, 2]}}}
              other: {function: exporters.drain, sources: [P]}
            """
        )
    )
    found = histogram_workers(setup)
    assert [(w.worker, w.buffer) for w in found] == [("h", "P"), ("show", "P"), ("old", "P"), ("bad", "P")]
    assert found[0].bins == {"a": BinSpec(0, 1, 10)}
    assert found[1].bins is None and found[3].bins is None
    name, buffer, bins = found[2]
    assert bins == {"b": BinSpec(0, 2, 4)}


# ---------------------------------------------------------------------------------------------
# csv formatting


def test_csv_formatter_round_trips_values():
    meta = np.zeros(3, dtype=[("counter", "<i8"), ("timestamp", "<f8"), ("deadtime", "<f8")])
    meta["counter"] = [0, 1, 2]
    meta["timestamp"] = [1.7e9 + 0.123456789, 1.7e9, 1.0e-3]
    data = np.zeros(3, dtype=[("f", "f4"), ("d", "f8"), ("i", "i2"), ("ok", "?"), ("name", "S8")])
    data["f"] = [0.1, np.nan, -3.4028235e38]
    data["d"] = [1 / 3, np.inf, -0.0]
    data["i"] = [-32768, 0, 7]
    data["ok"] = [True, False, True]
    data["name"] = [b"a,b", b'q"', b"plain"]
    fmt = CsvFormatter(meta.dtype, data.dtype)
    text = fmt.header() + fmt.rows(meta, data)
    assert text.splitlines()[0] == "counter,timestamp,deadtime,f,d,i,ok,name"
    assert text.splitlines()[1].split(",")[3] == "0.1"  # float32 written shortest, as float32
    back = pd.read_csv(_io.StringIO(text), dtype={"f": np.float32})
    assert back["counter"].tolist() == [0, 1, 2]
    assert back["timestamp"].to_numpy().tobytes() == meta["timestamp"].tobytes()
    assert np.array_equal(back["f"].to_numpy(), data["f"], equal_nan=True)
    assert np.array_equal(back["d"].to_numpy(), data["d"], equal_nan=True)
    assert back["i"].tolist() == [-32768, 0, 7] and back["ok"].tolist() == [True, False, True]
    assert back["name"].tolist() == ["a,b", 'q"', "plain"]
    with pytest.raises(ValueError, match="must be scalars"):
        CsvFormatter(np.dtype([("v", "f4", (3,))]))


# ---------------------------------------------------------------------------------------------
# in-process: worker functions on ring buffers


def test_csv_exporter_writes_header_rows_and_passes_through(tmp_path):
    src, copy = _rings(("P", 64, 1, PARAMS), ("C", 64, 1, PARAMS))
    try:
        rows = [(0.5 * i, i / 7, i - 3) for i in range(40)]
        _fill(src, rows)
        io = BufferIO(
            "csv", [src.reader()], [copy.writer()], [], config={"filename": "out"}, run_dir=tmp_path
        )
        exporters.csv(io)
        assert copy.stats().events_written == 40
    finally:
        src.unlink()
        copy.unlink()
    df = pd.read_csv(tmp_path / "out.csv", dtype={"y": np.float32})
    assert df.columns.tolist() == ["counter", "timestamp", "deadtime", "x", "y", "k"]
    assert df["counter"].tolist() == list(range(40))
    assert df["x"].tolist() == [r[0] for r in rows]
    assert df["y"].to_numpy().tobytes() == np.array([r[1] for r in rows], np.float32).tobytes()


def test_csv_saves_in_quiet_times_and_second_process_gets_own_file(tmp_path):
    (src,) = _rings(("Quiet", 16, 1, PARAMS))
    try:
        writer = src.writer()
        io = BufferIO("csv", [src.reader()], [], [], config={"save_interval": 0.1}, run_dir=tmp_path)
        thread = threading.Thread(target=exporters.csv, args=(io,))
        thread.start()
        for i in range(3):
            with writer as (meta, data):
                meta[0] = (i, 0.0, 0.0)
                data[0] = (i, i, i)
        path = tmp_path / "Quiet.csv"
        # no more events come: the rows are saved anyway
        wait_until(lambda: path.exists() and len(path.read_text().splitlines()) == 4, what="header + 3 rows")
        writer.close()
        thread.join(10)
        assert not thread.is_alive()
    finally:
        src.unlink()
    (src,) = _rings(("Quiet", 4, 1, PARAMS))
    try:
        _fill(src, [(1, 1, 1)])
        exporters.csv(BufferIO("csv", [src.reader()], [], [], run_dir=tmp_path))
    finally:
        src.unlink()
    assert len(pd.read_csv(tmp_path / "Quiet_1.csv")) == 1


@pytest.mark.parametrize(
    ("function", "spec", "config", "message"),
    [
        ("csv", ("W", 2, 10, PARAMS), {}, "needs data_length = 1"),
        ("csv", ("P", 2, 1, PARAMS), {"filename": "../x"}, "config 'filename' must be a plain file name"),
        ("csv", ("P", 2, 1, PARAMS), {"save_interval": 0}, "config 'save_interval' must be a number > 0"),
        ("histogram", ("P", 2, 1, PARAMS), {}, "bins is required"),
        ("histogram", ("P", 2, 1, PARAMS), {"bins": {"q": [0, 1, 2]}}, r"'q' is not a field of the buffer \(fields: x, y, k\)"),
        ("histogram", ("P", 2, 1, PARAMS), {"bins": {"x": [0, 1, 2]}, "update_interval": -1}, "update_interval"),
    ],
)  # fmt: skip
def test_exporter_config_errors(tmp_path, function, spec, config, message):
    (src,) = _rings(spec)
    try:
        io = BufferIO("exp", [src.reader()], [], [], config=config, run_dir=tmp_path)
        with pytest.raises(ValueError, match=message):
            getattr(exporters, function)(io)
    finally:
        src.unlink()


def test_histogram_counts_waveform_elements_and_shows_live(tmp_path):
    (src,) = _rings(("Wave", 8, 50, {"v": "float32"}))
    try:
        writer = src.writer()
        io = BufferIO(
            "h",
            [src.reader()],
            [],
            [],
            config={"bins": {"v": [0, 1, 20]}, "update_interval": 0.2},
            run_dir=tmp_path,
        )
        thread = threading.Thread(target=exporters.histogram, args=(io,))
        thread.start()
        rng = np.random.default_rng(1)
        sent = []
        live = wait_until(lambda: open_live_histograms(tmp_path, "Wave"), interval=0.01)
        for _i in range(5):
            with writer as (meta, data):
                data["v"] = rng.random(50).astype(np.float32)
                sent.append(data["v"].copy())
        # the worker is still waiting for more: the counts show anyway
        wait_until(lambda: live["v"].total == 250, interval=0.01, what="250 entries")
        assert thread.is_alive()
        writer.close()
        thread.join(10)
    finally:
        src.unlink()
    expected = np.histogram(np.concatenate(sent), bins=np.linspace(0, 1, 20))[0]  # NBins 20: 19 bins
    assert len(expected) == 19
    assert live["v"].counts.tolist() == expected.tolist()


def test_drain_and_copy(tmp_path):
    from mimocorb_gui.functions import misc

    src, a, b = _rings(("S", 64, 3, PARAMS), ("A", 64, 3, PARAMS), ("B", 64, 3, PARAMS))
    try:
        w = src.writer()
        for i in range(30):
            with w as (meta, data):
                meta[0] = (i, i, 0)
                data["k"] = i
        w.close()
        misc.copy(BufferIO("copy", [src.reader()], [a.writer(), b.writer()], []))
        assert a.stats().events_written == b.stats().events_written == 30
        exporters.drain(BufferIO("drain", [a.reader()], [], []))
        assert a.stats().events_read == 30
        (c,) = _rings(("C", 4, 3, {"other": "f8"}))
        try:
            with pytest.raises(ValueError, match="must have the dtype of source"):
                misc.copy(BufferIO("copy", [b.reader()], [c.writer()], []))
        finally:
            c.unlink()
    finally:
        for rb in (src, a, b):
            rb.unlink()


# ---------------------------------------------------------------------------------------------
# whole runs: worker processes


PIPELINE = """
    Buffers:
      Params: {slot_count: 64, data_length: 1, data_dtype: {x: float64, y: float32, k: int32}}
      Passed: {slot_count: 64, data_length: 1, data_dtype: {x: float64, y: float32, k: int32}}
      ForCsv: {slot_count: 64, data_length: 1, data_dtype: {x: float64, y: float32, k: int32}}
    Workers:
      source:
        file: gen.py
        function: params
        sinks: [Params]
        config: {n: %(n)d, rate: %(rate)d, seed: 3}
      cut:
        file: gen.py
        function: keep
        number_of_processes: 2
        sources: [Params]
        sinks: [Passed]
      histogram:
        function: exporters.histogram
        number_of_processes: %(hist_procs)d
        sources: [Passed]
        sinks: [ForCsv]
        config:
          bins: {x: [-2, 2, 40], y: [0, 1, 7], k: [0, 100, 10]}
          update_interval: 0.2
      csv:
        function: exporters.csv
        sources: [ForCsv]
        config: {save_interval: 0.2}
"""


@pytest.mark.timeout(90)
@pytest.mark.parametrize("hist_procs", [1, 2])
def test_run_histogram_counts_equal_numpy_histogram_of_everything_that_passed(
    tmp_path, hist_procs, no_shm_leak
):
    """Two histogram processes add their shares to the same files under the lock: still exact."""
    setup = _write_setup(tmp_path, PIPELINE % {"n": 6000, "rate": 0, "hist_procs": hist_procs})
    run = _run(setup, tmp_path)
    try:
        run_dir = run.start()
        assert run.wait(60), _errors(run)
        stats = run.stats()
    finally:
        run.close()
    assert run.state == "finished" and not _errors(run)
    passed = stats.buffers["Passed"].stats.events_written
    assert stats.buffers["Params"].stats.events_written == 6000
    assert 3000 < passed < 5000
    df = pd.read_csv(run_dir / "ForCsv.csv", dtype={"x": np.float64, "y": np.float32, "k": np.int32})
    assert len(df) == passed  # csv rows = events in
    assert sorted(df["counter"]) == sorted(set(df["counter"]))  # each event once
    assert (df["k"] % 3 != 0).all()
    info = pd.read_csv(run_dir / "Histograms_Passed" / "info.csv")
    for ch, (lo, hi, n) in {"x": (-2, 2, 40), "y": (0, 1, 7), "k": (0, 100, 10)}.items():
        values = df[ch].to_numpy()
        counts = np.load(run_dir / "Histograms_Passed" / f"{ch}.npy")
        assert counts.tolist() == np.histogram(values, bins=np.linspace(lo, hi, n))[0].tolist(), ch
        row = info[info["Channel"] == ch].iloc[0]
        assert (row["Min"], row["Max"], row["NBins"]) == (lo, hi, n)
        below = int(np.sum(values < lo))
        above = int(np.sum(values > hi))
        nan = int(np.sum(np.isnan(values.astype(np.float64))))
        assert (row["Underflow"], row["Overflow"], row["NaN"]) == (below, above, nan), ch
        assert row["Entries"] + below + above + nan == passed
    assert info.loc[info["Channel"] == "x", "NaN"].iloc[0] > 0  # the test data do have NaN, inf, edges


@pytest.mark.timeout(60)
def test_run_live_histogram_grows_while_running_and_stopped_csv_is_complete(tmp_path, no_shm_leak):
    setup = _write_setup(tmp_path, PIPELINE % {"n": -1, "rate": 1500, "hist_procs": 1})
    run = _run(setup, tmp_path)
    seen = []
    try:
        run_dir = run.start()
        live = wait_until(lambda: open_live_histograms(run_dir, "Passed"), timeout=20, interval=0.05)
        assert set(live) == {"x", "y", "k"}
        for _ in range(4):  # four looks a quarter second apart: the counts must grow
            time.sleep(0.25)
            seen.append(live["k"].entries_seen)
        assert run.stop(timeout=20), _errors(run)
        stats = run.stats()
    finally:
        run.close()
    assert not _errors(run)
    assert seen == sorted(seen) and seen[-1] > seen[0] > 0  # counts grow while the run goes
    passed = stats.buffers["Passed"].stats.events_written
    df = pd.read_csv(run_dir / "ForCsv.csv")
    assert len(df) == passed > 100  # every event that passed is in the file after the stop
    assert live["k"].entries_seen == passed  # the reader's mapping has the final counts
    for h in live.values():
        h.close()


@pytest.mark.timeout(60)
def test_run_copy_gives_every_sink_all_events_and_drain_ends(tmp_path, no_shm_leak):
    setup = _write_setup(
        tmp_path,
        """
        Buffers:
          Params: {slot_count: 16, data_length: 1, data_dtype: {x: float64, y: float32, k: int32}}
          A: {slot_count: 16, data_length: 1, data_dtype: {x: float64, y: float32, k: int32}}
          B: {slot_count: 16, data_length: 1, data_dtype: {x: float64, y: float32, k: int32}}
          C: {slot_count: 16, data_length: 1, data_dtype: {x: float64, y: float32, k: int32}}
        Workers:
          source: {file: gen.py, function: params, sinks: [Params], config: {n: 500}}
          copy: {function: misc.copy, sources: [Params], sinks: [A, B, C], number_of_processes: 2}
          save_a: {function: data.export, sources: [A]}
          save_b: {function: data.export, sources: [B]}
          drain: {function: exporters.drain, sources: [C]}
        """,
    )
    run = _run(setup, tmp_path)
    try:
        run_dir = run.start()
        assert run.wait(30), _errors(run)
        stats = run.stats()
    finally:
        run.close()
    assert run.state == "finished" and not _errors(run)
    a, _, _ = read_mimo(run_dir / "A.mimo")
    b, _, _ = read_mimo(run_dir / "B.mimo")
    assert sorted(a["counter"].tolist()) == sorted(b["counter"].tolist()) == list(range(500))
    assert stats.buffers["C"].stats.events_read == 500
