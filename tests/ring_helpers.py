"""Ring buffers for single-process worker tests: made and removed together, drained to a list."""

from __future__ import annotations

from contextlib import contextmanager

from mimocorb_gui.core.ringbuffer import RingBuffer


@contextmanager
def rings(*specs):
    """``with rings((name, slots, length, dtype), ...) as (a, b):`` buffers unlinked afterwards."""
    made = []
    try:
        for spec in specs:
            made.append(RingBuffer(*spec))
        yield made
    finally:
        for rb in made:
            rb.unlink()


def drain(rb, timeout: float = 10.0) -> list:
    """Copies of ``(metadata, data)`` of every event until the end of stream; fails on a timeout."""
    reader = rb.reader()
    out = []
    while True:
        idx = reader.acquire(timeout=timeout)
        assert idx != -2, "timeout while draining"
        if idx < 0:
            return out
        m, d = reader.slot(idx)
        out.append((m.copy(), d.copy()))
        reader.release(idx)
