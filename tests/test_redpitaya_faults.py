"""The Red Pitaya waveform importer over both protocols: a board that cannot be reached or falls silent.

The same contract holds for the lab boards' daq server and the vendor's SCPI server: an
unreachable board ends the worker within seconds with an error naming the address; a board that
stops sending ends it after its timeout with every event it delivered in the buffer, in order.
"""

from __future__ import annotations

import time

import pytest
from network_helpers import free_tcp_port
from ring_helpers import WorkerThread

from mimocorb_gui.functions.importers import redpitaya
from mimocorb_gui.functions.importers.rp_daq_server import DaqServer
from mimocorb_gui.functions.importers.rp_scpi import RedPitayaConnectionError, RedPitayaTimeout
from mimocorb_gui.functions.importers.rp_scpi_server import ScpiServer

pytestmark = pytest.mark.timeout(60)

SETTINGS = {"ip": "127.0.0.1", "sample_rate": 4, "number_of_samples_before_trigger": 100}
# per protocol: the importer's config, the emulated server (stall_after: traces / captures
# delivered before it falls silent), the importer's timeout and what its error says then
PROTOCOLS = {
    "daq": {
        "config": {**SETTINGS, "trigger_level": 200, "set_size": 7},
        "server": lambda stall_after: DaqServer(rate=3000, seed=6, stall_after=stall_after),
        "timeout": 1.0,
        "silence": "sent nothing for 1 s",
    },
    "scpi": {
        "config": {**SETTINGS, "protocol": "scpi", "trigger_level": 500},
        "server": lambda stall_after: ScpiServer(rate=5000, seed=2, stall_after=stall_after),
        "timeout": 0.5,
        "silence": "did not answer",
    },
}


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_unreachable_board_ends_the_worker_within_seconds(protocol):
    port = free_tcp_port()  # nothing listens here
    config = {**PROTOCOLS[protocol]["config"], "port": port, "timeout": 1.0}
    t0 = time.monotonic()
    with WorkerThread(redpitaya.waveform, config) as w:
        assert w.drain(timeout=5) == []  # end of stream, nothing written
        w.thread.join(timeout=5)
    assert time.monotonic() - t0 < 5
    assert isinstance(w.error, RedPitayaConnectionError) and f"127.0.0.1:{port}" in str(w.error)


@pytest.mark.parametrize(("protocol", "delivered"), [("daq", 30), ("scpi", 6)])
def test_board_silent_mid_run_keeps_every_event_it_delivered(protocol, delivered):
    p = PROTOCOLS[protocol]
    with p["server"](delivered) as srv:
        config = {**p["config"], "port": srv.port, "timeout": p["timeout"]}
        t0 = time.monotonic()
        with WorkerThread(redpitaya.waveform, config) as w:
            events = w.drain(timeout=10)
            w.thread.join(timeout=5)
        assert time.monotonic() - t0 < 6
    assert len(events) == delivered  # every trace the board sent is in the buffer
    assert [int(m["counter"][0]) for m, _ in events] == list(range(delivered))
    assert isinstance(w.error, RedPitayaTimeout) and p["silence"] in str(w.error)
    assert f"stopping after {delivered} events (all kept)" in w.messages()
