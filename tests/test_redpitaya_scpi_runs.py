"""Red Pitaya, SCPI path: whole runs of setups/redpitaya_demo with ``protocol: scpi`` against the SCPI emulator."""

from __future__ import annotations

import logging
import time

import numpy as np
import pytest
from network_helpers import free_tcp_port
from run_helpers import redpitaya_demo_copy, run_log, setup_run, wait_events

from mimocorb_gui.functions.importers import redpitaya
from mimocorb_gui.functions.importers.rp_emulator import EmulatorServer
from mimocorb_gui.shipped import examples_dir

pytestmark = pytest.mark.timeout(60)

SETUPS = examples_dir()


def test_run_demo_setup_against_emulator(tmp_path):
    """The demo setup, port overridden, against an emulator started here: a Cs-137 spectrum arrives."""
    from mimocorb_gui.core.mimofile import read_mimo

    with EmulatorServer(rate=3000, seed=11) as srv:
        run = setup_run(
            redpitaya_demo_copy(tmp_path, protocol="scpi", emulate=False, port=srv.port, timeout=2), tmp_path
        )
        try:
            run_dir = run.start()
            assert wait_events(run, "waveforms", 300, timeout=15) >= 300, run_log(run)
            assert run.stop(timeout=10), run_log(run)
            stats = run.stats()
        finally:
            run.close()
        assert srv.connections == 1
    assert run.state == "finished", run_log(run)
    assert not run_log(run, logging.ERROR)
    assert "connected to Red Pitaya at 127.0.0.1" in run_log(run)
    assert stats.buffers["waveforms"].stats.events_written >= 300
    metadata, heights, _ = read_mimo(run_dir / "pulse_heights.mimo")
    assert len(metadata) == stats.buffers["pulse_heights"].stats.events_written  # the file is complete
    h = heights["peak_heights"].ravel()
    photopeak = np.mean((h > 3900) & (h < 5100))  # 662 keV * 7 counts/keV, averaged over 32 ns samples
    compton = np.mean((h > 500) & (h < 3300))
    assert photopeak > 0.15 and compton > 0.3, np.histogram(h, bins=12, range=(0, 6000))


def test_run_board_stops_answering_ends_in_order(tmp_path):
    """The board hangs after 40 captures: the run ends by itself within seconds, all 40 events kept."""
    from mimocorb_gui.core.mimofile import read_mimo

    with EmulatorServer(rate=3000, seed=5, stall_after=40) as srv:
        run = setup_run(
            redpitaya_demo_copy(tmp_path, protocol="scpi", emulate=False, port=srv.port, timeout=1.5),
            tmp_path,
        )
        try:
            run_dir = run.start()
            t0 = time.monotonic()
            assert run.wait(15), run_log(run)
            ended_after = time.monotonic() - t0
            stats = run.stats()
        finally:
            run.close()
    log = run_log(run, logging.ERROR)
    assert "did not answer" in log and "127.0.0.1" in log and "stopping after 40 events" in log
    assert ended_after < 10
    assert stats.buffers["waveforms"].stats.events_written == 40
    metadata, _, _ = read_mimo(run_dir / "pulse_heights.mimo")
    assert len(metadata) == stats.buffers["pulse_heights"].stats.events_written > 0


def test_run_unreachable_board_ends_with_clear_error(tmp_path):
    port = free_tcp_port()
    run = setup_run(
        redpitaya_demo_copy(tmp_path, protocol="scpi", emulate=False, port=port, timeout=1), tmp_path
    )
    try:
        run.start()
        t0 = time.monotonic()
        assert run.wait(10), run_log(run)
        assert time.monotonic() - t0 < 6
    finally:
        run.close()
    assert f"cannot connect to Red Pitaya at 127.0.0.1:{port}" in run_log(run, logging.ERROR)


def test_setups_validate():
    from mimocorb_gui.core.setup import Setup

    for name in ("redpitaya_demo", "redpitaya_spectroscopy"):
        setup = Setup.load(SETUPS / name / "setup.yaml")
        assert [str(p) for p in setup.validate() if p.is_error] == []
        worker = setup.workers["redpitaya"]
        buf = setup.buffers[worker.sinks[0]]
        assert redpitaya.check_config(worker.config, buf.dtype, buf.data_length) == []
