"""The log of a run: one feed for the run's own messages and every worker's log records.

Worker processes send their records (a ``QueueHandler`` and their printed lines, set up by
``core.workers``) through a multiprocessing queue; a thread here takes them off it. Every entry,
the run's own included, goes to ``run.log`` in the run directory, an in-memory feed (the history
and what arrived since the last poll), the ``mimocorb.run`` python logger and the listeners
(called from the thread that delivers the entry).
"""

from __future__ import annotations

import collections
import datetime as _dt
import logging
import queue as _queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["LogEntry", "RunLog"]

log = logging.getLogger("mimocorb.run")

HISTORY = 20000  # entries kept in memory (run.log keeps them all)


@dataclass(frozen=True)
class LogEntry:
    """One line of the run log."""

    time: float
    worker: str
    level: str
    levelno: int
    message: str

    def format(self) -> str:
        stamp = _dt.datetime.fromtimestamp(self.time).strftime("%H:%M:%S.%f")[:-3]
        return f"{stamp} {self.level:<7} [{self.worker}] {self.message}"


class RunLog:
    """The feed, the file and the queue of one run's log (``Run`` owns one)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._feed: collections.deque[LogEntry] = collections.deque(maxlen=HISTORY)
        self._new: list[LogEntry] = []
        self._file = None
        self.queue: Any = None  # the workers' records arrive here (a multiprocessing queue)
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.listeners: list[Callable[[LogEntry], None]] = []

    def open(self, run_dir: Path, ctx: Any) -> None:
        """Append to ``run_dir/run.log`` from now on; make the queue the worker processes send to."""
        self._file = open(run_dir / "run.log", "a", encoding="utf-8")
        self.queue = ctx.Queue()

    def start(self) -> None:
        """Take the workers' records off the queue in a thread until :meth:`stop`."""
        self._thread = threading.Thread(target=self._loop, name="mimocorb-log", daemon=True)
        self._thread.start()

    def record(self, worker: str, levelno: int, message: str) -> None:
        """A message of the run itself (``worker`` names who it is about, e.g. 'run')."""
        self.deliver(LogEntry(time.time(), worker, logging.getLevelName(levelno), levelno, message))

    def deliver(self, entry: LogEntry) -> None:
        with self._lock:
            self._feed.append(entry)
            self._new.append(entry)
            if self._file is not None and not self._file.closed:
                self._file.write(entry.format() + "\n")
                self._file.flush()
        log.log(entry.levelno, "[%s] %s", entry.worker, entry.message)
        for listener in list(self.listeners):
            try:
                listener(entry)
            except Exception:  # a broken listener must not stop the log
                log.exception("log listener failed")

    def take_new(self) -> list[LogEntry]:
        """Entries that arrived since the previous call."""
        with self._lock:
            new, self._new = self._new, []
        return new

    def history(self) -> list[LogEntry]:
        """The last :data:`HISTORY` entries."""
        with self._lock:
            return list(self._feed)

    def _loop(self) -> None:
        q = self.queue
        while True:
            try:
                rec = q.get(timeout=0.1)
            except _queue.Empty:
                if self._stop.is_set():
                    return
                continue
            except (EOFError, OSError):
                return
            if rec is None:
                return
            self.deliver(
                LogEntry(
                    rec.created,
                    getattr(rec, "worker", rec.name),
                    rec.levelname,
                    rec.levelno,
                    rec.getMessage(),
                )
            )

    def stop(self, timeout: float = 2.0) -> None:
        """End the thread once the queue is empty (records still on their way are taken first)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def close(self) -> None:
        """Release the queue and close run.log (after :meth:`stop`)."""
        if self.queue is not None:
            self.queue.close()
            self.queue.join_thread()
        with self._lock:
            if self._file is not None:
                self._file.close()
