"""Where everything sits in a ring buffer's shared-memory block.

One block per buffer, in this order:

- the header: int64 words (counters, FIFO heads and tails, flags), then one word per writer id
  (1 while that writer is open), rounded up to 8 words;
- the free FIFO and the filled FIFO: ``slot_count`` int64 slot numbers each;
- one int64 sequence number per slot (odd while a writer holds the slot: the observers' seqlock);
- the slots, 64-byte aligned: the metadata record (``METADATA_DTYPE``, padded to 16 bytes), then
  ``data_length`` elements of the data dtype.

The header words are named here for the modules of this package (the buffer, its handles and
its observer) and for nothing else: they are the format of the block, not an interface.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["METADATA_DTYPE", "Layout", "make_dtype"]

METADATA_DTYPE = np.dtype([("counter", "<i8"), ("timestamp", "<f8"), ("deadtime", "<f8")])

# header words
MAGIC, SLOTS, FREE_HEAD, FREE_TAIL, FILL_HEAD, FILL_TAIL = 0, 1, 2, 3, 4, 5
WRITTEN, READ, DROPPED, DEADTIME_NS, WRITERS_OPEN, PAUSED = 6, 7, 8, 9, 10, 11
CLOSED, ABORTED, LAST_SLOT, N_WRITERS, DROPPED_ABORT, LAST_COUNTER = 12, 13, 14, 15, 16, 17
WRITER_FLAGS = 32  # one word per writer id: 1 while open
MAGIC_VALUE = 0x4D494D4F52420001  # "MIMORB" + layout version 1


def align(n: int, to: int = 64) -> int:
    """``n`` rounded up to a multiple of ``to``."""
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
class Layout:
    """Byte offsets of the parts of one block (see the module docstring for the order)."""

    slot_count: int
    header_words: int
    free_offset: int
    filled_offset: int
    seq_offset: int
    slots_offset: int
    data_offset: int  # of the data within a slot
    data_bytes: int
    slot_size: int

    @classmethod
    def of(cls, slot_count: int, data_length: int, itemsize: int, n_writers: int) -> Layout:
        header_words = align(WRITER_FLAGS + n_writers, 8)
        free_offset = header_words * 8
        filled_offset = free_offset + 8 * slot_count
        seq_offset = filled_offset + 8 * slot_count
        data_offset = align(METADATA_DTYPE.itemsize, 16)
        data_bytes = data_length * itemsize
        return cls(
            slot_count=slot_count,
            header_words=header_words,
            free_offset=free_offset,
            filled_offset=filled_offset,
            seq_offset=seq_offset,
            slots_offset=align(seq_offset + 8 * slot_count),
            data_offset=data_offset,
            data_bytes=data_bytes,
            slot_size=align(data_offset + data_bytes),
        )

    @property
    def size(self) -> int:
        """Bytes of the whole block."""
        return self.slots_offset + self.slot_count * self.slot_size

    def slot_offset(self, i: int) -> int:
        return self.slots_offset + i * self.slot_size
