"""Process bodies for the multi-process ring buffer tests (importable under spawn)."""

from __future__ import annotations

import time

import numpy as np

from mimocorb_gui.core.bufferio import BufferIO
from mimocorb_gui.core.templates import Exporter, Filter, Importer


def importer(rb, wid, n, stop_flag=None, sleep=0.0, wait_for=None):
    if wait_for is not None:
        wait_for.wait(60)  # e.g. until an observer polls, so it sees the stream and not only its end
    io = BufferIO("importer", [], [rb.writer(wid)], [], {}, stop_flag=stop_flag)
    imp = Importer(io)
    example = imp.data_example

    def ufunc():
        for i in range(n):
            d = example.copy()
            for name in d.dtype.names:
                d[name] = i
            if sleep:
                time.sleep(sleep)
            yield d
        yield None

    imp(ufunc)


def passing_filter(src, sinks, name="filter", slow=0.0):
    io = BufferIO(name, [src.reader()], [rb.writer(wid) for rb, wid in sinks], [])

    def ufunc(data):
        if slow:
            time.sleep(slow)
        return True

    Filter(io)(ufunc)


def exporter(src, sinks, name="exporter"):
    io = BufferIO(name, [src.reader()], [rb.writer(wid) for rb, wid in sinks], [])
    for _data, _meta in Exporter(io):
        pass


def collect(rb, queue, check_data=False):
    """Read to the end; put the list of counters (and whether data matched) on the queue."""
    reader = rb.reader()
    counters = []
    consistent = True
    while True:
        with reader as (meta, data):
            if meta is None:
                break
            c = int(meta["counter"][0])
            counters.append(c)
            if check_data:
                first = data.dtype.names[0]
                consistent &= bool(np.all(data[first] == data[first][0]))
    queue.put((counters, consistent))


def observe_flat_out(rb, queue, stop_event, ready=None):
    """Poll an observer as fast as possible; report how many copies were taken and whether any was torn."""
    obs = rb.observer()
    copies = 0
    torn = 0
    if ready is not None:
        ready.set()
    while not stop_event.is_set():
        meta, data = obs.get()
        if meta is None:
            continue
        copies += 1
        first = data.dtype.names[0]
        if not np.all(data[first] == data[first][0]):
            torn += 1
        if rb.closed and obs.new_events() == 0:
            break
    queue.put((copies, torn))
