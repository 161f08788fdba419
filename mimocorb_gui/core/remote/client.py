"""RemoteRun: a run served by ``mimocorb run --serve`` seen through the ``RunSource`` interface.

Synchronous requests on one DEALER socket, each answered within ``timeout`` or counted as missed;
replies to earlier, timed-out requests are skipped by their request number. After ``LOST_AFTER``
seconds without any answer the run counts as ended ('failed', with a log entry saying the
connection was lost). Control requests carry the key (``control.key`` of the served run); a
refusal becomes an ERROR log entry (``last_refusal`` holds its text), and the run goes on.
Not thread-safe: use it from one thread (the GUI's, or the CLI's loop).
"""

from __future__ import annotations

import itertools
import json
import logging
import time
from pathlib import Path

import numpy as np
import zmq

from mimocorb_gui.core.remote import wire
from mimocorb_gui.core.remote.histograms import RemoteHistograms
from mimocorb_gui.core.remote.security import normalize_address, secure_socket
from mimocorb_gui.core.remote.source import stats_from_dict
from mimocorb_gui.core.run import LogEntry, RunStats

__all__ = ["RemoteError", "RemoteObserver", "RemoteRun"]

LOST_AFTER = 5.0  # s without an answer: the served run is gone
STATS_MIN_INTERVAL = 0.2  # s: stats() answers from the last reply within this


class RemoteError(ConnectionError):
    """The served run did not answer or answered with an error."""


class RemoteObserver:
    """The ring buffer observer's interface over the network: a copy of the newest event, never blocking."""

    def __init__(self, remote: RemoteRun, buffer: str, dtype: np.dtype, data_length: int) -> None:
        self.remote, self.buffer_name = remote, buffer
        self._meta = None
        self._data = None
        self._dtype, self._length = dtype, data_length
        self._seen = 0
        self._written = 0
        self._fresh = False

    def new_events(self) -> int:
        """1 if an event newer than the last one shown was fetched (one request), else 0."""
        if not self._fresh:
            self._fresh = self.copy_latest()
        return 1 if self._fresh else 0

    def copy_latest(self, tries: int = 100) -> bool:
        reply = self.remote.request(
            {"op": "sample", "buffer": self.buffer_name, "seen": self._seen}, frames=True
        )
        if reply is None:
            return False
        head, frames = reply
        self._written = int(head.get("written", 0))
        if not head.get("event"):
            return False
        msg = wire.decode(frames, max_data_bytes=self._length * self._dtype.itemsize)
        if isinstance(msg, wire.Malformed) or msg.data_length != self._length:
            return False
        self._meta = np.frombuffer(bytes(msg.metadata), wire.METADATA_DTYPE).copy()
        self._data = np.frombuffer(bytes(msg.data), self._dtype).copy()
        self._seen = self._written
        return True

    def get(self):
        """The newest event fetched (fetching one if ``new_events`` did not), or ``(None, None)``."""
        if not self._fresh:
            self.copy_latest()
        self._fresh = False
        return (self._meta, self._data) if self._data is not None else (None, None)


class RemoteRun:
    """A served run: stats, logs, observer samples, and pause/resume/stop with the run's key."""

    def __init__(
        self,
        address: str,
        key: str | None = None,
        keys: Path | str | None = None,
        server_key: Path | str | None = None,
        timeout: float = 3.0,
    ) -> None:
        self.address = normalize_address(address)
        self.key = key
        self.timeout = timeout
        self.last_refusal = ""
        self._ids = itertools.count(1)
        self._ctx = zmq.Context()
        sock = self._ctx.socket(zmq.DEALER)
        sock.linger = 0
        self._auth = None
        try:
            secure_socket(sock, self.address, False, keys, server_key, "attach")
            sock.connect(self.address)
        except BaseException:
            sock.close(0)
            self._ctx.term()
            raise
        self._sock = sock
        self._last_answer = time.monotonic()
        self._lost = False
        self._stats: RunStats | None = None
        self._stats_time = 0.0
        self._log_after = -1
        self._log_feed: list[LogEntry] = []
        self._log_new: list[LogEntry] = []
        hello = self.request({"op": "hello"})
        if hello is None:
            self.close()
            raise RemoteError(f"no mimoCoRB run is served at {self.address} (no answer in {timeout:g} s)")
        self._run_dir = Path(hello["run_dir"]) if hello.get("run_dir") else None
        self.root_buffers: set[str] = set(hello.get("root_buffers", []))
        self.histogram_buffers: set[str] = set(hello.get("histogram_buffers", []))  # what exporters count
        self.setup_text: str = str(hello.get("setup") or "")  # the served setup (resolved YAML)
        self.setup_name: str = str(hello.get("setup_name") or "remote")  # the served setup's name
        self.buffers: dict[str, tuple[np.dtype, int]] = {}
        for name, b in hello.get("buffers", {}).items():
            dtype = wire.parse_dtype(json.dumps(b["dtype"]).encode())
            if dtype is not None:
                self.buffers[name] = (dtype, int(b["data_length"]))

    # ----- transport ------------------------------------------------------------------------------
    def request(self, body: dict, frames: bool = False):
        """Send a request, wait for its answer; the JSON head (and frames if asked), None if none came."""
        if self._lost or self._sock is None:
            return None
        rid = next(self._ids)
        try:
            self._sock.send_multipart([json.dumps(body | {"id": rid}).encode()], zmq.NOBLOCK)
        except zmq.Again:
            return self._missed()
        deadline = time.monotonic() + self.timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not self._sock.poll(int(remaining * 1000), zmq.POLLIN):
                return self._missed()
            reply = self._sock.recv_multipart()
            try:
                head = json.loads(reply[0])
            except (ValueError, UnicodeDecodeError):
                continue
            if head.get("id") is not None and head["id"] != rid:
                continue  # a late answer to an earlier request
            self._last_answer = time.monotonic()
            return (head, reply[1:]) if frames else head

    def _missed(self):
        if time.monotonic() - self._last_answer > LOST_AFTER and not self._lost:
            self._lost = True
            self._add_log(
                logging.ERROR, f"connection to {self.address} lost (no answer for {LOST_AFTER:g} s)"
            )
        return None

    def _add_log(self, levelno: int, message: str) -> None:
        entry = LogEntry(time.time(), "attach", logging.getLevelName(levelno), levelno, message)
        self._log_feed.append(entry)
        self._log_new.append(entry)

    # ----- RunSource ------------------------------------------------------------------------------
    @property
    def run_dir(self) -> Path | None:
        return self._run_dir

    @property
    def state(self) -> str:
        if self._lost:
            return "failed"
        return self._stats.state if self._stats is not None else "running"

    def stats(self) -> RunStats:
        now = time.monotonic()
        if self._stats is None or now - self._stats_time >= STATS_MIN_INTERVAL:
            head = self.request({"op": "stats"})
            if head is not None and head.get("ok"):
                try:
                    self._stats = stats_from_dict(head["stats"])
                    self._stats_time = now
                except (KeyError, TypeError, ValueError) as exc:
                    self._add_log(logging.WARNING, f"malformed stats from {self.address}: {exc}")
        if self._stats is None:
            return RunStats(state=self.state, time=0.0, run_dir=self._run_dir)
        if self._lost:
            s = self._stats
            return RunStats("failed", s.time, s.run_dir, s.buffers, s.workers)
        return self._stats

    def _fetch_logs(self) -> None:
        head = self.request({"op": "log", "after": self._log_after})
        if head is None or not head.get("ok"):
            return
        for n, t, worker, level, levelno, message in head.get("entries", []):
            self._log_after = max(self._log_after, int(n))
            entry = LogEntry(float(t), str(worker), str(level), int(levelno), str(message))
            self._log_feed.append(entry)
            self._log_new.append(entry)

    def log_records(self) -> list[LogEntry]:
        self._fetch_logs()
        new, self._log_new = self._log_new, []
        return new

    def log_history(self) -> list[LogEntry]:
        return list(self._log_feed)

    def observer(self, buffer_name: str) -> RemoteObserver:
        try:
            dtype, length = self.buffers[buffer_name]
        except KeyError:
            raise KeyError(
                f"no buffer '{buffer_name}' in the served run (buffers: {', '.join(self.buffers) or 'none'})"
            ) from None
        return RemoteObserver(self, buffer_name, dtype, length)

    def histograms(self, buffer_name: str) -> RemoteHistograms:
        """The served run's histograms of ``buffer_name``: its counts, sent when they change."""
        if buffer_name not in self.buffers:
            raise KeyError(
                f"no buffer '{buffer_name}' in the served run (buffers: {', '.join(self.buffers) or 'none'})"
            )
        return RemoteHistograms(self.request, buffer_name)

    def _control(self, op: str) -> bool:
        head = self.request({"op": op, "key": self.key})
        if head is None:
            return False
        if not head.get("ok"):
            self.last_refusal = str(head.get("error", f"{op} refused"))
            self._add_log(logging.ERROR, self.last_refusal)
            return False
        self._stats_time = 0.0  # show the new state at the next stats()
        return True

    def pause(self) -> None:
        self._control("pause")

    def resume(self) -> None:
        self._control("resume")

    def request_stop(self, reason: str = "stop requested") -> None:
        self._control("stop")

    def stop(self, timeout: float = 15.0) -> bool:
        self.request_stop()
        return self.wait(timeout)

    def finished(self) -> bool:
        return self.state in ("finished", "failed")

    def wait(self, timeout: float | None = None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.finished():
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(min(0.1, STATS_MIN_INTERVAL))
            self.stats()
        return True

    def write_notes(self, text: str) -> None:
        self._add_log(
            logging.INFO, "notes of a remote run stay with this viewer (not written on the served machine)"
        )

    def close(self, timeout: float = 15.0) -> None:
        """Disconnect (the served run goes on)."""
        if self._sock is not None:
            self._sock.close(0)
            self._sock = None
            self._ctx.term()
