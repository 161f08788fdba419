"""Worker functions for the run tests, written the way a user writes them."""

import os
import time

import numpy as np

from mimocorb_gui import BufferIO, Exporter, Filter, Importer


def counting_source(io: BufferIO):
    """Yields n_events events (-1: until stopped); field values equal the event number."""
    importer = Importer(io)
    n = io.get("n_events", 100)
    sleep = io.get("sleep", 0.0)
    example = importer.data_example

    def ufunc():
        i = 0
        while n < 0 or i < n:
            d = np.empty_like(example)
            for name in d.dtype.names:
                d[name] = i
            i += 1
            if sleep:
                time.sleep(sleep)
            yield d
        yield None

    importer(ufunc)


def pass_all(io: BufferIO):
    """Passes every event; raises on event `fail_at` if configured; exits hard on `die_at`."""
    fail_at = io.get("fail_at", -1)
    die_at = io.get("die_at", -1)

    def ufunc(data):
        value = int(data[data.dtype.names[0]][0])
        if value == fail_at:
            raise ValueError(f"cannot handle event {value}")
        if value == die_at:
            os._exit(3)  # a hard crash: no cleanup, no closing of sinks
        return True

    Filter(io)(ufunc)


def record_counters(io: BufferIO):
    """Writes the counter of every event to <run_dir>/<name>_<process>.txt, one per line, flushed."""
    path = io.run_dir / f"{io.name}_{io.process_index}.txt"
    with open(path, "w") as f:
        for _data, meta in Exporter(io):
            f.write(f"{int(meta['counter'][0])}\n")
            f.flush()
