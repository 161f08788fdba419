"""Red Pitaya, daq protocol (the lab boards' MCPHA + daq server): emulator, client and importers over loopback.

The reference for every byte is ``red-pitaya-daq/projects/daq/server/daq-server.c``; the reference
client is mimoCoRB2's own importer, imported here from ``/work/shared/reference`` (not copied) with
only its ``mimocorb2`` base stubbed.
"""

from __future__ import annotations

import importlib.util
import socket
import struct
import sys
import time
import types
from pathlib import Path

import numpy as np
import pytest
from ring_helpers import WorkerThread

from mimocorb_gui.functions.importers import redpitaya
from mimocorb_gui.functions.importers.rp_daq import (
    CUT_OFF,
    RedPitayaDaq,
    TraceSettings,
    check_generator,
)
from mimocorb_gui.functions.importers.rp_daq_server import DaqServer, command_word, split_command
from mimocorb_gui.functions.importers.rp_scpi import RedPitayaConnectionError, RedPitayaTimeout
from mimocorb_gui.functions.importers.rp_signal import SignalModel

pytestmark = pytest.mark.timeout(60)

REFERENCE = (
    Path(__file__).resolve().parents[1]
    / "../shared/reference/mimoCoRB2/mimocorb2/functions/importers/redpitaya.py"
)
SERVER_C = (
    Path(__file__).resolve().parents[1]
    / "../shared/reference/red-pitaya-daq/projects/daq/server/daq-server.c"
)

CONFIG = {"ip": "127.0.0.1", "sample_rate": 4, "trigger_level": 200, "number_of_samples_before_trigger": 100}
DTYPE = np.dtype([("IN1", "i2"), ("IN2", "i2")])


def first_crossing(x: np.ndarray, level: float, rising: bool) -> int | None:
    prev, cur = x[:-1].astype(int), x[1:].astype(int)
    hits = (prev < level) & (cur >= level) if rising else (prev > level) & (cur <= level)
    idx = np.flatnonzero(hits)
    return int(idx[0]) + 1 if idx.size else None


def acquire(port: int, n: int, n_samples: int = 1000, set_size: int = 10, **settings) -> list[np.ndarray]:
    s = {"sample_rate": 4, "trigger_level": 200, "pre_trigger": 100, "n_samples": n_samples, **settings}
    with RedPitayaDaq("127.0.0.1", port, timeout=3) as rp:
        rp.configure(TraceSettings(**s))
        return [t.copy() for t in rp.traces(n_samples, set_size, max_traces=n)]


# ---------------------------------------------------------------------------------------------
# the reference's importer, imported from the reference tree
# ---------------------------------------------------------------------------------------------


def load_reference(monkeypatch, port: int):
    """mimoCoRB2's redpitaya module with a stub ``mimocorb2.Importer`` (its only import we lack) and PORT set."""
    collected: list[np.ndarray] = []

    class Importer:
        wanted = 0

        def __init__(self, buffer_io):
            self.config = buffer_io["config"]
            self.data_example = np.zeros(buffer_io["data_length"], dtype=DTYPE)

        def __call__(self, ufunc):
            gen = ufunc()
            for _ in range(self.wanted):
                collected.append(next(gen).copy())
            gen.close()

    stub = types.ModuleType("mimocorb2")
    stub.Importer = Importer
    monkeypatch.setitem(sys.modules, "mimocorb2", stub)
    spec = importlib.util.spec_from_file_location("reference_redpitaya", REFERENCE.resolve())
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.PORT = port  # the reference has no port key: the board's 1001 is a module constant
    return module, Importer, collected


def test_reference_importer_acquires_from_emulator_identical_to_ours(monkeypatch):
    """Same seed, same config: mimoCoRB2's importer and ours receive the same traces from the emulator."""
    n = 25
    with DaqServer(rate=3000, seed=42) as srv:
        ref, Importer, collected = load_reference(monkeypatch, srv.port)
        Importer.wanted = n
        ref.waveform({"config": {**CONFIG, "set_size": 10}, "data_length": 1000})
        reference_sent = list(srv.received)
    assert len(collected) == n
    ref_in1 = np.stack([e["IN1"] for e in collected])
    ref_in2 = np.stack([e["IN2"] for e in collected])
    # the reference asks for data_length + CUT_OFF samples (code 18) and 10 traces per code 31
    assert (18, 0, 1000 + CUT_OFF) in reference_sent and (31, 0, 10) in reference_sent

    with DaqServer(rate=3000, seed=42) as srv:
        ours = acquire(srv.port, n, set_size=10)
    assert np.array_equal(np.stack([t[:, 0] for t in ours]), ref_in1)
    assert np.array_equal(np.stack([t[:, 1] for t in ours]), ref_in2)
    # and the data are triggered traces: IN1 crosses 200 at sample 100 in every one
    for trace in ref_in1:
        assert trace[99] < 200 <= trace[100]


def test_our_worker_writes_the_reference_traces(monkeypatch):
    """The whole importer (redpitaya.waveform, default protocol) against the reference's traces."""
    with DaqServer(rate=3000, seed=9) as srv:
        ref, Importer, collected = load_reference(monkeypatch, srv.port)
        Importer.wanted = 12
        ref.waveform({"config": {**CONFIG, "negator_IN2": True, "set_size": 4}, "data_length": 500})
    with DaqServer(rate=3000, seed=9) as srv:
        with WorkerThread(
            redpitaya.waveform, {**CONFIG, "negator_IN2": True, "set_size": 4, "port": srv.port}, 500
        ) as h:
            events = h.take(12)
    assert len(events) == 12
    for (_, data), ref_event in zip(events, collected, strict=True):
        assert np.array_equal(data["IN1"], ref_event["IN1"]) and np.array_equal(data["IN2"], ref_event["IN2"])


# ---------------------------------------------------------------------------------------------
# the wire protocol, byte for byte against daq-server.c
# ---------------------------------------------------------------------------------------------


def test_command_word_layout_matches_server_decoding():
    word = command_word(16, 1, -100)
    assert len(word) == 8 and struct.unpack("<Q", word)[0] >> 56 == 16
    code, chan, value = split_command(word)
    assert (code, chan) == (16, 1)
    assert value == (-100) & 0xFFFFFFFFFFFFF  # 52 bits, two's complement as the clients send it
    assert (
        np.array(value & 0xFFFF, dtype=np.uint16).view(np.int16) == -100
    )  # the server keeps the low 16 bits (uint16 at cfg + 84)
    text = SERVER_C.read_text()
    for needle in (
        "code = (uint8_t)(command >> 56) & 0xff;",
        "chan = (uint8_t)(command >> 52) & 0xf;",
        "data = (uint64_t)(command & 0xfffffffffffffULL);",
    ):
        assert needle in text


def test_status_and_histogram_replies_have_the_servers_sizes():
    text = SERVER_C.read_text()
    assert "memcpy(buf, sts, 36);" in text and "memcpy(buf, hst[0], 16384);" in text
    with DaqServer(seed=1) as srv, socket.create_connection(("127.0.0.1", srv.port), timeout=3) as s:
        s.sendall(command_word(11, 0, 0) + command_word(12, 1, 0))
        got = b""
        while len(got) < 36 + 16384:
            got += s.recv(65536)
    assert len(got) == 36 + 16384


def test_oscilloscope_read_code_20_returns_tot_pairs():
    """The mcpha client's path: 17/18 set pre/tot, 19 starts, 11 until not busy, 20 reads tot x (IN1, IN2)."""
    with DaqServer(rate=5000, seed=3) as srv, RedPitayaDaq("127.0.0.1", srv.port, timeout=3) as rp:
        rp.command(16, 0, 300)
        rp.command(17, 0, 50)
        rp.command(18, 0, 400)
        rp.command(19)
        deadline = time.monotonic() + 3
        while rp.status()["scope_busy"] and time.monotonic() < deadline:
            time.sleep(0.005)
        rp.command(20)
        data = np.empty((400, 2), dtype="<i2")
        rp._receive(memoryview(data).cast("B"), "reading the oscilloscope", None)
    assert data[49, 0] < 300 <= data[50, 0]


def _two_daq_traces(stale_tail: int) -> bytes:
    """Two 600-sample daq traces (trigger level 200, 100 before the trigger) as the server sends them."""
    with (
        DaqServer(rate=3000, seed=5, stale_tail=stale_tail) as srv,
        socket.create_connection(("127.0.0.1", srv.port)) as s,
    ):
        for w in (
            command_word(16, 0, 200),
            command_word(17, 0, 100),
            command_word(18, 0, 600),
            command_word(31, 0, 2),
        ):
            s.sendall(w)
        raw = b""
        while len(raw) < 2 * 600 * 4:
            raw += s.recv(65536)
    return raw


def test_stale_tail_is_why_cut_off_stays():
    """Without the extra samples the end of a daq trace is stale (sent before the RAM writer stored it)."""
    raw, fresh = _two_daq_traces(stale_tail=32), _two_daq_traces(stale_tail=0)
    stale = np.frombuffer(raw, "<i2").reshape(2, 600, 2)
    good = np.frombuffer(fresh, "<i2").reshape(2, 600, 2)
    assert np.array_equal(stale[:, :568], good[:, :568])  # all but the last 32 samples agree
    assert np.array_equal(stale[1, 568:], good[0, 568:])  # trace 2 ends with what trace 1 left there


# ---------------------------------------------------------------------------------------------
# what the traces show: trigger, level, slope, source, negation, sample rate
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "slope", "level", "negate"),
    [
        ("IN1", "rising", 300, (False, False)),
        ("IN2", "rising", 500, (False, False)),
        ("IN1", "falling", -300, (True, False)),
        ("IN2", "falling", -250, (False, True)),
    ],
)
def test_trigger_at_pre_trigger_position(source, slope, level, negate):
    with DaqServer(rate=4000, seed=11) as srv:
        traces = acquire(
            srv.port,
            8,
            800,
            4,
            trigger_source=source,
            trigger_slope=slope,
            trigger_level=level,
            negate=negate,
            pre_trigger=200,
        )
    col = 0 if source == "IN1" else 1
    for t in traces:
        assert first_crossing(t[150:, col], level, slope == "rising") == 50  # the crossing is sample 200
        assert abs(np.median(t[:150, col])) < 10  # baseline before; the pulse's sign follows the negator
        peak = t[200:260, col].max() if slope == "rising" else t[200:260, col].min()
        assert (peak >= level > 0) if slope == "rising" else (peak <= level < 0)


def test_negation_flips_the_same_trace():
    """Negator on IN1 (code 5): the same trace (same seed) with IN1 inverted, IN2 untouched."""
    model = SignalModel(rate=(100000.0, 3000.0))
    with DaqServer(seed=2, model=model) as srv:
        plain = acquire(srv.port, 3, 2000, 3, trigger_source="IN2", trigger_level=200)
    with DaqServer(seed=2, model=model) as srv:
        flipped = acquire(srv.port, 3, 2000, 3, trigger_source="IN2", trigger_level=200, negate=(True, False))
    for a, b in zip(plain, flipped, strict=True):
        assert np.array_equal(a[:, 1], b[:, 1])  # IN2 (the trigger source) as it was
        assert a[:, 0].max() > 500 and np.array_equal(b[:, 0], -a[:, 0])  # IN1 inverted, noise and all


def test_sample_rate_changes_the_time_scale():
    """Pulse decay (1 us) lasts 4x as many samples at sample_rate 4 (32 ns) as at 16 (128 ns)."""
    widths = {}
    for rate in (4, 16):
        with DaqServer(rate=300, seed=4, model=SignalModel(rate=(300.0, 0.0))) as srv:
            traces = acquire(srv.port, 6, 1500, 6, sample_rate=rate, trigger_level=800, pre_trigger=100)
        w = []
        for t in traces:
            x = t[100:, 0].astype(float)
            peak = int(np.argmax(x[:50]))
            below = np.flatnonzero(x[peak:] < x[peak] / np.e)
            w.append(below[0])
        widths[rate] = np.median(w)
    ratio = widths[4] / widths[16]
    assert 3.2 < ratio < 4.8, widths
    assert 25 <= widths[4] <= 36  # 1 us / 32 ns = 31 samples


def test_level_nothing_crosses_gives_no_trace_in_normal_mode_and_traces_in_auto():
    with DaqServer(rate=2000, seed=1) as srv, RedPitayaDaq("127.0.0.1", srv.port, timeout=0.5) as rp:
        rp.configure(TraceSettings(4, 4095, 10, 100))
        with pytest.raises(RedPitayaTimeout, match="sent nothing for 0.5 s"):
            next(iter(rp.traces(100, 1)))
    with DaqServer(rate=2000, seed=1) as srv, RedPitayaDaq("127.0.0.1", srv.port, timeout=2) as rp:
        rp.configure(TraceSettings(4, 4095, 10, 100, trigger_mode="auto"))
        assert len([t for t in rp.traces(100, 2, max_traces=4)]) == 4


# ---------------------------------------------------------------------------------------------
# FPGA spectrum, timers and the pulser
# ---------------------------------------------------------------------------------------------


def test_fpga_histogram_counts_every_pulse_within_thresholds():
    with DaqServer(rate=20000, seed=8, record_truth=True) as srv, RedPitayaDaq("127.0.0.1", srv.port) as rp:
        for ch in (0, 1):
            rp.command(0, ch)
            rp.command(1, ch)
            rp.command(7, ch, 300)
            rp.command(8, ch, 2000)
            rp.command(9, ch, int(0.4 * 125e6))  # 0.4 s acquisition time
        rp.command(10, 2, 1)  # both timers
        time.sleep(0.6)
        status = rp.status()
        hist = [rp.histogram(0), rp.histogram(1)]
        truth = [np.asarray(srv.board.truth[ch]) for ch in (0, 1)]
    assert status["timer_ticks"] == (int(0.4 * 125e6), int(0.4 * 125e6))  # stopped at the set time
    for ch in (0, 1):
        inside = truth[ch][(truth[ch] >= 300) & (truth[ch] <= 2000)]
        assert hist[ch].sum() == inside.size > 1000
        expected, _ = np.histogram(inside, bins=4096, range=(-0.5, 4095.5))
        assert np.array_equal(hist[ch], expected)
        assert 20000 * 0.4 * 0.85 < truth[ch].size < 20000 * 0.4 * 1.15  # Poisson count at the rate


def test_generator_settings_change_what_the_board_produces():
    """Pulser on (spectrum: one bin at 1000, 5000/s uniform, fall 2 us): IN1 shows those pulses, the PHA counts them."""
    spectrum = np.zeros(4096, dtype=np.uint32)
    spectrum[1000] = 1
    gen = check_generator(
        {
            "rate": 5000,
            "distribution": "uniform",
            "rise_time": 10,
            "fall_time": 2,
            "spectrum": spectrum.tolist(),
        }
    )
    assert gen == []
    from mimocorb_gui.functions.importers.rp_daq import parse_generator

    g = parse_generator(
        {
            "rate": 5000,
            "distribution": "uniform",
            "rise_time": 10,
            "fall_time": 2,
            "spectrum": spectrum.tolist(),
        }
    )
    with DaqServer(rate=50, seed=3, record_truth=True) as srv, RedPitayaDaq("127.0.0.1", srv.port) as rp:
        rp.start_generator(g)
        rp.command(0, 0)
        rp.command(1, 0)
        rp.command(7, 0, 100)
        rp.command(8, 0, 4095)
        rp.command(9, 0, int(0.5 * 125e6))
        rp.command(10, 0, 1)
        time.sleep(0.7)
        hist = rp.histogram(0)
        rp.configure(TraceSettings(4, 500, 100, 2000))
        traces = [t.copy() for t in rp.traces(2000, 4, max_traces=4)]
        rp.stop_generator()
    assert abs(int(hist.sum()) - 2500) <= 2  # uniform: 5000/s x 0.5 s, every one counted
    assert abs(int(np.argmax(hist)) - 1000) <= 10  # at the generator's amplitude
    for t in traces:
        x = t[:, 0].astype(float)
        assert 950 < x[100:140].max() < 1050
        peak = 100 + int(np.argmax(x[100:140]))
        half = np.flatnonzero(x[peak:] < x[peak] / 2)[0]
        assert 55 <= half <= 70  # fall half-life 2 us = 62.5 samples of 32 ns
    assert srv.board.regs.generator.running is False


# ---------------------------------------------------------------------------------------------
# faults: cut mid-trace (unreachable and silent boards: test_redpitaya_faults.py)
# ---------------------------------------------------------------------------------------------


def test_connection_cut_mid_trace_keeps_whole_traces_only():
    with DaqServer(rate=3000, seed=6, cut_after=17) as srv:
        t0 = time.monotonic()
        with WorkerThread(redpitaya.waveform, {**CONFIG, "port": srv.port, "timeout": 2, "set_size": 5}) as h:
            events = h.take(10**6, timeout=10)
            h.thread.join(timeout=5)
        assert time.monotonic() - t0 < 6
    assert len(events) == 17
    assert isinstance(
        h.error, RedPitayaConnectionError
    ) and "closed the connection while receiving trace 18" in str(h.error)
    for _, data in events:
        assert data["IN1"][99] < 200 <= data["IN1"][100]  # whole, triggered traces


def test_requests_are_kept_in_flight():
    """Two requests of set_size are outstanding before the first trace is read; the next follows each set."""
    with DaqServer(rate=5000, seed=1) as srv:
        traces = acquire(srv.port, 20, 200, 5)
        time.sleep(0.1)
        requests = [v for c, _, v in srv.received if c == 31]
    assert len(traces) == 20
    assert requests[:2] == [5, 5] and sum(requests) == 20


# ---------------------------------------------------------------------------------------------
# config checks
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("sample_rate", 2, "'sample_rate': 2 is not allowed (valid: 1, 4, 8, 16, 32, 54, 128, 256)"),
        ("trigger_level", 5000, "'trigger_level': 5000 is not an integer -4096..4095"),
        ("trigger_source", "EXT", "(valid: IN1, IN2)"),
        ("trigger_slope", "up", "(valid: rising, falling)"),
        ("number_of_samples_before_trigger", 1001, "0..1000 (at most data_length)"),
        ("set_size", 0, "'set_size': 0 is not a positive integer"),
        ("port", 0, "'port': 0 is not a TCP port"),
        ("protocol", "http", "'protocol': 'http' is not allowed (valid: daq, scpi)"),
        ("generator", {"rate": 10}, "'generator'.spectrum: is required"),
        ("generator", {"spectrum": [1] * 10}, "10 bins; the pulser takes exactly 4096"),
    ],
)
def test_daq_config_rejects_bad_values(key, value, expected):
    problems = redpitaya.check_config({**CONFIG, key: value}, DTYPE, 1000)
    assert any(expected in p for p in problems), problems


def test_daq_config_reference_defaults_and_unknown_keys_ignored():
    """The reference's example config.yaml (with a simulation's keys in it) is valid as it is."""
    from ruamel.yaml import YAML

    example = REFERENCE.parents[3] / "examples/redpitaya-spectroscopy/config.yaml"
    config = YAML(typ="safe", pure=True).load(example.read_text())
    assert redpitaya.check_config(config, DTYPE, 1000) == []
    assert redpitaya.check_config({**CONFIG}, DTYPE, 8388508) != []  # data_length + CUT_OFF > the ring
    assert redpitaya.check_config({**CONFIG}, DTYPE, 8388507) == []


# ---------------------------------------------------------------------------------------------
# mimocorb rp-emulator
# ---------------------------------------------------------------------------------------------


def test_cli_rp_emulator_serves_both_protocols():
    """``mimocorb rp-emulator --daq-port 0 --scpi-port 0``: a daq and a SCPI server, loopback only."""
    import re
    import subprocess

    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mimocorb_gui",
            "rp-emulator",
            "--daq-port",
            "0",
            "--scpi-port",
            "0",
            "--seed",
            "1",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        lines = []
        while not any("Ctrl-C" in x for x in lines):
            line = proc.stdout.readline()
            assert line, "".join(lines)
            lines.append(line)
        text = "".join(lines)
        daq_port = int(re.search(r"daq server .* on 127\.0\.0\.1:(\d+)", text).group(1))
        scpi_port = int(re.search(r"SCPI server on 127\.0\.0\.1:(\d+)", text).group(1))
        assert len(acquire(daq_port, 3, 200, 3)) == 3
        with socket.create_connection(("127.0.0.1", scpi_port), timeout=3) as s:
            s.sendall(b"*IDN?\r\n")
            assert s.recv(100).startswith(b"REDPITAYA")
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_cli_rp_emulator_falls_back_to_10001_without_privileges(monkeypatch, capsys):
    """Port 1001 refused (not root): the daq server takes 10001 and says so."""
    from mimocorb_gui.functions.importers import rp_emulator

    tried = []

    class FakeServer:
        def __init__(self, host, port, **kw):
            self.host, self.port = host, port
            tried.append((host, port))

        def start(self):
            if self.port == 1001:
                raise PermissionError(13, "Permission denied")
            return self

        def stop(self):
            pass

    monkeypatch.setattr(rp_emulator, "DaqServer", FakeServer)
    server, note = rp_emulator._start_daq(None)
    assert tried == [("127.0.0.1", 1001), ("127.0.0.1", 10001)] and server.port == 10001
    assert "port 1001" in note and "10001" in note
