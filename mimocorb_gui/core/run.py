"""A Run: ring buffers and worker processes built from a Setup, controlled and watched.

Used alike by the CLI and the GUI. ``start`` creates ``run_<YYYY-MM-DD_HH-MM-SS>`` under the
setup's target directory with a copy of the resolved setup, the buffers in shared memory and the
worker processes; a monitor thread samples counters for rates, notices processes that ended (and
closes their sinks on their behalf if they died without doing so), and a log thread collects every
worker's log records and printed lines into ``run.log`` and an in-memory feed.

Stopping is in order: importers end their loop, end of stream flows down the pipeline, exporters
finish their files. Only if that takes longer than the timeout are buffers aborted and processes
terminated. Shared memory is released in ``close()`` (also on garbage collection and at exit).
"""

from __future__ import annotations

import atexit
import collections
import datetime as _dt
import io
import logging
import multiprocessing
import queue as _queue
import threading
import time
import weakref
from dataclasses import dataclass, field
from pathlib import Path

from ruamel.yaml import YAML

from mimocorb_gui.core.bufferio import StopFlag
from mimocorb_gui.core.ringbuffer import BufferStats, Observer, RingBuffer
from mimocorb_gui.core.workers import ProcessPlan, Worker, WorkerStats

__all__ = ["BufferRunStats", "LogEntry", "Run", "RunStats", "SetupInvalid"]

log = logging.getLogger("mimocorb.run")


class SetupInvalid(Exception):
    """The setup has errors; nothing was started."""

    def __init__(self, problems: list) -> None:
        self.problems = problems
        super().__init__("setup has errors:\n" + "\n".join(f"  {p}" for p in problems))


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


@dataclass(frozen=True)
class BufferRunStats:
    """A buffer's counters plus rates derived from the monitor's samples."""

    stats: BufferStats
    rate: float  # events written per second, over the last second or so
    deadtime_fraction: float  # share of the last second writers spent blocked
    root: bool  # written by an importer (no sources upstream)

    def __getattr__(self, name):
        return getattr(self.stats, name)


def _yaml_text(data: dict) -> str:
    """``data`` as block YAML in its own key order, written by the setup's YAML (ruamel, 1.2)."""
    yaml = YAML(typ="rt")
    yaml.width = 4096
    stream = io.StringIO()
    yaml.dump(data, stream)
    return stream.getvalue()


@dataclass(frozen=True)
class RunStats:
    state: str
    time: float
    run_dir: Path | None
    buffers: dict[str, BufferRunStats] = field(default_factory=dict)
    workers: dict[str, WorkerStats] = field(default_factory=dict)

    @property
    def total_events(self) -> int:
        return sum(b.stats.events_written for b in self.buffers.values() if b.root)


_LIVE_RUNS: weakref.WeakSet = weakref.WeakSet()


@atexit.register
def _close_live_runs() -> None:  # pragma: no cover - safety net at interpreter exit
    for run in list(_LIVE_RUNS):
        run.close(timeout=2.0)


class Run:
    """Build, start, pause/resume, stop and watch a setup's buffers and workers."""

    def __init__(
        self,
        setup,
        run_root: Path | str | None = None,
        start_method: str | None = None,
        notes: str = "",
        log_level: int = logging.DEBUG,
    ) -> None:
        problems = setup.validate()
        errors = [p for p in problems if p.severity == "error"]
        if errors:
            raise SetupInvalid(errors)
        self.setup = setup
        self.problems = problems
        self.run_root = Path(run_root) if run_root is not None else Path(setup.target_directory)
        self.ctx = multiprocessing.get_context(start_method)
        self.notes = notes
        self.log_level = log_level
        self.run_dir: Path | None = None
        self.buffers: dict[str, RingBuffer] = {}
        self.workers: dict[str, Worker] = {}
        self._state = "created"
        self._lock = threading.RLock()
        self._t_start: float | None = None
        self._t_end: float | None = None
        self._stop_flag = StopFlag(self.ctx)
        self._log_queue = None
        self._log_feed: collections.deque[LogEntry] = collections.deque(maxlen=20000)
        self._log_new: list[LogEntry] = []
        self._log_file = None
        self._log_thread: threading.Thread | None = None
        self._monitor_thread: threading.Thread | None = None
        self._threads_stop = threading.Event()
        self._history: dict[str, collections.deque] = {}
        self._handled: set[tuple[str, int]] = set()
        self._closed = False
        self.log_listeners: list = []  # callables(LogEntry), called from the log thread
        self.root_buffers = {
            b for w in setup.workers.values() if not w.sources for b in w.sinks if b in setup.buffers
        }

    # ----- state ----------------------------------------------------------------------------
    @property
    def state(self) -> str:
        return self._state

    @property
    def running(self) -> bool:
        return self._state in ("running", "paused", "stopping")

    @property
    def failed_workers(self) -> list[str]:
        return [n for n, w in self.workers.items() if w.failed]

    def elapsed(self) -> float:
        if self._t_start is None:
            return 0.0
        return (self._t_end or time.monotonic()) - self._t_start

    # ----- start ----------------------------------------------------------------------------
    def _make_run_dir(self) -> Path:
        stamp = _dt.datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
        base = self.run_root / f"run_{stamp}"
        path, n = base, 1
        while path.exists():
            n += 1
            path = base.with_name(f"{base.name}_{n}")
        path.mkdir(parents=True)
        return path

    def start(self) -> Path:
        with self._lock:
            if self._state != "created":
                raise RuntimeError(f"run already {self._state}; a Run starts once")
            setup = self.setup
            self.run_dir = self._make_run_dir()
            (self.run_dir / "setup.yaml").write_text(
                f"# resolved copy of {setup.path}\n" + _yaml_text(setup.resolved_dict()), encoding="utf-8"
            )
            if self.notes:
                self.write_notes(self.notes)
            self._log_file = open(self.run_dir / "run.log", "a", encoding="utf-8")
            self._log_queue = self.ctx.Queue()

            writers = {name: 0 for name in setup.buffers}
            for w in setup.workers.values():
                for b in w.sinks:
                    writers[b] += w.number_of_processes
            try:
                for name, spec in setup.buffers.items():
                    rb = RingBuffer(
                        name,
                        spec.slot_count,
                        spec.data_length,
                        spec.dtype,
                        n_writers=max(1, writers[name]),
                        ctx=self.ctx,
                    )
                    self.buffers[name] = rb
                    if writers[name] == 0:
                        rb.close_writer(0)  # nobody writes: readers see end of stream at once
                    self._history[name] = collections.deque(maxlen=64)
                next_id = dict.fromkeys(setup.buffers, 0)
                for wname, w in setup.workers.items():
                    plans = []
                    for i in range(w.number_of_processes):
                        sinks = []
                        for b in w.sinks:
                            sinks.append((self.buffers[b], next_id[b]))
                            next_id[b] += 1
                        plans.append(
                            ProcessPlan(
                                worker=wname,
                                index=i,
                                file=w.file or None,
                                function=w.function,
                                config=dict(w.config),
                                setup_dir=str(setup.setup_dir),
                                run_dir=str(self.run_dir),
                                sources=[self.buffers[b] for b in w.sources],
                                sinks=sinks,
                                observes=[self.buffers[b] for b in w.observes],
                                stop_flag=self._stop_flag,
                                log_queue=self._log_queue,
                                log_level=self.log_level,
                            )
                        )
                    self.workers[wname] = Worker(wname, w.function, plans)
                _LIVE_RUNS.add(self)
                self._t_start = time.monotonic()
                self._record(
                    "run", logging.INFO, f"run started in {self.run_dir} ({self.ctx.get_start_method()})"
                )
                for worker in self.workers.values():
                    worker.start(self.ctx)
            except BaseException:
                self._state = "failed"
                self._emergency_cleanup()
                raise
            self._state = "running"
            self._log_thread = threading.Thread(target=self._log_loop, name="mimocorb-log", daemon=True)
            self._monitor_thread = threading.Thread(
                target=self._monitor_loop, name="mimocorb-monitor", daemon=True
            )
            self._log_thread.start()
            self._monitor_thread.start()
            return self.run_dir

    def write_notes(self, text: str) -> None:
        """Save the run notes (the GUI's notes field) into the run directory."""
        self.notes = text
        if self.run_dir is not None:
            (self.run_dir / "notes.txt").write_text(text, encoding="utf-8")

    # ----- control --------------------------------------------------------------------------
    def pause(self) -> None:
        """Drop new events at the importers' buffers (counted); the rest of the pipeline drains."""
        with self._lock:
            if self._state != "running":
                return
            for name in self.root_buffers:
                self.buffers[name].pause()
            self._state = "paused"
            self._record("run", logging.INFO, "paused")

    def resume(self) -> None:
        with self._lock:
            if self._state != "paused":
                return
            for name in self.root_buffers:
                self.buffers[name].resume()
            self._state = "running"
            self._record("run", logging.INFO, "resumed")

    def request_stop(self, reason: str = "stop requested") -> None:
        """Ask importers to end; the pipeline then drains and ends by itself. Does not wait."""
        with self._lock:
            if self._state not in ("running", "paused"):
                return
            for name in self.root_buffers:
                self.buffers[name].resume()
            self._stop_flag.set()
            self._state = "stopping"
            self._record("run", logging.INFO, reason)

    def stop(self, timeout: float = 15.0) -> bool:
        """Stop in order and wait; after ``timeout`` abort buffers, then terminate. True if all ended in order."""
        self.request_stop()
        if self.wait(timeout):
            return True
        self._record("run", logging.WARNING, f"workers did not end within {timeout:g} s: aborting buffers")
        for rb in self.buffers.values():
            rb.abort()
        if self.wait(3.0):
            return False
        for w in self.workers.values():
            if w.alive:
                self._record("run", logging.ERROR, f"terminating worker '{w.name}'")
                w.terminate()
        if not self.wait(3.0):
            for w in self.workers.values():
                w.kill()
            self.wait(2.0)
        return False

    def finished(self) -> bool:
        return self._state in ("finished", "failed")

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until every worker process ended (and the monitor noticed); True if so."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.finished():
            if self._state == "created":
                return False
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(0.02)
        return True

    # ----- monitor --------------------------------------------------------------------------
    def _monitor_loop(self) -> None:
        while not self._threads_stop.is_set():
            self._sample()
            if self._check_processes():
                break
            self._threads_stop.wait(0.1)

    def _sample(self) -> None:
        now = time.monotonic()
        for name, rb in self.buffers.items():
            st = rb.stats()
            self._history[name].append((now, st.events_written, st.deadtime_total))

    def _check_processes(self) -> bool:
        """Handle ended processes; returns True once all of them ended."""
        if self._stop_flag.is_set() and self._state in ("running", "paused"):
            self._stop_flag.clear()  # set by a failing worker process: make it an ordinary stop request
            self.request_stop("stopping because a worker failed")
        all_done = True
        for w in self.workers.values():
            for i, p in enumerate(w.processes):
                if p.is_alive() or p.exitcode is None:
                    all_done = False
                    continue
                if (w.name, i) in self._handled:
                    continue
                self._handled.add((w.name, i))
                for rb, wid in w.sink_ids(i):
                    if rb.writer_open(wid):
                        rb.close_writer(wid)  # it died without closing: end of stream must still come
                if p.exitcode != 0:
                    w.error = w.error or f"process {i} exited with code {p.exitcode}"
                    self._record(
                        "run",
                        logging.ERROR,
                        f"worker '{w.name}' process {i} failed (exit code {p.exitcode}); stopping the run",
                    )
                    self.request_stop(f"stopping because worker '{w.name}' failed")
        self._abort_unread_buffers()
        if all_done:
            with self._lock:
                self._t_end = time.monotonic()
                self._state = "failed" if self.failed_workers else "finished"
            self._sample()
            self._record("run", logging.INFO, f"run {self._state} after {self.elapsed():.1f} s")
        return all_done

    def _abort_unread_buffers(self) -> None:
        """A buffer whose readers have all ended would block its writers forever: drop instead."""
        for name, rb in self.buffers.items():
            if rb.closed or rb.aborted:
                continue
            readers = [w for w in self.workers.values() if name in self.setup.workers[w.name].sources]
            if readers and all(w.alive == 0 for w in readers):
                rb.abort()
                self._record(
                    "run", logging.WARNING, f"buffer '{name}' has no reader left: new events are dropped"
                )

    # ----- logs -----------------------------------------------------------------------------
    def _record(self, worker: str, levelno: int, message: str) -> None:
        self._deliver(LogEntry(time.time(), worker, logging.getLevelName(levelno), levelno, message))

    def _deliver(self, entry: LogEntry) -> None:
        with self._lock:
            self._log_feed.append(entry)
            self._log_new.append(entry)
            if self._log_file is not None and not self._log_file.closed:
                self._log_file.write(entry.format() + "\n")
                self._log_file.flush()
        log.log(entry.levelno, "[%s] %s", entry.worker, entry.message)
        for listener in list(self.log_listeners):
            try:
                listener(entry)
            except Exception:  # a broken listener must not stop the log
                log.exception("log listener failed")

    def _log_loop(self) -> None:
        q = self._log_queue
        while True:
            try:
                rec = q.get(timeout=0.1)
            except _queue.Empty:
                if self._threads_stop.is_set():
                    return
                continue
            except (EOFError, OSError):
                return
            if rec is None:
                return
            self._deliver(
                LogEntry(
                    rec.created,
                    getattr(rec, "worker", rec.name),
                    rec.levelname,
                    rec.levelno,
                    rec.getMessage(),
                )
            )

    def log_records(self) -> list[LogEntry]:
        """Log entries that arrived since the previous call."""
        with self._lock:
            new, self._log_new = self._log_new, []
        return new

    def log_history(self) -> list[LogEntry]:
        with self._lock:
            return list(self._log_feed)

    # ----- stats ----------------------------------------------------------------------------
    def _rates(self, name: str) -> tuple[float, float]:
        hist = self._history.get(name)
        if not hist or len(hist) < 2:
            return 0.0, 0.0
        t1, n1, d1 = hist[-1]
        t0, n0, d0 = hist[0]
        for sample in reversed(hist):  # the newest sample at least a second old
            if t1 - sample[0] >= 1.0:
                t0, n0, d0 = sample
                break
        if t1 <= t0:
            return 0.0, 0.0
        return (n1 - n0) / (t1 - t0), min(1.0, (d1 - d0) / (t1 - t0))

    def stats(self) -> RunStats:
        buffers = {}
        for name, rb in self.buffers.items():
            rate, dead = self._rates(name)
            buffers[name] = BufferRunStats(rb.stats(), rate, dead, name in self.root_buffers)
        return RunStats(
            state=self._state,
            time=self.elapsed(),
            run_dir=self.run_dir,
            buffers=buffers,
            workers={n: w.stats() for n, w in self.workers.items()},
        )

    def observer(self, buffer_name: str) -> Observer:
        """A non-blocking observer handle on a buffer, for displays in this process."""
        try:
            return self.buffers[buffer_name].observer()
        except KeyError:
            raise KeyError(
                f"no buffer '{buffer_name}' in this run (buffers: {', '.join(self.buffers) or 'none yet'})"
            ) from None

    # ----- cleanup --------------------------------------------------------------------------
    def _emergency_cleanup(self) -> None:
        for w in self.workers.values():
            w.terminate()
            w.join(2.0)
        for rb in self.buffers.values():
            rb.unlink()

    def close(self, timeout: float = 15.0) -> None:
        """Stop if running, end the threads, release shared memory. Idempotent."""
        if self._closed:
            return
        if self._state in ("running", "paused", "stopping"):
            self.stop(timeout)
        self._closed = True
        self._threads_stop.set()
        for t in (self._monitor_thread, self._log_thread):
            if t is not None:
                t.join(2.0)
        for w in self.workers.values():
            w.join(1.0)
        for rb in self.buffers.values():
            rb.unlink()
        if self._log_queue is not None:
            self._log_queue.close()
            self._log_queue.join_thread()
        with self._lock:
            if self._log_file is not None:
                self._log_file.close()
        _LIVE_RUNS.discard(self)

    def __enter__(self) -> Run:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:  # pragma: no cover
        try:
            if not self._closed and self.buffers:
                self.close(timeout=2.0)
        except Exception:
            pass
