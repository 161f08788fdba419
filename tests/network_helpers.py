"""Two-run network tests: setup files written into a tmp dir, `mimocorb run` processes, .mimo checks."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np

from mimocorb_gui.core.mimofile import read_mimo

SMALL = "{index: int64, value: float64, flag: int32}"
WAVEFORM = "{ch1: float32, ch2: float32, ch3: float32, ch4: float32}"
WAVEFORM_LENGTH = 4250

FUNCTIONS = '''
import time
import numpy as np
from mimocorb_gui import Importer


def count(io):
    """Events whose 'index' (small) or first sample (waveform) is their number; optional pause."""
    n, first = int(io["n"]), int(io.get("first", 0))
    every, pause = int(io.get("pause_every", 0)), float(io.get("pause", 0.0))
    hold = float(io.get("hold", 0.0))
    importer = Importer(io)
    example = importer.data_example

    def events():
        event = np.zeros_like(example)
        name = example.dtype.names[0]
        for i in range(first, first + n):
            event[name][0] = i
            if every and i % every == every - 1:
                time.sleep(pause)
            yield event
        deadline = time.monotonic() + hold
        while time.monotonic() < deadline and not io.stop_requested:
            time.sleep(0.01)
        yield None

    importer(events)
'''


def ipc_address(tmp_path: Path, name: str = "link") -> str:
    """An ipc:// path in the test's own tmp dir (parallel runs never collide); short for the 107-byte limit."""
    path = Path(tmp_path) / f"{name}.ipc"
    if len(str(path)) > 100:  # pragma: no cover - deep tmp dirs
        import tempfile

        path = Path(tempfile.mkdtemp(prefix="mcrb")) / f"{name}.ipc"
    return f"ipc://{path}"


def free_tcp_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_sender(
    folder: Path,
    address: str,
    n: int,
    *,
    dtype: str = SMALL,
    length: int = 1,
    processes: int = 1,
    slot_count: int = 64,
    extra_send: str = "",
    count_config: str = "",
    name: str = "acquisition.yaml",
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "functions.py").write_text(FUNCTIONS)
    path = folder / name
    path.write_text(
        textwrap.dedent(
            f"""\
            target_directory: runs
            Buffers:
              Raw: {{slot_count: {slot_count}, data_length: {length}, data_dtype: {dtype}}}
            Workers:
              source:
                file: functions.py
                function: count
                sinks: [Raw]
                config: {{n: {n}{count_config}}}
              send:
                function: network.send
                sources: [Raw]
                number_of_processes: {processes}
                config: {{address: "{address}", heartbeat: 0.5{extra_send}}}
            """
        )
    )
    return path


def write_receiver(
    folder: Path,
    address: str,
    *,
    dtype: str = SMALL,
    length: int = 1,
    senders: int = 1,
    extra: str = "",
    name: str = "analysis.yaml",
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(
        textwrap.dedent(
            f"""\
            target_directory: runs
            Buffers:
              Received: {{slot_count: 64, data_length: {length}, data_dtype: {dtype}}}
            Workers:
              receive:
                function: network.receive
                sinks: [Received]
                config: {{address: "{address}", senders: {senders}, heartbeat: 0.5{extra}}}
              save:
                function: data.export
                sources: [Received]
            """
        )
    )
    return path


def start_run(setup: Path, *extra: str, stdin=None) -> subprocess.Popen:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.Popen(
        [sys.executable, "-m", "mimocorb_gui", "run", str(setup), "-v", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,
    )


def finish(proc: subprocess.Popen, timeout: float) -> tuple[int, str]:
    """Wait for a run process; kill it (and fail) if it does not end in ``timeout`` s."""
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        raise AssertionError(f"run did not end within {timeout} s:\n{err[-4000:]}") from None
    return proc.returncode, err


def interrupt(proc: subprocess.Popen) -> None:
    """Ctrl-C to the run process only (a stop in order)."""
    proc.send_signal(signal.SIGINT)


def received(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    """Metadata and data of the analysis run's Received.mimo (the newest run directory)."""
    runs = sorted((folder / "runs").glob("run_*"))
    assert runs, f"no run directory in {folder / 'runs'}"
    metadata, data, _ = read_mimo(runs[-1] / "Received.mimo")
    return metadata, data


def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)
