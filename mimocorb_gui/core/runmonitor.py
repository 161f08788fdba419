"""The run monitor: a thread that watches a started run every 100 ms.

It samples the buffers' counters (rates and dead time, ``stats.csv``), reports full buffers whose
readers take nothing, handles processes that ended (closes the sinks of one that died without doing
so; a failure stops the run, a failed display-only observer does not), drops the events of a
buffer whose readers all ended, names workers slow to end, terminates those past their stop
deadline (``core.runwatch``), and at the end gives the run its state, its account and
``run_times.json``. Mixed into :class:`~mimocorb_gui.core.run.Run`, whose lifecycle starts and
ends the thread; everything it looks up comes from the run's frozen plan, built once at start.
"""

from __future__ import annotations

import collections
import logging
import signal
import threading
import time

from mimocorb_gui.core.ringbuffer import BufferStats
from mimocorb_gui.core.runwatch import StallWatch, StopDeadlines
from mimocorb_gui.core.workers import Worker

log = logging.getLogger("mimocorb.run")

SLOW_STOP_NOTICE = 5.0  # seconds after which a worker that should have ended is named in the log
_KILL_AFTER = 2.0  # seconds between terminate and kill of an overdue process (e.g. one in SIGSTOP)
_SIGBUS = getattr(signal, "SIGBUS", None)
SAMPLE_INTERVAL = 0.1  # seconds between two passes
HISTORY_SAMPLES = 64  # samples kept per buffer for its rates


class RunMonitoring:
    """The monitor thread of a :class:`~mimocorb_gui.core.run.Run` and the state it keeps."""

    def _init_monitor(self) -> None:
        self._history: dict[str, collections.deque] = {}  # buffer -> (time, written, dead time)
        self._handled: set[tuple[str, int]] = set()  # ended processes already dealt with
        self._terminated: dict[tuple[str, int], float] = {}  # overdue processes: when terminate was sent
        self._named_slow: set[tuple[str, int]] = set()  # processes said to be slow to end
        self._deadlines = StopDeadlines(self.plan, self.stop_deadline)
        self._stalls = StallWatch(self.plan, self.stall_threshold)
        self._monitor_stop = threading.Event()
        self._monitor_thread: threading.Thread | None = None

    def _start_monitor(self) -> None:
        for name in self.buffers:
            self._history[name] = collections.deque(maxlen=HISTORY_SAMPLES)
        self._monitor_thread = threading.Thread(
            target=self._monitor_loop, name="mimocorb-monitor", daemon=True
        )
        self._monitor_thread.start()

    def _stop_monitor(self, timeout: float = 2.0) -> None:
        self._monitor_stop.set()
        if self._monitor_thread is not None:
            self._monitor_thread.join(timeout)

    def _monitor_loop(self) -> None:
        while not self._monitor_stop.is_set():
            try:
                stats = self._sample()
                self._report_stalls(stats)
                if self._check_processes():
                    break
                self._enforce_deadlines()
            except Exception:
                log.exception("run monitor")
                self._record("run", logging.ERROR, "internal error in the run monitor (see the console)")
            self._monitor_stop.wait(SAMPLE_INTERVAL)

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
