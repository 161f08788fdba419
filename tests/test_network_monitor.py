"""network.monitor: a lossy copy of an observed buffer, sent while the acquisition runs undisturbed."""

from __future__ import annotations

import re
import textwrap
import time

import numpy as np
import pytest
from network_helpers import FUNCTIONS, SMALL, finish, ipc_address, start_run

from mimocorb_gui.core.mimofile import read_mimo
from mimocorb_gui.core.remote.link import EventReceiver
from mimocorb_gui.core.setup import Setup

SMALL_DTYPE = np.dtype([("index", "<i8"), ("value", "<f8"), ("flag", "<i4")])


def _write_setup(folder, address: str, n: int, extra: str = "") -> object:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "functions.py").write_text(FUNCTIONS)
    path = folder / "acquisition.yaml"
    path.write_text(
        textwrap.dedent(
            f"""\
            target_directory: runs
            Buffers:
              Raw: {{slot_count: 64, data_length: 1, data_dtype: {SMALL}}}
            Workers:
              source:
                file: functions.py
                function: count
                sinks: [Raw]
                config: {{n: {n}, pause_every: 500, pause: 0.05}}
              keep:
                function: data.export
                sources: [Raw]
              monitor:
                function: network.monitor
                observes: [Raw]
                config: {{address: "{address}", heartbeat: 0.5{extra}}}
            """
        )
    )
    return path


@pytest.mark.timeout(120)
def test_the_monitor_sends_real_events_in_order_and_both_ends_account_for_every_event(tmp_path):
    address, n = ipc_address(tmp_path), 10_000
    receiver = EventReceiver(address, SMALL_DTYPE, 1, lossy=True, heartbeat=0.5)
    run = start_run(_write_setup(tmp_path / "a", address, n, ", max_rate: 200"))
    got = []
    try:
        deadline = time.monotonic() + 90
        while not receiver.ended and time.monotonic() < deadline:
            msg = receiver.poll(0.1)
            if msg is not None:
                event = np.frombuffer(msg.data, SMALL_DTYPE)
                got.append((msg.counter, int(event["index"][0])))
        rc, err = finish(run, 30)
    finally:
        receiver.close()
        if run.poll() is None:
            run.kill()
    assert rc == 0, err[-3000:]
    assert receiver.ended and receiver.counts.senders_ended == 1
    counters = [c for c, _ in got]
    # each is an event of the stream (its data is its number, its counter the importer's), sent in order
    assert got and all(c == i for c, i in got) and counters == sorted(set(counters))
    assert 0 <= counters[0] and counters[-1] < n
    m = re.search(
        r"sent (\d+) of the (\d+) event\(s\) written to 'Raw' .*; not sent (\d+): (\d+) dropped", err
    )
    assert m, err[-3000:]
    sent, written, not_sent = int(m.group(1)), int(m.group(2)), int(m.group(3))
    assert written == n and sent + not_sent == n  # the sender's account
    assert len(got) + receiver.counts.lost_in_transit == sent  # the receiver's: nothing unaccounted
    assert sent <= 200 * 10  # max_rate 200/s over a run of a few seconds
    (run_dir,) = (tmp_path / "a" / "runs").glob("run_*")
    _meta, data, _header = read_mimo(run_dir / "Raw.mimo")
    assert np.array_equal(data["index"][:, 0], np.arange(n))  # the acquisition lost nothing


def test_the_monitor_is_checked_before_the_start(tmp_path):
    path = _write_setup(tmp_path, ipc_address(tmp_path), 10, ", max_rate: -1, lossy: 3")
    problems = [str(p) for p in Setup.load(path).validate()]
    text = "\n".join(problems)
    assert "config 'max_rate' must be a number >= 0, got -1" in text
    assert "config 'lossy' must be true or false, got 3" in text
