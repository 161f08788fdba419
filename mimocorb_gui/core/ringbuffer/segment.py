"""The shared-memory segments under the ring buffers: named so ours are recognisable, attached safely.

A segment is named ``mimocorb_<creator pid>_<random>`` (``core.shm`` finds the ones whose creator
died). The creating process owns it; other processes attach by name without registering it with
their resource tracker.
"""

from __future__ import annotations

import os
import secrets
from multiprocessing import resource_tracker, shared_memory

__all__ = ["SEGMENT_PREFIX", "SharedMemoryBlock", "attach_untracked", "create_segment", "segment_prefix"]

SEGMENT_PREFIX = "mimocorb_"


class SharedMemoryBlock(shared_memory.SharedMemory):
    """SharedMemory whose finaliser tolerates NumPy views still alive at interpreter exit."""

    def __del__(self) -> None:
        try:
            self.close()
        except (BufferError, OSError):
            pass


def segment_prefix(pid: int | None = None) -> str:
    """Name prefix of the segments a process creates: ours are recognisable in /dev/shm."""
    return f"{SEGMENT_PREFIX}{os.getpid() if pid is None else pid}_"


def create_segment(size: int) -> SharedMemoryBlock:
    """A new segment of ``size`` bytes named after this process."""
    while True:
        try:
            return SharedMemoryBlock(name=segment_prefix() + secrets.token_hex(4), create=True, size=size)
        except FileExistsError:  # pragma: no cover - 32 random bits collided
            continue


def attach_untracked(name: str) -> SharedMemoryBlock:
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
        return SharedMemoryBlock(name=name, create=False)
    finally:
        resource_tracker.register = original
