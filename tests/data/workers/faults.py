"""Worker functions that misbehave on purpose, for the fault tests (tests/test_faults*.py)."""

import os
import signal
import time

from mimocorb_gui import BufferIO, Filter


def hanging_filter(io: BufferIO):
    """Passes events; the process with index ``hang_process`` hangs at event ``hang_at`` and ignores
    every stop (``how``: 'loop' spins in Python, 'sigstop' stops itself with SIGSTOP)."""
    hang_at = io.get("hang_at", 10)
    hang_process = io.get("hang_process", 0)
    how = io.get("how", "loop")

    def ufunc(data):
        if int(data[data.dtype.names[0]][0]) >= hang_at and io.process_index == hang_process:
            if how == "sigstop":
                os.kill(os.getpid(), signal.SIGSTOP)
            while True:
                time.sleep(0.05)
        return True

    Filter(io)(ufunc)


def quitting_filter(io: BufferIO):
    """Passes events until ``quit_at``, then ends the process with exit code 0 mid-stream."""
    quit_at = io.get("quit_at", 10)

    def ufunc(data):
        if int(data[data.dtype.names[0]][0]) >= quit_at:
            os._exit(0)
        return True

    Filter(io)(ufunc)


def slow_filter(io: BufferIO):
    """Passes events; at event ``pause_at`` takes ``pause`` seconds (a stall, not a hang)."""
    pause_at = io.get("pause_at", 20)
    pause = io.get("pause", 3.0)

    def ufunc(data):
        if int(data[data.dtype.names[0]][0]) == pause_at:
            time.sleep(pause)
        return True

    Filter(io)(ufunc)


def crashing_display(io: BufferIO):
    """A display-only observer that raises once it has seen an event."""
    observer = io.observe[0]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        meta, _data = observer.get()
        if meta is not None:
            raise RuntimeError("the display broke")
        time.sleep(0.01)


def bus_error(io: BufferIO):
    """Reads one event, then dies of SIGBUS as a process does when /dev/shm is full."""
    with io.read[0] as (_meta, _data):
        pass
    os.kill(os.getpid(), signal.SIGBUS)
