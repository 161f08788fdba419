"""The controller dies or is told to stop by a signal (issue 16, items 1 and 2).

``mimocorb run`` runs in a subprocess in its own session; the test kills it (or its whole process
group) and checks, 5 s later, that no worker process and no shared-memory segment of that run is
left, and that the recorder's file is whole.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from conftest import shm_segments
from test_faults import fault_setup

from mimocorb_gui.core.ringbuffer import segment_prefix


def start_cli(tmp_path: Path, *extra: str) -> subprocess.Popen:
    setup = fault_setup(tmp_path, sleep=0.002)
    return subprocess.Popen(
        [sys.executable, "-m", "mimocorb_gui", "run", str(setup.path), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as in a terminal
    )


def workers_of(proc: subprocess.Popen, n: int = 3, timeout: float = 30) -> list[psutil.Process]:
    """The run's child processes, once at least n are up and the recorder has written."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            kids = psutil.Process(proc.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            break
        found = kids  # the workers and the resource tracker: none may outlive the run
        runs = list((proc_tmp(proc)).glob("runs/run_*/recorder_0.txt"))
        if len(found) >= n and runs and runs[0].stat().st_size > 50:
            return found
        time.sleep(0.1)
    raise AssertionError(f"the run did not start ({proc.poll()=})")


def proc_tmp(proc: subprocess.Popen) -> Path:
    return Path(proc.args[4]).parent


def gone_within(procs: list[psutil.Process], timeout: float) -> list[psutil.Process]:
    _gone, alive = psutil.wait_procs(procs, timeout=timeout)
    return alive


def run_dir_of(tmp_path: Path) -> Path:
    (run_dir,) = (tmp_path / "runs").glob("run_*")
    return run_dir


def assert_whole(run_dir: Path) -> list[int]:
    text = (run_dir / "recorder_0.txt").read_text()
    assert text.endswith("\n")
    counters = [int(x) for x in text.split()]
    assert len(counters) == len(set(counters)) and counters
    return counters


@pytest.mark.timeout(60)
@pytest.mark.parametrize("method", ["fork", "spawn", "forkserver"])
def test_kill_9_of_the_controller_stops_the_workers_in_order_and_frees_the_memory(tmp_path, method):
    proc = start_cli(tmp_path, "--start-method", method)
    workers = workers_of(proc)
    prefix = segment_prefix(proc.pid)
    assert shm_segments(prefix), "the run has no segments?"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    t0 = time.monotonic()
    alive = gone_within(workers, 5.0)
    assert not alive, f"workers survived their controller: {alive}"
    while shm_segments(prefix) and time.monotonic() - t0 < 5.0:
        time.sleep(0.1)
    assert not shm_segments(prefix), "segments of the dead run survived 5 s"
    run_dir = run_dir_of(tmp_path)
    assert_whole(run_dir)
    assert "the controlling process ended" in (run_dir / "run.log").read_text()


@pytest.mark.timeout(60)
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_sigterm_and_sighup_to_the_controller_stop_in_order_like_ctrl_c(tmp_path, sig):
    proc = start_cli(tmp_path)
    workers = workers_of(proc)
    prefix = segment_prefix(proc.pid)
    os.kill(proc.pid, sig)
    _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert not gone_within(workers, 5.0)
    assert not shm_segments(prefix)
    run_dir = run_dir_of(tmp_path)
    counters = assert_whole(run_dir)
    assert "stopping in order" in err
    # the account: everything written was read, nothing dropped
    lines = [ln.strip() for ln in err.splitlines() if ln.strip().startswith("buffer 'Accepted'")]
    assert lines == [
        f"buffer 'Accepted': {len(counters)} written, {len(counters)} read, 0 dropped while paused, "
        "0 dropped without reader"
    ]


@pytest.mark.timeout(60)
def test_segments_of_a_killed_process_group_are_removed_at_the_next_start(tmp_path):
    proc = start_cli(tmp_path)
    workers = workers_of(proc)
    prefix = segment_prefix(proc.pid)
    os.killpg(proc.pid, signal.SIGKILL)  # terminal gone, OOM killer, timeout -s KILL on the group
    proc.wait(10)
    assert not gone_within(workers, 5.0)
    assert shm_segments(prefix), "nothing leaked: the case this test is about did not happen"
    res = subprocess.run(
        [sys.executable, "-m", "mimocorb_gui", "functions"], capture_output=True, text=True, timeout=60
    )
    assert res.returncode == 0
    assert "shared-memory segment(s)" in res.stderr and f"pid {proc.pid}" in res.stderr.replace(",", " ")
    assert not shm_segments(prefix)
    res = subprocess.run(
        [sys.executable, "-m", "mimocorb_gui", "clean"], capture_output=True, text=True, timeout=60
    )
    assert res.returncode == 0 and "mimocorb:" in res.stderr
