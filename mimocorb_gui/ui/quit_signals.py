"""SIGTERM and SIGINT in the GUI: stop the run in order (files completed, shared memory released), quit.

A logout, ``kill PID``, a service manager or Ctrl+C in the terminal asks the program to end. Without
a handler Python dies at once on SIGTERM (the workers then end by themselves, but the window's run is
not stopped in order and its shared memory stays until ``mimocorb clean``). Here the first signal
closes the window without questions: a run in progress is stopped in order (as the close button
does after asking), unsaved setup edits are kept in ``<setup>.unsaved.yaml`` beside the setup, then
the application quits. A second signal while the run still stops aborts it (Ctrl+C twice).

Python runs its signal handlers only between bytecodes, and Qt's event loop runs C++ for as long
as nothing happens: ``signal.set_wakeup_fd`` makes the C-level handler write the signal number to
one end of a socket pair, and a ``QSocketNotifier`` on the other end wakes the event loop.
"""

from __future__ import annotations

import signal
import socket
import sys
from pathlib import Path

from PySide6.QtCore import QObject, QSocketNotifier, QTimer
from PySide6.QtWidgets import QApplication

QUIT_SIGNALS = tuple(s for s in (getattr(signal, "SIGTERM", None), signal.SIGINT) if s is not None)


def unsaved_copy_path(setup_path: str | Path) -> Path:
    """Where unsaved edits go when the program is told to end: ``setup.unsaved.yaml`` beside ``setup.yaml``."""
    setup_path = Path(setup_path)
    return setup_path.with_name(f"{setup_path.stem}.unsaved{setup_path.suffix or '.yaml'}")


def save_unsaved_copy(setup_path: str | Path, text: str) -> Path:
    """Write the edited setup text beside the setup (the setup file itself stays as the user saved it)."""
    path = unsaved_copy_path(setup_path)
    path.write_text(text, encoding="utf-8")
    return path


class QuitOnSignal(QObject):
    """Turns SIGTERM/SIGINT into an orderly close of ``window`` (see the module docstring)."""

    def __init__(self, app: QApplication, window) -> None:
        super().__init__(app)
        self.app = app
        self.window = window
        self.received: list[int] = []
        self._read, self._write = socket.socketpair()
        for sock in (self._read, self._write):
            sock.setblocking(False)
        self._previous_fd = signal.set_wakeup_fd(self._write.fileno(), warn_on_full_buffer=False)
        self._previous = {s: signal.signal(s, self._python_handler) for s in QUIT_SIGNALS}
        self._notifier = QSocketNotifier(self._read.fileno(), QSocketNotifier.Type.Read, self)
        self._notifier.activated.connect(self._woken)

    @staticmethod
    def _python_handler(signum, frame) -> None:
        """Nothing to do here: the signal number reached the socket pair (acted on in ``_woken``)."""

    def _woken(self, *_args) -> None:
        try:
            data = self._read.recv(64)
        except (BlockingIOError, InterruptedError):
            return
        for signum in data:
            if signum in QUIT_SIGNALS:
                self.handle(signum)

    def handle(self, signum: int) -> None:
        name = signal.Signals(signum).name
        window = self.window
        if self.received:
            self.received.append(signum)
            if window.controller.busy:
                _say(f"{name} again: aborting the run (files may be incomplete)")
                window.controller.abort()
            return
        self.received.append(signum)
        if window.controller.busy:
            _say(f"{name}: stopping the run in order, then quitting")
        else:
            _say(f"{name}: quitting")
        window.quit_without_questions = True
        box = getattr(window, "abort_question", None)
        if box is not None:  # the closing below stops the run; nobody is there to answer
            window.abort_question = None
            box.close()
        modal = QApplication.activeModalWidget()
        if modal is not None and modal is not window:
            modal.close()
        QTimer.singleShot(0, self._close)

    def _close(self) -> None:
        if self.window.close():
            self.app.quit()  # other top-level windows (a past run, the user guide) do not keep it alive

    def uninstall(self) -> None:
        """Give the signals back (tests create several windows in one process)."""
        for s, previous in self._previous.items():
            signal.signal(s, previous if previous is not None else signal.SIG_DFL)
        signal.set_wakeup_fd(self._previous_fd)
        self._notifier.setEnabled(False)
        self._read.close()
        self._write.close()


def _say(text: str) -> None:
    try:
        print(f"mimocorb: {text}", file=sys.stderr, flush=True)
    except (OSError, ValueError):  # no terminal any more
        pass
