"""Client of the lab boards' acquisition server (``daq-server.c``, MCPHA + daq mode, TCP port 1001).

The wire protocol (see ``rp_daq_server`` for the full table): every command is one little-endian
64-bit word ``code << 56 | channel << 52 | value`` (value masked to 52 bits, negative values in
two's complement, as mimoCoRB2's ``rpControll.command`` sends them). Replies: status (code 11)
36 bytes, histogram (12) 4096 x uint32, oscilloscope (20) and every daq trace (31 N: N traces,
back to back) ``tot`` x (int16 IN1, int16 IN2), all little-endian.

Invariants this client keeps:

- ``CUT_OFF`` (100) samples more than asked for are requested per trace and dropped, as
  mimoCoRB2 does. The server's daq thread sends a trace the moment the scope reports it
  recorded, with no wait for the FPGA's RAM writer to have stored the last samples, so the end of
  each trace can be stale; ``daq-server.c`` is unchanged in that respect, so the work-around
  stays needed.
- Trace requests are kept in flight: two requests of ``set_size`` traces are outstanding, and
  the next is sent when one set is complete, so the board never waits for a request.
- A board that cannot be reached, stays silent for ``timeout`` seconds or closes the connection
  (even in the middle of a trace) raises ``RedPitayaError`` with the board's address; traces
  received before are unaffected, a partial trace is never returned.
"""

from __future__ import annotations

import socket
import struct
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mimocorb_gui.functions.importers.rp_scpi import (
    RedPitayaConnectionError,
    RedPitayaTimeout,
)

__all__ = [
    "CUT_OFF",
    "DAQ_PORT",
    "DISTRIBUTIONS",
    "GeneratorSettings",
    "HIST_BINS",
    "INPUTS",
    "MAXIMUM_SAMPLES",
    "MAX_ADC_VALUE",
    "MIN_ADC_VALUE",
    "RedPitayaDaq",
    "SAMPLE_RATES",
    "TRIGGER_MODES",
    "TRIGGER_SLOPES",
    "TraceSettings",
    "check_generator",
    "parse_generator",
    "trace_settings",
]

DAQ_PORT = 1001
SAMPLE_RATES = (1, 4, 8, 16, 32, 54, 128, 256)
INPUTS = {"IN1": 0, "IN2": 1}
TRIGGER_SLOPES = {"rising": 0, "falling": 1}
TRIGGER_MODES = {"normal": 0, "auto": 1}
DISTRIBUTIONS = {"uniform": 0, "poisson": 1}
MAXIMUM_SAMPLES = 8388607  # 0x7FFFFF: the server's ring of (IN1, IN2) pairs in DDR
MIN_ADC_VALUE, MAX_ADC_VALUE = -4096, 4095
CUT_OFF = 100
HIST_BINS = 4096
STATUS_BYTES = 36
VALUE_MASK = 0xFFFFFFFFFFFFF
CLOCK_HZ = 125e6


@dataclass(frozen=True)
class TraceSettings:
    sample_rate: int
    trigger_level: int
    pre_trigger: int
    n_samples: int
    trigger_source: str = "IN1"
    trigger_slope: str = "rising"
    trigger_mode: str = "normal"
    negate: tuple[bool, bool] = (False, False)


@dataclass(frozen=True)
class GeneratorSettings:
    """The pulser (codes 21-30): OUT1, to be cabled to IN1."""

    rate: int = 1000
    distribution: str = "poisson"
    rise_time: int = 50  # ns half-life (0..100)
    fall_time: int = 50  # us half-life (0..100)
    lower_limit: int = -8192
    upper_limit: int = 8191
    spectrum: tuple[int, ...] = field(default_factory=tuple)  # 4096 bins
    keep_pulsing: bool = False


def _generator_problems(g: Any, where: str) -> list[str]:
    out: list[str] = []
    if not isinstance(g, Mapping):
        return [f"{where}: {g!r} is not a mapping (keys: rate, distribution, rise_time, fall_time, spectrum)"]
    known = (
        "rate",
        "distribution",
        "rise_time",
        "fall_time",
        "lower_limit",
        "upper_limit",
        "spectrum",
        "keep_pulsing",
    )
    for k in g:
        if k not in known:
            out.append(f"{where}.{k}: unknown key (valid: {', '.join(known)})")

    def is_int(v: Any) -> bool:
        return isinstance(v, int | np.integer) and not isinstance(v, bool)

    if "rate" in g and (not is_int(g["rate"]) or not 1 <= g["rate"] <= 0xFFFFFFFF):
        out.append(f"{where}.rate: {g['rate']!r} is not a positive integer (pulses per second)")
    if "distribution" in g and g["distribution"] not in DISTRIBUTIONS:
        out.append(f"{where}.distribution: {g['distribution']!r} not allowed (valid: uniform, poisson)")
    for k in ("rise_time", "fall_time"):
        if k in g and (not is_int(g[k]) or not 0 <= g[k] <= 100):
            unit = "ns" if k == "rise_time" else "us"
            out.append(f"{where}.{k}: {g[k]!r} is not an integer 0..100 ({unit}; the server ignores others)")
    for k in ("lower_limit", "upper_limit"):
        if k in g and (not is_int(g[k]) or not -8192 <= g[k] <= 8191):
            out.append(f"{where}.{k}: {g[k]!r} is not an integer -8192..8191 (DAC counts)")
    if "keep_pulsing" in g and not isinstance(g["keep_pulsing"], bool):
        out.append(f"{where}.keep_pulsing: {g['keep_pulsing']!r} not allowed (valid: true, false)")
    spec = g.get("spectrum")
    if spec is None:
        out.append(f"{where}.spectrum: is required (4096 counts, a list or a .npy/.txt/.hst file of them)")
    elif not isinstance(spec, str | list | tuple):
        out.append(f"{where}.spectrum: {spec!r} is neither a file name nor a list of 4096 counts")
    return out


def check_generator(g: Any, where: str = "generator", folder: str | None = None) -> list[str]:
    """Problems of a ``generator:`` config (with the spectrum file read when it is a file name)."""
    problems = _generator_problems(g, where)
    if not problems:
        try:
            parse_generator(g, folder)
        except (OSError, ValueError) as e:
            problems.append(f"{where}.spectrum: {e}")
    return problems


def _load_spectrum(spec: Any, folder: str | None) -> np.ndarray:
    if isinstance(spec, str):
        from pathlib import Path

        path = Path(spec)
        if not path.is_absolute() and folder is not None:
            path = Path(folder) / path
        if not path.exists():
            raise ValueError(f"file {str(path)!r} not found")
        values = np.load(path) if path.suffix == ".npy" else np.loadtxt(path)
    else:
        values = np.asarray(spec)
    values = np.asarray(values, dtype=np.float64).ravel()
    if values.size != HIST_BINS:
        raise ValueError(f"{values.size} bins; the pulser takes exactly {HIST_BINS}")
    if (values < 0).any() or not np.isfinite(values).all() or (values > 0xFFFFFFFF).any():
        raise ValueError("counts must be finite and 0..4294967295")
    if values.sum() < 1:
        raise ValueError("all bins are empty: the server does not start the pulser then")
    return np.round(values).astype(np.uint64)


def parse_generator(g: Mapping[str, Any], folder: str | None = None) -> GeneratorSettings:
    spectrum = _load_spectrum(g.get("spectrum"), folder)
    return GeneratorSettings(
        rate=int(g.get("rate", 1000)),
        distribution=str(g.get("distribution", "poisson")),
        rise_time=int(g.get("rise_time", 50)),
        fall_time=int(g.get("fall_time", 50)),
        lower_limit=int(g.get("lower_limit", -8192)),
        upper_limit=int(g.get("upper_limit", 8191)),
        spectrum=tuple(int(x) for x in spectrum),
        keep_pulsing=bool(g.get("keep_pulsing", False)),
    )


class RedPitayaDaq:
    """One connection to a daq server; ``with RedPitayaDaq(ip) as rp: rp.configure(...)``."""

    def __init__(self, host: str, port: int = DAQ_PORT, timeout: float = 5.0) -> None:
        self.host = host
        self.port = port
        self.timeout = timeout
        self.sock: socket.socket | None = None
        self.requested = 0  # traces asked for with code 31
        self.received = 0  # complete traces received
        self.receive_seconds = 0.0

    @property
    def where(self) -> str:
        return f"Red Pitaya daq server at {self.host}:{self.port}"

    def open(self) -> RedPitayaDaq:
        try:
            sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        except TimeoutError:
            raise RedPitayaTimeout(
                f"{self.where}: no answer to the connection within {self.timeout:g} s"
            ) from None
        except OSError as e:
            raise RedPitayaConnectionError(f"cannot reach the {self.where}: {e.strerror or e}") from None
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.settimeout(0.2)
        self.sock = sock
        return self

    def close(self) -> None:
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass
            self.sock = None

    def __enter__(self) -> RedPitayaDaq:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- commands ----------------------------------------------------------------------------
    def command(self, code: int, channel: int = 0, value: int = 0) -> None:
        if self.sock is None:
            raise RedPitayaConnectionError(f"{self.where}: not connected")
        word = struct.pack("<Q", code << 56 | channel << 52 | (int(value) & VALUE_MASK))
        try:
            self.sock.sendall(word)
        except OSError as e:
            raise RedPitayaConnectionError(f"{self.where}: connection lost ({e})") from None

    def configure(self, s: TraceSettings) -> None:
        """Scope settings, in the order mimoCoRB2 sends them; then reset and start the scope."""
        self.command(4, 0, s.sample_rate)
        self.command(5, 0, int(s.negate[0]))
        self.command(5, 1, int(s.negate[1]))
        self.command(14, 0, TRIGGER_SLOPES[s.trigger_slope])
        self.command(15, 0, TRIGGER_MODES[s.trigger_mode])
        self.command(16, 0, s.trigger_level)
        self.command(17, 0, s.pre_trigger)
        self.command(13, INPUTS[s.trigger_source], 0)
        self.command(18, 0, s.n_samples + CUT_OFF)
        self.command(2)
        self.command(19)

    def start_generator(self, g: GeneratorSettings) -> None:
        self.command(21, 0, g.fall_time)
        self.command(22, 0, g.rise_time)
        self.command(23, 0, g.lower_limit)
        self.command(24, 0, g.upper_limit)
        self.command(25, 0, g.rate)
        self.command(26, 0, DISTRIBUTIONS[g.distribution])
        self.command(27)
        words = [
            struct.pack("<Q", 28 << 56 | ((i << 32 | int(n)) & VALUE_MASK))
            for i, n in enumerate(g.spectrum)
            if n
        ]
        self._send_all(b"".join(words))
        self.command(29, 0, int(g.keep_pulsing))

    def stop_generator(self) -> None:
        self.command(30)

    def _send_all(self, payload: bytes) -> None:
        assert self.sock is not None
        try:
            self.sock.sendall(payload)
        except OSError as e:
            raise RedPitayaConnectionError(f"{self.where}: connection lost ({e})") from None

    # -- replies -----------------------------------------------------------------------------
    def _receive(self, view: memoryview, what: str, stop: Callable[[], bool] | None) -> bool:
        """Fill ``view``; False if ``stop()`` became true first. Raises on silence or a closed connection."""
        assert self.sock is not None
        got, n = 0, len(view)
        silent_since = time.monotonic()
        while got < n:
            try:
                k = self.sock.recv_into(view[got:], n - got)
            except TimeoutError:
                if stop is not None and stop():
                    return False
                if time.monotonic() - silent_since > self.timeout:
                    raise RedPitayaTimeout(
                        f"{self.where} sent nothing for {self.timeout:g} s while {what} "
                        f"({got} of {n} bytes; {self.received} traces received before, all kept)"
                    ) from None
                continue
            except OSError as e:
                raise RedPitayaConnectionError(f"{self.where}: connection lost while {what} ({e})") from None
            if k == 0:
                raise RedPitayaConnectionError(
                    f"{self.where} closed the connection while {what} ({got} of {n} bytes; "
                    f"{self.received} traces received before, all kept)"
                )
            got += k
            silent_since = time.monotonic()
        return True

    def status(self) -> dict[str, Any]:
        """Code 11: the PHA timers (s) and the scope word."""
        self.command(11)
        raw = bytearray(STATUS_BYTES)
        self._receive(memoryview(raw), "reading the status", None)
        words = np.frombuffer(bytes(raw), dtype="<u4")
        timers = words[:8].view("<u8")
        return {
            "timer_ticks": (int(timers[0]), int(timers[1])),
            "timers": (timers[0] / CLOCK_HZ, timers[1] / CLOCK_HZ),
            "scope_busy": bool(words[8] & 1),
            "trigger_address": int(words[8] >> 1),
        }

    def histogram(self, channel: int) -> np.ndarray:
        """Code 12: the FPGA histogram of ``channel`` (4096 uint32)."""
        self.command(12, channel)
        out = np.empty(HIST_BINS, dtype="<u4")
        self._receive(memoryview(out).cast("B"), f"reading histogram {channel + 1}", None)
        return out

    def traces(
        self,
        n_samples: int,
        set_size: int,
        stop: Callable[[], bool] | None = None,
        max_traces: int | None = None,
    ) -> Iterator[np.ndarray]:
        """Triggered traces as ``(n_samples, 2)`` int16 (IN1, IN2), two requests of ``set_size`` in flight.

        Each yielded array is a view into a buffer reused for the next trace: copy what you keep.
        Ends when ``stop()`` is true (the traces in flight are not waited for) or after ``max_traces``.
        """
        per_trace = (n_samples + CUT_OFF) * 4
        buf = np.empty((n_samples + CUT_OFF, 2), dtype="<i2")
        view = memoryview(buf).cast("B")
        in_flight = 0
        requested = 0
        done = 0
        while max_traces is None or done < max_traces:
            while in_flight <= set_size and (max_traces is None or requested < max_traces):
                k = set_size if max_traces is None else min(set_size, max_traces - requested)
                self.command(31, 0, k)
                self.requested += k
                requested += k
                in_flight += k
            if stop is not None and stop():
                return
            t0 = time.monotonic()
            if not self._receive(view[:per_trace], f"receiving trace {done + 1}", stop):
                return
            self.receive_seconds += time.monotonic() - t0
            in_flight -= 1
            done += 1
            self.received += 1
            yield buf[:n_samples]


def trace_settings(config: Mapping[str, Any], n_samples: int) -> TraceSettings:
    return TraceSettings(
        sample_rate=int(config["sample_rate"]),
        trigger_level=int(config["trigger_level"]),
        pre_trigger=int(config["number_of_samples_before_trigger"]),
        n_samples=n_samples,
        trigger_source=str(config.get("trigger_source", "IN1")),
        trigger_slope=str(config.get("trigger_slope", "rising")),
        trigger_mode=str(config.get("trigger_mode", "normal")),
        negate=(bool(config.get("negator_IN1", False)), bool(config.get("negator_IN2", False))),
    )
