"""Two `mimocorb run` processes linked by network.send / network.receive (loopback, ipc:// in tmp dirs).

Every event is an importer count: its counter and its first data value are its number, so the
receiving run's Received.mimo must hold 0..N-1, each once, in order (per sender).
"""

from __future__ import annotations

import os
import re
import signal
import time

import numpy as np
import pytest
from network_helpers import (
    SMALL,
    WAVEFORM,
    WAVEFORM_LENGTH,
    finish,
    free_tcp_port,
    interrupt,
    ipc_address,
    received,
    start_run,
    wait_for,
    write_receiver,
    write_sender,
)

from mimocorb_gui.core.mimofile import read_mimo
from mimocorb_gui.shipped import examples_dir


def _run_pair(tmp_path, n, *, dtype=SMALL, length=1, address=None, timeout=240.0, **sender_kw):
    address = address or ipc_address(tmp_path)
    rx = start_run(write_receiver(tmp_path / "b", address, dtype=dtype, length=length))
    tx = start_run(write_sender(tmp_path / "a", address, n, dtype=dtype, length=length, **sender_kw))
    rc_tx, err_tx = finish(tx, timeout)
    rc_rx, err_rx = finish(rx, 30)
    assert rc_tx == 0, err_tx[-3000:]
    assert rc_rx == 0, err_rx[-3000:]
    return received(tmp_path / "b"), err_rx


@pytest.mark.timeout(300)
def test_100000_small_events_arrive_once_and_in_order(tmp_path):
    (metadata, data), log = _run_pair(tmp_path, 100_000)
    assert len(metadata) == 100_000
    np.testing.assert_array_equal(metadata["counter"], np.arange(100_000))
    np.testing.assert_array_equal(data["index"][:, 0], np.arange(100_000))
    assert np.all(np.diff(metadata["timestamp"]) >= 0)  # the sender's timestamps, kept
    assert "senders ended 1, vanished 0; lost in transit 0; messages dropped: none" in log


@pytest.mark.timeout(300)
def test_5000_waveforms_arrive_once_and_in_order_over_tcp(tmp_path):
    address = f"tcp://127.0.0.1:{free_tcp_port()}"
    (metadata, data), _ = _run_pair(
        tmp_path, 5000, dtype=WAVEFORM, length=WAVEFORM_LENGTH, slot_count=16, address=address
    )
    assert data.shape == (5000, WAVEFORM_LENGTH)
    np.testing.assert_array_equal(metadata["counter"], np.arange(5000))
    np.testing.assert_array_equal(data["ch1"][:, 0], np.arange(5000, dtype=np.float32))


@pytest.mark.timeout(300)
def test_three_sending_processes_ending_at_different_times_fan_in(tmp_path):
    """One sending run per process, each with its own counter range and end time; the receiver expects 3."""
    address = ipc_address(tmp_path)
    rx = start_run(write_receiver(tmp_path / "b", address, senders=3))
    senders = []
    for k, (n, hold) in enumerate([(3000, 0.0), (2000, 1.5), (1000, 3.0)]):
        setup = write_sender(
            tmp_path / f"a{k}", address, n, count_config=f", first: {k * 10_000}, hold: {hold}"
        )
        senders.append(start_run(setup))
    for tx in senders:
        rc, err = finish(tx, 120)
        assert rc == 0, err[-3000:]
    rc, log = finish(rx, 30)
    assert rc == 0, log[-3000:]
    metadata, data = received(tmp_path / "b")
    index = data["index"][:, 0]
    for k, n in enumerate([3000, 2000, 1000]):
        mine = index[(index >= k * 10_000) & (index < k * 10_000 + n)]
        np.testing.assert_array_equal(mine, np.arange(k * 10_000, k * 10_000 + n))  # once, in order
    assert len(index) == 6000
    assert "senders ended 3, vanished 0" in log


@pytest.mark.timeout(120)
def test_receiver_started_5_s_after_the_sender_loses_nothing(tmp_path):
    address = ipc_address(tmp_path)
    tx = start_run(write_sender(tmp_path / "a", address, 20_000))
    time.sleep(5.0)
    assert tx.poll() is None  # blocked: nobody receives yet
    rx = start_run(write_receiver(tmp_path / "b", address))
    rc, err = finish(tx, 90)
    assert rc == 0, err[-3000:]
    assert finish(rx, 30)[0] == 0
    metadata, data = received(tmp_path / "b")
    np.testing.assert_array_equal(metadata["counter"], np.arange(20_000))


@pytest.mark.timeout(120)
def test_receiver_killed_mid_run_blocks_the_sender_in_dead_time_then_it_stops_in_order(tmp_path):
    address = ipc_address(tmp_path)
    rx = start_run(write_receiver(tmp_path / "b", address))
    tx = start_run(write_sender(tmp_path / "a", address, 10_000_000))
    wait_for(lambda: any((tmp_path / "b" / "runs").glob("run_*/Received.mimo")), 30, "the receiving run")
    time.sleep(2.0)
    os.killpg(rx.pid, signal.SIGKILL)
    rx.communicate()
    time.sleep(11.0)  # two progress lines (every 5 s) while blocked
    assert tx.poll() is None  # blocked, not failed
    interrupt(tx)
    rc, err = finish(tx, 60)
    assert rc == 0, err[-3000:]
    before_stop = err[: err.index("stopping in order")]
    counts = [
        int(line.split("Raw:")[1].split("ev")[0]) for line in before_stop.splitlines() if "Raw:" in line
    ]
    assert len(counts) >= 3 and counts[-1] == counts[-2] < 10_000_000  # the importer waits: dead time
    assert "not sent" in err  # the events it could not deliver are counted in its log
    run_log = next((tmp_path / "a" / "runs").glob("run_*/run.log")).read_text()
    assert "run finished" in run_log


@pytest.mark.timeout(120)
def test_sender_killed_mid_run_ends_the_receiving_run_within_the_heartbeat_timeout(tmp_path):
    address = ipc_address(tmp_path)
    rx = start_run(write_receiver(tmp_path / "b", address))
    tx = start_run(
        write_sender(tmp_path / "a", address, 10_000_000, count_config=", pause_every: 100, pause: 0.01")
    )
    wait_for(lambda: any((tmp_path / "b" / "runs").glob("run_*/Received.mimo")), 30, "the receiving run")
    time.sleep(3.0)
    os.killpg(tx.pid, signal.SIGKILL)
    t_kill = time.monotonic()
    tx.communicate()
    rc, log = finish(rx, 30)
    took = time.monotonic() - t_kill
    assert rc == 0, log[-3000:]
    assert (
        took < 1.5 + 10.0
    )  # heartbeat 0.5 s -> timeout 1.5 s, plus the run's own ending on a loaded machine
    assert "vanished 1" in log
    metadata, data = received(tmp_path / "b")
    n = len(metadata)
    assert n > 0
    np.testing.assert_array_equal(metadata["counter"], np.arange(n))  # every received event written
    received_line = next(line for line in log.splitlines() if "[receive] received" in line)
    assert f"received {n} event(s)" in received_line


@pytest.mark.timeout(180)
def test_the_shipped_two_machines_setups_run_as_a_pair(tmp_path):
    """setups/two_machines on one machine (its address moved to an ipc:// path: no fixed port in tests)."""

    address = ipc_address(tmp_path)
    for name in ("acquisition.yaml", "analysis.yaml"):
        text = (examples_dir() / "two_machines" / name).read_text()
        (tmp_path / name).write_text(text.replace("tcp://127.0.0.1:5600", address))
    rx = start_run(tmp_path / "analysis.yaml")
    # the acquisition gives up on an absent receiver 3 heartbeats after its stop: start it once the
    # analysis listens (a loaded machine may take seconds to start a run)
    wait_for(lambda: any((tmp_path / "runs").glob("run_*/Waveforms.mimo")), 60, "the analysis run")
    tx = start_run(tmp_path / "acquisition.yaml", "--time", "6")
    rc, err_tx = finish(tx, 120)
    assert rc == 0, err_tx[-3000:]
    rc, err_rx = finish(rx, 60)
    assert rc == 0, err_rx[-3000:]
    sent = int(re.search(r"sent (\d+) event\(s\)", err_tx).group(1))
    metadata, data, _ = read_mimo(next((tmp_path / "runs").glob("run_*/Waveforms.mimo")))
    assert sent > 10 and len(metadata) == sent
    np.testing.assert_array_equal(metadata["counter"], np.arange(sent))
    assert next((tmp_path / "runs").glob("run_*/Histograms_Pulses/info.csv")).exists()
