"""RunSource: what the docks, the run controller and the CLI progress line need of a run.

A local ``core.run.Run`` and a ``core.remote.client.RemoteRun`` (a served run on another machine)
both implement it, so a dock never knows which one it shows. Stats and log entries have the same
types on both sides (``RunStats``, ``LogEntry``); ``observer(buffer)`` returns anything with the
ring buffer observer's ``new_events()`` / ``copy_latest()`` / ``get()`` (a copy of the newest
event, never taken from a worker); ``histograms(buffer)`` returns a ``HistogramSource`` whose
``read()`` gives the counts of the buffer's histogram exporter (``{channel: (edges, counts, total)}``,
None while there are none): read from the run directory for a local run (core.histfeed), sent by
the server when they change for a remote one (core.remote.histograms).
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable

from mimocorb_gui.core.histfeed import HistogramData
from mimocorb_gui.core.run import LogEntry, RunStats

__all__ = ["EventSampler", "HistogramSource", "RunSource", "stats_from_dict", "stats_to_dict"]


@runtime_checkable
class EventSampler(Protocol):
    def new_events(self) -> int: ...
    def copy_latest(self, tries: int = 100) -> bool: ...
    def get(self): ...


@runtime_checkable
class HistogramSource(Protocol):
    kind: str  # 'live' / 'files' (the run directory here) or 'remote'

    def read(self) -> HistogramData | None: ...
    def close(self) -> None: ...


@runtime_checkable
class RunSource(Protocol):
    """A run as the user interface sees it, local or remote."""

    @property
    def state(self) -> str: ...

    @property
    def run_dir(self) -> Path | None: ...

    root_buffers: set[str]

    def stats(self) -> RunStats: ...
    def log_records(self) -> list[LogEntry]: ...
    def log_history(self) -> list[LogEntry]: ...
    def observer(self, buffer_name: str) -> EventSampler: ...
    def histograms(self, buffer_name: str) -> HistogramSource: ...
    def pause(self) -> None: ...
    def resume(self) -> None: ...
    def request_stop(self, reason: str = "stop requested") -> None: ...
    def stop(self, timeout: float = 15.0) -> bool: ...
    def finished(self) -> bool: ...
    def wait(self, timeout: float | None = None) -> bool: ...
    def write_notes(self, text: str) -> None: ...
    def close(self, timeout: float = 15.0) -> None: ...


def stats_to_dict(stats: RunStats) -> dict:
    """A RunStats as plain JSON types (for the wire)."""
    from dataclasses import asdict

    return {
        "state": stats.state,
        "time": stats.time,
        "run_dir": None if stats.run_dir is None else str(stats.run_dir),
        "buffers": {
            name: {
                "stats": asdict(b.stats),
                "rate": b.rate,
                "deadtime_fraction": b.deadtime_fraction,
                "root": b.root,
            }
            for name, b in stats.buffers.items()
        },
        "workers": {name: asdict(w) for name, w in stats.workers.items()},
    }


def stats_from_dict(d: dict) -> RunStats:
    """The RunStats ``stats_to_dict`` made (raises KeyError/TypeError on a malformed dict)."""
    from mimocorb_gui.core.ringbuffer import BufferStats
    from mimocorb_gui.core.run import BufferRunStats
    from mimocorb_gui.core.workers import WorkerStats

    return RunStats(
        state=str(d["state"]),
        time=float(d["time"]),
        run_dir=None if d.get("run_dir") is None else Path(d["run_dir"]),
        buffers={
            name: BufferRunStats(
                BufferStats(**b["stats"]), float(b["rate"]), float(b["deadtime_fraction"]), bool(b["root"])
            )
            for name, b in d["buffers"].items()
        },
        workers={name: WorkerStats(**w) for name, w in d["workers"].items()},
    )
