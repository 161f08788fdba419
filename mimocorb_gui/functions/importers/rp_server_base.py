"""What both emulated Red Pitaya servers share: a listening TCP socket, its accept thread, start and stop.

``rp_daq_server.DaqServer`` (one client at a time, served in the accept thread) and
``rp_scpi_server.ScpiServer`` (a thread per client) differ only in what they do with a connection
and how they cut their clients off; the socket, the threads, the fault flags and the context
manager are this base class.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator
from typing import Self

__all__ = ["EmulatorTcpServer"]

log = logging.getLogger("mimocorb.rp_emulator")

ACCEPT_TIMEOUT = 0.1  # s: how often the accept loop looks at the stop flag
RECEIVE_TIMEOUT = 0.2  # s: how often a connection's receive loop looks at the stop flag


class EmulatorTcpServer:
    """A TCP server on ``host:port`` (port 0: a free one, see ``.port``), accepting in a thread.

    Use as a context manager (``with Server() as srv: ... srv.port``) or ``start()`` / ``stop()``.
    Subclasses implement ``_handle_connection`` (called in the accept thread for every client)
    and ``drop_connections``; ``stall()`` / ``resume()`` set the flag their protocols look at.
    """

    thread_name: str  # the accept thread is named "<thread_name>:<port>"
    description: str  # for the log: "<description> listening on host:port"

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self._requested_port = port
        self.connections = 0  # accepted so far
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._stalled = threading.Event()

    # -- lifecycle -------------------------------------------------------------------------
    @property
    def port(self) -> int:
        if self._sock is None:
            raise RuntimeError(f"{type(self).__name__} is not started")
        return self._sock.getsockname()[1]

    @property
    def address(self) -> tuple[str, int]:
        return self.host, self.port

    def start(self) -> Self:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self._requested_port))
        sock.listen(8)
        sock.settimeout(ACCEPT_TIMEOUT)
        self._sock = sock
        self._stopping.clear()
        self._thread = threading.Thread(
            target=self._accept_loop, name=f"{self.thread_name}:{self.port}", daemon=True
        )
        self._thread.start()
        log.info("%s listening on %s:%d", self.description, self.host, self.port)
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._stopping_now()
        self.drop_connections()
        if self._thread is not None:
            self._thread.join(timeout=2)
            self._thread = None
        self.drop_connections()  # a client the accept loop let in before it saw the stop
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def serve_forever(self) -> None:
        """Block until interrupted (Ctrl-C)."""
        if self._sock is None:
            self.start()
        try:
            while not self._stopping.is_set():
                time.sleep(0.2)
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    # -- fault injection -------------------------------------------------------------------
    def stall(self) -> None:
        """Stop answering (commands are read and ignored; connections stay open)."""
        self._stalled.set()

    def resume(self) -> None:
        self._stalled.clear()

    def drop_connections(self) -> None:
        """Close the clients' connections (the board 'disappears')."""
        raise NotImplementedError

    # -- what subclasses do with a connection ----------------------------------------------
    def _handle_connection(self, conn: socket.socket, addr: tuple[str, int]) -> None:
        raise NotImplementedError

    def _stopping_now(self) -> None:
        """Wake what waits on something other than the stop flag (called by ``stop()`` first)."""

    def _received(self, conn: socket.socket) -> Iterator[bytes]:
        """What the client sends, chunk by chunk, until it closes, the connection fails or the server stops."""
        while not self._stopping.is_set():
            try:
                chunk = conn.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            if not chunk:
                return
            yield chunk

    # -- the accept thread -----------------------------------------------------------------
    def _accept_loop(self) -> None:
        assert self._sock is not None
        while not self._stopping.is_set():
            try:
                conn, addr = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                break
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn.settimeout(RECEIVE_TIMEOUT)
            self.connections += 1
            self._handle_connection(conn, addr)
