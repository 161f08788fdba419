"""The run monitor's rules on numbers alone (core.runwatch, core.runplan, core.shm)."""

from __future__ import annotations

import multiprocessing
import os
import re
import textwrap
from pathlib import Path

import numpy as np
import pytest

from mimocorb_gui.cli import main as cli_main
from mimocorb_gui.core import shm
from mimocorb_gui.core.ringbuffer import BufferStats, RingBuffer
from mimocorb_gui.core.runplan import RunPlan
from mimocorb_gui.core.runwatch import StallWatch, StopDeadlines, buffer_account, no_room
from mimocorb_gui.core.setup import Setup

SETUP = textwrap.dedent(
    """\
    Buffers:
      A: {slot_count: 4, data_length: 1, data_dtype: {x: float64}}
      B: {slot_count: 4, data_length: 1, data_dtype: {x: float64}}
    Workers:
      source: {function: simulators.poisson_source, sinks: [A]}
      filter: {function: exporters.drain, sources: [A], sinks: [B], number_of_processes: 2}
      sink: {function: exporters.drain, sources: [B]}
      scope: {function: observers.oscilloscope, observes: [A]}
    """
)


@pytest.fixture
def plan(tmp_path) -> RunPlan:
    path = tmp_path / "setup.yaml"
    path.write_text(SETUP)
    return RunPlan.from_setup(Setup.load(path))


def stats(name, written=0, read=0, filled=0, closed=False, aborted=False, slots=4) -> BufferStats:
    return BufferStats(
        name, slots, filled, written, read, 0, 0, 0.0, 0 if closed else 1, 1, False, closed, aborted
    )


def test_the_plan_is_a_snapshot_that_later_edits_do_not_change(tmp_path, plan):
    assert plan.buffers["A"].readers == ("filter",) and plan.buffers["B"].writers == 2
    assert plan.root_buffers == {"A"}
    assert plan.workers["scope"].display_only and not plan.workers["filter"].display_only
    setup = Setup.load(tmp_path / "setup.yaml")
    frozen = RunPlan.from_setup(setup)
    setup.set_worker_field("filter", "number_of_processes", 5)
    setup.connect("sink", "A", "sources")
    assert frozen.buffers["B"].writers == 2 and frozen.buffers["A"].readers == ("filter",)
    with pytest.raises(TypeError):
        frozen.workers["filter"].config["x"] = 1  # read-only


def test_slot_memory_matches_the_ring_buffer_layout():
    for slots, length, dtype in [(16, 8, "f8"), (128, 4250, "f4,f4,f4,f4"), (1, 1, "i1")]:
        rb = RingBuffer("m", slots, length, np.dtype(dtype))
        try:
            actual = rb._shm.size
        finally:
            rb.unlink()
        estimate = shm.slot_memory(slots, length, rb.dtype.itemsize)
        assert actual <= estimate <= actual + 4096 + 64 * slots


def test_a_full_buffer_whose_readers_take_nothing_is_reported_once(plan):
    watch = StallWatch(plan, threshold=5.0)
    full = {"A": stats("A", written=10, read=6), "B": stats("B")}
    assert no_room(full["A"])
    assert watch.update(0.0, full) == []
    assert watch.update(4.9, full) == []
    (msg,) = watch.update(5.0, full)
    assert "worker 'filter' has taken no event from buffer 'A' for 5 s while it is full (4 slots)" in msg
    assert watch.update(9.0, full) == []  # once per stall
    moving = {"A": stats("A", written=11, read=7), "B": stats("B")}
    assert watch.update(10.0, moving) == []
    assert watch.update(14.0, moving) == [] and len(watch.update(15.0, moving)) == 1
    not_full = {"A": stats("A", written=9, read=7, filled=2), "B": stats("B")}
    assert watch.update(100.0, not_full) == []


def test_deadlines_start_when_a_worker_has_nothing_left_to_wait_for(plan):
    d = StopDeadlines(plan, deadline=10.0)
    running = {"A": stats("A", 5, 5), "B": stats("B", 5, 5)}
    alive = {"source": [0], "filter": [0, 1], "sink": [0], "scope": [0]}
    assert d.overdue(100.0, None, running, alive) == []  # no stop, nothing closed
    assert d.overdue(155.0, 150.0, running, alive) == []  # stopping: the importer's clock started at 150
    assert d.overdue(160.0, 150.0, running, alive) == [("source", 0, 10.0)]
    closed_a = {"A": stats("A", 6, 6, closed=True), "B": stats("B", 6, 6)}
    assert d.overdue(161.0, 150.0, closed_a, {"filter": [1], "sink": [0], "scope": [0]}) == []
    late = d.overdue(171.0, 150.0, closed_a, {"filter": [1], "sink": [0], "scope": [0]})
    assert sorted(late) == [("filter", 1, 10.0), ("scope", 0, 10.0)]


def test_a_reader_that_takes_nothing_while_stopping_is_overdue_and_a_blocked_writer_is_not(plan):
    d = StopDeadlines(plan, deadline=3.0)
    stuck = {"A": stats("A", 8, 4, filled=3), "B": stats("B", 4, 4)}
    alive = {"source": [0], "filter": [0], "sink": [0]}
    assert d.overdue(0.0, 0.0, stuck, alive) == []
    late = d.overdue(3.0, 0.0, stuck, alive)
    assert ("filter", 0, 3.0) in late and all(w != "source" for w, _, _ in late)  # source waits for room
    assert all(w != "sink" for w, _, _ in late)
    # the filter is gone and A aborted: the source gets a whole deadline from now to notice and end
    freed = {"A": stats("A", 8, 4, filled=3, aborted=True), "B": stats("B", 4, 4)}
    assert d.overdue(4.0, 0.0, freed, {"source": [0], "sink": [0]}) == []
    assert d.overdue(6.1, 0.0, freed, {"source": [0], "sink": [0]}) == [("source", 0, pytest.approx(3.1))]


def test_the_account_names_every_counter():
    st = BufferStats("X", 4, 0, 10, 7, 2, 1, 0.0, 0, 1, False, True, False)
    assert buffer_account(st) == (
        "buffer 'X': 10 written, 7 read, 2 dropped while paused, 1 dropped without reader, 3 left unread"
    )


def dead_pid() -> int:
    p = multiprocessing.get_context("fork").Process(target=os._exit, args=(0,))
    p.start()
    p.join()
    return p.pid


def test_only_segments_of_dead_creators_are_removed(tmp_path, capsys):
    dead = dead_pid()
    for name in (
        f"mimocorb_{dead}_0a1b",
        f"mimocorb_{dead}_ff",
        f"mimocorb_{os.getpid()}_abcd",
        "other_1_aa",
    ):
        (tmp_path / name).write_bytes(b"x" * 100)
    removed = shm.remove_orphaned_segments(tmp_path)
    assert sorted(s.name for s in removed) == [f"mimocorb_{dead}_0a1b", f"mimocorb_{dead}_ff"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"mimocorb_{os.getpid()}_abcd", "other_1_aa"]
    assert shm.describe_removed(removed) == (
        f"removed 2 shared-memory segment(s) (200 B) left behind by 1 ended process(es) (pid {dead})"
    )
    assert shm.our_segments(tmp_path / "missing") == []


@pytest.mark.skipif(not Path("/dev/shm").is_dir(), reason="POSIX shared memory in /dev/shm")
def test_mimocorb_clean_removes_a_dead_runs_segment_and_says_so(capsys):
    dead = dead_pid()
    path = Path("/dev/shm") / f"mimocorb_{dead}_c0ffee"
    path.write_bytes(b"x" * 2048)
    try:
        assert cli_main(["clean"]) == 0
        err = capsys.readouterr().err  # other test runs on this machine may have left some too
        assert re.search(rf"mimocorb: removed \d+ shared-memory segment\(s\) .*\(pid (\d+, )*{dead}\b", err)
        assert not path.exists()
        assert cli_main(["clean"]) == 0
        assert str(dead) not in capsys.readouterr().err
    finally:
        path.unlink(missing_ok=True)


def test_human_bytes():
    assert [shm.human_bytes(n) for n in (0, 1023, 1536, 5 * 2**30)] == ["0 B", "1023 B", "1.5 kB", "5.0 GB"]
