"""Red Pitaya, SCPI path (``protocol: scpi``): the SCPI client, the SCPI emulator and the worker over loopback."""

from __future__ import annotations

import socket
import threading
import time

import numpy as np
import pytest
from network_helpers import free_tcp_port
from ring_helpers import WorkerThread

from mimocorb_gui.functions.importers import redpitaya
from mimocorb_gui.functions.importers.rp_emulator import EmulatorServer, SignalModel
from mimocorb_gui.functions.importers.rp_scpi import (
    BUFFER_SIZE,
    RedPitayaConnectionError,
    RedPitayaError,
    RedPitayaScope,
    RedPitayaTimeout,
    ScopeSettings,
    counts_to_volts,
)
from mimocorb_gui.shipped import examples_dir

pytestmark = pytest.mark.timeout(30)

SETUPS = examples_dir()


@pytest.fixture
def server():
    with EmulatorServer(rate=5000, seed=7) as srv:
        yield srv


def scope_for(srv: EmulatorServer, **kw) -> RedPitayaScope:
    return RedPitayaScope("127.0.0.1", srv.port, timeout=kw.pop("timeout", 2.0), **kw).open()


def crossings(x: np.ndarray, level: float, rising: bool) -> np.ndarray:
    """Indices i (>= 1) where x crosses level between i-1 and i in the given direction."""
    prev, cur = x[:-1], x[1:]
    hits = (prev < level) & (cur >= level) if rising else (prev > level) & (cur <= level)
    return np.flatnonzero(hits) + 1


def half_width(x: np.ndarray, start: int) -> int:
    """Samples from ``start`` on that stay above half of the pulse's maximum (pulse width)."""
    seg = x[start : start + 4000].astype(float)
    peak = seg.max()
    above = seg >= peak / 2
    first = int(np.argmax(above))
    below = np.flatnonzero(~above[first:])
    return int(below[0]) if below.size else seg.size - first


# ---------------------------------------------------------------------------------------------
# the emulator speaks SCPI like the board
# ---------------------------------------------------------------------------------------------


def test_emulator_scpi_basics(server):
    with scope_for(server) as sc:
        assert sc.idn.startswith("REDPITAYA")
        assert sc.errors() == []
        sc.write("ACQ:BOGUS 1")
        sc.write("acq:dec 7")  # not a decimation
        assert sc.errors() == ['-113,"Undefined header"', '-224,"Illegal parameter value"']
        assert sc.query("SYST:ERR?") == '0,"No error"'
        # short and long forms, any case, numeric suffixes, ';' compound messages
        sc.write("ACQ:DEC 64")
        assert sc.query("acq:dec?") == "64"
        sc.write("ACQ:TRIG:LEV 0.25")
        assert float(sc.query("ACQ:TR:LEV?")) == 0.25
        sc.write("ACQ:SOUR2:GAIN HV")
        assert sc.query("ACQ:SOUR2:GAIN?") == "HV"
        assert sc.query("ACQ:SOUR1:GAIN?") == "LV"
        assert sc.query("ACQ:DEC?;:ACQ:BUF:SIZE?") == f"64;{BUFFER_SIZE}"
        assert sc.query("ACQ:SRAT?").strip() == "1953125 Hz"
        assert sc.query("SYSTem:ERRor:NEXT?") == '0,"No error"'


def test_emulator_unknown_query_gets_no_answer(server):
    """Like the board: an undefined query only queues an error; the client times out and can recover."""
    with scope_for(server, timeout=0.3) as sc:
        t0 = time.monotonic()
        with pytest.raises(RedPitayaTimeout, match="did not answer 'ACQ:NOPE\\?' within 0.3 s"):
            sc.query("ACQ:NOPE?")
        assert time.monotonic() - t0 < 1.5
        assert sc.errors() == ['-113,"Undefined header"']


def test_emulator_data_formats(server):
    """ASCII {v,..}, big-endian blocks by default, little-endian after BYTE:ORDER LEND, circular windows."""
    with scope_for(server) as sc:
        sc.write("ACQ:DATA:UNITS RAW")
        sc.write("ACQ:START")
        sc.write("ACQ:TRig NOW")
        assert sc.wait(max_wait=2)
        text = sc.query(f"ACQ:SOUR1:DATA:STA:N? {BUFFER_SIZE - 5},10")
        ascii_values = np.array(text.strip("{}").split(","), dtype=np.int16)
        assert ascii_values.size == 10  # wrapped around the end of the circular buffer
        sc.write("ACQ:DATA:FORMAT BIN")
        inst = sc._inst
        big = inst.query_binary_values(
            f"ACQ:SOUR1:DATA:STArt:N? {BUFFER_SIZE - 5},10",
            datatype="h",
            is_big_endian=True,
            container=np.array,
        )
        np.testing.assert_array_equal(big, ascii_values)
        sc.write("ACQ:DATA:BYTE:ORDER LEND")
        little = inst.query_binary_values(
            f"ACQ:SOUR1:DATA:Start:N? {BUFFER_SIZE - 5},10",
            datatype="h",
            is_big_endian=False,
            container=np.array,
        )
        np.testing.assert_array_equal(little, ascii_values)
        sc.write("ACQ:DATA:UNITS VOLTS")
        sc.write("ACQ:DATA:FORMAT ASCII")
        volts = np.array(
            sc.query(f"ACQ:SOUR1:DATA:STA:N? {BUFFER_SIZE - 5},10").strip("{}").split(","), float
        )
        np.testing.assert_allclose(volts, ascii_values / 8192.0, atol=1e-5)


def test_emulator_trigger_state_machine(server):
    """ACQ:START per capture; STAT? WAIT until TD; FILL? after the post-trigger samples; TPOS reported."""
    server.board.model.rate = (20.0, 20.0)  # slow: about 50 ms to the trigger
    with scope_for(server) as sc:
        sc.configure(ScopeSettings(decimation=1024, n_samples=BUFFER_SIZE, pre_trigger=BUFFER_SIZE // 2))
        assert sc.query("ACQ:TRig:DLY?") == "0"
        sc.write("ACQ:START")
        assert sc.query("ACQ:TRig:STAT?") == "WAIT"  # no source yet
        sc.write("ACQ:TRig CH1_PE")
        seen = set()
        t0 = time.monotonic()
        while (stat := sc.query("ACQ:TRig:STAT?")) != "TD":
            seen.add(stat)
            assert time.monotonic() - t0 < 10
        # 8192 samples after the trigger at 8 ns * 1024 take ~67 ms
        assert sc.query("ACQ:TRig:FILL?") == "0"
        while sc.query("ACQ:TRig:FILL?") != "1":
            assert time.monotonic() - t0 < 10
        tpos = int(sc.query("ACQ:TPOS?"))
        assert 0 <= tpos < BUFFER_SIZE
        assert (int(sc.query("ACQ:WPOS?")) - tpos) % BUFFER_SIZE == BUFFER_SIZE // 2


# ---------------------------------------------------------------------------------------------
# the client against the emulator
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("transfer", ["binary", "ascii"])
@pytest.mark.parametrize(("n", "pre"), [(1000, 100), (2048, 0), (600, 599), (BUFFER_SIZE, BUFFER_SIZE // 2)])
def test_trigger_at_pre_trigger_position(server, transfer, n, pre):
    level = 800
    settings = ScopeSettings(decimation=4, n_samples=n, pre_trigger=pre, trigger_level=level)
    with scope_for(server, transfer=transfer) as sc:
        sc.configure(settings)
        assert sc.query("ACQ:TRig:DLY?") == str(n - pre - BUFFER_SIZE // 2)
        for _ in range(5):
            ev = sc.acquire(max_wait=5)
            assert set(ev) == {"IN1", "IN2"}
            x = ev["IN1"]
            assert x.dtype == np.int16 and x.shape == (n,)
            assert x[pre] >= level
            if pre > 0:
                assert x[pre - 1] < level
                assert crossings(x[: pre + 1], level, rising=True).tolist() == [pre]  # the first crossing


@pytest.mark.parametrize("slope", ["rising", "falling"])
def test_trigger_level_and_slope(server, slope):
    level = 1500
    settings = ScopeSettings(
        decimation=2, n_samples=1500, pre_trigger=500, trigger_level=level, trigger_slope=slope
    )
    with scope_for(server) as sc:
        sc.configure(settings)
        assert float(sc.query("ACQ:TRig:LEV?")) == pytest.approx(counts_to_volts(level), rel=1e-5)
        rising = slope == "rising"
        for _ in range(8):
            x = sc.acquire(max_wait=5)["IN1"].astype(int)
            if rising:
                assert x[499] < level <= x[500]
            else:
                assert x[499] > level >= x[500]
                assert x[:500].max() > level  # a positive pulse went up before falling through the level
            assert crossings(x[:501], level, rising)[0] == 500


def test_trigger_on_in2_and_ext(server):
    with scope_for(server) as sc:
        sc.configure(
            ScopeSettings(
                decimation=8, n_samples=800, pre_trigger=200, trigger_level=600, trigger_source="IN2"
            )
        )
        for _ in range(3):
            x = sc.acquire(max_wait=5)["IN2"]
            assert x[199] < 600 <= x[200]
        sc.configure(ScopeSettings(decimation=8, n_samples=800, pre_trigger=200, trigger_source="EXT"))
        assert sc.settings.trigger_command() == "EXT_PE"
        x = sc.acquire(max_wait=5)["IN1"]
        assert x[200:260].max() > 100  # the external trigger came with a pulse on IN1


def test_negator_inverts_and_keeps_trigger_semantics():
    """A negated channel is inverted; its level and slope apply to the inverted data."""
    model = SignalModel(rate=(5000.0, 5000.0), polarity=(-1, -1))  # PMT-like negative pulses
    with EmulatorServer(model=model, seed=3) as srv, scope_for(srv) as sc:
        plain = ScopeSettings(
            decimation=4, n_samples=1000, pre_trigger=100, trigger_level=-700, trigger_slope="falling"
        )
        sc.configure(plain)
        x = sc.acquire(max_wait=5)["IN1"]
        assert x[99] > -700 >= x[100] and x.min() < -700
        negated = ScopeSettings(
            decimation=4, n_samples=1000, pre_trigger=100, trigger_level=700, negate=("IN1", "IN2")
        )
        sc.configure(negated)
        assert sc.settings.trigger_command() == "CH1_NE"  # rising on the inverted data
        assert float(sc.query("ACQ:TRig:LEV?")) == pytest.approx(counts_to_volts(-700), rel=1e-5)
        for _ in range(5):
            ev = sc.acquire(max_wait=5)
            x = ev["IN1"]
            assert x[99] < 700 <= x[100]  # rising through +700 after inversion
            assert x.max() >= 700
            assert np.median(ev["IN2"]) == pytest.approx(0, abs=10)  # baseline stays at 0


def test_decimation_changes_time_scale(server):
    """The same pulses (1 us decay) last 8x fewer samples at decimation 8 than at 1."""
    widths = {}
    with scope_for(server) as sc:
        for dec in (1, 8):
            sc.configure(ScopeSettings(decimation=dec, n_samples=4000, pre_trigger=200, trigger_level=2000))
            w = [half_width(sc.acquire(max_wait=5)["IN1"], 190) for _ in range(6)]
            widths[dec] = float(np.median(w))
    assert widths[1] > 50
    assert 6 < widths[1] / widths[8] < 10


def test_hv_gain_scales_trigger_level(server):
    with scope_for(server) as sc:
        sc.configure(
            ScopeSettings(decimation=4, n_samples=500, pre_trigger=100, trigger_level=100, gain="HV")
        )
        assert float(sc.query("ACQ:TRig:LEV?")) == pytest.approx(100 / 8192 * 20)
        x = sc.acquire(max_wait=5)["IN1"]
        assert x[99] < 100 <= x[100]


def test_auto_trigger_with_unreachable_level(server):
    """Pulses never reach the level: wait() gives up after max_wait; ACQ:TRig NOW forces a capture."""
    with scope_for(server) as sc:
        sc.configure(ScopeSettings(decimation=1, n_samples=256, pre_trigger=16, trigger_level=8100))
        t0 = time.monotonic()
        sc.arm()
        assert not sc.wait(max_wait=0.2)
        assert 0.2 <= time.monotonic() - t0 < 1.0
        sc.force_trigger()
        assert sc.wait(max_wait=2)
        assert sc.read()["IN1"].shape == (256,)


def test_wait_honours_stop(server):
    with scope_for(server) as sc:
        sc.configure(ScopeSettings(decimation=1, n_samples=256, pre_trigger=16, trigger_level=8100))
        flag = threading.Event()
        threading.Timer(0.2, flag.set).start()
        t0 = time.monotonic()
        assert sc.acquire(stop=flag.is_set) is None
        assert time.monotonic() - t0 < 1.0


# ---------------------------------------------------------------------------------------------
# faults end cleanly within the timeout
# ---------------------------------------------------------------------------------------------


def test_unreachable_port_fails_fast():
    port = free_tcp_port()  # nothing listens here
    t0 = time.monotonic()
    with pytest.raises(RedPitayaConnectionError, match=f"127.0.0.1:{port}"):
        RedPitayaScope("127.0.0.1", port, timeout=1.0).open()
    assert time.monotonic() - t0 < 3


def test_unresolvable_host_fails_fast():
    t0 = time.monotonic()
    with pytest.raises(RedPitayaConnectionError, match="rp-does-not-exist.invalid"):
        RedPitayaScope("rp-does-not-exist.invalid", 5000, timeout=1.0).open()
    assert time.monotonic() - t0 < 5


def test_blackhole_address_fails_within_timeout():
    t0 = time.monotonic()
    with pytest.raises(RedPitayaConnectionError, match="192.0.2.1:5000"):  # RFC 5737 TEST-NET-1
        RedPitayaScope("192.0.2.1", 5000, timeout=1.0).open()
    assert time.monotonic() - t0 < 3


def test_board_stops_answering_mid_run():
    with EmulatorServer(rate=5000, seed=1, stall_after=3) as srv, scope_for(srv, timeout=0.5) as sc:
        sc.configure(ScopeSettings(decimation=4, n_samples=500, pre_trigger=50, trigger_level=500))
        events = [sc.acquire(max_wait=5) for _ in range(3)]
        assert all(e is not None for e in events)
        t0 = time.monotonic()
        with pytest.raises(RedPitayaTimeout, match="did not answer"):
            sc.acquire()
        assert time.monotonic() - t0 < 2.0
        assert srv.captures == 3


def test_board_closes_connection_mid_run():
    with EmulatorServer(rate=5000, seed=1, close_after=2) as srv, scope_for(srv, timeout=1.0) as sc:
        sc.configure(ScopeSettings(decimation=4, n_samples=500, pre_trigger=50, trigger_level=500))
        assert sc.acquire(max_wait=5) is not None
        assert sc.acquire(max_wait=5) is not None
        t0 = time.monotonic()
        with pytest.raises(RedPitayaConnectionError, match="closed the connection"):
            sc.acquire()
        assert time.monotonic() - t0 < 3.0


def test_board_rejecting_a_setting_is_reported(server):
    with scope_for(server) as sc:
        with pytest.raises(RedPitayaError, match=r"rejected 'ACQ:DEC 3': -224"):
            sc.command("ACQ:DEC 3")


# ---------------------------------------------------------------------------------------------
# config validation
# ---------------------------------------------------------------------------------------------

GOOD = {
    "protocol": "scpi",
    "ip": "127.0.0.1",
    "sample_rate": 4,
    "trigger_level": 500,
    "number_of_samples_before_trigger": 100,
}
DTYPE = np.dtype([("IN1", "i2"), ("IN2", "i2")])


def test_config_defaults():
    cfg = redpitaya.validate_config(GOOD, DTYPE, 1000)
    assert (cfg.port, cfg.timeout, cfg.trigger_slope, cfg.trigger_mode, cfg.trigger_source) == (
        5000,
        5.0,
        "rising",
        "normal",
        "IN1",
    )
    assert (cfg.negator_IN1, cfg.negator_IN2, cfg.set_size, cfg.transfer, cfg.gain) == (
        False,
        False,
        100,
        "binary",
        "LV",
    )


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("sample_rate", 3, "config key 'sample_rate': 3 is not allowed (valid decimations: 1, 2, 4, 8, 16,"),
        ("sample_rate", 131072, "65536)"),
        ("trigger_slope", "up", "config key 'trigger_slope': 'up' is not allowed (valid: rising, falling)"),
        ("trigger_mode", "single", "(valid: normal, auto)"),
        ("trigger_source", "CH1", "(valid: IN1, IN2, EXT)"),
        ("negator_IN1", "yes", "config key 'negator_IN1': 'yes' is not allowed (valid: true, false)"),
        ("trigger_level", 9000, "between -8192 and 8191"),
        ("trigger_level", 1.5, "'trigger_level': 1.5 is not an integer"),
        ("number_of_samples_before_trigger", 1000, "between 0 and 999"),
        ("port", 70000, "'port': 70000 is not a TCP port"),
        ("timeout", 0, "'timeout': 0 is not a positive number"),
        ("transfer", "hex", "(valid: binary, ascii)"),
        ("gain", "MV", "(valid: LV, HV)"),
        ("set_size", 0, "'set_size': 0 is not a positive integer"),
        ("ip", "", "'ip': '' is not a host name"),
    ],
)
def test_config_rejects_bad_values(key, value, expected):
    with pytest.raises(redpitaya.RedPitayaConfigError) as info:
        redpitaya.validate_config({**GOOD, key: value}, DTYPE, 1000)
    assert expected in str(info.value)


def test_config_missing_keys_and_bad_buffer():
    problems = redpitaya.check_config({"protocol": "scpi", "ip": "x"}, np.dtype([("CH1", "i2")]), 20000)
    text = "\n".join(problems)
    for needle in (
        "'sample_rate': is required",
        "'trigger_level': is required",
        "'number_of_samples_before_trigger': is required",
        "data_length 20000 does not fit",
        "fields ['CH1'] not allowed",
    ):
        assert needle in text


def test_docstring_follows_manual_template():
    doc = redpitaya.waveform.__doc__
    assert doc.startswith("mimoCoRB2 Function: Use RedPitaya to acquire waveform data.")
    for section in (
        "Type\n",
        "Importer",
        "Buffers\n",
        "sources",
        "sinks",
        "observes",
        "Configs\n",
        "Examples\n",
    ):
        assert section in doc
    for key in (*redpitaya.KNOWN_KEYS[:13], "emulate"):  # the SCPI-only keys are in the README
        assert f"    {key} : " in doc


# ---------------------------------------------------------------------------------------------
# the worker function with a real ring buffer (no Run needed)
# ---------------------------------------------------------------------------------------------


def waveform_thread(config: dict, **kw) -> WorkerThread:
    """``redpitaya.waveform`` in a thread, writing into an 8-slot buffer read here."""
    return WorkerThread(redpitaya.waveform, config, **{"slot_count": 8, **kw})


def test_worker_writes_events_until_stopped(server):
    config = {**GOOD, "port": server.port, "timeout": 2.0, "set_size": 5}
    with waveform_thread(config) as h:
        events = h.take(12)
        assert len(events) == 12
        h.stop_flag.set()
        rest = h.drain()
        h.thread.join(timeout=5)
        assert not h.thread.is_alive() and h.error is None
    counters = [int(m["counter"][0]) for m, _ in events + rest]
    assert counters == list(range(len(counters)))
    for _, data in events:
        assert data.dtype.names == ("IN1", "IN2")
        assert data["IN1"][99] < 500 <= data["IN1"][100]
    text = h.messages()
    assert "connected to Red Pitaya at 127.0.0.1" in text and "board dead time" in text
    assert server.captures >= 12


def test_worker_single_channel_negated_and_auto_mode(server):
    """IN1 only, negated, level out of reach in 'auto' mode: forced triggers keep events coming."""
    config = {
        **GOOD,
        "port": server.port,
        "negator_IN1": True,
        "trigger_level": -8000,
        "trigger_slope": "falling",
        "trigger_mode": "auto",
        "auto_trigger_interval": 0.02,
        "set_size": 3,
        "transfer": "ascii",
    }
    with waveform_thread(config, data_length=300, fields=("IN1",)) as h:
        events = h.take(4)
    assert len(events) == 4
    assert events[0][1].dtype.names == ("IN1",)
    assert "forced (auto)" in h.messages()


def test_worker_bad_config_ends_cleanly(server):
    config = {**GOOD, "port": server.port, "sample_rate": 5}
    with waveform_thread(config) as h:
        assert h.drain(timeout=5) == []  # end of stream, nothing written
        h.thread.join(timeout=5)
    assert isinstance(h.error, redpitaya.RedPitayaConfigError)
    assert "sample_rate" in str(h.error) and "1, 2, 4, 8" in str(h.error)


# ---------------------------------------------------------------------------------------------
# what Red Pitaya's own Python client (redpitaya_scpi.scpi) sends in its acquisition examples
# ---------------------------------------------------------------------------------------------


class _VendorLikeClient:
    """The calls of ``redpitaya_scpi.scpi``: tx_txt / rx_txt over a socket, ``check_error`` = *STB? then SYST:ERR:NEXT?."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=3)
        self.buf = b""

    def tx_txt(self, msg: str) -> None:
        self.sock.sendall(msg.encode() + b"\r\n")

    def rx_txt(self) -> str:
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            assert chunk, "connection closed"
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\r\n")
        return line.decode()

    def txrx_txt(self, msg: str) -> str:
        self.tx_txt(msg)
        return self.rx_txt()

    def check_error(self) -> list[str]:
        errors = []
        if int(self.txrx_txt("*STB?")) & 0x4:
            while True:
                err = self.txrx_txt("SYST:ERR:NEXT?")
                if err.startswith("0,"):
                    break
                errors.append(err)
        return errors

    def close(self) -> None:
        self.sock.close()


def test_vendor_client_status_byte_and_error_queue(server):
    c = _VendorLikeClient(server.port)
    try:
        c.tx_txt("ACQ:DEC 4")
        assert c.check_error() == []
        c.tx_txt("ACQ:DEC 3")  # not a decimation
        c.tx_txt("ACQ:BOGUS")
        assert c.check_error() == ['-224,"Illegal parameter value"', '-113,"Undefined header"']
        assert c.txrx_txt("*STB?") == "0"  # the queue is empty again
    finally:
        c.close()


def test_vendor_client_buffer_size_delay_and_old_latest_reads(server):
    c = _VendorLikeClient(server.port)
    try:
        assert c.txrx_txt("ACQ:BUF:SIZE?") == str(BUFFER_SIZE)
        c.tx_txt("ACQ:DEC 8")
        c.tx_txt("ACQ:TRIG:DLY:NS 6400")  # 6400 ns at 64 ns per sample = 100 samples
        assert c.txrx_txt("ACQ:TRIG:DLY?") == "100"
        assert c.txrx_txt("ACQ:TRIG:DLY:NS?") == "6400"
        c.tx_txt("ACQ:DATA:UNITS RAW")
        c.tx_txt("ACQ:TRIG:LEV 0.05")
        c.tx_txt("ACQ:START")
        c.tx_txt("ACQ:TRIG CH1_PE")
        deadline = time.monotonic() + 5
        while c.txrx_txt("ACQ:TRIG:STAT?") != "TD" and time.monotonic() < deadline:
            time.sleep(0.005)
        while c.txrx_txt("ACQ:TRIG:FILL?") != "1" and time.monotonic() < deadline:
            time.sleep(0.005)
        wpos = int(c.txrx_txt("ACQ:WPOS?"))
        full = np.array(
            c.txrx_txt(f"ACQ:SOUR1:DATA:STA:N? 0,{BUFFER_SIZE}").strip("{}").split(","), dtype=int
        )
        old = np.array(c.txrx_txt("ACQ:SOUR1:DATA:OLD:N? 300").strip("{}").split(","), dtype=int)
        latest = np.array(c.txrx_txt("ACQ:SOUR1:DATA:LAT:N? 300").strip("{}").split(","), dtype=int)
        assert c.check_error() == []
    finally:
        c.close()
    ring = np.roll(full, -(wpos + 1))  # oldest first: the sample after the write pointer
    assert np.array_equal(old, ring[:300])
    assert np.array_equal(latest, ring[-300:])
