"""RunController: a QObject wrapping core.run.Run for the GUI (timers and signals, no acquisition logic).

The controller never blocks the event loop: it asks the run to stop and polls on a timer until the
workers ended by themselves, then closes the run (shared memory released). Everything the docks
show comes through its signals or through observer handles it hands out.

Start method: ``spawn`` by default. Forking a process that runs Qt (threads, an X/Wayland
connection, GL contexts) is unsafe, so ``fork`` is out. Measured on the 2-core CI machine with the
muon waveform setup (3 workers): time from ``start()`` to the first event written is about
0.33-0.45 s with ``spawn``, 0.21-0.37 s with ``forkserver`` (0.03 s with ``fork``). The 0.1-0.2 s
that forkserver saves per start does not matter to a person pressing Start, while ``spawn`` is
what Windows and macOS use and what a PyInstaller bundle supports everywhere, so the GUI tests
the same path everybody runs. ``MIMOCORB_START_METHOD`` overrides it.

Start-up: on a busy machine a setup with ten worker processes takes seconds until every process
has begun (a fresh interpreter each, imports) and the first event arrives. ``processes_begun()``
says how far that is, and the run clock (``live_time()``, which the measurement time counts down)
starts at the first event written into an importer's buffer, not at Start.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QElapsedTimer, QObject, QTimer, Signal

from mimocorb_gui.core.run import Run, RunStats, SetupInvalid

__all__ = ["DEFAULT_START_METHOD", "RunController", "SetupInvalid"]

log = logging.getLogger(__name__)

DEFAULT_START_METHOD = "spawn"
STATS_INTERVAL_S = 0.5  # stats snapshots for the docks; logs and state are polled every poll_ms
IDLE_STATES = ("ready", "finished", "failed")  # no run in progress: a new one may start


class RunController(QObject):
    """Owns at most one Run at a time; polls it on timers and reports through signals."""

    state_changed = Signal(str)  # 'ready' | 'running' | 'paused' | 'stopping' | 'finished' | 'failed'
    stats_updated = Signal(object)  # RunStats, every poll while a run exists (and once at its end)
    log_received = Signal(list)  # list[LogEntry] that arrived since the previous poll
    error_logged = Signal(object)  # LogEntry of level ERROR or worse
    run_started = Signal(object)  # Path of the run directory
    run_finishing = Signal()  # the run ended: drop observer handles now, shared memory goes next
    run_finished = Signal(str, object)  # final state, run directory
    countdown_changed = Signal(float)  # seconds of measurement time left; -1 when no time is set
    startup_changed = Signal(int, int)  # worker processes begun, all of them (until all have begun)
    first_event = Signal()  # the first event was written: the run clock starts now

    def __init__(
        self, parent: QObject | None = None, start_method: str | None = None, poll_ms: int = 200
    ) -> None:
        super().__init__(parent)
        self.start_method = start_method or os.environ.get("MIMOCORB_START_METHOD") or DEFAULT_START_METHOD
        self._setup = None
        self._run: Run | None = None
        self._state = "ready"
        self._run_dir: Path | None = None
        self._last_stats: RunStats | None = None
        self._stats_time = 0.0
        self._duration: float | None = None
        self._live_time = 0.0
        self._live_clock = QElapsedTimer()
        self._first_event_seen = False
        self._begun = (0, 0)
        self._timer = QTimer(self)
        self._timer.setInterval(poll_ms)
        self._timer.timeout.connect(self.poll)
        self.start_seconds: float | None = None  # how long Run.start() took, for the log
        self.attached = False  # the run shown is one served elsewhere (watch()), not ours
        self.run_root: Path | None = None  # where run_<timestamp> goes; None: the setup's target_directory

    # ----- properties -------------------------------------------------------------------------
    @property
    def setup(self):
        return self._setup

    def set_setup(self, setup) -> None:
        if self.busy:
            raise RuntimeError("a run is in progress; stop it before opening another setup")
        self._setup = setup
        self._last_stats = None
        self._run_dir = None
        self._set_state("ready")

    @property
    def run(self) -> Run | None:
        """The live Run (None when no run is in progress)."""
        return self._run

    @property
    def state(self) -> str:
        return self._state

    @property
    def busy(self) -> bool:
        """A run is in progress (running, paused or stopping)."""
        return self._state in ("running", "paused", "stopping")

    @property
    def run_dir(self) -> Path | None:
        return self._run_dir

    @property
    def last_stats(self) -> RunStats | None:
        return self._last_stats

    @property
    def duration(self) -> float | None:
        return self._duration

    def remaining(self) -> float | None:
        """Measurement time left (seconds of running, pauses excluded), None when no time is set."""
        if self._duration is None:
            return None
        return max(0.0, self._duration - self.live_time())

    def live_time(self) -> float:
        """Seconds the run spent in 'running' since its first event (paused time excluded)."""
        extra = (
            self._live_clock.elapsed() / 1000.0
            if self._state == "running" and self._live_clock.isValid()
            else 0.0
        )
        return self._live_time + extra

    @property
    def first_event_seen(self) -> bool:
        """The current (or last) run has written its first event: the run clock runs."""
        return self._first_event_seen

    def processes_begun(self) -> tuple[int, int]:
        """(worker processes that have begun, all of them) of the current or last run."""
        return self._begun

    @property
    def starting(self) -> bool:
        """A run is in progress whose worker processes have not all begun yet."""
        begun, total = self._begun
        return self.busy and begun < total

    def observer(self, buffer_name: str):
        """A non-blocking observer handle on a buffer of the live run, or None without a run."""
        if self._run is None or not self.busy:
            return None
        try:
            return self._run.observer(buffer_name)
        except (KeyError, AttributeError):
            return None

    def histograms(self, buffer_name: str):
        """The histogram counts of a buffer of the run shown (``RunSource.histograms``), None without a run."""
        if self._run is None:
            return None
        try:
            return self._run.histograms(buffer_name)
        except (KeyError, RuntimeError):
            return None

    # ----- control ----------------------------------------------------------------------------
    def start(self, duration: float | None = None, notes: str = "") -> Path:
        """Validate and start a run of the current setup; raises SetupInvalid or OSError/RuntimeError."""
        if self._setup is None:
            raise RuntimeError("no setup is open")
        if self.busy:
            raise RuntimeError(f"a run is already {self._state}")
        t0 = time.perf_counter()
        run = Run(
            self._setup, run_root=self.run_root, start_method=self.start_method, notes=_text_file(notes)
        )  # validates: SetupInvalid
        self._duration = duration if duration and duration > 0 else None
        self._live_time = 0.0
        self._first_event_seen = False
        self._live_clock.invalidate()
        try:
            run_dir = run.start()
        except BaseException:
            run.close(timeout=2.0)
            raise
        self.start_seconds = time.perf_counter() - t0
        self._run = run
        self._run_dir = run_dir
        self._stats_time = 0.0
        self._begun = run.processes_begun()
        self._set_state(run.state)
        self._timer.start()
        self.run_started.emit(run_dir)
        self.countdown_changed.emit(self.remaining() if self._duration is not None else -1.0)
        self.poll()
        return run_dir

    def watch(self, source) -> None:
        """Show a run that runs elsewhere (a ``RunSource``, e.g. ``core.remote.client.RemoteRun``).

        The docks see it exactly as a local run; pause/resume/stop go to it. Closing the window or
        finishing detaches (``source.close()``): a served run goes on.
        """
        if self.busy:
            raise RuntimeError(f"a run is already {self._state}")
        self._run = source
        self._run_dir = source.run_dir
        self._duration = None
        self._live_time = 0.0
        self._stats_time = 0.0
        self._live_clock.start()
        self.attached = True
        self._set_state(source.state)
        self._timer.start()
        self.run_started.emit(source.run_dir)
        self.countdown_changed.emit(-1.0)
        self.poll()

    def detach(self) -> None:
        """Stop showing a served run (it goes on without this viewer); the controller is ready again."""
        if not self.attached or self._run is None:
            return
        run, self._run = self._run, None
        self.attached = False
        self._timer.stop()
        self.run_finishing.emit()
        run.close()
        self._set_state("ready")

    def pause(self) -> None:
        if self._run is not None and self._state == "running":
            self._run.pause()
            self.poll()

    def resume(self) -> None:
        if self._run is not None and self._state == "paused":
            self._run.resume()
            self.poll()

    def stop(self, reason: str = "stop requested") -> None:
        """Ask the run to stop in order; returns at once (the poll timer sees it end)."""
        if self._run is not None and self._state in ("running", "paused"):
            self._run.request_stop(reason)
            self.poll()

    def abort(self) -> None:
        """Stop now: abort buffers, then terminate workers that still run (files may be incomplete)."""
        if self._run is not None and self.busy:
            self._run.request_stop("abort requested")
            self._run.stop(timeout=0.2)
            self.poll()

    def stop_and_wait(self, timeout: float = 15.0, progress=None) -> bool:
        """Stop in order and wait while keeping the window alive; abort after ``timeout``. True if in order."""
        if self._run is None or not self.busy:
            return True
        if self.attached:  # a served run goes on without this viewer
            self.detach()
            return True
        self.stop("stopping before quitting")
        deadline = time.monotonic() + timeout
        in_order = True
        while self._run is not None and not self._run.finished():
            if time.monotonic() > deadline:
                in_order = False
                self._run.stop(timeout=0.2)
                break
            QCoreApplication.processEvents()
            if progress is not None:
                progress(deadline - time.monotonic())
            run = self._run  # the events just processed may have finished the run and dropped it
            if run is None:
                break
            run.wait(0.05)
        self.poll()
        return in_order

    def set_notes(self, text: str) -> None:
        """Write the notes into the current (or last) run directory (a text file: it ends with a newline)."""
        text = _text_file(text)
        run = self._run
        if run is not None:
            run.write_notes(text)
        elif self._run_dir is not None and self._run_dir.is_dir():
            (self._run_dir / "notes.txt").write_text(text, encoding="utf-8")

    # ----- polling ----------------------------------------------------------------------------
    def poll(self) -> None:
        run = self._run
        if run is None:
            return
        self._deliver_logs(run.log_records())
        self._set_state(run.state)
        self._watch_startup(run)
        now = time.monotonic()
        fresh = now - self._stats_time >= STATS_INTERVAL_S or run.finished()
        if fresh:  # Run.stats() asks every process for its CPU time: not at every poll
            self._stats_time = now
            self._last_stats = run.stats()
        if self._duration is not None and self._state in ("running", "paused"):
            left = self.remaining()
            self.countdown_changed.emit(left)
            if left <= 0 and self._state == "running":
                run.request_stop(f"measurement time of {_hms(self._duration)} reached")
                self._set_state(run.state)
        if fresh:
            self.stats_updated.emit(self._last_stats)
        if run.finished():
            self._finish(run)

    def _watch_startup(self, run: Run) -> None:
        begun_of = getattr(run, "processes_begun", None)  # a served (remote) run does not say
        begun = begun_of() if begun_of is not None else (0, 0)
        if begun != self._begun:
            self._begun = begun
            self.startup_changed.emit(*begun)
        if not self._first_event_seen:
            written = getattr(run, "events_written", None)
            if written is None or written() > 0:
                self._first_event_seen = True
                if self._state == "running":
                    self._live_clock.start()
                self.first_event.emit()

    def _deliver_logs(self, entries: list) -> None:
        if not entries:
            return
        self.log_received.emit(entries)
        for entry in entries:
            if entry.levelno >= logging.ERROR:
                self.error_logged.emit(entry)

    def _finish(self, run: Run) -> None:
        self._timer.stop()
        self.run_finishing.emit()
        final = run.stats()
        self._last_stats = final
        self._run = None
        self.attached = False
        try:
            run.close(timeout=5.0)
        finally:
            self._deliver_logs(run.log_records())
            self._set_state(run.state)
            self.stats_updated.emit(final)
            if self._duration is not None:
                self.countdown_changed.emit(self.remaining())
            self.run_finished.emit(run.state, run.run_dir)

    def _set_state(self, state: str) -> None:
        if state == "created":
            state = "ready"
        if state == self._state:
            return
        if self._state == "running" and self._live_clock.isValid():
            self._live_time += self._live_clock.elapsed() / 1000.0
        self._state = state
        if state == "running" and self._first_event_seen:
            self._live_clock.start()
        else:
            self._live_clock.invalidate()
        self.state_changed.emit(state)

    def shutdown(self, timeout: float = 15.0) -> None:
        """Stop a run in progress (in order, then abort) and release everything; detach from a served run."""
        self.detach()
        if self.busy:
            self.stop_and_wait(timeout)
        if self._run is not None:
            run = self._run
            self._run = None
            self.attached = False
            self._timer.stop()
            self.run_finishing.emit()
            run.close(timeout=2.0)


def _text_file(text: str) -> str:
    """Text as a file holds it: empty, or ending with a newline."""
    return text if not text or text.endswith("\n") else text + "\n"


def _hms(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
