"""A worker is N processes running one function; this module starts them and watches them.

``process_main`` is what runs inside each child: it sends the child's log records and its
stdout/stderr lines to the parent through a log queue (never the data path), builds the
``BufferIO``, calls the worker function and, whatever happens, closes the process's sinks and
drains its sources so that the rest of the pipeline ends in order (events drained unread are
counted in the log).

Each process watches its controller (the parent's sentinel: a pipe on POSIX, a process handle on
Windows). When the controller dies (``kill -9``, a crash, the GUI closed by the OOM killer), the
process asks the run to stop in order itself, within the time the operating system takes to close
the pipe; a process still running ``orphan_deadline`` seconds later closes its sinks and leaves.
"""

from __future__ import annotations

import io as _io
import logging
import logging.handlers
import multiprocessing
import os
import signal
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from multiprocessing.context import BaseContext
from pathlib import Path
from typing import Any

from mimocorb_gui.core.bufferio import BufferIO, Config, StopFlag
from mimocorb_gui.core.ringbuffer import RingBuffer

__all__ = ["ProcessPlan", "Worker", "WorkerStats", "process_main", "yield_cpu_to_acquisition"]

EXIT_FAILED = 1


@dataclass
class ProcessPlan:
    """Everything one worker process needs; picklable for the spawn start method."""

    worker: str
    index: int
    file: str | None
    function: str
    config: dict
    setup_dir: str
    run_dir: str
    sources: list[RingBuffer]
    sinks: list[tuple[RingBuffer, int]]  # buffer and this process's writer id
    observes: list[RingBuffer]
    stop_flag: StopFlag
    log_queue: Any
    log_level: int = logging.DEBUG
    orphan_deadline: float = 30.0  # seconds to finish in order after the controller died
    begun: Any = None  # a shared counter (multiprocessing Value 'i') of processes that reached their function


class _LineLogger(_io.TextIOBase):
    """A text stream that logs each complete line (worker prints end up in the run log)."""

    def __init__(self, logger: logging.Logger, level: int) -> None:
        self._logger = logger
        self._level = level
        self._pending = ""

    def writable(self) -> bool:
        return True

    def write(self, s: str) -> int:
        self._pending += s
        while "\n" in self._pending:
            line, self._pending = self._pending.split("\n", 1)
            if line.strip():
                self._logger.log(self._level, line.rstrip())
        return len(s)

    def flush(self) -> None:
        if self._pending.strip():
            self._logger.log(self._level, self._pending.rstrip())
        self._pending = ""


class _WorkerTag(logging.Filter):
    def __init__(self, worker: str, index: int) -> None:
        super().__init__()
        self.worker = worker
        self.index = index

    def filter(self, record: logging.LogRecord) -> bool:
        record.worker = self.worker
        record.proc_index = self.index
        return True


def _setup_child_logging(plan: ProcessPlan) -> logging.Logger:
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    handler = logging.handlers.QueueHandler(plan.log_queue)
    handler.addFilter(_WorkerTag(plan.worker, plan.index))
    root.addHandler(handler)
    root.setLevel(plan.log_level)
    # filelock says "acquiring/releasing" at DEBUG for every histogram flush: noise in run.log and
    # a flood through the log queue; its warnings still come
    logging.getLogger("filelock").setLevel(logging.INFO)
    logger = logging.getLogger(f"mimocorb.worker.{plan.worker}")
    sys.stdout = _LineLogger(logger, logging.INFO)
    sys.stderr = _LineLogger(logger, logging.WARNING)
    return logger


def yield_cpu_to_acquisition() -> str:
    """Let this process run only on CPU time the data path does not want (observing processes).

    Linux: SCHED_IDLE; elsewhere the lowest nice level. Returns what was done. Measured with a
    flat-out observer beside importer and reader on 2 cores (benchmarks/bench_ringbuffer.py):
    small events -31 % at normal priority, -2 % with SCHED_IDLE; waveforms -28 % and -7 %.
    """
    if hasattr(os, "sched_setscheduler") and hasattr(os, "SCHED_IDLE"):
        try:
            os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
            return "SCHED_IDLE"
        except OSError:
            pass
    try:
        os.nice(19)
        return "nice 19"
    except (AttributeError, OSError):
        return "unchanged"


def _count_begun(plan: ProcessPlan) -> None:
    """Tell the run this process is past its start-up (interpreter, imports) and calls its function."""
    if plan.begun is not None:
        with plan.begun.get_lock():
            plan.begun.value += 1


def _append_run_log(plan: ProcessPlan, message: str) -> None:
    """A line straight into run.log (the controller that collects log records is gone)."""
    stamp = time.strftime("%H:%M:%S")
    try:
        with open(Path(plan.run_dir) / "run.log", "a", encoding="utf-8") as f:
            f.write(f"{stamp}.000 WARNING [{plan.worker}] {message}\n")
    except OSError:
        pass


def _orphaned(plan: ProcessPlan) -> None:
    """The controller died: stop the run in order from here, and leave if that takes too long."""
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)  # the log queue has no reader any more: a full pipe would block exit
    try:
        plan.log_queue.cancel_join_thread()
    except (AttributeError, OSError):  # pragma: no cover
        pass
    sys.stdout = sys.stderr = open(os.devnull, "w")
    _append_run_log(
        plan,
        f"the controlling process ended: process {plan.index} stops in order "
        f"(leaving after {plan.orphan_deadline:g} s at most)",
    )
    plan.stop_flag.set()
    time.sleep(plan.orphan_deadline)
    _append_run_log(
        plan,
        f"process {plan.index} did not finish {plan.orphan_deadline:g} s after its controller ended: leaving",
    )
    for rb, wid in plan.sinks:
        try:
            rb.close_writer(wid)
        except Exception:
            pass
    os._exit(EXIT_FAILED)


def watch_parent(plan: ProcessPlan, poll: float = 0.5) -> threading.Thread:
    """Start a daemon thread that calls ``_orphaned`` when the controller ends.

    Two signs, either suffices: the parent's sentinel becomes ready (spawn, forkserver, Windows),
    or the parent pid changes because this process was re-parented (POSIX; under fork a later
    sibling inherits the pipe behind an earlier one's sentinel and keeps it from closing).
    """
    parent = multiprocessing.parent_process()
    sentinel = getattr(parent, "sentinel", None)
    ppid = os.getppid()

    def watch() -> None:
        from multiprocessing.connection import wait

        while True:
            if sentinel is not None:
                if wait([sentinel], timeout=poll):
                    break
            else:
                time.sleep(poll)
            if os.getppid() != ppid:
                break
        _orphaned(plan)

    t = threading.Thread(target=watch, name="mimocorb-parent-watch", daemon=True)
    t.start()
    return t


def process_main(plan: ProcessPlan) -> None:
    """Body of one worker process."""
    # Ctrl-C goes to the controlling process, which stops in order
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "SIGHUP"):
        signal.signal(signal.SIGHUP, signal.SIG_IGN)  # a closed terminal: the controller stops in order
    watch_parent(plan)
    display_only = bool(plan.observes) and not plan.sources and not plan.sinks
    if display_only:
        yield_cpu_to_acquisition()  # an observer must never slow the data path down
    logger = _setup_child_logging(plan)
    io = BufferIO(
        plan.worker,
        [rb.reader() for rb in plan.sources],
        [rb.writer(wid) for rb, wid in plan.sinks],
        [rb.observer() for rb in plan.observes],
        config=Config(plan.config, worker=plan.worker),
        setup_dir=plan.setup_dir,
        run_dir=plan.run_dir,
        logger=logger,
        stop_flag=plan.stop_flag,
        process_index=plan.index,
    )
    code = 0
    try:
        from mimocorb_gui.core.loader import load_function

        function = load_function(plan.file, plan.function, Path(plan.setup_dir))
        _count_begun(plan)
        function(io)
    except BaseException as exc:  # every failure must be reported and cleaned up
        code = EXIT_FAILED
        logger.error(
            "worker '%s' (process %d) failed: %s: %s\n%s",
            plan.worker,
            plan.index,
            type(exc).__name__,
            exc,
            "".join(traceback.format_exception(exc)).rstrip(),
        )
    finally:
        if code != 0 and not display_only:  # a failed display costs no event: the acquisition goes on
            plan.stop_flag.set()  # the run ends in order: importers stop, and draining below can finish
        try:
            io.shutdown_sinks()
            discarded = io.drain_sources()
            if discarded:
                logger.warning(
                    "worker '%s' (process %d): %d event(s) left in its sources were discarded unread",
                    plan.worker,
                    plan.index,
                    discarded,
                )
        except BaseException as exc:
            logger.error("worker '%s': cleanup failed: %s", plan.worker, exc)
            code = EXIT_FAILED
        for s in (sys.stdout, sys.stderr):
            s.flush()
        del io
        for rb in (*plan.sources, *(rb for rb, _ in plan.sinks), *plan.observes):
            rb.close()
        logging.shutdown()
    sys.exit(code)


@dataclass
class WorkerStats:
    """What the controller knows about one worker."""

    name: str
    function: str
    processes: int
    alive: int
    cpu_percent: float
    exitcodes: list[int | None]
    failed: bool
    error: str = ""

    @property
    def state(self) -> str:
        if self.failed:
            return "failed"
        if self.alive:
            return "running"
        if all(c is None for c in self.exitcodes):  # also no process at all yet
            return "not started"
        return "finished" if all(c == 0 for c in self.exitcodes) else "stopped"


@dataclass
class Worker:
    """N processes of one worker function."""

    name: str
    function: str
    plans: list[ProcessPlan]
    processes: list = field(default_factory=list)
    error: str = ""
    problems: dict[int, str] = field(default_factory=dict)  # failures the exit code does not show
    _ps: dict = field(default_factory=dict)

    def start(self, ctx: BaseContext) -> None:
        from mimocorb_gui.core import workers as _self  # the target must be importable under spawn

        for plan in self.plans:
            p = ctx.Process(
                target=_self.process_main,
                args=(plan,),
                name=f"mimocorb:{self.name}:{plan.index}",
                daemon=True,
            )
            p.start()
            self.processes.append(p)

    @property
    def alive(self) -> int:
        return sum(p.is_alive() for p in self.processes)

    @property
    def exitcodes(self) -> list[int | None]:
        return [p.exitcode for p in self.processes]

    @property
    def failed(self) -> bool:
        return bool(self.problems) or any(c not in (None, 0) for c in self.exitcodes)

    def mark_failed(self, index: int, problem: str) -> None:
        """Count process ``index`` as failed whatever its exit code (e.g. it left its sources open)."""
        self.problems.setdefault(index, problem)

    def sink_ids(self, index: int) -> list[tuple[RingBuffer, int]]:
        return self.plans[index].sinks

    def cpu_percent(self) -> float:
        """CPU use of all live processes, in percent of one core, since the previous call."""
        import psutil

        total = 0.0
        for p in self.processes:
            if p.pid is None or not p.is_alive():
                continue
            proc = self._ps.get(p.pid)
            try:
                if proc is None:
                    proc = self._ps[p.pid] = psutil.Process(p.pid)
                    proc.cpu_percent(None)
                    continue
                total += proc.cpu_percent(None)
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
        return total

    def stats(self) -> WorkerStats:
        return WorkerStats(
            name=self.name,
            function=self.function,
            processes=len(self.plans),
            alive=self.alive,
            cpu_percent=self.cpu_percent(),
            exitcodes=self.exitcodes,
            failed=self.failed,
            error=self.error,
        )

    def terminate(self) -> None:
        for p in self.processes:
            if p.is_alive():
                p.terminate()

    def kill(self) -> None:
        for p in self.processes:
            if p.is_alive():
                p.kill()  # SIGKILL on POSIX, TerminateProcess on Windows

    def join(self, timeout: float | None = None) -> None:
        for p in self.processes:
            p.join(timeout)
