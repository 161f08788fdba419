"""Red Pitaya setups as whole runs: the reference's example with its board importer enabled, our demo, the spectrum."""

from __future__ import annotations

import csv
import logging
import re
import shutil
import socket
import time
from pathlib import Path

import numpy as np
import pytest
from ruamel.yaml import YAML
from waiting import wait_until

from mimocorb_gui.functions.importers import redpitaya
from mimocorb_gui.functions.importers.rp_daq_server import DaqServer
from mimocorb_gui.functions.importers.rp_signal import SignalModel
from mimocorb_gui.shipped import examples_dir

pytestmark = pytest.mark.timeout(90)

ROOT = Path(__file__).resolve().parents[1]
SETUPS = examples_dir()
EXAMPLE = ROOT / "../shared/reference/mimoCoRB2/examples/redpitaya-spectroscopy"


def _run(setup_path: Path, tmp_path: Path):
    from mimocorb_gui.core.run import Run
    from mimocorb_gui.core.setup import Setup

    return Run(Setup.load(setup_path), run_root=tmp_path / "runs")


def _log(run, level=logging.INFO) -> str:
    return "\n".join(e.format() for e in run.log_history() if e.levelno >= level)


def _wait_events(run, buffer: str, n: int, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        written = run.stats().buffers[buffer].stats.events_written
        if written >= n or run.finished():
            return written
        time.sleep(0.05)
    return run.stats().buffers[buffer].stats.events_written


@pytest.mark.parametrize("with_simulation", [True, False], ids=["as_shipped", "board_importer_only"])
def test_reference_example_with_rp_to_mimo_enabled_runs_against_the_emulator(tmp_path, with_simulation):
    """mimoCoRB2's examples/redpitaya-spectroscopy, its commented board importer enabled, pointed at our emulator.

    As shipped the example also runs its own simulation (``spectra/simulate_source.py``, written against
    mimoCoRB2's ``Importer.config``, which the mimocorb2 compatibility layer provides).
    """
    target = tmp_path / "redpitaya-spectroscopy"
    shutil.copytree(EXAMPLE.resolve(), target)
    setup_text = (target / "setup.yaml").read_text()
    commented = "  # rp_to_mimo:\n  #   function: importers.redpitaya.waveform\n  #   sinks: [oscilloscope]\n  #   config: config.yaml\n"
    assert commented in setup_text
    setup_text = setup_text.replace(commented, commented.replace("  # ", "  "))
    if not with_simulation:
        simulation = (
            "  from_simulation:\n    file: spectra/simulate_source.py\n    function: simulate_source\n"
            "    sinks: [oscilloscope]\n    config: config.yaml\n"
        )
        assert simulation in setup_text
        setup_text = setup_text.replace(simulation, "")
    (target / "setup.yaml").write_text(setup_text)
    config_text = (target / "config.yaml").read_text()
    with DaqServer(seed=4, model=SignalModel(rate=(3000.0, 3000.0))) as srv:
        # pointed at the emulator: its address, and the port (the board's 1001 needs root here)
        (target / "config.yaml").write_text(
            config_text.replace("ip: 'rp-f0c38f.local'", f"ip: '127.0.0.1'\nport: {srv.port}")
        )
        run = _run(target / "setup.yaml", tmp_path)
        try:
            run_dir = run.start()
            assert _wait_events(run, "oscilloscope", 300, timeout=30) >= 300, _log(run)
            # the example's own simulation runs at 10 kHz beside the board: wait for the board's share too
            wait_until(lambda: srv.traces_sent >= 100, timeout=30, what="100 traces from the board")
            assert run.stop(timeout=15), _log(run)
        finally:
            run.close()
        traces = srv.traces_sent
        assert srv.connections == 1
    assert run.state == "finished", _log(run)
    assert not _log(run, logging.ERROR), _log(run, logging.ERROR)
    assert traces >= 100  # the board importer contributed (beside the example's own simulation)
    rows = list(csv.reader(open(next(run_dir.glob("*.csv")))))
    assert len(rows) > 100  # pulse heights exported


def test_demo_setup_as_shipped_shows_waveform_and_board_spectra(tmp_path):
    """setups/redpitaya_demo: daq waveforms -> pha -> histogram, and the board's own spectrum beside it."""
    from mimocorb_gui.core.livehist import histogram_workers, open_live_histograms
    from mimocorb_gui.core.setup import Setup
    from mimocorb_gui.functions.importers.rp_spectrum import TIMERS_FILE

    setup = Setup.load(SETUPS / "redpitaya_demo" / "setup.yaml")
    assert [p for p in setup.validate() if p.is_error] == []
    assert ("board", "board_spectrum") in [(w.worker, w.buffer) for w in histogram_workers(setup)]
    run = _run(SETUPS / "redpitaya_demo" / "setup.yaml", tmp_path)
    try:
        run_dir = run.start()
        assert _wait_events(run, "waveforms", 200, timeout=30) >= 200, _log(run)
        assert _wait_events(run, "board_spectrum", 3, timeout=15) >= 3, _log(run)
        assert run.stop(timeout=15), _log(run)
    finally:
        run.close()
    assert run.state == "finished" and not _log(run, logging.ERROR), _log(run)
    assert "built-in emulator" in _log(run, logging.WARNING)
    board = open_live_histograms(run_dir, "board_spectrum")["IN1"]
    counts = board.snapshot()
    board.close()
    assert counts.shape == (4096,) and counts.sum() > 1000
    assert 2150 < np.argmax(counts[1000:]) + 1000 < 2500  # Cs-137 photopeak: 662 keV x 3.5 counts/keV
    # stopped by the user, the importer still says what it read, and that is what the file holds
    summary = re.search(r"\[board\] (\d+) read-outs; IN1: (\d+) counts", _log(run))
    assert summary and int(summary[1]) >= 3 and int(summary[2]) == counts.sum(), _log(run)
    rows = list(csv.DictReader(open(run_dir / "Histograms_board_spectrum" / TIMERS_FILE)))
    live, real = float(rows[0]["LiveTime"]), float(rows[0]["RealTime"])
    assert 2 < live and abs(live - real) < 0.5
    heights = np.load(run_dir / "Histograms_heights_to_histogram" / "peak_heights.npy")
    assert heights.sum() > 100


def _spectrum_harness(config, tmp_path, fields=("IN1", "IN2")):
    from test_redpitaya_daq import Harness

    return Harness(config, 4096, fields, "int64", redpitaya.spectrum, run_dir=tmp_path, setup_dir=tmp_path)


def test_spectrum_importer_reads_fpga_histograms_until_the_acquisition_time(tmp_path):
    with DaqServer(seed=3, record_truth=True, model=SignalModel(rate=(5000.0, 2000.0))) as srv:
        config = {"ip": "127.0.0.1", "port": srv.port, "interval": 0.2, "duration": 0.9, "min_threshold": 100}
        with _spectrum_harness(config, tmp_path) as h:
            events = h.take(100, timeout=10)
            h.thread.join(timeout=5)
        truth = [np.asarray(srv.board.truth[ch]) for ch in (0, 1)]
        commands = list(srv.received)
    assert h.error is None, h.error
    assert 4 <= len(events) <= 6  # 0.9 s at 0.2 s intervals, then the timer stops and the importer ends
    last = events[-1][1]
    for name, t in zip(("IN1", "IN2"), truth, strict=True):
        inside = t[(t >= 100) & (t <= 4095)]
        assert last[name].sum() == inside.size  # every simulated pulse within the thresholds
    assert 5000 * 0.9 * 0.8 < last["IN1"].sum() < 5000 * 0.9 * 1.1
    # the files the histogram dock reads, and the board's timers
    folder = next(tmp_path.glob("Histograms_*"))
    assert np.array_equal(np.load(folder / "IN1.npy"), last["IN1"])
    rows = list(csv.DictReader(open(folder / "timers.csv")))
    assert [r["Channel"] for r in rows] == ["IN1", "IN2"]
    assert abs(float(rows[0]["LiveTime"]) - 0.9) < 1e-6  # the board's timer, stopped at the set time
    assert float(rows[0]["RealTime"]) >= 0.9
    codes = [c for c, _, _ in commands]
    for code in (0, 1, 6, 7, 8, 9, 10, 11, 12):
        assert code in codes


def test_spectrum_config_checks():
    dtype = np.dtype([("IN1", "i8")])
    check = redpitaya.spectrum.check_setup

    class Sink:
        def __init__(self, dtype, data_length):
            self.dtype, self.data_length = dtype, data_length

    assert check({"ip": "x"}, sinks=[Sink(dtype, 4096)]) == []
    problems = "\n".join(
        check({"ip": "x", "interval": 0, "min_threshold": 5000}, sinks=[Sink(np.dtype([("CH1", "i8")]), 100)])
    )
    for needle in (
        "'interval': 0 is not a positive number",
        "'min_threshold': 5000 is not an integer 0..4095",
        "data_length 100 must be 4096",
        "fields ['CH1'] not allowed",
    ):
        assert needle in problems


def test_real_board_setups_validate():
    from mimocorb_gui.core.setup import Setup

    for path in sorted((SETUPS / "redpitaya_spectroscopy").glob("*.yaml")):
        text = path.read_text()
        if "Workers:" not in text:
            continue
        setup = Setup.load(path)
        assert [str(p) for p in setup.validate() if p.is_error] == [], path
        config = YAML(typ="safe", pure=True).load(text)
        functions = [w.get("function") for w in config["Workers"].values()]
        assert "importers.redpitaya.waveform" in functions or "importers.redpitaya.spectrum" in functions


def test_histogram_dock_shows_the_board_spectrum_with_live_and_real_time(qtbot, tmp_path):
    """The files importers.redpitaya.spectrum writes, in the histogram dock: counts, live and real time."""
    from mimocorb_gui.core.livehist import LiveHistogramWriter, histogram_dir
    from mimocorb_gui.functions.importers.rp_spectrum import _write_timers, histogram_specs
    from mimocorb_gui.ui.docks.histogram import HistogramDock

    folder = histogram_dir(tmp_path, "board_spectrum")
    counts = np.zeros(4096, dtype=np.int64)
    counts[2300:2340] = 50
    with LiveHistogramWriter(folder, histogram_specs(["IN1"])) as writer:
        writer.counts["IN1"][:] = counts
    _write_timers(Path(folder), [("IN1", 12.34, 12.5)])
    dock = HistogramDock("board", "board_spectrum", None)
    qtbot.addWidget(dock)
    dock.resize(700, 450)
    dock.show()
    dock.run_started(tmp_path)
    dock.refresh(force=True)
    text = dock.entries_label.text()
    assert "2,000 entries" in text and "live 12.3 s, real 12.5 s" in text
    edges, shown = dock.displayed()
    assert shown.sum() == 2000 and edges[0] == -0.5 and len(edges) == 4097
    dock.grab().save(str(tmp_path / "board_spectrum_dock.png"))
    dock.run_finishing()


def test_spectrum_importer_starts_the_pulser_from_its_config(tmp_path):
    """generator: in the importer's config (spectrum from a .npy file next to the setup): the board counts its pulses."""
    spectrum = np.zeros(4096)
    spectrum[800] = 3
    spectrum[1600] = 1
    np.save(tmp_path / "pulser.npy", spectrum)
    with DaqServer(seed=5, model=SignalModel(rate=(10.0, 10.0))) as srv:
        config = {
            "ip": "127.0.0.1",
            "port": srv.port,
            "interval": 0.25,
            "duration": 0.5,
            "min_threshold": 100,
            "generator": {"rate": 4000, "distribution": "uniform", "fall_time": 1, "spectrum": "pulser.npy"},
        }
        with _spectrum_harness(config, tmp_path, fields=("IN1",)) as h:
            events = h.take(100, timeout=10)
            h.thread.join(timeout=5)
        generator = srv.board.regs.generator
    assert h.error is None, h.error
    counts = events[-1][1]["IN1"]
    assert abs(int(counts.sum()) - 2000) <= 15  # 4000/s x 0.5 s of live time (and a few detector pulses)
    assert abs(counts[780:820].sum() / counts[1580:1620].sum() - 3) < 0.6  # the spectrum's 3 : 1
    assert generator.rate == 4000 and generator.distribution == 0 and generator.fall == 1
    assert generator.running is False  # stopped when the client left (keep_pulsing false)


def _demo_copy(tmp_path: Path, **overrides) -> Path:
    target = tmp_path / "redpitaya_demo"
    shutil.copytree(SETUPS / "redpitaya_demo", target, ignore=shutil.ignore_patterns("runs"))
    yaml = YAML(typ="rt")
    cfg = yaml.load(target / "redpitaya.yaml")
    cfg.update(overrides)
    yaml.dump(cfg, target / "redpitaya.yaml")
    return target / "setup.yaml"


def test_run_board_silent_mid_run_ends_in_order_everything_kept(tmp_path):
    """The daq board stops sending after 40 traces: the run ends by itself within seconds, all 40 kept."""
    from mimocorb_gui.core.mimofile import read_mimo

    with DaqServer(seed=5, model=SignalModel(rate=(3000.0, 3000.0)), stall_after=40) as srv:
        run = _run(_demo_copy(tmp_path, emulate=False, port=srv.port, timeout=1.5, set_size=8), tmp_path)
        try:
            run_dir = run.start()
            t0 = time.monotonic()
            assert run.wait(20), _log(run)
            ended_after = time.monotonic() - t0
            stats = run.stats()
        finally:
            run.close()
    errors = _log(run, logging.ERROR)
    assert "sent nothing for 1.5 s" in errors and "stopping after 40 events (all kept)" in errors
    assert ended_after < 12
    assert stats.buffers["waveforms"].stats.events_written == 40
    metadata, _, _ = read_mimo(run_dir / "pulse_heights.mimo")
    assert len(metadata) == stats.buffers["pulse_heights"].stats.events_written > 0


def test_run_board_unreachable_ends_with_clear_error(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    run = _run(_demo_copy(tmp_path, emulate=False, port=port, timeout=1), tmp_path)
    try:
        run.start()
        t0 = time.monotonic()
        assert run.wait(15), _log(run)
        assert time.monotonic() - t0 < 10
    finally:
        run.close()
    assert f"cannot reach the Red Pitaya daq server at 127.0.0.1:{port}" in _log(run, logging.ERROR)
