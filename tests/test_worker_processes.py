"""core.workers directly (without a Run): one worker's processes, their logs, their end, their stats.

Worker functions live in a file written per test and are loaded the way a run loads them
(``file`` + ``function`` in the ProcessPlan). The fork start method keeps these tests fast;
spawn is covered by the Run tests.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import textwrap

import numpy as np
import pytest
from ring_helpers import drain
from waiting import wait_until

from mimocorb_gui.core.bufferio import StopFlag
from mimocorb_gui.core.ringbuffer import RingBuffer
from mimocorb_gui.core.workers import ProcessPlan, Worker, _LineLogger

pytestmark = pytest.mark.timeout(60)

FUNCTIONS = """
import logging
import numpy as np

def produce(io):
    print("hello from", io.name)
    logging.getLogger("user").warning("a warning with %d", 7)
    for i in range(int(io["n"])):
        with io.write[0] as (meta, data):
            data["v"][:] = i

def explode(io):
    print("partial line without newline", end="")
    with io.write[0] as (meta, data):
        data["v"][:] = 1
    raise ZeroDivisionError("boom in the worker")

def watch(io):
    import os
    io.logger.info("policy %d", os.sched_getscheduler(0))
"""


@pytest.fixture
def ctx():
    return multiprocessing.get_context("fork")


@pytest.fixture
def funcs(tmp_path):
    (tmp_path / "funcs.py").write_text(textwrap.dedent(FUNCTIONS))
    return tmp_path


@pytest.fixture
def sink(no_shm_leak):
    rb = RingBuffer("Out", 8, 4, np.dtype([("v", "f8")]), n_writers=1)
    yield rb
    rb.unlink()


def _worker(ctx, funcs, function, *, sinks=(), observes=(), config=None, n=1):
    queue = ctx.Queue()
    stop = StopFlag(ctx)
    plans = [
        ProcessPlan(
            worker="w",
            index=i,
            file="funcs.py",
            function=function,
            config=dict(config or {}),
            setup_dir=str(funcs),
            run_dir=str(funcs),
            sources=[],
            sinks=[(rb, i) for rb in sinks],
            observes=list(observes),
            stop_flag=stop,
            log_queue=queue,
        )
        for i in range(n)
    ]
    return Worker("w", function, plans), queue, stop


def _records(queue, until_exit_of: Worker) -> list[logging.LogRecord]:
    until_exit_of.join(30)
    records = []
    while True:
        try:
            records.append(queue.get(timeout=1.0))
        except Exception:
            return records


def test_a_worker_runs_its_function_and_its_prints_and_logs_reach_the_parent(ctx, funcs, sink):
    worker, queue, stop = _worker(ctx, funcs, "produce", sinks=[sink], config={"n": 5})
    assert worker.stats().state == "not started"
    worker.start(ctx)
    events = drain(sink)  # the worker closed its sink: the reader gets 'end'
    records = _records(queue, worker)
    assert [int(d["v"][0]) for _m, d in events] == list(range(5))
    assert worker.exitcodes == [0] and worker.stats().state == "finished" and not stop.is_set()
    by_message = {r.getMessage(): r for r in records}
    assert by_message["hello from w"].levelno == logging.INFO  # stdout lines are INFO
    assert by_message["a warning with 7"].levelno == logging.WARNING
    assert all(r.worker == "w" and r.proc_index == 0 for r in records)


def test_a_raising_worker_exits_1_logs_the_traceback_closes_its_sink_and_stops_the_run(ctx, funcs, sink):
    worker, queue, stop = _worker(ctx, funcs, "explode", sinks=[sink])
    worker.start(ctx)
    events = drain(sink)
    records = _records(queue, worker)
    assert len(events) == 1  # what was written before the error arrives, then the end
    assert worker.exitcodes == [1] and worker.failed and worker.stats().state == "failed"
    assert stop.is_set()  # the rest of the run ends in order
    errors = [r.getMessage() for r in records if r.levelno >= logging.ERROR]
    assert any("ZeroDivisionError: boom in the worker" in m and "Traceback" in m for m in errors), errors
    assert any(r.getMessage() == "partial line without newline" for r in records)  # flushed at exit


def test_a_missing_function_is_a_failed_worker_with_the_choices_named(ctx, funcs, sink):
    worker, queue, _stop = _worker(ctx, funcs, "no_such_function", sinks=[sink])
    worker.start(ctx)
    assert drain(sink) == []
    records = _records(queue, worker)
    assert worker.exitcodes == [1]
    message = next(r.getMessage() for r in records if r.levelno >= logging.ERROR)
    assert "no_such_function" in message and "produce" in message


def test_every_process_of_a_worker_has_its_own_writer_and_index(ctx, funcs, no_shm_leak):
    rb = RingBuffer("Out", 8, 4, np.dtype([("v", "f8")]), n_writers=3)
    try:
        worker, queue, _stop = _worker(ctx, funcs, "produce", sinks=[rb], config={"n": 4}, n=3)
        worker.start(ctx)
        assert worker.stats().processes == 3
        events = drain(rb)
        records = _records(queue, worker)
        assert len(events) == 12 and worker.exitcodes == [0, 0, 0]
        assert {r.proc_index for r in records} == {0, 1, 2}
    finally:
        rb.unlink()


@pytest.mark.skipif(not hasattr(os, "SCHED_IDLE"), reason="SCHED_IDLE is Linux only")
def test_an_observing_only_worker_runs_at_idle_priority(ctx, funcs, sink):
    worker, queue, _stop = _worker(ctx, funcs, "watch", observes=[sink])
    worker.start(ctx)
    records = _records(queue, worker)
    assert worker.exitcodes == [0]
    assert f"policy {os.SCHED_IDLE}" in [r.getMessage() for r in records]


def test_terminate_and_kill_end_a_worker_that_does_not_stop(ctx, funcs, sink):
    (funcs / "funcs.py").write_text("import time\ndef hang(io):\n    time.sleep(600)\n")
    for end in ("terminate", "kill"):
        worker, _queue, _stop = _worker(ctx, funcs, "hang", sinks=[sink])
        worker.start(ctx)
        wait_until(lambda w=worker: w.alive == 1, what="the process to start")
        assert worker.stats().state == "running"
        getattr(worker, end)()
        worker.join(10)
        assert worker.alive == 0 and worker.failed, (end, worker.exitcodes)


def test_cpu_percent_measures_a_busy_process(ctx, funcs, sink):
    (funcs / "funcs.py").write_text("def spin(io):\n    while not io.stop_requested:\n        pass\n")
    worker, _queue, stop = _worker(ctx, funcs, "spin", sinks=[sink])
    worker.start(ctx)
    try:
        wait_until(lambda: worker.alive == 1)
        assert worker.cpu_percent() == 0.0  # the first call starts the interval
        import time

        time.sleep(0.5)
        assert worker.cpu_percent() > 10  # one busy process; loose: the machine may be loaded
    finally:
        stop.set()
        worker.join(10)
    assert worker.exitcodes == [0]


def test_line_logger_logs_complete_lines_and_the_rest_on_flush(caplog):
    logger = logging.getLogger("test.linelogger")
    stream = _LineLogger(logger, logging.INFO)
    with caplog.at_level(logging.INFO, logger="test.linelogger"):
        print("one\ntwo", end="", file=stream)
        assert [r.getMessage() for r in caplog.records] == ["one"]
        print(" halves", file=stream)
        print("   ", file=stream)  # blank lines are not logged
        stream.write("tail")
        stream.flush()
    assert [r.getMessage() for r in caplog.records] == ["one", "two halves", "tail"]
