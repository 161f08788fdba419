"""Shared-memory ring buffer of NumPy structured arrays, with writer / reader / observer handles.

One shared-memory block per buffer holds a header of int64 counters, two index FIFOs (free and
filled slot numbers), a sequence number per slot and the slots themselves (metadata record +
``data_length`` elements of ``data_dtype``). Slot numbers are handed between processes through
those FIFOs, guarded by locks and two counting semaphores: nothing is pickled per event.

- Writers block while no slot is free (back-pressure); the time blocked is dead time.
- Each event is read by exactly one reader; readers see events in commit order.
- End of stream is counted: the buffer knows its writer processes and closes when the last of
  them has closed; a reader gets ``(None, None)`` only when the buffer is closed *and* empty.
- Observers copy the newest committed event under a seqlock (a slot's sequence number is odd
  while a writer holds it) and never take a slot, block anybody, or reorder events; ``with
  observer`` waits for a newer event as mimoCoRB2's raw observe does, ``get()`` never waits.
- While paused, writes go to a private scratch slot and are counted as dropped.

The parts: ``layout`` (where everything sits in the block), ``segment`` (creating and attaching
the shared memory), ``buffer`` (``RingBuffer``: mapping, control, end of stream, pickling),
``handles`` (``Writer`` and ``Reader``: the slot protocol), ``observer`` (``Observer``).
"""

from mimocorb_gui.core.ringbuffer.buffer import BufferStats, RingBuffer
from mimocorb_gui.core.ringbuffer.handles import Reader, Writer
from mimocorb_gui.core.ringbuffer.layout import METADATA_DTYPE, make_dtype
from mimocorb_gui.core.ringbuffer.observer import Observer
from mimocorb_gui.core.ringbuffer.segment import SEGMENT_PREFIX, segment_prefix

__all__ = [
    "METADATA_DTYPE",
    "SEGMENT_PREFIX",
    "BufferStats",
    "Observer",
    "Reader",
    "RingBuffer",
    "Writer",
    "make_dtype",
    "segment_prefix",
]
