"""A Run: ring buffers and worker processes built from a Setup, controlled and watched.

Used alike by the CLI and the GUI. ``start`` creates ``run_<YYYY-MM-DD_HH-MM-SS>`` under the
setup's target directory with a copy of the resolved setup, the buffers in shared memory and the
worker processes; a monitor thread samples counters for rates, notices processes that ended (and
closes their sinks on their behalf if they died without doing so), and a log thread collects every
worker's log records and printed lines into ``run.log`` and an in-memory feed.

The Run works from a frozen snapshot of the setup taken when it is made (``core.runplan``): the
editable Setup is never read again, and the monitor's look-ups are built once.

Stopping is in order: importers end their loop, end of stream flows down the pipeline, exporters
finish their files. Each worker has a deadline (``stop_deadline`` seconds after it has nothing left
to wait for, ``core.runwatch``): a process past it is named and terminated alone, its sinks are
closed for it and the rest of the chain drains. A process that ends while its sources are still
open is a failure whatever its exit code; a display-only observer that fails is reported and the
acquisition goes on. At the end the log gives every buffer's account. Shared memory is released
in ``close()`` (also on garbage collection and at exit).
"""

from __future__ import annotations

import atexit
import collections
import datetime as _dt
import logging
import multiprocessing
import queue as _queue
import signal
import threading
import time
import weakref
from dataclasses import dataclass, field
from pathlib import Path

from mimocorb_gui.core.bufferio import StopFlag
from mimocorb_gui.core.ringbuffer import BufferStats, Observer, RingBuffer
from mimocorb_gui.core.runplan import RunPlan
from mimocorb_gui.core.runrecord import RunRecord
from mimocorb_gui.core.runwatch import StallWatch, StopDeadlines, buffer_account
from mimocorb_gui.core.shm import free_memory, human_bytes
from mimocorb_gui.core.workers import ProcessPlan, Worker, WorkerStats
from mimocorb_gui.core.yaml_values import block_yaml

__all__ = ["BufferRunStats", "LogEntry", "Run", "RunStats", "SetupInvalid", "StartError"]

log = logging.getLogger("mimocorb.run")

STOP_DEADLINE = 30.0  # seconds a worker may take to finish once it has nothing left to wait for (a
# 2-core PC at load average 20 took over 10 s to end workers in the GUI tests)
STALL_THRESHOLD = 10.0  # seconds a full buffer's readers may take nothing before it is reported
SLOW_STOP_NOTICE = 5.0  # seconds after which a worker that should have ended is named in the log
_KILL_AFTER = 2.0  # seconds between terminate and kill of an overdue process (e.g. one in SIGSTOP)
_SIGBUS = getattr(signal, "SIGBUS", None)


class SetupInvalid(Exception):
    """The setup has errors; nothing was started."""

    def __init__(self, problems: list) -> None:
        self.problems = problems
        super().__init__("setup has errors:\n" + "\n".join(f"  {p}" for p in problems))


class StartError(RuntimeError):
    """The run could not be set up (no room in shared memory, run directory impossible, ...)."""


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
        stop_deadline: float = STOP_DEADLINE,
        stall_threshold: float = STALL_THRESHOLD,
    ) -> None:
        problems = setup.validate()
        errors = [p for p in problems if p.severity == "error"]
        if errors:
            raise SetupInvalid(errors)
        self.setup = setup  # kept for callers; the run itself reads only the snapshot below
        self.plan = RunPlan.from_setup(setup)
        self.problems = problems
        self.stop_deadline = float(stop_deadline)
        self.stall_threshold = float(stall_threshold)
        self.run_root = Path(run_root) if run_root is not None else self.plan.target_directory
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
        self._begun = None  # shared counter: worker processes that reached their function
        self._log_feed: collections.deque[LogEntry] = collections.deque(maxlen=20000)
        self._log_new: list[LogEntry] = []
        self._log_file = None
        self._log_thread: threading.Thread | None = None
        self._monitor_thread: threading.Thread | None = None
        self._threads_stop = threading.Event()
        self._history: dict[str, collections.deque] = {}
        self._handled: set[tuple[str, int]] = set()
        self._terminated: dict[tuple[str, int], float] = {}  # overdue processes: when terminate was sent
        self._named_slow: set[tuple[str, int]] = set()  # processes said to be slow to end
        self._stop_time: float | None = None
        self._hurry = False
        self._deadlines = StopDeadlines(self.plan, self.stop_deadline)
        self._stalls = StallWatch(self.plan, self.stall_threshold)
        self._closed = False
        self._run_record = None  # core.runrecord: stats.csv and data_flow.svg in the run directory
        self.log_listeners: list = []  # callables(LogEntry), called from the log thread
        self.root_buffers = self.plan.root_buffers

    # ----- state ----------------------------------------------------------------------------
    @property
    def state(self) -> str:
        return self._state

    @property
    def running(self) -> bool:
        return self._state in ("running", "paused", "stopping")

    @property
    def failed_workers(self) -> list[str]:
        """Failed workers that cost events (a failed display-only observer is not one of them)."""
        return [n for n, w in self.workers.items() if w.failed and not self.plan.workers[n].display_only]

    @property
    def failed_displays(self) -> list[str]:
        """Display-only observers that failed; the acquisition went on without them."""
        return [n for n, w in self.workers.items() if w.failed and self.plan.workers[n].display_only]

    def processes_begun(self) -> tuple[int, int]:
        """(worker processes that have begun, all worker processes of the run).

        A process has begun when it is past its start-up (a fresh interpreter under spawn, imports,
        loading the function) and calls its worker function; one that already ended counts as begun
        too (it will not begin any more). On a busy machine this takes seconds for 10 processes.
        """
        processes = [p for w in self.workers.values() for p in w.processes]
        total = len(processes)
        if self._begun is None:
            return 0, total
        ended = sum(p.exitcode is not None for p in processes)
        return min(total, max(self._begun.value, ended)), total

    def events_written(self) -> int:
        """Events written so far into the buffers importers fill (cheap: header counters only)."""
        return sum(self.buffers[b].stats().events_written for b in self.root_buffers if b in self.buffers)

    def elapsed(self) -> float:
        if self._t_start is None:
            return 0.0
        return (self._t_end or time.monotonic()) - self._t_start

    # ----- start ----------------------------------------------------------------------------
    def _make_run_dir(self) -> Path:
        stamp = _dt.datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
        base = self.run_root / f"run_{stamp}"
        self.run_root.mkdir(parents=True, exist_ok=True)
        path, n = base, 1
        while True:
            try:
                path.mkdir()  # atomic: of runs starting in the same second, each gets its own
                return path
            except FileExistsError:
                n += 1
                path = base.with_name(f"{base.name}_{n}")

    def _check_memory(self) -> None:
        need = self.plan.slot_memory
        shm_free, ram = free_memory()
        room = min(x for x in (shm_free, ram) if x is not None)
        if need > room:
            where = (
                "free shared memory (/dev/shm)" if shm_free is not None and shm_free <= ram else "free RAM"
            )
            raise StartError(
                f"the buffers need {human_bytes(need)} of shared memory, but only {human_bytes(room)} of "
                f"{where} is left: make slot_count or data_length smaller"
            )

    def start(self) -> Path:
        with self._lock:
            if self._state != "created":
                raise RuntimeError(f"run already {self._state}; a Run starts once")
            plan = self.plan
            self._check_memory()
            try:
                self.run_dir = self._make_run_dir()
            except OSError as exc:
                raise StartError(f"cannot create a run directory under {self.run_root}: {exc}") from exc
            (self.run_dir / "setup.yaml").write_text(
                f"# resolved copy of {plan.setup_path}\n" + block_yaml(plan.resolved), encoding="utf-8"
            )
            if self.notes:
                self.write_notes(self.notes)
            self._log_file = open(self.run_dir / "run.log", "a", encoding="utf-8")
            self._log_queue = self.ctx.Queue()
            self._begun = self.ctx.Value("i", 0)

            try:
                for name, spec in plan.buffers.items():
                    rb = RingBuffer(
                        name,
                        spec.slot_count,
                        spec.data_length,
                        spec.dtype,
                        n_writers=max(1, spec.writers),
                        ctx=self.ctx,
                    )
                    self.buffers[name] = rb
                    if spec.writers == 0:
                        rb.close_writer(0)  # nobody writes: readers see end of stream at once
                    self._history[name] = collections.deque(maxlen=64)
                next_id = dict.fromkeys(plan.buffers, 0)
                for wname, w in plan.workers.items():
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
                                file=w.file,
                                function=w.function,
                                config=dict(w.config),
                                setup_dir=str(plan.setup_dir),
                                run_dir=str(self.run_dir),
                                sources=[self.buffers[b] for b in w.sources],
                                sinks=sinks,
                                observes=[self.buffers[b] for b in w.observes],
                                stop_flag=self._stop_flag,
                                log_queue=self._log_queue,
                                log_level=self.log_level,
                                orphan_deadline=self.stop_deadline,
                                begun=self._begun,
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
            self._run_record = RunRecord(self)
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
            self._stop_time = time.monotonic()
            self._state = "stopping"
            self._record("run", logging.INFO, reason)

    def hurry(self) -> None:
        """Stop now: every process that is already due to finish is terminated without waiting out
        its deadline (the CLI's second Ctrl-C). Processes still draining their inputs go on."""
        self.request_stop("stop requested")
        self._hurry = True  # the monitor's next pass, once: later workers get their whole deadline

    def stop(self, timeout: float | None = None) -> bool:
        """Stop in order and wait; True if every process ended within ``timeout`` (see ``state``).

        Overdue workers are terminated by the monitor one by one (``stop_deadline``). ``timeout``
        (default: a deadline per worker in the chain and some) is the last resort: then buffers are
        aborted and every process left is terminated.
        """
        if timeout is None:
            timeout = self.stop_deadline * (len(self.workers) + 1) + 5.0
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
            try:
                stats = self._sample()
                self._report_stalls(stats)
                if self._check_processes():
                    break
                self._enforce_deadlines()
            except Exception:
                log.exception("run monitor")
                self._record("run", logging.ERROR, "internal error in the run monitor (see the console)")
            self._threads_stop.wait(0.1)

    def _sample(self) -> dict[str, BufferStats]:
        now = time.monotonic()
        stats = {}
        for name, rb in self.buffers.items():
            stats[name] = st = rb.stats()
            self._history[name].append((now, st.events_written, st.deadtime_total))
        if self._run_record is not None:
            self._run_record.sample()
        return stats

    def _report_stalls(self, stats: dict[str, BufferStats]) -> None:
        for message in self._stalls.update(time.monotonic(), stats):
            self._record("run", logging.WARNING, message + "; the run goes on")

    def _enforce_deadlines(self) -> None:
        now = time.monotonic()
        alive = {
            w.name: [i for i, p in enumerate(w.processes) if p.exitcode is None]
            for w in self.workers.values()
        }
        stats = {name: rb.stats() for name, rb in self.buffers.items()}
        deadline = self._deadlines.deadline
        if self._hurry:
            self._hurry = False
            self._deadlines.deadline = 0.0
        try:
            overdue = self._deadlines.overdue(now, self._stop_time, stats, alive)
        finally:
            self._deadlines.deadline = deadline
        self._name_slow_enders(now, stats, alive)
        for wname, i, waited in overdue:
            key = (wname, i)
            p = self.workers[wname].processes[i]
            sent = self._terminated.get(key)
            if sent is None:
                self._terminated[key] = now
                self.workers[wname].mark_failed(i, f"process {i} did not finish: terminated")
                self._record(
                    "run",
                    logging.ERROR,
                    f"worker '{wname}' process {i} has not finished after {waited:.0f} s: terminating it",
                )
                p.terminate()
            elif now - sent >= _KILL_AFTER:
                self._terminated[key] = float("inf")  # kill once
                self._record(
                    "run", logging.ERROR, f"worker '{wname}' process {i} ignored terminate: killing it"
                )
                p.kill()

    def _name_slow_enders(self, now: float, stats, alive) -> None:
        """Say once which process has had nothing left to do for a while and has not ended, so a
        stop that takes long is explained before the deadline terminates it."""
        if self.stop_deadline <= SLOW_STOP_NOTICE:
            return
        slow = self._deadlines.overdue(now, self._stop_time, stats, alive, deadline=SLOW_STOP_NOTICE)
        for wname, i, waited in slow:
            if (wname, i) in self._named_slow:
                continue
            self._named_slow.add((wname, i))
            self._record(
                "run",
                logging.WARNING,
                f"waiting for worker '{wname}' process {i} to end ({waited:.0f} s since it had nothing"
                f" left to do; terminated after {self.stop_deadline:g} s)",
            )

    def _check_processes(self) -> bool:
        """Handle ended processes; returns True once all of them ended."""
        if self._stop_flag.is_set() and self._state in ("running", "paused"):
            self._stop_flag.clear()  # set by a failing worker process: make it an ordinary stop request
            self.request_stop("stopping because a worker failed")
        all_done = True
        for w in self.workers.values():
            for i, p in enumerate(w.processes):
                if p.exitcode is None:
                    all_done = False
                    continue
                if (w.name, i) in self._handled:
                    continue
                self._handled.add((w.name, i))
                self._process_ended(w, i, p.exitcode)
        self._abort_unread_buffers()
        if all_done:
            with self._lock:
                self._t_end = time.monotonic()
                self._state = "failed" if self.failed_workers else "finished"
            self._sample()
            self._record("run", logging.INFO, f"run {self._state} after {self.elapsed():.1f} s")
            for line in self.account():
                self._record("run", logging.INFO, line)
            self._write_run_times()
        return all_done

    def _write_run_times(self) -> None:
        """Real and dead time into run_times.json: spectra of a reopened run get their live time."""
        from mimocorb_gui.core.analysis.runtimes import RunTimes

        if self.run_dir is None:
            return
        try:
            RunTimes.from_stats(self.stats()).write(self.run_dir)
        except OSError as exc:
            self._record("run", logging.WARNING, f"cannot write run_times.json: {exc}")

    def _process_ended(self, w: Worker, i: int, exitcode: int) -> None:
        spec = self.plan.workers[w.name]
        for rb, wid in w.sink_ids(i):
            if rb.writer_open(wid):
                rb.close_writer(wid)  # it died without closing: end of stream must still come
        problem = ""
        if exitcode == 0:
            still_open = [b for b in spec.sources if not self.buffers[b].closed]
            if still_open:
                unread = {b: self.buffers[b].stats() for b in still_open}
                problem = (
                    f"process {i} ended while its source(s) "
                    + ", ".join(
                        f"'{b}' ({s.events_written - s.events_read} events not yet read)"
                        for b, s in unread.items()
                    )
                    + " were still open"
                )
                w.mark_failed(i, problem)
        elif _SIGBUS is not None and exitcode == -_SIGBUS:
            problem = f"process {i} was killed by SIGBUS (exit code {exitcode}): shared memory exhausted (is /dev/shm full?)"
        elif (w.name, i) in self._terminated:
            problem = f"process {i} was terminated after the stop deadline (exit code {exitcode})"
        else:
            problem = f"process {i} failed (exit code {exitcode})"
        if not problem:
            return
        w.error = w.error or problem
        if spec.display_only:
            self._record(
                "run",
                logging.ERROR,
                f"display worker '{w.name}' {problem}; the acquisition goes on without it",
            )
            return
        self._record("run", logging.ERROR, f"worker '{w.name}' {problem}; stopping the run")
        self.request_stop(f"stopping because worker '{w.name}' failed")

    def _abort_unread_buffers(self) -> None:
        """A buffer whose readers have all ended would block its writers forever: drop instead."""
        for name, rb in self.buffers.items():
            if rb.closed or rb.aborted:
                continue
            readers = self.plan.buffers[name].readers
            if not readers or any(self.workers[r].alive for r in readers):
                continue
            if rb.closed:  # closed meanwhile: readers end only after the end of stream, nothing is lost
                continue
            rb.abort()
            self._record(
                "run", logging.WARNING, f"buffer '{name}' has no reader left: new events are dropped"
            )

    def account(self) -> list[str]:
        """Per buffer: written, read, dropped while paused, dropped without reader (and left unread)."""
        return [buffer_account(rb.stats()) for rb in self.buffers.values()]

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
        # a copy: the monitor thread appends while the GUI or CLI asks (iterating the deque itself
        # raised "deque mutated during iteration")
        hist = list(self._history.get(name) or ())
        if len(hist) < 2:
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
