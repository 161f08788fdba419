"""Shared-memory ring buffer of NumPy structured arrays, with writer / reader / observer handles.

One shared-memory block per buffer holds a header of int64 counters, two index FIFOs (free and
filled slot numbers), a sequence number per slot and the slots themselves (metadata record +
``data_length`` elements of ``data_dtype``). Slot numbers are handed between processes through
those FIFOs, guarded by two locks and two counting semaphores: nothing is pickled per event.

- Writers block while no slot is free (back-pressure); the time blocked is dead time.
- Each event is read by exactly one reader; readers see events in commit order.
- End of stream is counted: the buffer knows its writer processes and closes when the last of
  them has closed; a reader gets ``(None, None)`` only when the buffer is closed *and* empty.
- Observers copy the newest committed event under a seqlock (a slot's sequence number is odd
  while a writer holds it) and never take a slot, block anybody, or reorder events; ``with
  observer`` waits for a newer event as mimoCoRB2's raw observe does, ``get()`` never waits.
- While paused, writes go to a private scratch slot and are counted as dropped.

The buffer object is picklable (pass it to ``multiprocessing.Process``); a child re-attaches by
name, under ``fork`` and ``spawn`` alike. Only the creating process unlinks the memory.
"""

from __future__ import annotations

import os
import secrets
import threading
import time
from dataclasses import asdict, dataclass
from multiprocessing import resource_tracker, shared_memory
from multiprocessing.context import BaseContext

import numpy as np

__all__ = [
    "METADATA_DTYPE",
    "BufferStats",
    "Observer",
    "Reader",
    "RingBuffer",
    "Writer",
    "make_dtype",
]

METADATA_DTYPE = np.dtype([("counter", "<i8"), ("timestamp", "<f8"), ("deadtime", "<f8")])

_POLL = 0.05
# A reader that finds nothing yields the CPU this many times before it sleeps on the semaphore:
# the next event usually comes within microseconds, and a sleeping reader costs the writer a
# futex wake-up per event. Measured (small events, 2 cores, median of 5): 3 readers 206k -> 451k
# events/s, 1 reader 234k -> 402k; 200 yields was worse again (the readers starve the importer).
_SPIN_YIELDS = 50  # seconds; every blocking wait wakes this often to look at stop/close flags

# header layout (int64 words)
_MAGIC, _SLOTS, _FREE_HEAD, _FREE_TAIL, _FILL_HEAD, _FILL_TAIL = 0, 1, 2, 3, 4, 5
_WRITTEN, _READ, _DROPPED, _DEADTIME_NS, _WRITERS_OPEN, _PAUSED = 6, 7, 8, 9, 10, 11
_CLOSED, _ABORTED, _LAST_SLOT, _N_WRITERS, _DROPPED_ABORT, _LAST_COUNTER = 12, 13, 14, 15, 16, 17
_WRITER_FLAGS = 32  # one word per writer id: 1 while open
_MAGIC_VALUE = 0x4D494D4F52420001  # "MIMORB" + layout version 1


def _align(n: int, to: int = 64) -> int:
    return (n + to - 1) // to * to


def make_dtype(spec) -> np.dtype:
    """A structured dtype from a ``{field: dtype}`` mapping, a list of pairs or a dtype."""
    if isinstance(spec, np.dtype):
        dtype = spec
    elif isinstance(spec, dict):
        dtype = np.dtype([(str(k), np.dtype(v)) for k, v in spec.items()])
    else:
        dtype = np.dtype(spec)
    if dtype.names is None:
        dtype = np.dtype([("value", dtype)])
    return dtype


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


class _SharedMemory(shared_memory.SharedMemory):
    """SharedMemory whose finaliser tolerates NumPy views still alive at interpreter exit."""

    def __del__(self) -> None:
        try:
            self.close()
        except (BufferError, OSError):
            pass


SEGMENT_PREFIX = "mimocorb_"


def segment_prefix(pid: int | None = None) -> str:
    """Name prefix of the segments a process creates: ours are recognisable in /dev/shm."""
    return f"{SEGMENT_PREFIX}{os.getpid() if pid is None else pid}_"


def _create_segment(size: int) -> shared_memory.SharedMemory:
    while True:
        try:
            return _SharedMemory(name=segment_prefix() + secrets.token_hex(4), create=True, size=size)
        except FileExistsError:  # pragma: no cover - 32 random bits collided
            continue


def _attach_untracked(name: str) -> shared_memory.SharedMemory:
    """Attach to an existing segment without registering it with this process's resource tracker.

    Python < 3.13 registers attached segments too, and its resource tracker then unlinks them when
    the attaching process ends, pulling the memory from under the owner (bpo-38119).
    """
    original = resource_tracker.register

    def register(rname, rtype):  # pragma: no cover - trivial filter
        if rtype != "shared_memory":
            original(rname, rtype)

    resource_tracker.register = register
    try:
        return _SharedMemory(name=name, create=False)
    finally:
        resource_tracker.register = original


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
        size = self._layout()
        self._shm = _create_segment(size)
        self._owner_pid = os.getpid()
        self._map()
        hdr = self._hdr
        hdr[_MAGIC] = _MAGIC_VALUE
        hdr[_SLOTS] = self.slot_count
        hdr[_WRITERS_OPEN] = self.n_writers
        hdr[_N_WRITERS] = self.n_writers
        hdr[_LAST_SLOT] = -1
        hdr[_LAST_COUNTER] = -1
        for w in range(self.n_writers):
            hdr[_WRITER_FLAGS + w] = 1
        for i in range(self.slot_count):
            self._free[i] = i
        hdr[_FREE_TAIL] = self.slot_count

    # ----- memory layout -------------------------------------------------------------------
    def _layout(self) -> int:
        n = self.slot_count
        self._hdr_words = _align(_WRITER_FLAGS + self.n_writers, 8)
        self._free_off = self._hdr_words * 8
        self._filled_off = self._free_off + 8 * n
        self._seq_off = self._filled_off + 8 * n
        self._slots_off = _align(self._seq_off + 8 * n)
        self._data_off = _align(self.metadata_dtype.itemsize, 16)
        self._data_bytes = self.data_length * self.dtype.itemsize
        self._slot_size = _align(self._data_off + self._data_bytes)
        return self._slots_off + n * self._slot_size

    def _map(self) -> None:
        buf = self._shm.buf
        n = self.slot_count
        self._hdr = buf[: self._free_off].cast("q")
        self._free = buf[self._free_off : self._filled_off].cast("q")
        self._filled = buf[self._filled_off : self._seq_off].cast("q")
        self._seq = buf[self._seq_off : self._seq_off + 8 * n].cast("q")
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
        for i in range(n):
            off = self._slots_off + i * self._slot_size
            self._meta_word.append(off // 8)
            self._meta.append(np.ndarray((1,), self.metadata_dtype, buffer=buf, offset=off))
            doff = off + self._data_off
            self._data.append(np.ndarray((self.data_length,), self.dtype, buffer=buf, offset=doff))
            self.slot_bytes.append(np.ndarray((self._data_bytes,), np.uint8, buffer=buf, offset=doff))
            self.slot_memoryviews.append(buf[doff : doff + self._data_bytes])

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
        self._layout()
        self._shm = _attach_untracked(state["shm_name"])
        self._owner_pid = -1
        self._map()
        if self._hdr[_MAGIC] != _MAGIC_VALUE:
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

    # ----- control ---------------------------------------------------------------------------
    def close_writer(self, writer_id: int) -> bool:
        """Mark writer ``writer_id`` as finished; the last one closes the buffer. Idempotent.

        Returns True if this call closed the buffer.
        """
        hdr = self._hdr
        with self._w_fill_lock:
            if not hdr[_WRITER_FLAGS + writer_id]:
                return False
            hdr[_WRITER_FLAGS + writer_id] = 0
            hdr[_WRITERS_OPEN] -= 1
            if hdr[_WRITERS_OPEN] > 0:
                return False
            hdr[_CLOSED] = 1
        self._filled_sem.release()  # the end token: every reader passes it on
        return True

    def writer_open(self, writer_id: int) -> bool:
        return bool(self._hdr[_WRITER_FLAGS + writer_id])

    def pause(self) -> None:
        self._hdr[_PAUSED] = 1

    def resume(self) -> None:
        self._hdr[_PAUSED] = 0

    def abort(self) -> None:
        """Nobody will drain this buffer any more: blocked and future writes are dropped."""
        self._hdr[_ABORTED] = 1

    @property
    def paused(self) -> bool:
        return bool(self._hdr[_PAUSED])

    @property
    def closed(self) -> bool:
        return bool(self._hdr[_CLOSED])

    @property
    def aborted(self) -> bool:
        return bool(self._hdr[_ABORTED])

    @property
    def events_written(self) -> int:
        return self._hdr[_WRITTEN]

    def stats(self) -> BufferStats:
        h = self._hdr
        return BufferStats(
            name=self.name,
            slot_count=self.slot_count,
            filled=max(0, h[_FILL_TAIL] - h[_FILL_HEAD]),
            events_written=h[_WRITTEN],
            events_read=h[_READ],
            dropped_paused=h[_DROPPED],
            dropped_aborted=h[_DROPPED_ABORT],
            deadtime_total=h[_DEADTIME_NS] * 1e-9,
            writers_open=h[_WRITERS_OPEN],
            n_writers=h[_N_WRITERS],
            paused=bool(h[_PAUSED]),
            closed=bool(h[_CLOSED]),
            aborted=bool(h[_ABORTED]),
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


def _spin_acquire(sem) -> bool:
    for _ in range(_SPIN_YIELDS):
        os.sched_yield()
        if sem.acquire(False):
            return True
    return False


class _ShutdownFlag:
    """``handle.is_shutdown.value``: mimoCoRB2's shared flag, read from the buffer's header."""

    __slots__ = ("_rb",)

    def __init__(self, rb: RingBuffer) -> None:
        self._rb = rb

    @property
    def value(self) -> bool:
        hdr = self._rb._hdr
        return bool(hdr[_CLOSED] or hdr[_ABORTED])

    def __bool__(self) -> bool:
        return self.value


class _Handle:
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
    def is_shutdown(self) -> _ShutdownFlag:
        return _ShutdownFlag(self._rb)

    def get_stats(self) -> dict:
        return self._rb.stats().as_dict()

    @property
    def data_example(self) -> np.ndarray:
        return self._rb.data_example

    @property
    def metadata_example(self) -> np.ndarray:
        return self._rb.metadata_example


class Writer(_Handle):
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
        if hdr[_PAUSED] or hdr[_ABORTED]:
            return -1
        sem = rb._free_sem
        if not sem.acquire(False):
            t0 = time.perf_counter()
            while not sem.acquire(True, _POLL):
                if hdr[_ABORTED] or hdr[_PAUSED]:
                    self.last_wait = time.perf_counter() - t0
                    return -1
            self.last_wait = time.perf_counter() - t0
        with rb._w_free_lock:
            head = hdr[_FREE_HEAD]
            idx = rb._free[head % rb.slot_count]
            hdr[_FREE_HEAD] = head + 1
        rb._seq[idx] += 1  # odd: being written
        return idx

    def commit(self, idx: int) -> None:
        rb = self._rb
        hdr = rb._hdr
        wait_ns = int(self.last_wait * 1e9)
        if idx < 0:
            with rb._w_fill_lock:
                hdr[_DROPPED_ABORT if hdr[_ABORTED] else _DROPPED] += 1
                hdr[_DEADTIME_NS] += wait_ns
            return
        rb._seq[idx] += 1  # even: stable
        with rb._w_fill_lock:
            tail = hdr[_FILL_TAIL]
            rb._filled[tail % rb.slot_count] = idx
            hdr[_FILL_TAIL] = tail + 1
            hdr[_WRITTEN] += 1
            hdr[_LAST_SLOT] = idx
            hdr[_DEADTIME_NS] += wait_ns
        rb._filled_sem.release()
        self.counter += 1

    def discard(self, idx: int) -> None:
        """Give an acquired slot back unwritten (the writing code raised)."""
        if idx < 0:
            return
        rb = self._rb
        rb._seq[idx] += 1
        with rb._r_free_lock:  # the readers' end of the free FIFO
            tail = rb._hdr[_FREE_TAIL]
            rb._free[tail % rb.slot_count] = idx
            rb._hdr[_FREE_TAIL] = tail + 1
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


class Reader(_Handle):
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
        if not sem.acquire(False) and not _spin_acquire(sem):
            deadline = None if timeout is None else time.monotonic() + timeout
            while not sem.acquire(True, _POLL):
                if deadline is not None and time.monotonic() >= deadline:
                    return -2
        with rb._r_fill_lock:
            head = hdr[_FILL_HEAD]
            if head == hdr[_FILL_TAIL]:
                # only the end token is left: pass it on to the next reader
                sem.release()
                return -1
            idx = rb._filled[head % rb.slot_count]
            hdr[_FILL_HEAD] = head + 1
        return idx

    def release(self, idx: int) -> None:
        if idx < 0:
            return
        rb = self._rb
        hdr = rb._hdr
        with rb._r_free_lock:
            tail = hdr[_FREE_TAIL]
            rb._free[tail % rb.slot_count] = idx
            hdr[_FREE_TAIL] = tail + 1
            hdr[_READ] += 1
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


class Observer(_Handle):
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
        return self._rb._hdr[_WRITTEN] - self._seen

    def copy_latest(self, tries: int = 100) -> bool:
        """Copy the newest committed event into this observer's arrays; False if none could be had."""
        rb = self._rb
        hdr, seq = rb._hdr, rb._seq
        # an observer is a sampler, never in the data path: give a writer or reader sharing this
        # core its turn first (a flat-out observer on 2 cores: waveforms 81k -> 192k events/s)
        os.sched_yield()
        for _ in range(tries):
            written = hdr[_WRITTEN]
            idx = hdr[_LAST_SLOT]
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
        return bool(hdr[_CLOSED] or hdr[_ABORTED]) or (stop is not None and stop.is_set())

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
