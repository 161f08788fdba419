"""Shared-memory housekeeping: segments of dead creators, free memory, what a setup's slots need.

Our segments are named ``mimocorb_<creator pid>_<random>`` (``core.ringbuffer``). When a whole
process group dies (terminal closed, OOM killer, ``kill -9 -PGID``) nobody unlinks them, and the
memory stays taken until reboot. ``remove_orphaned_segments`` finds the segments whose creator no
longer exists and removes them; the CLI calls it at every start and ``mimocorb clean`` on demand.

A segment whose creator pid is alive is never touched, even if that pid was reused by an
unrelated process: leaving a dead run's memory is better than pulling a live run's away.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "SHM_DIR",
    "Segment",
    "describe_removed",
    "free_memory",
    "human_bytes",
    "our_segments",
    "remove_orphaned_segments",
    "slot_memory",
]

SHM_DIR = Path("/dev/shm")
_NAME = re.compile(r"^mimocorb_(\d+)_[0-9a-f]+$")
# bytes a ring buffer needs beyond its slots: header, FIFOs and sequence numbers per slot are
# counted in slot_memory; this is the header and alignment slack
_HEADER = 4096


@dataclass(frozen=True)
class Segment:
    name: str
    creator_pid: int
    size: int

    @property
    def creator_alive(self) -> bool:
        return pid_exists(self.creator_pid)


def pid_exists(pid: int) -> bool:
    """True if a process with this pid exists (signal 0 on POSIX; psutil elsewhere)."""
    if pid <= 0:
        return False
    if os.name != "posix":  # pragma: no cover - Windows
        import psutil

        return psutil.pid_exists(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, belongs to another user
    return True


def our_segments(shm_dir: Path = SHM_DIR) -> list[Segment]:
    """Every ``mimocorb_<pid>_<random>`` segment in ``shm_dir`` (empty where there is no such dir)."""
    try:
        entries = list(os.scandir(shm_dir))
    except OSError:
        return []
    found = []
    for entry in entries:
        m = _NAME.match(entry.name)
        if not m:
            continue
        try:
            size = entry.stat(follow_symlinks=False).st_size
        except OSError:
            continue  # removed meanwhile
        found.append(Segment(entry.name, int(m.group(1)), size))
    return sorted(found, key=lambda s: (s.creator_pid, s.name))


def remove_orphaned_segments(shm_dir: Path = SHM_DIR) -> list[Segment]:
    """Remove the segments whose creating process no longer exists; returns those removed."""
    removed = []
    for seg in our_segments(shm_dir):
        if seg.creator_alive:
            continue
        try:
            (shm_dir / seg.name).unlink()
        except FileNotFoundError:
            continue  # another cleaner was faster
        except OSError:
            continue  # not ours to remove (another user's segment)
        removed.append(seg)
    return removed


def describe_removed(removed: list[Segment]) -> str:
    """One line for the user: how many segments of how many dead runs, how much memory."""
    pids = sorted({s.creator_pid for s in removed})
    total = sum(s.size for s in removed)
    return (
        f"removed {len(removed)} shared-memory segment(s) ({human_bytes(total)}) left behind by "
        f"{len(pids)} ended process(es) (pid {', '.join(map(str, pids))})"
    )


def human_bytes(n: float) -> str:
    """1536 -> '1.5 kB'."""
    units = ("B", "kB", "MB", "GB", "TB")
    k = 0
    while n >= 1024 and k < len(units) - 1:
        n /= 1024
        k += 1
    return f"{n:.0f} B" if k == 0 else f"{n:.1f} {units[k]}"


def slot_memory(slot_count: int, data_length: int, itemsize: int) -> int:
    """Bytes one ring buffer takes in shared memory (``core.ringbuffer`` layout, rounded up)."""
    per_slot = 24 * 3 + _round64(32 + data_length * itemsize)  # FIFO entries, seq number, slot
    return _HEADER + slot_count * per_slot


def _round64(n: int) -> int:
    return (n + 63) // 64 * 64


def free_memory(shm_dir: Path = SHM_DIR) -> tuple[int | None, int]:
    """(free bytes in ``shm_dir`` or None where there is none, available RAM in bytes)."""
    try:
        shm_free = shutil.disk_usage(shm_dir).free
    except OSError:
        shm_free = None
    import psutil  # only here: the CLI's start-up cleaning should not pay for importing it

    return shm_free, psutil.virtual_memory().available
