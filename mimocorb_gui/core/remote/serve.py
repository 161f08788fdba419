"""Serve a running Run to remote viewers: ``mimocorb run SETUP --serve ADDR``.

One ROUTER socket, answered by one thread, wraps the Run from outside through its public methods
(stats, log listeners, observer handles, pause/resume/request_stop). A request is one JSON frame
``{"op": ..., ...}``; the answer is one JSON frame ``{"ok": true|false, ...}``, for ``sample`` followed
by the wire-format frames of the newest event (``core.remote.wire``).

- ``hello``: buffers (dtype, data_length), importer buffers, run directory, the setup (resolved YAML,
  so a viewer builds the same docks).
- ``stats``: the run's ``RunStats`` (``core.remote.source.stats_to_dict``).
- ``log`` with ``after``: log entries numbered after that one (the served run keeps the last 20 000).
- ``sample`` with ``buffer`` and ``seen``: the newest event of a buffer if more than ``seen`` were written.
  An observer copies it (a seqlock read): never a slot taken from a worker, never a wait.
- ``histograms`` with ``buffer`` and ``version``: the buffer's histogram counts if they changed since
  the viewer's ``version`` (read at most every 0.25 s, sent compactly: ``core.remote.histograms``).
- ``pause``, ``resume``, ``stop`` with ``key``: only with the run's key (``control.key`` in the run
  directory, readable by its owner only); otherwise refused, saying so.

Malformed or oversized requests get ``{"ok": false}`` and are counted; nothing a viewer sends stops
the thread. Binding follows ``core.remote.security`` (loopback, or CurveZMQ keys).
"""

from __future__ import annotations

import collections
import hmac
import json
import logging
import os
import secrets
import threading
import time
from pathlib import Path

import zmq

from mimocorb_gui.core.livehist import histogram_workers
from mimocorb_gui.core.remote import wire
from mimocorb_gui.core.remote.histograms import HistogramPublisher
from mimocorb_gui.core.remote.security import normalize_address, secure_socket
from mimocorb_gui.core.remote.source import stats_to_dict
from mimocorb_gui.core.run import LogEntry
from mimocorb_gui.core.yaml_values import block_yaml

__all__ = ["KEY_FILE", "RunServer"]

log = logging.getLogger("mimocorb.serve")

KEY_FILE = "control.key"
MAX_REQUEST_BYTES = 4096
LOG_KEEP = 20000


class RunServer:
    """Answer viewers' requests about ``run`` at ``address`` from a thread until ``close()``."""

    def __init__(self, run, address: str, keys: Path | str | None = None, key: str | None = None) -> None:
        self.run = run
        self.address = normalize_address(address)
        self.key = key or secrets.token_urlsafe(24)
        self.dropped = 0  # malformed requests
        self.refused = 0  # control requests without the key
        self._log: collections.deque = collections.deque(maxlen=LOG_KEEP)
        self._log_next = 0
        self._log_lock = threading.Lock()
        for entry in run.log_history():
            self._on_log(entry)
        run.log_listeners.append(self._on_log)
        self._observers: dict = {}
        self._histograms: dict[str, HistogramPublisher] = {}
        self._request_id: int | None = None
        self._ctx = zmq.Context()
        sock = self._ctx.socket(zmq.ROUTER)
        sock.linger = 0
        sock.maxmsgsize = MAX_REQUEST_BYTES
        self._auth = None
        try:
            self._auth = secure_socket(sock, self.address, True, keys, None, "--serve")
            sock.bind(self.address)
        except BaseException:
            sock.close(0)
            if self._auth is not None:
                self._auth.stop()
            self._ctx.term()
            raise
        self.bound = sock.getsockopt(zmq.LAST_ENDPOINT).decode()  # with the port chosen for tcp://...:0
        self._sock = sock
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="mimocorb-serve", daemon=True)
        self._thread.start()

    def write_key(self, run_dir: Path) -> Path:
        """Write the control key into the run directory, readable by its owner only."""
        path = Path(run_dir) / KEY_FILE
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(self.key + "\n")
        return path

    def _on_log(self, entry) -> None:
        with self._log_lock:
            self._log.append((self._log_next, entry))
            self._log_next += 1

    # ----- request loop -------------------------------------------------------------------------
    def _loop(self) -> None:
        sock = self._sock
        while not self._stop.is_set():
            if not sock.poll(100, zmq.POLLIN):
                continue
            try:
                frames = sock.recv_multipart(zmq.NOBLOCK)
            except zmq.ZMQError:
                continue
            peer, body = frames[0], frames[1:]
            self._request_id = None
            try:
                reply = self._answer(body)
            except Exception as exc:  # a viewer must never stop the server
                log.exception("serving a request failed")
                reply = [{"ok": False, "error": f"{type(exc).__name__}: {exc}"}]
            head, *rest = reply
            head["id"] = self._request_id  # the viewer matches answers to its requests
            try:
                sock.send_multipart([peer, json.dumps(head).encode(), *rest], zmq.NOBLOCK)
            except zmq.ZMQError:
                pass  # the viewer is gone

    def _bad(self, why: str) -> list:
        self.dropped += 1
        return [{"ok": False, "error": why}]

    def _answer(self, body: list[bytes]) -> list:
        if len(body) != 1 or len(body[0]) > MAX_REQUEST_BYTES:
            return self._bad("a request is one JSON frame")
        try:
            request = json.loads(body[0])
        except (ValueError, UnicodeDecodeError):
            return self._bad("not JSON")
        if not isinstance(request, dict) or not isinstance(request.get("op"), str):
            return self._bad("a request is an object with 'op'")
        if isinstance(request.get("id"), int):
            self._request_id = request["id"]
        op = request["op"]
        run = self.run
        if op == "hello":
            return [
                {
                    "ok": True,
                    "version": wire.VERSION,
                    "run_dir": None if run.run_dir is None else str(run.run_dir),
                    "root_buffers": sorted(run.root_buffers),
                    "histogram_buffers": sorted({hw.buffer for hw in histogram_workers(run.setup)}),
                    "setup_name": run.setup.name,
                    "setup": block_yaml(run.setup.resolved_dict()),
                    "buffers": {
                        name: {"dtype": json.loads(wire.dtype_text(rb.dtype)), "data_length": rb.data_length}
                        for name, rb in run.buffers.items()
                    },
                }
            ]
        if op == "stats":
            return [{"ok": True, "stats": stats_to_dict(run.stats())}]
        if op == "log":
            after = request.get("after", -1)
            if not isinstance(after, int):
                return self._bad("'after' must be an integer")
            with self._log_lock:
                entries = [(n, e) for n, e in self._log if n > after][:2000]
            return [
                {
                    "ok": True,
                    "entries": [[n, e.time, e.worker, e.level, e.levelno, e.message] for n, e in entries],
                }
            ]
        if op == "sample":
            return self._sample(request)
        if op == "histograms":
            return self._histogram_answer(request)
        if op in ("pause", "resume", "stop"):
            key = request.get("key")
            if not isinstance(key, str) or not hmac.compare_digest(key.encode(), self.key.encode()):
                self.refused += 1
                self._on_log(
                    LogEntry(time.time(), "serve", "WARNING", logging.WARNING, f"{op} refused: no key")
                )
                return [{"ok": False, "error": f"{op} refused: this viewer does not hold the run's key"}]
            if op == "pause":
                run.pause()
            elif op == "resume":
                run.resume()
            else:
                run.request_stop("stop requested by a remote viewer")
            return [{"ok": True, "state": run.state}]
        return self._bad(
            f"unknown op {op!r} (valid: hello, stats, log, sample, histograms, pause, resume, stop)"
        )

    def _sample(self, request: dict) -> list:
        name, seen = request.get("buffer"), request.get("seen", 0)
        if not isinstance(name, str) or name not in self.run.buffers or not isinstance(seen, int):
            return self._bad(f"'buffer' must be one of {', '.join(self.run.buffers)} and 'seen' an integer")
        obs = self._observers.get(name)
        if obs is None:
            obs = self._observers[name] = self.run.observer(name)
        written = int(self.run.buffers[name].events_written)
        if written <= seen or not obs.copy_latest():
            return [{"ok": True, "written": written, "event": False}]
        meta, data = obs.get()
        rec = meta[0]
        header = wire.encode_header(
            wire.EVENT,
            0,
            written,
            int(rec["counter"]),
            float(rec["timestamp"]),
            float(rec["deadtime"]),
            len(data),
            wire.dtype_text(data.dtype),
        )
        return [{"ok": True, "written": written, "event": True}, header, meta.tobytes(), data.tobytes()]

    def _histogram_answer(self, request: dict) -> list:
        name, version = request.get("buffer"), request.get("version", 0)
        if not isinstance(name, str) or name not in self.run.buffers or not isinstance(version, int):
            return self._bad(
                f"'buffer' must be one of {', '.join(self.run.buffers)} and 'version' an integer"
            )
        publisher = self._histograms.get(name)
        if publisher is None:
            publisher = self._histograms[name] = HistogramPublisher(
                self.run.histograms(name), self.run.finished
            )
        head, frames = publisher.answer(version)
        return [{"ok": True, **head}, *frames]

    def close(self) -> None:
        """Stop answering and release the socket (the run is not touched)."""
        self._stop.set()
        self._thread.join(2.0)
        try:
            self.run.log_listeners.remove(self._on_log)
        except ValueError:
            pass
        self._observers.clear()
        for publisher in self._histograms.values():
            publisher.close()
        self._sock.close(0)
        if self._auth is not None:
            self._auth.stop()
        self._ctx.term()
