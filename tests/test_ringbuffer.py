"""Ring buffer: single-process semantics, and integrity across processes under fork and spawn."""

from __future__ import annotations

import multiprocessing
import time

import mp_helpers
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mimocorb_gui.core.ringbuffer import RingBuffer, make_dtype

SMALL = {"x": "f8", "y": "f8", "z": "i4"}


@pytest.fixture
def rb(no_shm_leak):
    buf = RingBuffer("test", 4, 10, SMALL)
    yield buf
    buf.unlink()


def test_write_then_read_keeps_data_and_metadata(rb):
    w, r = rb.writer(), rb.reader()
    with w as (meta, data):
        data["x"] = np.arange(10)
        meta["counter"] = 7
    with r as (meta, data):
        assert meta["counter"][0] == 7
        assert list(data["x"]) == list(range(10))
    st_ = rb.stats()
    assert (st_.events_written, st_.events_read, st_.filled) == (1, 1, 0)


def test_reader_gets_none_only_when_closed_and_empty(rb):
    w, r = rb.writer(), rb.reader()
    for i in range(3):
        with w as (meta, _):
            meta["counter"] = i
    w.close()
    got = []
    while True:
        with r as (meta, _):
            if meta is None:
                break
            got.append(int(meta["counter"][0]))
    assert got == [0, 1, 2]
    with r as (meta, data):  # end of stream stays end of stream
        assert meta is None and data is None


def test_end_of_stream_is_counted_over_writers(no_shm_leak):
    buf = RingBuffer("multi", 4, 1, SMALL, n_writers=3)
    try:
        writers = [buf.writer(i) for i in range(3)]
        writers[0].close()
        writers[0].close()  # idempotent: must not count twice
        assert not buf.closed
        writers[1].close()
        assert not buf.closed
        with writers[2] as (meta, _):
            meta["counter"] = 42
        writers[2].close()
        assert buf.closed
        with buf.reader() as (meta, _):
            assert meta["counter"][0] == 42
        with buf.reader() as (meta, _):
            assert meta is None
    finally:
        buf.unlink()


def test_exception_inside_write_gives_the_slot_back(rb):
    w = rb.writer()
    with pytest.raises(RuntimeError):
        with w as (_, data):
            data["x"] = 1
            raise RuntimeError("boom")
    assert rb.stats().events_written == 0
    for _ in range(rb.slot_count):  # all slots still free
        with w:
            pass
    assert rb.stats().filled == rb.slot_count


def test_pause_drops_and_counts_then_resume_continues(rb):
    w, r = rb.writer(), rb.reader()
    rb.pause()
    for _ in range(10):  # more than slot_count: a paused buffer never blocks
        with w as (meta, data):
            data["x"] = 1
    s = rb.stats()
    assert (s.events_written, s.dropped_paused, s.state) == (0, 10, "paused")
    rb.resume()
    with w:
        pass
    assert rb.stats().events_written == 1
    with r as (meta, _):
        assert meta is not None


def test_observer_copies_latest_without_taking_a_slot(rb):
    w, r, obs = rb.writer(), rb.reader(), rb.observer()
    assert obs.get() == (None, None)
    for i in range(3):
        with w as (meta, data):
            meta["counter"] = i
            data["z"] = i
    meta, data = obs.get()
    assert meta["counter"][0] == 2 and np.all(data["z"] == 2)
    assert obs.new_events() == 0
    assert rb.stats().filled == 3  # nothing taken
    assert [int(r.slot(r.acquire())[0]["counter"][0]) for _ in range(3)] == [0, 1, 2]


def test_abort_unblocks_a_writer_on_a_full_buffer(rb):
    w = rb.writer()
    for _ in range(rb.slot_count):
        with w:
            pass
    rb.abort()
    t0 = time.monotonic()
    with w:
        pass
    assert time.monotonic() - t0 < 1
    assert rb.stats().dropped_aborted == 1


def test_string_dtype_fields(no_shm_leak):
    buf = RingBuffer("strings", 2, 3, {"name": "S10", "v": "int16"})
    try:
        with buf.writer() as (_, data):
            data["name"] = [b"alpha", b"beta", b"gamma"]
        with buf.reader() as (_, data):
            assert list(data["name"]) == [b"alpha", b"beta", b"gamma"]
    finally:
        buf.unlink()


@settings(max_examples=25, deadline=None)
@given(
    fields=st.lists(st.sampled_from(["i1", "u2", "i4", "i8", "f4", "f8", "S7", "?"]), min_size=1, max_size=5),
    length=st.integers(1, 50),
    slots=st.integers(1, 6),
)
def test_any_dtype_round_trips(fields, length, slots):
    dtype = make_dtype({f"f{i}": t for i, t in enumerate(fields)})
    buf = RingBuffer("h", slots, length, dtype)
    try:
        rng = np.random.default_rng(1)
        events = []
        w, r = buf.writer(), buf.reader()
        for _ in range(slots):
            ev = np.frombuffer(rng.bytes(dtype.itemsize * length), dtype=dtype).copy()
            events.append(ev)
            with w as (_, data):
                data[:] = ev
        for ev in events:
            with r as (_, data):
                assert data.tobytes() == ev.tobytes()
    finally:
        buf.unlink()


# ----- across processes -----------------------------------------------------------------------


def _run(procs, timeout=60):
    for p in procs:
        p.start()
    return procs


def _join(procs, timeout=60):
    for p in procs:
        p.join(timeout)
        assert p.exitcode == 0, f"{p.name} exit code {p.exitcode}"


@pytest.mark.timeout(120)
def test_three_process_filter_delivers_each_event_exactly_once(start_method, no_shm_leak):
    ctx = multiprocessing.get_context(start_method)
    n = 3000
    src = RingBuffer("src", 8, 4, SMALL, n_writers=1, ctx=ctx)
    dst = RingBuffer("dst", 8, 4, SMALL, n_writers=3, ctx=ctx)
    q = ctx.Queue()
    try:
        procs = [ctx.Process(target=mp_helpers.importer, args=(src, 0, n))]
        # filter processes end at different times: process 2 is slow, so its siblings close first
        for i in range(3):
            procs.append(
                ctx.Process(target=mp_helpers.passing_filter, args=(src, [(dst, i)], "f", 0.002 * (i == 2)))
            )
        procs.append(ctx.Process(target=mp_helpers.collect, args=(dst, q, True)))
        _run(procs)
        counters, consistent = q.get(timeout=100)
        _join(procs)
        assert sorted(counters) == list(range(n))
        assert consistent
        s = dst.stats()
        assert s.closed and s.events_written == n and s.events_read == n and s.writers_open == 0
    finally:
        src.unlink()
        dst.unlink()


@pytest.mark.timeout(120)
def test_observer_flat_out_changes_neither_count_nor_order(start_method, no_shm_leak):
    ctx = multiprocessing.get_context(start_method)
    n = 5000
    buf = RingBuffer("obs", 16, 256, {"v": "i8"}, ctx=ctx)
    q_reader, q_obs = ctx.Queue(), ctx.Queue()
    stop, observing = ctx.Event(), ctx.Event()
    try:
        procs = [
            ctx.Process(target=mp_helpers.importer, args=(buf, 0, n), kwargs={"wait_for": observing}),
            ctx.Process(target=mp_helpers.collect, args=(buf, q_reader, True)),
            ctx.Process(target=mp_helpers.observe_flat_out, args=(buf, q_obs, stop, observing)),
        ]
        _run(procs)
        counters, consistent = q_reader.get(timeout=100)
        stop.set()
        copies, torn = q_obs.get(timeout=30)
        _join(procs)
        assert counters == list(range(n))
        assert consistent
        assert copies > 0 and torn == 0
    finally:
        buf.unlink()


@pytest.mark.timeout(120)
def test_shutdown_propagates_through_a_four_stage_chain(start_method, no_shm_leak):
    ctx = multiprocessing.get_context(start_method)
    n = 1000
    bufs = [RingBuffer(f"b{i}", 4, 2, SMALL, ctx=ctx) for i in range(4)]
    q = ctx.Queue()
    try:
        procs = [ctx.Process(target=mp_helpers.importer, args=(bufs[0], 0, n))]
        for i in range(3):
            procs.append(
                ctx.Process(target=mp_helpers.exporter, args=(bufs[i], [(bufs[i + 1], 0)], f"stage{i}"))
            )
        procs.append(ctx.Process(target=mp_helpers.collect, args=(bufs[3], q)))
        _run(procs)
        counters, _ = q.get(timeout=100)
        _join(procs)
        assert counters == list(range(n))
        assert all(b.closed for b in bufs)
    finally:
        for b in bufs:
            b.unlink()


@pytest.mark.timeout(60)
def test_back_pressure_is_dead_time(no_shm_leak):
    ctx = multiprocessing.get_context("fork")
    buf = RingBuffer("bp", 2, 1, SMALL, ctx=ctx)
    try:
        w = buf.writer()
        p = ctx.Process(target=_slow_reader, args=(buf, 5))
        p.start()
        for _ in range(5):
            with w:
                pass
        w.close()
        p.join(30)
        assert p.exitcode == 0
        assert buf.stats().deadtime_total > 0.1
    finally:
        buf.unlink()


def _slow_reader(buf, n):
    r = buf.reader()
    time.sleep(0.3)
    while True:
        with r as (meta, _):
            if meta is None:
                return
            time.sleep(0.05)


def test_importer_metadata_counts_and_reports_source_dead_time(no_shm_leak):
    from mimocorb_gui.core.bufferio import BufferIO
    from mimocorb_gui.core.templates import Importer

    buf = RingBuffer("imp", 8, 2, SMALL)
    try:
        imp = Importer(BufferIO("imp", [], [buf.writer()], []))

        def ufunc():
            for i in range(3):
                if i == 2:
                    imp.add_deadtime(0.25)  # e.g. a board re-arming before the third event
                yield np.full(2, i, dtype=buf.dtype)
            yield None

        imp(ufunc)
        reader = buf.reader()
        metas = []
        while True:
            with reader as (meta, data):
                if meta is None:
                    break
                metas.append(meta.copy())
                assert np.all(data["y"] == meta["counter"][0])
        assert [int(m["counter"][0]) for m in metas] == [0, 1, 2]
        assert metas[2]["deadtime"][0] >= 0.25 > metas[1]["deadtime"][0]
        assert metas[0]["timestamp"][0] <= metas[2]["timestamp"][0]
        assert buf.stats().deadtime_total >= 0.25
    finally:
        buf.unlink()


def test_a_raising_filter_gives_its_slot_back_and_closes_its_sinks(no_shm_leak):
    from mimocorb_gui.core.bufferio import BufferIO
    from mimocorb_gui.core.templates import Filter

    src, dst = RingBuffer("src", 4, 1, SMALL), RingBuffer("dst", 4, 1, SMALL)
    try:
        w = src.writer()
        for i in range(3):
            with w as (meta, _):
                meta["counter"] = i
        io = BufferIO("f", [src.reader()], [dst.writer()], [])

        def ufunc(data):
            raise RuntimeError("broken analysis")

        with pytest.raises(RuntimeError, match="broken analysis"):
            Filter(io)(ufunc)
        s = src.stats()
        assert (s.events_read, s.filled) == (1, 2)  # the event it failed on was given back, not kept
        assert dst.closed  # downstream sees end of stream instead of waiting forever
    finally:
        src.unlink()
        dst.unlink()
