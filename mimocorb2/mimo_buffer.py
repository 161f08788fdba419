"""mimoCoRB2's ``mimo_buffer``: ``mimoBuffer`` and its reader / writer / observer interfaces.

Backed by mimoCoRB GUI's shared-memory ring buffer (index FIFOs and semaphores in shared memory,
no ``multiprocessing.Queue`` per event). What stays as in mimoCoRB2: the names, the
constructor ``mimoBuffer(name, slot_count, data_length, data_dtype)`` and ``from_setup``,
``with BufferWriter(buffer) as (metadata, data)``, ``with BufferReader(buffer) as (metadata,
data)`` giving ``(None, None)`` after the shutdown, ``send_flush_event`` / ``shutdown_buffer``,
``pause`` / ``resume``, ``get_stats()`` and the token methods ``read`` / ``write`` / ``observe``.

What differs (on purpose, see README "Coming from mimoCoRB2"): ``BufferObserver`` copies the
newest event instead of taking a filled slot and putting it back at the end of the queue, so
it never reorders events or steals slots from readers; it waits for an event newer than the
last one it gave and gives ``(None, None)`` once the buffer is shut down.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

import numpy as np

from mimocorb_gui.core.ringbuffer import METADATA_DTYPE, Observer, Reader, RingBuffer, Writer

__all__ = ["BufferObserver", "BufferReader", "BufferWriter", "Interface", "mimoBuffer"]

# mimoBuffer keeps one writer id per buffer for everybody (any writer's flush shuts the buffer, as
# in mimoCoRB2); a second id makes the ring buffer guard its write end with cross-process locks
_WRITER_IDS = 2


class _Flag:
    """``.value`` of a header counter or state, like the ``multiprocessing.Value`` mimoCoRB2 had."""

    __slots__ = ("_read",)

    def __init__(self, read) -> None:
        self._read = read

    @property
    def value(self):
        return self._read()

    def __bool__(self) -> bool:
        return bool(self._read())


class mimoBuffer(RingBuffer):
    """A ring buffer of ``slot_count`` slots, each ``data_length`` elements of ``data_dtype``."""

    metadata_dtype = METADATA_DTYPE
    metadata_length = 1

    def __init__(self, name: str, slot_count: int, data_length: int, data_dtype, ctx=None) -> None:
        super().__init__(name, slot_count, data_length, data_dtype, n_writers=_WRITER_IDS, ctx=ctx)
        self._last_stats = (time.time(), 0, 0.0)
        self._token_reader: Reader | None = None
        self._token_writer: Writer | None = None
        self._token_observer: Observer | None = None

    # mimoCoRB2's attribute names
    @property
    def data_dtype(self) -> np.dtype:
        return self.dtype

    @property
    def data_byte_size(self) -> int:
        return self.data_length * self.dtype.itemsize

    @property
    def metadata_byte_size(self) -> int:
        return self.metadata_dtype.itemsize

    @property
    def flush_event_received(self) -> _Flag:
        return _Flag(lambda: self.closed or self.aborted)

    @property
    def event_count(self) -> _Flag:
        return _Flag(lambda: self.stats().events_written)

    @property
    def paused_count(self) -> _Flag:
        return _Flag(lambda: self.stats().dropped_paused)

    @property
    def total_deadtime(self) -> _Flag:
        return _Flag(lambda: self.stats().deadtime_total)

    def close_writer(self, writer_id: int) -> bool:
        """Any writer's end shuts the whole buffer down, as mimoCoRB2's flush event did."""
        closed = False
        for wid in range(self.n_writers):
            closed = super().close_writer(wid) or closed
        return closed

    def send_flush_event(self) -> None:
        """Shut the buffer down: readers get ``(None, None)`` once it is empty."""
        self.close_writer(0)

    def get_stats(self) -> dict:
        """mimoCoRB2's statistics; ``rate`` and ``average_deadtime`` cover the time since the last call.

        ``average_deadtime`` is the fraction of that time the writers spent waiting for a free slot.
        """
        st = self.stats()
        now = time.time()
        t0, n0, d0 = self._last_stats
        dt = now - t0
        self._last_stats = (now, st.events_written, st.deadtime_total)
        return {
            "event_count": st.events_written,
            "filled_slots": st.filled / self.slot_count,
            "empty_slots": (self.slot_count - st.filled) / self.slot_count,
            "flush_event_received": st.closed or st.aborted,
            "rate": (st.events_written - n0) / dt if dt > 0 else 0.0,
            "average_deadtime": min(1.0, (st.deadtime_total - d0) / dt) if dt > 0 else 0.0,
            "paused_count": st.dropped_paused,
            "paused": st.paused,
        }

    # token interface of mimoCoRB2 (one handle of each kind per process)
    def _handles(self) -> tuple[Reader, Writer, Observer]:
        if self._token_reader is None:
            self._token_reader, self._token_writer, self._token_observer = (
                self.reader(),
                self.writer(0),
                self.observer(),
            )
        return self._token_reader, self._token_writer, self._token_observer

    def read(self) -> list:
        """``[token, metadata, data]`` of the oldest event, ``[None, None, None]`` after the shutdown."""
        idx = self._handles()[0].acquire()
        if idx < 0:
            return [None, None, None]
        metadata, data = self._handles()[0].slot(idx)
        return [idx, metadata, data]

    def return_read_token(self, token: int | None) -> None:
        if token is not None:
            self._handles()[0].release(token)

    def write(self) -> list:
        """``[token, metadata, data]`` of a free slot (token None while paused: the event is dropped)."""
        writer = self._handles()[1]
        idx = writer.acquire()
        metadata, data = writer.slot(idx)
        return [idx if idx >= 0 else None, metadata, data]

    def return_write_token(self, token: int | None) -> None:
        self._handles()[1].commit(-1 if token is None else token)

    def observe(self) -> list:
        """``[None, metadata, data]``: a copy of an event newer than the last one; all None after the shutdown."""
        metadata, data = self._handles()[2].wait_newer()
        if data is None:
            return [None, None, None]
        return [None, metadata, data]

    def return_observe_token(self, token: int | None) -> None:
        return None

    @classmethod
    def from_setup(cls, name: str, setup: Mapping) -> mimoBuffer:
        """A buffer from its setup entry: ``slot_count``, ``data_length``, ``data_dtype`` ({field: type})."""
        return cls(
            name=name,
            slot_count=setup["slot_count"],
            data_length=setup["data_length"],
            data_dtype=np.dtype([(str(k), v) for k, v in setup["data_dtype"].items()]),
        )

    def __del__(self) -> None:
        try:
            self.unlink()
        except Exception:
            pass


class Interface:
    """What mimoCoRB2's interfaces share: ``buffer``, ``name``, ``slot_count``, examples, ``is_shutdown``."""


class BufferReader(Reader, Interface):
    """``with BufferReader(buffer) as (metadata, data)``: the oldest event; ``(None, None)`` at the end."""

    def __init__(self, buffer: RingBuffer) -> None:
        super().__init__(buffer)


class BufferWriter(Writer, Interface):
    """``with BufferWriter(buffer) as (metadata, data)``: fill a free slot."""

    def __init__(self, buffer: RingBuffer, writer_id: int = 0) -> None:
        super().__init__(buffer, writer_id)

    def shutdown_buffer(self) -> None:
        """This writer has finished; a ``mimoBuffer`` then shuts down (any writer's flush ends it)."""
        self.close()

    send_flush_event = shutdown_buffer


class BufferObserver(Observer, Interface):
    """``with BufferObserver(buffer) as (metadata, data)``: a copy of a newer event; ``(None, None)`` at the end."""

    def __init__(self, buffer: RingBuffer) -> None:
        super().__init__(buffer)
