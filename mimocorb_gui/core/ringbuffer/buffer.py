"""The ring buffer: one shared-memory block of slots, its control flags and its end-of-stream count.

``RingBuffer`` creates the block (``layout``, ``segment``), maps the header, FIFOs, sequence
numbers and slots as arrays, hands out ``Writer`` / ``Reader`` / ``Observer`` handles and carries
the control a run needs: pause, resume, abort, stats, and end of stream by count. The buffer knows
its writer ids; ``close_writer(id)`` is idempotent and the last one closes the buffer and
releases the end token that every reader passes on.

It is picklable (pass it to ``multiprocessing.Process``): a child re-attaches by name, under
``fork`` and ``spawn`` alike. Only the creating process unlinks the memory.
"""

from __future__ import annotations

import os
import threading
from dataclasses import asdict, dataclass
from multiprocessing.context import BaseContext

import numpy as np

from mimocorb_gui.core.ringbuffer.handles import Reader, Writer
from mimocorb_gui.core.ringbuffer.layout import (
    ABORTED,
    CLOSED,
    DEADTIME_NS,
    DROPPED,
    DROPPED_ABORT,
    FILL_HEAD,
    FILL_TAIL,
    FREE_TAIL,
    LAST_COUNTER,
    LAST_SLOT,
    MAGIC,
    MAGIC_VALUE,
    METADATA_DTYPE,
    N_WRITERS,
    PAUSED,
    READ,
    SLOTS,
    WRITER_FLAGS,
    WRITERS_OPEN,
    WRITTEN,
    Layout,
    make_dtype,
)
from mimocorb_gui.core.ringbuffer.observer import Observer
from mimocorb_gui.core.ringbuffer.segment import attach_untracked, create_segment

__all__ = ["BufferStats", "RingBuffer"]


@dataclass(frozen=True)
class BufferStats:
    """A snapshot of a buffer's header counters."""

    name: str
    slot_count: int
    filled: int
    events_written: int
    events_read: int
    dropped_paused: int
    dropped_aborted: int
    deadtime_total: float
    writers_open: int
    n_writers: int
    paused: bool
    closed: bool
    aborted: bool

    @property
    def fill_level(self) -> float:
        return self.filled / self.slot_count if self.slot_count else 0.0

    @property
    def state(self) -> str:
        if self.closed:
            return "closed"
        if self.paused:
            return "paused"
        return "running"

    def as_dict(self) -> dict:
        return asdict(self) | {"fill_level": self.fill_level, "state": self.state}


class RingBuffer:
    """A ring buffer of ``slot_count`` slots in one shared-memory block."""

    def __init__(
        self,
        name: str,
        slot_count: int,
        data_length: int,
        data_dtype,
        n_writers: int = 1,
        ctx: BaseContext | None = None,
    ) -> None:
        import multiprocessing

        if slot_count < 1 or data_length < 1:
            raise ValueError(f"buffer '{name}': slot_count and data_length must be positive")
        if n_writers < 1:
            raise ValueError(f"buffer '{name}': needs at least one writer")
        ctx = ctx or multiprocessing.get_context()
        self.name = name
        self.slot_count = int(slot_count)
        self.data_length = int(data_length)
        self.dtype = make_dtype(data_dtype)
        self.metadata_dtype = METADATA_DTYPE
        self.n_writers = int(n_writers)
        self._free_sem = ctx.Semaphore(self.slot_count)
        self._filled_sem = ctx.Semaphore(0)
        # writers and readers work on opposite ends of each FIFO, so each end has its own lock and
        # an importer never waits for a reader's lock; a single writer needs no shared lock at all
        self._shared_locks = (ctx.Lock(), ctx.Lock(), ctx.Lock(), ctx.Lock())
        self._bind_locks()
        self._layout = Layout.of(self.slot_count, self.data_length, self.dtype.itemsize, self.n_writers)
        self._shm = create_segment(self._layout.size)
        self._owner_pid = os.getpid()
        self._map()
        hdr = self._hdr
        hdr[MAGIC] = MAGIC_VALUE
        hdr[SLOTS] = self.slot_count
        hdr[WRITERS_OPEN] = self.n_writers
        hdr[N_WRITERS] = self.n_writers
        hdr[LAST_SLOT] = -1
        hdr[LAST_COUNTER] = -1
        for w in range(self.n_writers):
            hdr[WRITER_FLAGS + w] = 1
        for i in range(self.slot_count):
            self._free[i] = i
        hdr[FREE_TAIL] = self.slot_count

    # ----- memory ----------------------------------------------------------------------------
    def _map(self) -> None:
        """Views of the block: header, FIFOs and sequence numbers as int64, each slot as arrays."""
        lay = self._layout
        buf = self._shm.buf
        self._hdr = buf[: lay.free_offset].cast("q")
        self._free = buf[lay.free_offset : lay.filled_offset].cast("q")
        self._filled = buf[lay.filled_offset : lay.seq_offset].cast("q")
        self._seq = buf[lay.seq_offset : lay.seq_offset + 8 * lay.slot_count].cast("q")
        self._words_q = buf.cast("q")  # whole block as int64 / float64 words, for metadata stores
        self._words_d = buf.cast("d")
        self._meta = []
        self._data = []
        # per slot, the data as uint8 arrays and as plain memoryviews: writers of events with the
        # buffer's own dtype copy bytes into them (a memoryview slice assignment is the cheapest
        # copy for small events, np.copyto into the uint8 array for waveforms)
        self.slot_bytes: list[np.ndarray] = []
        self.slot_memoryviews: list[memoryview] = []
        self._meta_word = []
        nbytes = lay.data_bytes
        for i in range(lay.slot_count):
            off = lay.slot_offset(i)
            self._meta_word.append(off // 8)
            self._meta.append(np.ndarray((1,), self.metadata_dtype, buffer=buf, offset=off))
            doff = off + lay.data_offset
            self._data.append(np.ndarray((self.data_length,), self.dtype, buffer=buf, offset=doff))
            self.slot_bytes.append(np.ndarray((nbytes,), np.uint8, buffer=buf, offset=doff))
            self.slot_memoryviews.append(buf[doff : doff + nbytes])

    def _unmap(self) -> None:
        for view in self.__dict__.pop("slot_memoryviews", []):
            view.release()
        for attr in ("_hdr", "_free", "_filled", "_seq", "_words_q", "_words_d"):
            view = self.__dict__.pop(attr, None)
            if view is not None:
                view.release()
        self._meta = self._data = self.slot_bytes = self._meta_word = []

    def _bind_locks(self) -> None:
        w_pop, w_push, r_pop, r_push = self._shared_locks
        if self.n_writers == 1:
            w_pop, w_push = threading.Lock(), threading.Lock()
        self._w_free_lock, self._w_fill_lock = w_pop, w_push  # writers: pop free / push filled
        self._r_fill_lock, self._r_free_lock = r_pop, r_push  # readers: pop filled / push free

    # ----- pickling: children re-attach by name ----------------------------------------------
    def __getstate__(self) -> dict:
        return {
            "name": self.name,
            "slot_count": self.slot_count,
            "data_length": self.data_length,
            "dtype": self.dtype,
            "n_writers": self.n_writers,
            "shm_name": self._shm.name,
            "sems": (self._free_sem, self._filled_sem),
            "locks": self._shared_locks,
        }

    def __setstate__(self, state: dict) -> None:
        self.name = state["name"]
        self.slot_count = state["slot_count"]
        self.data_length = state["data_length"]
        self.dtype = state["dtype"]
        self.metadata_dtype = METADATA_DTYPE
        self.n_writers = state["n_writers"]
        self._free_sem, self._filled_sem = state["sems"]
        self._shared_locks = state["locks"]
        self._bind_locks()
        self._layout = Layout.of(self.slot_count, self.data_length, self.dtype.itemsize, self.n_writers)
        self._shm = attach_untracked(state["shm_name"])
        self._owner_pid = -1
        self._map()
        if self._hdr[MAGIC] != MAGIC_VALUE:
            raise RuntimeError(
                f"buffer '{self.name}': shared memory {state['shm_name']} is not a ring buffer"
            )

    # ----- handles ---------------------------------------------------------------------------
    def writer(self, writer_id: int = 0) -> Writer:
        if not 0 <= writer_id < self.n_writers:
            raise ValueError(f"buffer '{self.name}': writer id {writer_id} not in 0..{self.n_writers - 1}")
        return Writer(self, writer_id)

    def reader(self) -> Reader:
        return Reader(self)

    def observer(self) -> Observer:
        return Observer(self)

    @property
    def data_example(self) -> np.ndarray:
        return np.zeros(self.data_length, dtype=self.dtype)

    @property
    def metadata_example(self) -> np.ndarray:
        return np.zeros(1, dtype=self.metadata_dtype)

    @property
    def shm_name(self) -> str:
        return self._shm.name

    # ----- control and end of stream --------------------------------------------------------
    def close_writer(self, writer_id: int) -> bool:
        """Mark writer ``writer_id`` as finished; the last one closes the buffer. Idempotent.

        Returns True if this call closed the buffer.
        """
        hdr = self._hdr
        with self._w_fill_lock:
            if not hdr[WRITER_FLAGS + writer_id]:
                return False
            hdr[WRITER_FLAGS + writer_id] = 0
            hdr[WRITERS_OPEN] -= 1
            if hdr[WRITERS_OPEN] > 0:
                return False
            hdr[CLOSED] = 1
        self._filled_sem.release()  # the end token: every reader passes it on
        return True

    def writer_open(self, writer_id: int) -> bool:
        return bool(self._hdr[WRITER_FLAGS + writer_id])

    def pause(self) -> None:
        self._hdr[PAUSED] = 1

    def resume(self) -> None:
        self._hdr[PAUSED] = 0

    def abort(self) -> None:
        """Nobody will drain this buffer any more: blocked and future writes are dropped."""
        self._hdr[ABORTED] = 1

    @property
    def paused(self) -> bool:
        return bool(self._hdr[PAUSED])

    @property
    def closed(self) -> bool:
        return bool(self._hdr[CLOSED])

    @property
    def aborted(self) -> bool:
        return bool(self._hdr[ABORTED])

    @property
    def events_written(self) -> int:
        return self._hdr[WRITTEN]

    def stats(self) -> BufferStats:
        h = self._hdr
        return BufferStats(
            name=self.name,
            slot_count=self.slot_count,
            filled=max(0, h[FILL_TAIL] - h[FILL_HEAD]),
            events_written=h[WRITTEN],
            events_read=h[READ],
            dropped_paused=h[DROPPED],
            dropped_aborted=h[DROPPED_ABORT],
            deadtime_total=h[DEADTIME_NS] * 1e-9,
            writers_open=h[WRITERS_OPEN],
            n_writers=h[N_WRITERS],
            paused=bool(h[PAUSED]),
            closed=bool(h[CLOSED]),
            aborted=bool(h[ABORTED]),
        )

    def close(self) -> None:
        """Release this process's mapping (views handed out must be gone)."""
        shm = self.__dict__.get("_shm")
        if shm is None:
            return
        self._unmap()
        try:
            shm.close()
        except BufferError:
            pass  # a caller still holds a view; the mapping goes with the process

    def unlink(self) -> None:
        """Close and remove the shared memory (creating process only)."""
        shm = self.__dict__.get("_shm")
        self.close()
        if shm is not None and self._owner_pid == os.getpid():
            try:
                shm.unlink()
            except FileNotFoundError:
                pass
            self._owner_pid = -1

    def __repr__(self) -> str:
        return (
            f"RingBuffer({self.name!r}, slot_count={self.slot_count}, data_length={self.data_length}, "
            f"dtype={self.dtype.descr})"
        )
