"""The observer handle: samples the newest event of a ring buffer without taking part in the data flow.

It copies the slot of the newest commit and checks the slot's sequence number before and after
(odd while a writer holds the slot, a seqlock): no slot taken, nobody blocked, order unchanged.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING

import numpy as np

from mimocorb_gui.core.ringbuffer.handles import Handle
from mimocorb_gui.core.ringbuffer.layout import ABORTED, CLOSED, LAST_SLOT, WRITTEN

if TYPE_CHECKING:
    from mimocorb_gui.core.ringbuffer.buffer import RingBuffer

__all__ = ["Observer"]


class Observer(Handle):
    """A copy of the newest committed event, taken under a seqlock: never takes a slot or reorders.

    Two ways to use it:

    - ``get()`` (displays, the ``Observer`` template): never blocks; the newest event, or the
      previous copy, or ``(None, None)`` before a first event. ``new_events()`` tells how many
      events were committed since the last copy, so a display can skip frames with nothing new.
    - ``with observer as (metadata, data)`` (mimoCoRB2's raw ``io.observe[i]``): waits for an event
      newer than the last one it gave, looking at the run's stop request (``stop_flag``, set by
      BufferIO) and the buffer's end while it waits, and gives ``(None, None)`` once the buffer is
      shut down (closed or aborted) or the run stops with nothing new left to show.
    """

    poll_interval = 0.01  # s between looks while ``with observer`` waits for a newer event

    def __init__(self, rb: RingBuffer) -> None:
        self._rb = rb
        self._meta = np.zeros(1, rb.metadata_dtype)
        self._data = np.zeros(rb.data_length, rb.dtype)
        self._raw = self._data.view(np.uint8)
        self._meta_raw = self._meta.view(np.uint8)
        self._seen = 0
        self._have = False
        self.stop_flag = None  # the run's StopFlag, when a BufferIO owns this handle

    def new_events(self) -> int:
        return self._rb._hdr[WRITTEN] - self._seen

    def copy_latest(self, tries: int = 100) -> bool:
        """Copy the newest committed event into this observer's arrays; False if none could be had."""
        rb = self._rb
        hdr, seq = rb._hdr, rb._seq
        # an observer is a sampler, never in the data path: give a writer or reader sharing this
        # core its turn first (a flat-out observer on 2 cores: waveforms 81k -> 192k events/s)
        os.sched_yield()
        for _ in range(tries):
            written = hdr[WRITTEN]
            idx = hdr[LAST_SLOT]
            if idx < 0:
                return False
            s1 = seq[idx]
            if s1 & 1:
                time.sleep(0)  # a writer is filling this slot right now; look again
                continue
            np.copyto(self._raw, rb.slot_bytes[idx])
            np.copyto(self._meta_raw, rb._meta[idx].view(np.uint8))
            if seq[idx] == s1:
                self._seen = written
                self._have = True
                return True
        return False

    def get(self) -> tuple[np.ndarray, np.ndarray] | tuple[None, None]:
        """The newest event (a private copy), or the previous copy if nothing could be had."""
        if self.copy_latest() or self._have:
            return self._meta, self._data
        return None, None

    def _shut_down(self) -> bool:
        hdr = self._rb._hdr
        stop = self.stop_flag
        return bool(hdr[CLOSED] or hdr[ABORTED]) or (stop is not None and stop.is_set())

    def wait_newer(self, timeout: float | None = None) -> tuple[np.ndarray, np.ndarray] | tuple[None, None]:
        """A copy of an event newer than the last one given; ``(None, None)`` at the end (or timeout)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            if self.new_events() > 0 and self.copy_latest():
                return self._meta, self._data
            if self._shut_down() and self.new_events() <= 0:
                return None, None
            if deadline is not None and time.monotonic() >= deadline:
                return None, None
            time.sleep(self.poll_interval)

    def __enter__(self):
        return self.wait_newer()

    def __exit__(self, exc_type, exc, tb) -> None:
        return None
