"""Emulator of the Red Pitaya SCPI acquisition server (STEMlab 125-14), for tests and demos without hardware.

Speaks the subset of the official ``scpi-server`` that the ``redpitaya`` importer uses, over TCP
with ``\\r\\n`` terminations, the way the board does:

- headers are case-insensitive and accept the short or the long form of every keyword
  (``ACQ:TRig`` matches ``ACQ:TR`` and ``acq:trig``), ``#`` suffixes select the channel
  (``ACQ:SOUR2:...``), ``;`` separates several commands in one message;
- an unknown header or a bad parameter pushes an entry onto the error queue and sends nothing
  (a query then gets no answer, as on the board); ``SYST:ERR?`` pops ``-113,"Undefined header"``
  and answers ``0,"No error"`` when the queue is empty;
- a 16384-sample circular buffer per input; ``ACQ:START`` arms one capture (it must be sent again
  for every capture), ``ACQ:TRig <source>`` selects the trigger, ``ACQ:TRig:STAT?`` answers ``TD``
  once triggered, ``ACQ:TRig:FILL?`` ``1`` once the ``8192 + ACQ:TRig:DLY`` samples after the
  trigger are written, ``ACQ:TPOS?`` is the write pointer at the trigger;
- ``ACQ:SOUR<n>:DATA:STArt:N? <start>,<n>`` reads a window of the circular buffer, as raw ADC
  counts (``ACQ:DATA:Units RAW``) or volts, as ASCII ``{v,v,...}`` or (``ACQ:DATA:FORMAT BIN``)
  an IEEE-488.2 block ``#<n><len><bytes>`` of big-endian int16 (little-endian after
  ``ACQ:DATA:BYTE:ORDER LEND``).

The signal: each input carries a Poisson train of detector pulses (double exponential, rise
20 ns, decay 1 us by default) whose heights follow a Cs-137 gamma spectrum (photopeak at 662 keV,
Compton continuum up to the 477 keV edge, backscatter peak and Ba X-rays), plus Gaussian noise.
Times are real: the sample period is ``8 ns * decimation`` (so decimation changes the time scale
of the pulses), triggers arrive at the configured rate, filling the post-trigger part of the
buffer takes its real time. ``ACQ:AVG ON`` (the default) averages the 125 MS/s signal over
each decimated sample, as the FPGA does.

The trigger honours the source, level (``ACQ:TRig:LEV`` volts; raw counts = volts / full scale *
8192, full scale 1 V for the LV jumper, 20 V for HV), slope and delay: the sample at ``TPOS`` is
the first one at/after the level crossing in the given direction, the ``8192 - DLY`` samples
before it are pre-trigger samples.

Fault injection for tests: ``stall_after=N`` (the board stops answering when the (N+1)-th capture
is armed; the connection stays open), ``close_after=N`` (the connection is closed then), and at
any time ``server.stall()``, ``server.resume()``, ``server.drop_connections()``.

Run it stand-alone with ``python -m mimocorb_gui.functions.importers.rp_emulator --port 5000``
(``mimocorb rp-emulator``), or in tests::

    with EmulatorServer(rate=2000, seed=1) as server:
        scope = RedPitayaScope("127.0.0.1", port=server.port)
"""

from __future__ import annotations

import argparse
import logging
import math
import re
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from mimocorb_gui.functions.simulators import sample_gamma_energies

__all__ = ["BUFFER_SIZE", "EmulatorServer", "SignalModel", "main"]

log = logging.getLogger("mimocorb.rp_emulator")

BUFFER_SIZE = 16384
ADC_MIN, ADC_MAX = -8192, 8191
BASE_SAMPLE_PERIOD = 8e-9  # 125 MS/s
DECIMATIONS = tuple(2**k for k in range(17))  # 1, 2, 4, ... 65536
FULL_SCALE_V = {"LV": 1.0, "HV": 20.0}
IDN = "REDPITAYA,INSTR2014,EMULATOR,mimocorb_gui"
TRIGGER_SOURCES = ("DISABLED", "NOW", "CH1_PE", "CH1_NE", "CH2_PE", "CH2_NE", "EXT_PE", "EXT_NE")
ERROR_QUEUE_LENGTH = 16

# SCPI error codes (IEEE 488.2 / SCPI-99), as scpi-parser reports them
E_COMMAND = (-100, "Command error")
E_MISSING_PARAMETER = (-109, "Missing parameter")
E_UNDEFINED_HEADER = (-113, "Undefined header")
E_ILLEGAL_PARAMETER = (-224, "Illegal parameter value")
E_QUEUE_OVERFLOW = (-350, "Queue overflow")


# ----------------------------------------------------------------------------------------------
# signal model
# ----------------------------------------------------------------------------------------------


@dataclass
class SignalModel:
    """What the emulated inputs see; counts are raw ADC counts with the LV jumper."""

    rate: tuple[float, float] = (1000.0, 1000.0)  # pulses/s on IN1, IN2
    polarity: tuple[int, int] = (1, 1)  # +1 positive pulses, -1 negative (PMT anode)
    counts_per_kev: float = 7.0  # 662 keV -> ~4630 counts (0.57 V)
    noise: float = 3.0  # Gaussian noise, counts rms
    baseline: float = 0.0  # counts
    tau_rise: float = 20e-9  # s
    tau_fall: float = 1e-6  # s
    energy_sampler: Callable[[np.random.Generator, int], np.ndarray] | None = None

    def shape(self, t: np.ndarray, dt: float, averaging: bool) -> np.ndarray:
        """Pulse of unit height at times ``t`` (s after onset); mean over ``[t, t+dt)`` if ``averaging``."""
        tr, tf = self.tau_rise, self.tau_fall
        t_peak = tr * tf / (tf - tr) * math.log(tf / tr)
        norm = math.exp(-t_peak / tf) - math.exp(-t_peak / tr)
        if not averaging or dt <= BASE_SAMPLE_PERIOD:
            tc = np.maximum(t, 0.0)
            return np.where(t >= 0, (np.exp(-tc / tf) - np.exp(-tc / tr)) / norm, 0.0)
        a = np.maximum(t, 0.0)
        b = np.maximum(t + dt, 0.0)
        integral = tf * (np.exp(-a / tf) - np.exp(-b / tf)) - tr * (np.exp(-a / tr) - np.exp(-b / tr))
        return integral / (dt * norm)

    def pulse_samples(self, dt: float) -> int:
        """How many samples a pulse lasts before it has decayed below 1e-4 of its height."""
        return int(min(BUFFER_SIZE, math.ceil((self.tau_rise * 5 + self.tau_fall * 9.3) / dt) + 2))


# ----------------------------------------------------------------------------------------------
# SCPI header patterns
# ----------------------------------------------------------------------------------------------


@dataclass
class _Node:
    short: str
    long: str
    numeric: bool = False
    optional: bool = False

    def match(self, word: str) -> tuple[bool, int | None]:
        num = None
        if self.numeric:
            m = re.fullmatch(r"([A-Za-z_*]+)(\d*)", word)
            if not m:
                return False, None
            word, digits = m.group(1), m.group(2)
            num = int(digits) if digits else 1
        w = word.upper()
        return (w == self.short or w == self.long), num


def _compile(pattern: str) -> tuple[list[_Node], bool]:
    query = pattern.endswith("?")
    body = pattern[:-1] if query else pattern
    nodes: list[_Node] = []
    for part in re.findall(r"\[:[^\]]+\]|[^:\[\]]+", body):
        optional = part.startswith("[")
        word = part.strip("[]:")
        numeric = word.endswith("#")
        word = word.rstrip("#")
        short = "".join(c for c in word if c.isupper() or c.isdigit() or c in "*_")
        nodes.append(
            _Node(short=short or word.upper(), long=word.upper(), numeric=numeric, optional=optional)
        )
    return nodes, query


def _match(nodes: list[_Node], words: list[str]) -> tuple[bool, list[int]]:
    nums: list[int] = []

    def rec(i: int, j: int) -> bool:
        if i == len(nodes):
            return j == len(words)
        node = nodes[i]
        if j < len(words):
            ok, num = node.match(words[j])
            if ok:
                if num is not None:
                    nums.append(num)
                if rec(i + 1, j + 1):
                    return True
                if num is not None:
                    nums.pop()
        return node.optional and rec(i + 1, j)

    return rec(0, 0), nums


class _ScpiError(Exception):
    def __init__(self, code: tuple[int, str], detail: str = "") -> None:
        super().__init__(code[1])
        self.code = code
        self.detail = detail


# ----------------------------------------------------------------------------------------------
# the board
# ----------------------------------------------------------------------------------------------


@dataclass
class _Capture:
    armed_at: float
    source: str
    trigger_time: float = math.inf  # wall clock (time.monotonic)
    tpos: int = 0
    pulse: tuple[float, float] | None = None  # (height in counts, sub-sample phase) of the triggering pulse
    data: np.ndarray | None = None  # (2, BUFFER_SIZE) int16, circular buffer contents


@dataclass
class _BoardState:
    decimation: int = 1
    averaging: bool = True
    trigger_source: str = "DISABLED"
    trigger_level_v: float = 0.0
    trigger_delay: int = 0
    hysteresis_v: float = 0.0
    gain: list[str] = field(default_factory=lambda: ["LV", "LV"])
    running: bool = False
    write_pointer: int = 0
    capture: _Capture | None = None


class _Board:
    """The acquisition hardware: settings, the trigger process and the circular buffers."""

    NOISE_TRIGGER_SIGMAS = 5.0  # a level closer than this to the baseline is crossed by the noise itself

    def __init__(self, model: SignalModel, seed: int | None) -> None:
        self.model = model
        self.rng = np.random.default_rng(seed)
        self.sampler = model.energy_sampler or sample_gamma_energies  # Cs-137, as the simulator
        self.state = _BoardState(write_pointer=int(self.rng.integers(BUFFER_SIZE)))
        self.lock = threading.RLock()
        # a bank of Gaussian noise (with the baseline), sliced at random offsets: keeps the emulator fast
        self._noise = np.round(self.rng.normal(model.baseline, model.noise, 1 << 20))

    # -- settings --------------------------------------------------------------------------
    def reset(self) -> None:
        with self.lock:
            self.state = _BoardState(write_pointer=self.state.write_pointer)

    @property
    def dt(self) -> float:
        return BASE_SAMPLE_PERIOD * self.state.decimation

    def level_counts(self, channel: int) -> float:
        """The trigger level as the comparator sees it: whole ADC counts."""
        return float(round(self.state.trigger_level_v / FULL_SCALE_V[self.state.gain[channel]] * 8192.0))

    def scale(self, channel: int) -> float:
        """Counts per LV-count: 1 with the LV jumper, 1/20 with HV."""
        return FULL_SCALE_V["LV"] / FULL_SCALE_V[self.state.gain[channel]]

    # -- acquisition -----------------------------------------------------------------------
    def start(self) -> None:
        """``ACQ:START``: a new capture; armed now if a trigger source is set, else at ``ACQ:TRig``."""
        with self.lock:
            st = self.state
            self._finish()
            st.running = True
            st.capture = None
            if st.trigger_source != "DISABLED":
                self._arm(st.trigger_source)

    def stop(self) -> None:
        with self.lock:
            self._finish()
            self.state.running = False
            cap = self.state.capture
            if cap is not None and time.monotonic() < cap.trigger_time:
                self.state.capture = None

    def set_trigger(self, source: str) -> None:
        with self.lock:
            st = self.state
            pending = st.capture is not None and time.monotonic() < st.capture.trigger_time
            st.trigger_source = source
            if source == "DISABLED":
                if pending:
                    st.capture = None
            elif st.running and (st.capture is None or pending):
                self._arm(source)

    def _finish(self) -> None:
        """Advance the write pointer past a finished capture."""
        cap = self.state.capture
        if cap is not None and math.isfinite(cap.trigger_time) and time.monotonic() >= cap.trigger_time:
            self.state.write_pointer = (cap.tpos + BUFFER_SIZE // 2 + self.state.trigger_delay) % BUFFER_SIZE

    def _arm(self, source: str) -> None:
        st = self.state
        now = time.monotonic()
        cap = _Capture(armed_at=now, source=source)
        prefill = (
            BUFFER_SIZE // 2 - st.trigger_delay
        ) * self.dt  # triggers count once the pre-trigger part is full
        if source == "NOW":
            wait = 0.0
        elif source.startswith("EXT"):
            wait = float(self.rng.exponential(1.0 / max(self.model.rate[0], 1e-12))) + prefill
        else:
            w, cap.pulse = self._trigger_wait(int(source[2]) - 1, source.endswith("PE"))
            wait = w + prefill
        cap.trigger_time = now + wait
        if math.isfinite(wait):
            cap.tpos = int((st.write_pointer + round(wait / self.dt)) % BUFFER_SIZE)
        st.capture = cap

    def _trigger_wait(self, ch: int, rising: bool) -> tuple[float, tuple[float, float] | None]:
        """Seconds until a pulse on ``ch`` crosses the level with the slope (inf: never), and that pulse."""
        m = self.model
        level = self.level_counts(ch)
        rate = max(m.rate[ch], 1e-12)
        if abs(level - m.baseline) < self.NOISE_TRIGGER_SIGMAS * m.noise + 1:
            return float(self.rng.exponential(1e-6)), None  # the noise itself crosses the level
        n_drawn = 0
        for batch in (64, 256, 1024, *(4096,) * 16):
            heights = self._heights(ch, batch)
            for idx in np.flatnonzero(self._may_cross(heights, level)):
                phase = float(self.rng.uniform())
                w = np.round(
                    self._pulse(float(heights[idx]), phase, self.model.pulse_samples(self.dt)) + m.baseline
                )
                if _first_crossing(np.concatenate([[m.baseline], w]), level, rising) is not None:
                    n_drawn += int(idx) + 1
                    return float(self.rng.gamma(n_drawn, 1.0 / rate)), (float(heights[idx]), phase)
            n_drawn += heights.size
        return math.inf, None

    def _heights(self, ch: int, n: int) -> np.ndarray:
        m = self.model
        e = self.sampler(self.rng, n)
        return m.polarity[ch] * e * m.counts_per_kev * self.scale(ch)

    def _may_cross(self, heights: np.ndarray, level: float) -> np.ndarray:
        b = self.model.baseline
        return ((level > b) & (heights + b >= level)) | ((level < b) & (heights + b <= level))

    def _pulse(self, height: float, phase: float, n: int) -> np.ndarray:
        """Samples 0..n-1 of a pulse whose onset lies ``phase`` sample periods before sample 0."""
        t = (np.arange(n) + phase) * self.dt
        return height * self.model.shape(t, self.dt, self.state.averaging)

    def _noise_slice(self, n: int) -> np.ndarray:
        start = int(self.rng.integers(0, self._noise.size - n))
        return self._noise[start : start + n].copy()

    def _add_random_pulses(self, lin: np.ndarray, ch: int, first: int) -> None:
        """Poisson pulses of channel ``ch`` with onsets in ``lin[first:]``."""
        span = lin.size - first
        expected = self.model.rate[ch] * span * self.dt
        k = int(self.rng.poisson(expected)) if expected > 0 else 0
        if k == 0:
            return
        heights = self._heights(ch, k)
        onsets = self.rng.uniform(first, lin.size, size=k)
        n = self.model.pulse_samples(self.dt)
        if k <= 8:
            for h, onset in zip(heights, onsets, strict=True):
                i0 = int(onset)
                seg = lin[i0 + 1 : i0 + 1 + n]
                seg += self._pulse(float(h), 1.0 - (onset - i0), n)[: seg.size]
            return
        # many pulses (pile-up): impulses convolved with the pulse shape (onsets rounded to samples)
        impulses = np.zeros(lin.size)
        np.add.at(impulses, onsets.astype(np.intp), heights)
        kernel = self._pulse(1.0, 0.5, min(n, lin.size))
        size = 1 << int(np.ceil(np.log2(lin.size + kernel.size)))
        lin += np.fft.irfft(np.fft.rfft(impulses, size) * np.fft.rfft(kernel, size), size)[: lin.size]

    def _place_trigger_pulse(self, lin: np.ndarray, ch: int, cap: _Capture, pre: int) -> None:
        """Put the triggering pulse into ``lin`` so that its level crossing is sample ``pre``."""
        level = self.level_counts(ch)
        rising = cap.source.endswith("PE")
        j = None
        if cap.pulse is not None:
            n = self.model.pulse_samples(self.dt)
            noise = self._noise_slice(n + 1)
            sig = noise.copy()
            sig[1:] += self._pulse(*cap.pulse, n)
            np.round(sig, out=sig)  # the comparator sees digitised samples
            j = _first_crossing(sig, level, rising)
        if j is None:  # the noise crossed the level (or, rarely, it hid the pulse's crossing): force one
            if pre >= 1:
                lin[pre - 1] = level - 1 if rising else level + 1
            lin[pre] = level
            return
        lo = pre - j
        a, b = max(lo, 0), min(lo + sig.size, lin.size)
        lin[a:b] = sig[a - lo : b - lo]

    def _generate(self, cap: _Capture) -> np.ndarray:
        """Fill the circular buffers of a triggered capture."""
        st = self.state
        pre = BUFFER_SIZE // 2 - st.trigger_delay  # samples before the trigger sample
        lin = [self._noise_slice(BUFFER_SIZE) for _ in range(2)]
        trig_ch = int(cap.source[2]) - 1 if cap.source.startswith("CH") else None
        for ch in range(2):
            if ch == trig_ch:
                self._place_trigger_pulse(lin[ch], ch, cap, pre)
                self._add_random_pulses(lin[ch], ch, pre + 1)
            elif ch == 0 and cap.source.startswith("EXT"):
                n = min(self.model.pulse_samples(self.dt), BUFFER_SIZE - pre)
                lin[0][pre : pre + n] += self._pulse(float(self._heights(0, 1)[0]), 0.0, n)
                self._add_random_pulses(lin[0], 0, pre + 1)
            else:
                self._add_random_pulses(lin[ch], ch, 0)
        data = np.empty((2, BUFFER_SIZE), dtype=np.int16)
        shift = (cap.tpos - pre) % BUFFER_SIZE  # lin[pre], the trigger sample, lands at TPOS
        for ch in range(2):
            np.clip(np.round(lin[ch]), ADC_MIN, ADC_MAX, out=lin[ch])
            data[ch] = np.roll(lin[ch].astype(np.int16), shift)
        return data

    # -- status ----------------------------------------------------------------------------
    def triggered(self) -> bool:
        with self.lock:
            cap = self.state.capture
            if cap is None or time.monotonic() < cap.trigger_time:
                return False
            if self.state.trigger_source == cap.source:
                self.state.trigger_source = "DISABLED"  # the FPGA clears the source when it triggers
            return True

    def filled(self) -> bool:
        with self.lock:
            cap = self.state.capture
            if cap is None:
                return False
            post = (BUFFER_SIZE // 2 + self.state.trigger_delay) * self.dt
            return time.monotonic() >= cap.trigger_time + post

    def tpos(self) -> int:
        with self.lock:
            cap = self.state.capture
            return (
                cap.tpos if cap is not None and math.isfinite(cap.trigger_time) else self.state.write_pointer
            )

    def wpos(self) -> int:
        with self.lock:
            cap = self.state.capture
            if cap is not None and self.triggered():
                post = BUFFER_SIZE // 2 + self.state.trigger_delay
                done = min(post, round((time.monotonic() - cap.trigger_time) / self.dt))
                return (cap.tpos + done) % BUFFER_SIZE
            return self.state.write_pointer

    def buffer(self) -> np.ndarray:
        """The (2, 16384) circular buffer contents."""
        with self.lock:
            cap = self.state.capture
            if cap is None or not self.triggered():
                noise = np.stack([self._noise_slice(BUFFER_SIZE) for _ in range(2)])
                return np.clip(noise, ADC_MIN, ADC_MAX).astype(np.int16)
            if cap.data is None:
                cap.data = self._generate(cap)
            return cap.data


def _first_crossing(sig: np.ndarray, level: float, rising: bool) -> int | None:
    """Index ``j >= 1`` of the first sample at/after a crossing of ``level`` in the given direction."""
    prev, cur = sig[:-1], sig[1:]
    hits = (
        np.flatnonzero((prev < level) & (cur >= level))
        if rising
        else np.flatnonzero((prev > level) & (cur <= level))
    )
    return int(hits[0]) + 1 if hits.size else None


# ----------------------------------------------------------------------------------------------
# one client connection
# ----------------------------------------------------------------------------------------------


class _Session:
    """Per-connection SCPI context: data format, units, byte order and the error queue."""

    def __init__(self, server: EmulatorServer, conn: socket.socket) -> None:
        self.server = server
        self.board = server.board
        self.conn = conn
        self.binary = False
        self.units = "VOLTS"
        self.big_endian = True
        self.errors: deque[tuple[int, str]] = deque()
        self.commands = self._command_table()
        self._dispatch: dict[tuple[str, ...], tuple[Callable, list[int]]] = {}

    # -- plumbing --------------------------------------------------------------------------
    def push_error(self, code: tuple[int, str]) -> None:
        if len(self.errors) >= ERROR_QUEUE_LENGTH:
            self.errors[-1] = E_QUEUE_OVERFLOW
        else:
            self.errors.append(code)

    def serve(self) -> None:
        buf = bytearray()
        conn = self.conn
        try:
            while not self.server._stopping.is_set():
                try:
                    chunk = conn.recv(65536)
                except TimeoutError:
                    continue
                except OSError:
                    break
                if not chunk:
                    break
                buf += chunk
                while True:
                    nl = buf.find(b"\n")
                    if nl < 0:
                        break
                    line = bytes(buf[:nl]).rstrip(b"\r").decode("ascii", errors="replace")
                    del buf[: nl + 1]
                    if not self.handle_line(line):
                        return
        finally:
            try:
                conn.close()
            except OSError:
                pass

    def handle_line(self, line: str) -> bool:
        """Execute one message; False when the connection is to be closed."""
        srv = self.server
        if srv._stalled.is_set():
            return True  # a board that stopped answering: swallows everything
        srv._record(line)
        outputs: list[bytes] = []
        path: list[str] = []
        for segment in _split_commands(line):
            segment = segment.strip()
            if not segment:
                continue
            header, _, params = segment.partition(" ")
            if header.startswith(":"):
                words = header[1:].split(":")
            elif header.startswith("*") or not path:
                words = header.split(":")
            else:
                words = path + header.split(":")
            if not header.startswith("*"):
                path = words[:-1]
            if _is_start(words):
                fault = srv._capture_started()
                if fault == "stall":
                    return True
                if fault == "close":
                    return False
            try:
                out = self.execute(words, [p.strip() for p in params.split(",")] if params.strip() else [])
            except _ScpiError as e:
                self.push_error(e.code)
                log.debug("SCPI error %s for %r %s", e.code, segment, e.detail)
                continue
            if out is not None:
                outputs.append(out)
        if outputs:
            try:
                self.conn.sendall(b";".join(outputs) + b"\r\n")
            except OSError:
                return False
        return True

    def execute(self, words: list[str], params: list[str]) -> bytes | None:
        key = tuple(w.upper() for w in words)
        hit = self._dispatch.get(key)
        if hit is None:
            query = bool(words) and words[-1].endswith("?")
            if query:
                words = words[:-1] + [words[-1][:-1]]
            for nodes, is_query, handler in self.commands:
                if is_query == query:
                    ok, nums = _match(nodes, words)
                    if ok:
                        hit = self._dispatch[key] = (handler, nums)
                        break
            else:
                raise _ScpiError(E_UNDEFINED_HEADER, ":".join(words))
        handler, nums = hit
        return handler(nums, params)

    # -- parameters ------------------------------------------------------------------------
    @staticmethod
    def _param(params: list[str], i: int) -> str:
        if i >= len(params) or not params[i]:
            raise _ScpiError(E_MISSING_PARAMETER)
        return params[i]

    def _int(self, params: list[str], i: int) -> int:
        try:
            return int(float(self._param(params, i)))
        except ValueError:
            raise _ScpiError(E_ILLEGAL_PARAMETER) from None

    def _float_volts(self, params: list[str], i: int) -> float:
        p = self._param(params, i).upper().replace(" ", "")
        factor = 1.0
        for unit, f in (("MV", 1e-3), ("UV", 1e-6), ("V", 1.0)):
            if p.endswith(unit):
                p, factor = p[: -len(unit)], f
                break
        try:
            return float(p) * factor
        except ValueError:
            raise _ScpiError(E_ILLEGAL_PARAMETER) from None

    def _choice(self, params: list[str], i: int, choices: Sequence[str]) -> str:
        p = self._param(params, i).upper()
        if p not in choices:
            raise _ScpiError(E_ILLEGAL_PARAMETER, f"{p} not in {choices}")
        return p

    @staticmethod
    def _channel(nums: list[int]) -> int:
        ch = nums[0] if nums else 1
        if ch not in (1, 2):
            raise _ScpiError(E_ILLEGAL_PARAMETER, f"channel {ch}")
        return ch - 1

    # -- results ---------------------------------------------------------------------------
    def _samples(self, ch: int, start: int, n: int) -> bytes:
        board = self.board
        data = board.buffer()[ch]
        end = start + n
        raw = (
            data[start:end]
            if end <= BUFFER_SIZE
            else np.concatenate([data[start:], data[: end - BUFFER_SIZE]])
        )
        if self.units == "RAW":
            if self.binary:
                payload = raw.astype(">i2" if self.big_endian else "<i2").tobytes()
                return _ieee_block(payload)
            return ("{" + ",".join(map(str, raw.tolist())) + "}").encode()
        volts = raw.astype(np.float32) * np.float32(FULL_SCALE_V[board.state.gain[ch]] / 8192.0)
        if self.binary:
            return _ieee_block(volts.astype(">f4" if self.big_endian else "<f4").tobytes())
        return ("{" + ",".join(f"{v:f}" for v in volts.tolist()) + "}").encode()

    # -- command table ---------------------------------------------------------------------
    def _command_table(
        self,
    ) -> list[tuple[list[_Node], bool, Callable[[list[int], list[str]], bytes | None]]]:
        b = self.board
        st = lambda: b.state  # noqa: E731 - the state object is replaced by ACQ:RST

        def ok(fn: Callable[[], object]) -> Callable[[list[int], list[str]], None]:
            def h(nums: list[int], params: list[str]) -> None:
                fn()

            return h

        def text(fn: Callable[[], object]) -> Callable[[list[int], list[str]], bytes]:
            return lambda nums, params: str(fn()).encode()

        def idn(nums, params):
            return IDN.encode()

        def rst(nums, params):
            b.reset()
            self.binary, self.units, self.big_endian = False, "VOLTS", True

        def cls(nums, params):
            self.errors.clear()

        def err_next(nums, params):
            code, msg = self.errors.popleft() if self.errors else (0, "No error")
            return f'{code},"{msg}"'.encode()

        def err_count(nums, params):
            return str(len(self.errors)).encode()

        def acq_rst(nums, params):
            b.reset()
            self.binary, self.units = False, "VOLTS"

        def dec(nums, params):
            value = self._int(params, 0)
            if value not in DECIMATIONS:
                raise _ScpiError(E_ILLEGAL_PARAMETER, f"decimation {value}")
            with b.lock:
                st().decimation = value

        def avg(nums, params):
            p = self._param(params, 0).upper()
            if p not in ("ON", "OFF", "1", "0"):
                raise _ScpiError(E_ILLEGAL_PARAMETER)
            with b.lock:
                st().averaging = p in ("ON", "1")

        def trig(nums, params):
            b.set_trigger(self._choice(params, 0, TRIGGER_SOURCES))

        def trig_stat(nums, params):
            return b"TD" if b.triggered() else b"WAIT"

        def dly(nums, params):
            value = self._int(params, 0) if params else 0
            if not -(BUFFER_SIZE // 2) <= value <= 2**31 - 1:
                raise _ScpiError(E_ILLEGAL_PARAMETER, f"delay {value}")
            with b.lock:
                st().trigger_delay = min(value, BUFFER_SIZE // 2)

        def dly_ns(nums, params):
            value = self._int(params, 0) if params else 0
            with b.lock:
                st().trigger_delay = max(
                    -(BUFFER_SIZE // 2), min(BUFFER_SIZE // 2, round(value * 1e-9 / b.dt))
                )

        def lev(nums, params):
            value = self._float_volts(params, 0)
            with b.lock:
                st().trigger_level_v = value

        def hyst(nums, params):
            with b.lock:
                st().hysteresis_v = self._float_volts(params, 0)

        def gain(nums, params):
            ch = self._channel(nums)
            value = self._choice(params, 0, ("LV", "HV"))
            with b.lock:
                st().gain[ch] = value

        def units(nums, params):
            self.units = self._choice(params, 0, ("RAW", "VOLTS"))

        def fmt(nums, params):
            self.binary = self._choice(params, 0, ("BIN", "ASCII")) == "BIN"

        def order(nums, params):
            self.big_endian = self._choice(params, 0, ("BEND", "LEND")) == "BEND"

        def data_start_n(nums, params):
            ch = self._channel(nums)
            start, n = self._int(params, 0), self._int(params, 1)
            if not (0 <= start < BUFFER_SIZE and 1 <= n <= BUFFER_SIZE):
                raise _ScpiError(E_ILLEGAL_PARAMETER, f"start {start} size {n}")
            return self._samples(ch, start, n)

        def data_start_end(nums, params):
            ch = self._channel(nums)
            start, end = self._int(params, 0), self._int(params, 1)
            if not (0 <= start < BUFFER_SIZE and 0 <= end < BUFFER_SIZE):
                raise _ScpiError(E_ILLEGAL_PARAMETER, f"start {start} end {end}")
            return self._samples(ch, start, (end - start) % BUFFER_SIZE + 1)

        def data_all(nums, params):
            ch = self._channel(nums)
            return self._samples(ch, (b.wpos() + 1) % BUFFER_SIZE, BUFFER_SIZE)

        def srate(nums, params):
            return f"{125e6 / st().decimation:9.0f} Hz".encode()

        table: list[tuple[str, Callable]] = [
            ("*IDN?", idn),
            ("*RST", rst),
            ("*CLS", cls),
            ("*OPC?", lambda nums, params: b"1"),
            ("SYSTem:ERRor[:NEXT]?", err_next),
            ("SYSTem:ERRor:COUNt?", err_count),
            ("ACQ:START", ok(b.start)),
            ("ACQ:STOP", ok(b.stop)),
            ("ACQ:RST", acq_rst),
            ("ACQ:DEC", dec),
            ("ACQ:DEC?", text(lambda: st().decimation)),
            ("ACQ:DEC:Factor", dec),
            ("ACQ:DEC:Factor?", text(lambda: st().decimation)),
            ("ACQ:SRATe?", srate),
            ("ACQ:AVG", avg),
            ("ACQ:AVG?", text(lambda: "ON" if st().averaging else "OFF")),
            ("ACQ:TRig", trig),
            ("ACQ:TRig:STAT?", trig_stat),
            ("ACQ:TRig:DLY", dly),
            ("ACQ:TRig:DLY?", text(lambda: st().trigger_delay)),
            ("ACQ:TRig:DLY:NS", dly_ns),
            ("ACQ:TRig:DLY:NS?", text(lambda: round(st().trigger_delay * b.dt * 1e9))),
            ("ACQ:TRig:HYST", hyst),
            ("ACQ:TRig:HYST?", text(lambda: f"{st().hysteresis_v:g}")),
            ("ACQ:TRig:FILL?", text(lambda: int(b.filled()))),
            ("ACQ:TRig:LEV", lev),
            ("ACQ:TRig:LEV?", text(lambda: f"{st().trigger_level_v:.7g}")),
            ("ACQ:SOUR#:GAIN", gain),
            ("ACQ:SOUR#:GAIN?", lambda nums, params: st().gain[self._channel(nums)].encode()),
            ("ACQ:WPOS?", text(b.wpos)),
            ("ACQ:TPOS?", text(b.tpos)),
            ("ACQ:DATA:Units", units),
            ("ACQ:DATA:Units?", text(lambda: self.units)),
            ("ACQ:DATA:FORMAT", fmt),
            ("ACQ:DATA:FORMAT?", text(lambda: "BIN" if self.binary else "ASCII")),
            ("ACQ:DATA:BYTE:ORDER", order),
            ("ACQ:DATA:BYTE:ORDER?", text(lambda: "BEND" if self.big_endian else "LEND")),
            ("ACQ:SOUR#:DATA:STArt:End?", data_start_end),
            ("ACQ:SOUR#:DATA:Start:End?", data_start_end),
            ("ACQ:SOUR#:DATA:STArt:N?", data_start_n),
            ("ACQ:SOUR#:DATA:Start:N?", data_start_n),
            ("ACQ:SOUR#:DATA?", data_all),
            ("ACQ:BUF:SIZE?", text(lambda: BUFFER_SIZE)),
        ]
        return [(*_compile(pattern), handler) for pattern, handler in table]


def _split_commands(line: str) -> list[str]:
    """Split a message at ``;`` outside quotes."""
    out, cur, quote = [], [], ""
    for c in line:
        if quote:
            cur.append(c)
            if c == quote:
                quote = ""
        elif c in "\"'":
            quote = c
            cur.append(c)
        elif c == ";":
            out.append("".join(cur))
            cur = []
        else:
            cur.append(c)
    out.append("".join(cur))
    return out


_START_NODES = _compile("ACQ:START")[0]


def _is_start(words: list[str]) -> bool:
    return _match(_START_NODES, words)[0]


def _ieee_block(payload: bytes) -> bytes:
    n = str(len(payload))
    return b"#" + str(len(n)).encode() + n.encode() + payload


# ----------------------------------------------------------------------------------------------
# the server
# ----------------------------------------------------------------------------------------------


class EmulatorServer:
    """A Red Pitaya SCPI server on ``host:port`` (port 0: a free one, see ``.port``), served by threads.

    Use as a context manager (``with EmulatorServer() as srv: ... srv.port``) or ``start()`` /
    ``stop()``. All connections share one emulated board; each has its own SCPI context.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        rate: float | Sequence[float] = 1000.0,
        seed: int | None = None,
        model: SignalModel | None = None,
        stall_after: int | None = None,
        close_after: int | None = None,
    ) -> None:
        self.host = host
        self._requested_port = port
        if model is None:
            rates = (float(rate), float(rate)) if isinstance(rate, int | float) else tuple(map(float, rate))
            model = SignalModel(rate=rates)  # type: ignore[arg-type]
        self.model = model
        self.board = _Board(model, seed)
        self.stall_after = stall_after
        self.close_after = close_after
        self.captures = 0  # ACQ:START commands executed
        self.received: deque[str] = deque(maxlen=2000)  # recent messages, for tests
        self.connections = 0  # accepted so far
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._clients: list[tuple[socket.socket, threading.Thread]] = []
        self._stopping = threading.Event()
        self._stalled = threading.Event()
        self._lock = threading.Lock()

    # -- lifecycle -------------------------------------------------------------------------
    @property
    def port(self) -> int:
        if self._sock is None:
            raise RuntimeError("EmulatorServer is not started")
        return self._sock.getsockname()[1]

    @property
    def address(self) -> tuple[str, int]:
        return self.host, self.port

    def start(self) -> EmulatorServer:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self._requested_port))
        sock.listen(8)
        sock.settimeout(0.1)
        self._sock = sock
        self._stopping.clear()
        self._thread = threading.Thread(
            target=self._accept_loop, name=f"rp-emulator:{self.port}", daemon=True
        )
        self._thread.start()
        log.info("Red Pitaya emulator listening on %s:%d", self.host, self.port)
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
            self._thread = None
        self.drop_connections()
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def serve_forever(self) -> None:
        """Block until interrupted (Ctrl-C)."""
        if self._sock is None:
            self.start()
        try:
            while not self._stopping.is_set():
                time.sleep(0.2)
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    # -- fault injection -------------------------------------------------------------------
    def stall(self) -> None:
        """Stop answering (commands are read and ignored; connections stay open)."""
        self._stalled.set()

    def resume(self) -> None:
        self._stalled.clear()

    def drop_connections(self) -> None:
        """Close every client connection (the board 'disappears' mid-run)."""
        with self._lock:
            clients, self._clients = self._clients, []
        for conn, thread in clients:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            conn.close()
            if thread is not threading.current_thread():
                thread.join(timeout=1)

    def _capture_started(self) -> str | None:
        """Count an ``ACQ:START``; returns 'stall' / 'close' when a fault is due instead."""
        with self._lock:
            n = self.captures
            if self.stall_after is not None and n >= self.stall_after:
                self._stalled.set()
                return "stall"
            if self.close_after is not None and n >= self.close_after:
                return "close"
            self.captures = n + 1
            return None

    def _record(self, line: str) -> None:
        self.received.append(line)

    # -- threads ---------------------------------------------------------------------------
    def _accept_loop(self) -> None:
        assert self._sock is not None
        while not self._stopping.is_set():
            try:
                conn, addr = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                break
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn.settimeout(0.2)
            session = _Session(self, conn)
            thread = threading.Thread(target=session.serve, name=f"rp-emulator-client:{addr[1]}", daemon=True)
            with self._lock:
                self._clients = [(c, t) for c, t in self._clients if t.is_alive()]
                self._clients.append((conn, thread))
                self.connections += 1
            log.debug("client %s:%d connected", *addr)
            thread.start()


def main(argv: Sequence[str] | None = None) -> int:
    """``mimocorb rp-emulator [--port 5000]``: serve an emulated Red Pitaya until Ctrl-C."""
    p = argparse.ArgumentParser(
        prog="mimocorb rp-emulator",
        description="Emulate a Red Pitaya SCPI acquisition server (Cs-137 pulses on IN1/IN2).",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument(
        "--port", type=int, default=5000, help="TCP port (default 5000, as the board; 0 = any free)"
    )
    p.add_argument(
        "--rate", type=float, default=1000.0, help="pulses per second on each input (default 1000)"
    )
    p.add_argument("--rate2", type=float, default=None, help="pulses per second on IN2 (default: --rate)")
    p.add_argument("--negative", action="store_true", help="negative pulses (like a PMT anode)")
    p.add_argument("--noise", type=float, default=3.0, help="noise rms in ADC counts (default 3)")
    p.add_argument(
        "--counts-per-kev", type=float, default=7.0, help="pulse height scale (default 7 counts/keV)"
    )
    p.add_argument("--seed", type=int, default=None, help="random seed")
    p.add_argument("--stall-after", type=int, default=None, help="stop answering after N captures")
    p.add_argument("--close-after", type=int, default=None, help="close the connection after N captures")
    p.add_argument("-v", "--verbose", action="store_true", help="log every connection and SCPI error")
    args = p.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(asctime)s %(message)s"
    )
    pol = -1 if args.negative else 1
    model = SignalModel(
        rate=(args.rate, args.rate if args.rate2 is None else args.rate2),
        polarity=(pol, pol),
        noise=args.noise,
        counts_per_kev=args.counts_per_kev,
    )
    server = EmulatorServer(
        args.host,
        args.port,
        model=model,
        seed=args.seed,
        stall_after=args.stall_after,
        close_after=args.close_after,
    )
    try:
        server.start()
    except OSError as e:
        print(f"rp-emulator: cannot listen on {args.host}:{args.port}: {e}")
        return 1
    print(f"Red Pitaya emulator listening on {args.host}:{server.port} (Ctrl-C to stop)", flush=True)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
