"""The writer and reader handles: the slot protocol between the processes sharing a ring buffer.

A slot number travels free FIFO -> writer -> filled FIFO -> reader -> free FIFO; two counting
semaphores count the free and the filled slots, and each FIFO end has its own lock, so writers
(pop free, push filled) never wait for readers (pop filled, push free).

- ``Writer.acquire()`` blocks on the free semaphore (waking every ``POLL`` s to look at pause
  and abort); the time blocked is the event's dead time. Paused or aborted, the write goes to a
  private scratch slot and is counted as dropped. ``commit()`` pushes the slot to the filled FIFO.
- ``Reader.acquire()`` yields the CPU a few times, then sleeps on the filled semaphore. An empty
  filled FIFO while holding a token means the end token (``RingBuffer.close_writer`` released it
  when the last writer closed): the reader passes it on and gets end of stream.

The handles read the buffer's header words and views directly (``rb._hdr`` ...): they are the
buffer's own protocol, kept in this package.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING

import numpy as np

from mimocorb_gui.core.ringbuffer.layout import (
    ABORTED,
    CLOSED,
    DEADTIME_NS,
    DROPPED,
    DROPPED_ABORT,
    FILL_HEAD,
    FILL_TAIL,
    FREE_HEAD,
    FREE_TAIL,
    LAST_SLOT,
    PAUSED,
    READ,
    WRITTEN,
)

if TYPE_CHECKING:
    from mimocorb_gui.core.ringbuffer.buffer import RingBuffer

__all__ = ["Handle", "Reader", "Writer"]

POLL = 0.05  # seconds; every blocking wait wakes this often to look at stop/close flags
# A reader that finds nothing yields the CPU this many times before it sleeps on the semaphore:
# the next event usually comes within microseconds, and a sleeping reader costs the writer a
# futex wake-up per event. Measured (small events, 2 cores, median of 5): 3 readers 206k -> 451k
# events/s, 1 reader 234k -> 402k; 200 yields was worse again (the readers starve the importer).
SPIN_YIELDS = 50


def spin_acquire(sem) -> bool:
    """Take a token of ``sem`` within ``SPIN_YIELDS`` yields of the CPU, never sleeping; False if none came."""
    for _ in range(SPIN_YIELDS):
        os.sched_yield()
        if sem.acquire(False):
            return True
    return False


class ShutdownFlag:
    """``handle.is_shutdown.value``: mimoCoRB2's shared flag, read from the buffer's header."""

    __slots__ = ("_rb",)

    def __init__(self, rb: RingBuffer) -> None:
        self._rb = rb

    @property
    def value(self) -> bool:
        hdr = self._rb._hdr
        return bool(hdr[CLOSED] or hdr[ABORTED])

    def __bool__(self) -> bool:
        return self.value


class Handle:
    """What writer, reader and observer handles have in common: their buffer and its examples."""

    __slots__ = ("_rb",)

    @property
    def buffer(self) -> RingBuffer:
        return self._rb

    # mimoCoRB2's interface members
    @property
    def name(self) -> str:
        return self._rb.name

    @property
    def slot_count(self) -> int:
        return self._rb.slot_count

    @property
    def is_shutdown(self) -> ShutdownFlag:
        return ShutdownFlag(self._rb)

    def get_stats(self) -> dict:
        return self._rb.stats().as_dict()

    @property
    def data_example(self) -> np.ndarray:
        return self._rb.data_example

    @property
    def metadata_example(self) -> np.ndarray:
        return self._rb.metadata_example


class Writer(Handle):
    """``with writer as (metadata, data)``: fill a free slot; it is committed on normal exit."""

    __slots__ = ("writer_id", "_idx", "_scratch", "last_wait", "counter")

    def __init__(self, rb: RingBuffer, writer_id: int) -> None:
        self._rb = rb
        self.writer_id = writer_id
        self._idx = -1
        self._scratch = (np.zeros(1, rb.metadata_dtype), np.zeros(rb.data_length, rb.dtype))
        self.last_wait = 0.0  # seconds blocked waiting for a free slot before the current event
        self.counter = 0

    def acquire(self) -> int:
        """Take a free slot number (blocking), or -1 when the write is to be dropped."""
        rb = self._rb
        hdr = rb._hdr
        self.last_wait = 0.0
        if hdr[PAUSED] or hdr[ABORTED]:
            return -1
        sem = rb._free_sem
        if not sem.acquire(False):
            t0 = time.perf_counter()
            while not sem.acquire(True, POLL):
                if hdr[ABORTED] or hdr[PAUSED]:
                    self.last_wait = time.perf_counter() - t0
                    return -1
            self.last_wait = time.perf_counter() - t0
        with rb._w_free_lock:
            head = hdr[FREE_HEAD]
            idx = rb._free[head % rb.slot_count]
            hdr[FREE_HEAD] = head + 1
        rb._seq[idx] += 1  # odd: being written
        return idx

    def commit(self, idx: int) -> None:
        rb = self._rb
        hdr = rb._hdr
        wait_ns = int(self.last_wait * 1e9)
        if idx < 0:
            with rb._w_fill_lock:
                hdr[DROPPED_ABORT if hdr[ABORTED] else DROPPED] += 1
                hdr[DEADTIME_NS] += wait_ns
            return
        rb._seq[idx] += 1  # even: stable
        with rb._w_fill_lock:
            tail = hdr[FILL_TAIL]
            rb._filled[tail % rb.slot_count] = idx
            hdr[FILL_TAIL] = tail + 1
            hdr[WRITTEN] += 1
            hdr[LAST_SLOT] = idx
            hdr[DEADTIME_NS] += wait_ns
        rb._filled_sem.release()
        self.counter += 1

    def discard(self, idx: int) -> None:
        """Give an acquired slot back unwritten (the writing code raised)."""
        if idx < 0:
            return
        rb = self._rb
        rb._seq[idx] += 1
        with rb._r_free_lock:  # the readers' end of the free FIFO
            tail = rb._hdr[FREE_TAIL]
            rb._free[tail % rb.slot_count] = idx
            rb._hdr[FREE_TAIL] = tail + 1
        rb._free_sem.release()

    def slot(self, idx: int) -> tuple[np.ndarray, np.ndarray]:
        if idx < 0:
            return self._scratch
        return self._rb._meta[idx], self._rb._data[idx]

    def set_metadata(self, idx: int, counter: int, timestamp: float, deadtime: float) -> None:
        """Store a slot's metadata record (fast path for the Importer template)."""
        if idx < 0:
            self._scratch[0][0] = (counter, timestamp, deadtime)
            return
        rb = self._rb
        w = rb._meta_word[idx]
        rb._words_q[w] = counter
        rb._words_d[w + 1] = timestamp
        rb._words_d[w + 2] = deadtime

    def raw(self, idx: int) -> np.ndarray | None:
        """The slot's data as bytes (for byte copies of same-dtype events), None for a dropped write."""
        return None if idx < 0 else self._rb.slot_bytes[idx]

    def __enter__(self) -> tuple[np.ndarray, np.ndarray]:
        self._idx = idx = self.acquire()
        if idx < 0:
            return self._scratch
        return self._rb._meta[idx], self._rb._data[idx]

    def __exit__(self, exc_type, exc, tb) -> None:
        idx, self._idx = self._idx, -1
        if exc_type is None:
            self.commit(idx)
        else:
            self.discard(idx)

    def close(self) -> None:
        """This writer has finished; the buffer closes when all its writers have."""
        self._rb.close_writer(self.writer_id)

    # manual's names
    send_flush_event = close
    shutdown_buffer = close


class Reader(Handle):
    """``with reader as (metadata, data)``: the oldest filled slot; ``(None, None)`` at end of stream."""

    __slots__ = ("_idx",)

    def __init__(self, rb: RingBuffer) -> None:
        self._rb = rb
        self._idx = -1

    def acquire(self, timeout: float | None = None) -> int:
        """Take the oldest filled slot number; -1 at end of stream, -2 when ``timeout`` ran out."""
        rb = self._rb
        hdr = rb._hdr
        sem = rb._filled_sem
        if not sem.acquire(False) and not spin_acquire(sem):
            deadline = None if timeout is None else time.monotonic() + timeout
            while not sem.acquire(True, POLL):
                if deadline is not None and time.monotonic() >= deadline:
                    return -2
        with rb._r_fill_lock:
            head = hdr[FILL_HEAD]
            if head == hdr[FILL_TAIL]:
                # only the end token is left: pass it on to the next reader
                sem.release()
                return -1
            idx = rb._filled[head % rb.slot_count]
            hdr[FILL_HEAD] = head + 1
        return idx

    def release(self, idx: int) -> None:
        if idx < 0:
            return
        rb = self._rb
        hdr = rb._hdr
        with rb._r_free_lock:
            tail = hdr[FREE_TAIL]
            rb._free[tail % rb.slot_count] = idx
            hdr[FREE_TAIL] = tail + 1
            hdr[READ] += 1
        rb._free_sem.release()

    def slot(self, idx: int) -> tuple[np.ndarray, np.ndarray] | tuple[None, None]:
        if idx < 0:
            return None, None
        return self._rb._meta[idx], self._rb._data[idx]

    def __enter__(self):
        self._idx = idx = self.acquire()
        if idx < 0:
            return None, None
        return self._rb._meta[idx], self._rb._data[idx]

    def __exit__(self, exc_type, exc, tb) -> None:
        idx, self._idx = self._idx, -1
        self.release(idx)
