"""Served runs: `mimocorb run --serve`, RemoteRun (the RunSource a viewer uses), `attach`, `keys`."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time

import numpy as np
import pytest
import zmq
from network_helpers import finish, ipc_address

from mimocorb_gui.core.remote.client import RemoteError, RemoteRun
from mimocorb_gui.core.remote.serve import RunServer
from mimocorb_gui.core.remote.source import RunSource, stats_from_dict, stats_to_dict
from mimocorb_gui.core.run import Run
from mimocorb_gui.core.setup import Setup
from mimocorb_gui.shipped import examples_dir

SIMPLE_SETUP = examples_dir() / "simple" / "setup.yaml"


def serve_simple(tmp_path, *extra: str) -> tuple[subprocess.Popen, str]:
    """`mimocorb run setups/simple --serve tcp://127.0.0.1:0`; returns the process and the bound address."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "mimocorb_gui", "run", str(SIMPLE_SETUP), "--run-root", str(tmp_path), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    lines = []
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        lines.append(line)
        m = re.search(r"serving at (\S+) \(control key: (.+)\)", line)
        if m:
            return proc, m.group(1)
        if not line and proc.poll() is not None:
            break
    proc.kill()
    raise AssertionError("no 'serving at' line:\n" + "".join(lines))


def _key(tmp_path) -> str:
    return next(tmp_path.glob("run_*/control.key")).read_text().strip()


def _until(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.timeout(120)
def test_a_served_run_shows_stats_samples_logs_and_obeys_only_its_key(tmp_path):
    proc, address = serve_simple(tmp_path, "--serve", "tcp://127.0.0.1:0")
    try:
        stranger = RemoteRun(address)  # no key
        viewer = RemoteRun(address, key=_key(tmp_path))
        assert isinstance(viewer, RunSource)
        assert viewer.root_buffers == {"Waveforms"}
        _until(
            lambda: viewer.stats().buffers.get("Waveforms") and viewer.stats().buffers["Waveforms"].rate > 0,
            30,
            "a rate",
        )
        st = viewer.stats()
        assert st.state == "running" and st.buffers["Waveforms"].stats.events_written > 0
        assert set(st.workers) == set(Setup.load(SIMPLE_SETUP).workers)
        obs = viewer.observer("Waveforms")
        _until(lambda: obs.new_events() > 0, 20, "an event sample")
        meta, data = obs.get()
        assert data.dtype.names == ("IN1",) and len(data) == 500 and meta["counter"][0] >= 0
        assert any("run started" in e.message for e in viewer.log_records())
        with pytest.raises(KeyError, match="buffers: "):
            viewer.observer("Nope")

        stranger.request_stop()
        assert "refused" in stranger.last_refusal
        assert any(e.levelno >= 40 and "refused" in e.message for e in stranger.log_records())
        time.sleep(0.5)
        assert viewer.stats().state == "running"  # the stop without the key changed nothing

        viewer.pause()
        _until(lambda: viewer.stats().state == "paused", 10, "paused")
        viewer.resume()
        _until(lambda: viewer.stats().state == "running", 10, "running again")
        viewer.request_stop()
        assert viewer.wait(30)
        assert viewer.state == "finished"
        stranger.close()
        viewer.close()
        rc, err = finish(proc, 30)
        assert rc == 0, err[-2000:]
    finally:
        if proc.poll() is None:
            proc.kill()


@pytest.mark.timeout(60)
def test_malformed_requests_are_counted_and_the_server_goes_on(tmp_path, no_shm_leak):
    run = Run(Setup.load(SIMPLE_SETUP), run_root=tmp_path, start_method="fork")
    server = RunServer(run, ipc_address(tmp_path, "serve"))
    ctx = zmq.Context()
    sock = ctx.socket(zmq.DEALER)
    sock.connect(server.bound)
    try:
        run.start()
        rng = np.random.default_rng(3)
        bad = [rng.bytes(int(rng.integers(1, 200))) for _ in range(200)]
        bad += [b"[]", b'{"op": 3}', json.dumps({"op": "sample", "buffer": "Nope"}).encode(), b"x" * 10_000]
        for body in bad:
            sock.send(body)
        sock.send_multipart([b"{}", b"two frames"])
        answers = 0
        while sock.poll(3000):
            sock.recv_multipart()
            answers += 1
        assert server.dropped >= 200  # the 10 kB one is cut off by ZeroMQ (maxmsgsize) before it counts
        viewer = RemoteRun(server.bound)
        assert viewer.stats().state == "running"
        viewer.close()
    finally:
        sock.close(0)
        ctx.term()
        server.close()
        run.close()


def test_stats_survive_the_wire(tmp_path):
    run = Run(Setup.load(SIMPLE_SETUP), run_root=tmp_path)
    assert isinstance(run, RunSource)  # the local run is a RunSource as it is
    st = run.stats()
    back = stats_from_dict(json.loads(json.dumps(stats_to_dict(st))))
    assert back == st
    run.close()


@pytest.mark.timeout(30)
def test_attaching_to_nothing_says_so(tmp_path):
    with pytest.raises(RemoteError, match="no mimoCoRB run is served"):
        RemoteRun(ipc_address(tmp_path, "nobody"), timeout=0.5)


@pytest.mark.timeout(60)
def test_serve_on_another_interface_without_keys_refuses_to_start(tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "mimocorb_gui",
            "run",
            str(SIMPLE_SETUP),
            "--run-root",
            str(tmp_path),
            "--serve",
            "tcp://0.0.0.0:0",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "not a loopback address" in proc.stderr and "mimocorb keys DIR" in proc.stderr
    assert not list(tmp_path.glob("run_*"))  # nothing started


@pytest.mark.timeout(60)
def test_keys_command_makes_a_pair_once(tmp_path):
    cmd = [sys.executable, "-m", "mimocorb_gui", "keys", str(tmp_path / "k")]
    first = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    assert first.returncode == 0, first.stderr
    assert {p.name for p in (tmp_path / "k").iterdir()} == {
        "mimocorb.key",
        "mimocorb.key_secret",
        "allowed_keys",
    }
    assert (tmp_path / "k" / "mimocorb.key_secret").stat().st_mode & 0o077 == 0
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    assert again.returncode == 2 and "exists already" in again.stderr


@pytest.mark.timeout(120)
def test_attach_prints_the_progress_line_and_stops_with_the_key(tmp_path):
    proc, address = serve_simple(tmp_path, "--serve", "tcp://127.0.0.1:0")
    try:
        time.sleep(2.0)
        watch = subprocess.Popen(
            [sys.executable, "-m", "mimocorb_gui", "attach", address, "--interval", "0.5"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        time.sleep(4.0)
        refused = subprocess.run(
            [sys.executable, "-m", "mimocorb_gui", "attach", address, "--stop"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert refused.returncode == 1 and "does not hold the run's key" in refused.stderr
        key_file = next(tmp_path.glob("run_*/control.key"))
        stopped = subprocess.run(
            [sys.executable, "-m", "mimocorb_gui", "attach", address, "--stop", "--key", str(key_file)],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert stopped.returncode == 0, stopped.stderr
        rc, err = finish(watch, 30)
        assert rc == 0, err
        assert "Waveforms:" in err and "finished" in err
        assert finish(proc, 30)[0] == 0
    finally:
        for p in (proc,):
            if p.poll() is None:
                p.kill()
