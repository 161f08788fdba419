"""A frozen snapshot of a setup's buffers and workers, taken once when a Run is made.

The Setup is the editor's live model: its ``workers`` property merges configs and reads config
files on every call (tens of ms), and the user may edit it while a run goes on. A Run reads this
snapshot instead, and the monitor's look-ups (readers of a buffer, writers, importers' buffers)
are computed here once.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from mimocorb_gui.core.shm import slot_memory

__all__ = ["BufferPlan", "RunPlan", "WorkerPlan"]


@dataclass(frozen=True)
class BufferPlan:
    name: str
    slot_count: int
    data_length: int
    dtype: np.dtype
    writers: int  # writer processes (0: nobody writes, readers see end of stream at once)
    readers: tuple[str, ...]  # names of the workers reading it as a source

    @property
    def memory(self) -> int:
        return slot_memory(self.slot_count, self.data_length, self.dtype.itemsize)


@dataclass(frozen=True)
class WorkerPlan:
    name: str
    function: str
    file: str | None
    config: MappingProxyType  # a deep copy, read-only
    number_of_processes: int
    sources: tuple[str, ...]
    sinks: tuple[str, ...]
    observes: tuple[str, ...]

    @property
    def display_only(self) -> bool:
        """Only observes: its end or failure loses no event, so it never ends an acquisition."""
        return bool(self.observes) and not self.sources and not self.sinks

    @property
    def inputs(self) -> tuple[str, ...]:
        """The buffers whose end lets this worker end."""
        return self.sources + self.observes


@dataclass(frozen=True)
class RunPlan:
    setup_path: Path
    setup_dir: Path
    target_directory: Path
    buffers: MappingProxyType  # name -> BufferPlan, file order
    workers: MappingProxyType  # name -> WorkerPlan, file order
    resolved: dict[str, Any] = field(compare=False)  # the resolved setup, for the run directory's copy

    @classmethod
    def from_setup(cls, setup) -> RunPlan:
        """Snapshot a validated setup (its expensive views are read once, here)."""
        specs = setup.workers
        workers = {
            name: WorkerPlan(
                name=name,
                function=w.function,
                file=w.file or None,
                config=MappingProxyType(copy.deepcopy(dict(w.config))),
                number_of_processes=int(w.number_of_processes),
                sources=tuple(w.sources),
                sinks=tuple(w.sinks),
                observes=tuple(w.observes),
            )
            for name, w in specs.items()
        }
        buffers = {}
        for name, spec in setup.buffers.items():
            buffers[name] = BufferPlan(
                name=name,
                slot_count=int(spec.slot_count),
                data_length=int(spec.data_length),
                dtype=spec.dtype,
                writers=sum(w.number_of_processes for w in workers.values() if name in w.sinks),
                readers=tuple(w.name for w in workers.values() if name in w.sources),
            )
        return cls(
            setup_path=Path(setup.path),
            setup_dir=Path(setup.setup_dir),
            target_directory=Path(setup.target_directory),
            buffers=MappingProxyType(buffers),
            workers=MappingProxyType(workers),
            resolved=setup.resolved_dict(),
        )

    @property
    def root_buffers(self) -> set[str]:
        """Buffers written by importers (workers without sources): where pause drops events."""
        return {b for w in self.workers.values() if not w.sources for b in w.sinks if b in self.buffers}

    @property
    def slot_memory(self) -> int:
        return sum(b.memory for b in self.buffers.values())
