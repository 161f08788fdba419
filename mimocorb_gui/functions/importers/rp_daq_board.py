"""The emulated MCPHA board behind the daq server (port 1001): registers, triggered traces, FPGA histograms, timers, pulser.

No sockets here (``rp_daq_server`` speaks the protocol). The register semantics follow
``red-pitaya-daq/projects/daq/server/daq-server.c`` and Pavel Demin's MCPHA design:

- ``Registers`` holds what the commands set: CIC decimation (``sample_rate`` < 4 means no CIC,
  125 MS/s), the negators, per-channel PHA delay / min / max thresholds, timer set values and run
  flags, trigger source / slope / mode / level (the low 16 bits of the command value, as int16),
  samples before the trigger and in total (stored as ``value - 1`` in 32 bits, as the server
  does), and the pulse generator (fall and rise time, limits, rate, distribution, 4096-bin
  spectrum, running).
- ``trace(k)`` is the k-th triggered oscilloscope trace: ``tot`` samples of (IN1, IN2) int16, the
  trigger sample (first sample at/after the level crossing with the slope, on the negated data
  when the negator is on, as the FPGA's negator sits before the trigger) at index ``pre``. Each
  trace is drawn from its own random stream ``(seed, k)``, so the same seed gives the same traces
  whatever the timing or the client. ``trigger_wait(k)`` is how long the board waits for it.
- ``advance(now)`` runs the PHA between calls: each running timer counts 125 MHz ticks up to its
  set value; meanwhile every pulse of the channel (Poisson at the model's rate; the generator's
  rate and distribution when the pulser drives IN1) is histogrammed by its height over the
  baseline, measured with the noise, into 4096 bins when ``min <= height <= max``. ``truth`` keeps
  the heights of the pulses while the timer ran (for tests).
- The pulser (code 29) with OUT1 cabled to IN1: while it runs, IN1 carries its pulses instead
  of the detector's: heights are spectrum bins drawn in proportion to the loaded spectrum (one bin
  = one count at the input, an assumption: a board's analog gains differ), rise and fall are the
  server's half-lives (rise in ns, fall in us), intervals 1/rate (uniform) or exponential (poisson),
  clipped to the lower/upper limits.
- Counts: the traces are in the MCPHA filter's units, -4096..4095 for the LV input range, i.e.
  half of the SCPI server's raw counts (``DAQ_COUNTS_PER_SCPI_COUNT``).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from mimocorb_gui.functions.importers.rp_signal import BASE_SAMPLE_PERIOD, SignalModel, first_crossing

__all__ = [
    "CLOCK_HZ",
    "DAQ_COUNTS_PER_SCPI_COUNT",
    "DAQ_MAX",
    "DAQ_MIN",
    "HIST_BINS",
    "DaqBoard",
    "Registers",
    "STATUS_BYTES",
]

CLOCK_HZ = 125e6
HIST_BINS = 4096
STATUS_BYTES = 36
DAQ_MIN, DAQ_MAX = -4096, 4095
DAQ_COUNTS_PER_SCPI_COUNT = 0.5
RAM_SAMPLES = 0x800000  # the CMA ring: 8192 pages of 4 KiB / 4 bytes per (IN1, IN2) pair
NOISE_BANK = 1 << 18
ENERGY_BANK = 1 << 14
MAX_TRACE_SAMPLES = 0x7FFFFF


@dataclass
class Generator:
    fall: int = 50  # half-life of the decay, us (0..100)
    rise: int = 50  # half-life of the rise, ns (0..100)
    lower: int = -8192
    upper: int = 8191
    rate: int = 1000  # pulses/s
    distribution: int = 0  # 0 uniform (fixed interval), 1 poisson
    spectrum: np.ndarray = field(default_factory=lambda: np.zeros(HIST_BINS, dtype=np.uint32))
    running: bool = False


@dataclass
class Registers:
    rate: int = 4  # CIC decimation; the server writes 4 when asked for less, with the CIC bypassed
    cic: bool = False
    negate: list[bool] = field(default_factory=lambda: [False, False])
    pha_delay: list[int] = field(default_factory=lambda: [0, 0])
    pha_min: list[int] = field(default_factory=lambda: [0, 0])
    pha_max: list[int] = field(default_factory=lambda: [0, 0])
    timer_set: list[int] = field(default_factory=lambda: [0, 0])
    timer_running: list[bool] = field(default_factory=lambda: [False, False])
    trigger_source: int = 0
    trigger_slope: int = 0  # 0 rising, 1 falling
    trigger_mode: int = 0  # 0 normal, 1 auto
    trigger_level: int = 0
    pre_minus_one: int = 0xFFFFFFFF  # cfg+76 (uint32): samples before the trigger - 1
    tot_minus_one: int = 0xFFFFFFFF  # cfg+80 (uint32): total samples - 1
    generator: Generator = field(default_factory=Generator)

    @property
    def decimation(self) -> int:
        return self.rate if self.cic else 1

    @property
    def dt(self) -> float:
        return BASE_SAMPLE_PERIOD * self.decimation

    @property
    def pre(self) -> int:
        return (self.pre_minus_one + 1) & 0xFFFFFFFF

    @property
    def tot(self) -> int:
        return (self.tot_minus_one + 1) & 0xFFFFFFFF


@dataclass
class _Source:
    """What one input carries: a pulse model, its rate, polarity and whether intervals are fixed."""

    model: SignalModel
    channel: int
    rate: float
    polarity: int
    scale: float  # counts per model count
    periodic: bool = False
    clip: tuple[float, float] = (-math.inf, math.inf)


class DaqBoard:
    """Registers, trace generator and PHA of one emulated board (thread-safe through ``lock``)."""

    NOISE_TRIGGER_SIGMAS = 5.0

    def __init__(self, model: SignalModel, seed: int | None = None, record_truth: bool = False) -> None:
        self.model = model
        self.seed = int(np.random.SeedSequence(seed).entropy) if seed is None else int(seed)
        self.lock = threading.RLock()
        self.regs = Registers()
        bank_rng = np.random.default_rng([self.seed, 0x6E6F697365])
        self._noise = np.round(
            bank_rng.normal(model.baseline, model.noise, NOISE_BANK) * DAQ_COUNTS_PER_SCPI_COUNT
        )
        self._pha_rng = np.random.default_rng([self.seed, 0x706861])
        self.hist = np.zeros((2, HIST_BINS), dtype=np.uint32)
        self.timers = np.zeros(2, dtype=np.uint64)
        self._timer_frac = [0.0, 0.0]
        self._next_periodic = [0.0, 0.0]
        self._t_pha = time.monotonic()
        self.record_truth = record_truth
        self.truth: list[list[float]] = [[], []]  # pulse heights seen while the timer ran
        self.trigger_address = 0
        self.osc_ready_at = 0.0
        self.traces_made = 0
        # a bank of deposited energies drawn once (the gamma sampler costs ~2 ms a call): traces pick from it
        self._energies = model.sampler()(bank_rng, ENERGY_BANK)

    # -- the inputs --------------------------------------------------------------------------
    def source(self, ch: int) -> _Source:
        """The pulses input ``ch`` carries now (the pulser on IN1 while it runs)."""
        g = self.regs.generator
        if ch == 0 and g.running:
            ln2 = math.log(2.0)
            model = SignalModel(
                rate=(float(g.rate), 0.0),
                noise=self.model.noise,
                baseline=self.model.baseline,
                tau_rise=max(g.rise, 1) * 1e-9 / ln2,
                tau_fall=max(g.fall, 1) * 1e-6 / ln2,
                counts_per_kev=1.0,
                energy_sampler=_spectrum_sampler(g.spectrum.copy()),
            )
            return _Source(model, 0, float(g.rate), 1, 1.0, g.distribution == 0, (g.lower, g.upper))
        m = self.model
        return _Source(m, ch, m.rate[ch], m.polarity[ch], m.counts_per_kev * DAQ_COUNTS_PER_SCPI_COUNT)

    def _heights(self, src: _Source, rng: np.random.Generator, n: int) -> np.ndarray:
        """Pulse heights in daq counts as the FPGA sees them (after the negator)."""
        if src.model is self.model:
            energies = self._energies[rng.integers(0, ENERGY_BANK, n)]
        else:
            energies = src.model.sampler()(rng, n)
        h = src.polarity * energies * src.scale
        h = np.clip(h, *src.clip)
        return -h if self.regs.negate[src.channel] else h

    def _pulse(self, src: _Source, height: float, phase: float, n: int, dt: float) -> np.ndarray:
        t = (np.arange(n) + phase) * dt
        return height * src.model.shape(t, dt, True)

    def _pulse_len(self, src: _Source, dt: float) -> int:
        m = src.model
        return int(min(MAX_TRACE_SAMPLES, math.ceil((m.tau_rise * 5 + m.tau_fall * 9.3) / dt) + 2))

    # -- oscilloscope ------------------------------------------------------------------------
    def trace(self, k: int) -> tuple[np.ndarray, float]:
        """The k-th triggered trace as (tot, 2) int16 and the seconds the board waited for its trigger."""
        with self.lock:
            regs = self.regs
            pre, tot, dt = regs.pre, regs.tot, regs.dt
            src_ch = regs.trigger_source
            rising = regs.trigger_slope == 0
            level = float(regs.trigger_level)
            sources = [self.source(0), self.source(1)]
            auto = regs.trigger_mode == 1
        rng = np.random.default_rng([self.seed, 1, k])
        noise_rng = np.random.default_rng([self.seed, 2, k])
        lin = [self._noise_slice(noise_rng, tot) for _ in range(2)]
        for ch in range(2):
            if self.regs.negate[ch]:
                np.negative(
                    lin[ch], out=lin[ch]
                )  # the negator inverts the whole input, noise and baseline too
        trig = sources[src_ch]
        wait, pulse = self._trigger_pulse(trig, rng, level, rising, dt)
        if not math.isfinite(wait) and auto:
            wait, pulse = 0.0, None
        if 0 <= pre < tot:
            self._place_trigger(trig, lin[src_ch], pulse, pre, level, rising, dt, noise_rng, auto)
        for ch in range(2):
            first = pre + 1 if ch == src_ch else 0
            self._add_random_pulses(sources[ch], lin[ch], max(first, 0), rng, dt)
        out = np.empty((tot, 2), dtype=np.int16)
        for ch in range(2):
            np.clip(np.round(lin[ch]), DAQ_MIN, DAQ_MAX, out=lin[ch])
            out[:, ch] = lin[ch]
        prefill = pre * dt
        return out, max(wait, prefill) + max(tot - pre, 0) * dt if math.isfinite(wait) else math.inf

    def _noise_slice(self, rng: np.random.Generator, n: int) -> np.ndarray:
        if n <= NOISE_BANK:
            start = int(rng.integers(0, NOISE_BANK - n + 1))
            return self._noise[start : start + n].copy()
        reps = -(-n // NOISE_BANK)
        return np.tile(self._noise, reps)[:n].copy()

    def _trigger_pulse(
        self, src: _Source, rng: np.random.Generator, level: float, rising: bool, dt: float
    ) -> tuple[float, tuple[float, float] | None]:
        """Seconds until a pulse of ``src`` crosses ``level`` with the slope (inf: never) and that pulse."""
        base = self.model.baseline * DAQ_COUNTS_PER_SCPI_COUNT
        noise = self.model.noise * DAQ_COUNTS_PER_SCPI_COUNT
        if rising and level <= base - self.NOISE_TRIGGER_SIGMAS * noise - 1:
            return float(rng.exponential(1e-6)), None  # a level below the baseline: crossed at once
        if not rising and level >= base + self.NOISE_TRIGGER_SIGMAS * noise + 1:
            return float(rng.exponential(1e-6)), None
        if abs(level - base) < self.NOISE_TRIGGER_SIGMAS * noise + 1:
            return float(rng.exponential(1e-6)), None  # the noise itself crosses the level
        if src.rate <= 0:
            return math.inf, None
        n_len = self._pulse_len(src, dt)
        n_drawn = 0
        for batch in (64, 256, 1024, *(4096,) * 8):
            heights = self._heights(src, rng, batch)
            may = (heights + base >= level) if level > base else (heights + base <= level)
            for idx in np.flatnonzero(may):
                phase = float(rng.uniform())
                w = np.round(self._pulse(src, float(heights[idx]), phase, n_len, dt) + base)
                if first_crossing(np.concatenate([[base], w]), level, rising) is not None:
                    n_drawn += int(idx) + 1
                    if src.periodic:
                        return n_drawn / src.rate, (float(heights[idx]), phase)
                    return float(rng.gamma(n_drawn, 1.0 / src.rate)), (float(heights[idx]), phase)
            n_drawn += heights.size
        return math.inf, None

    def _place_trigger(
        self,
        src: _Source,
        lin: np.ndarray,
        pulse: tuple[float, float] | None,
        pre: int,
        level: float,
        rising: bool,
        dt: float,
        rng: np.random.Generator,
        auto: bool,
    ) -> None:
        """Put the triggering pulse into ``lin`` so that its level crossing is sample ``pre``."""
        j = None
        if pulse is not None:
            n = self._pulse_len(src, dt)
            start = int(rng.integers(0, NOISE_BANK - n - 1))
            sig = self._noise[start : start + n + 1].copy()
            if self.regs.negate[src.channel]:
                np.negative(sig, out=sig)
            sig[1:] += self._pulse(src, *pulse, n, dt)
            np.round(sig, out=sig)  # the comparator sees digitised samples
            j = first_crossing(sig, level, rising)
        if j is None:
            if auto:
                return  # auto mode without a crossing: the trace as it is
            if pre >= 1:
                lin[pre - 1] = level - 1 if rising else level + 1
            lin[pre] = level
            return
        lo = pre - j
        a, b = max(lo, 0), min(lo + sig.size, lin.size)
        lin[a:b] = sig[a - lo : b - lo]

    def _add_random_pulses(
        self, src: _Source, lin: np.ndarray, first: int, rng: np.random.Generator, dt: float
    ) -> None:
        span = lin.size - first
        expected = src.rate * span * dt
        if span <= 0 or expected <= 0:
            return
        k = int(round(expected)) if src.periodic else int(rng.poisson(expected))
        if k == 0:
            return
        heights = self._heights(src, rng, k)
        if src.periodic:
            onsets = first + (np.arange(k) + rng.uniform()) * (span / k)
        else:
            onsets = rng.uniform(first, lin.size, size=k)
        n = min(self._pulse_len(src, dt), lin.size)
        if k <= 8:
            for h, onset in zip(heights, onsets, strict=True):
                i0 = int(onset)
                seg = lin[i0 + 1 : i0 + 1 + n]
                seg += self._pulse(src, float(h), 1.0 - (onset - i0), n, dt)[: seg.size]
            return
        impulses = np.zeros(lin.size)
        np.add.at(impulses, np.minimum(onsets.astype(np.intp), lin.size - 1), heights)
        kernel = self._pulse(src, 1.0, 0.5, n, dt)
        size = 1 << int(np.ceil(np.log2(lin.size + kernel.size)))
        lin += np.fft.irfft(np.fft.rfft(impulses, size) * np.fft.rfft(kernel, size), size)[: lin.size]

    # -- status ------------------------------------------------------------------------------
    def status(self) -> bytes:
        """The 36 status bytes: four uint64 timers (PHA 0, 1; 2 and 3 unused here), the scope word."""
        self.advance()
        with self.lock:
            words = np.zeros(9, dtype="<u4")
            words[:4] = self.timers.astype("<u8").view("<u4")
            busy = 1 if time.monotonic() < self.osc_ready_at else 0
            words[8] = ((self.trigger_address & 0x7FFFFFFF) << 1) | busy
            return words.tobytes()

    def histogram(self, ch: int) -> bytes:
        self.advance()
        with self.lock:
            return self.hist[ch].astype("<u4").tobytes()

    def reset_histogram(self, ch: int) -> None:
        self.advance()
        with self.lock:
            self.hist[ch] = 0
            self.truth[ch] = []

    def reset_timer(self, ch: int) -> None:
        self.advance()
        with self.lock:
            self.timers[ch] = 0
            self._timer_frac[ch] = 0.0

    def set_timer_running(self, ch: int, running: bool) -> None:
        self.advance()
        with self.lock:
            self.regs.timer_running[ch] = running

    def advance(self, now: float | None = None) -> None:
        """Run the PHAs and timers from the last call up to ``now``."""
        now = time.monotonic() if now is None else now
        with self.lock:
            elapsed = max(now - self._t_pha, 0.0)
            self._t_pha = now
            for ch in range(2):
                if not self.regs.timer_running[ch] or elapsed <= 0:
                    continue
                left = (int(self.regs.timer_set[ch]) - int(self.timers[ch])) / CLOCK_HZ
                live = min(elapsed, max(left, 0.0))
                if live <= 0:
                    continue
                ticks = live * CLOCK_HZ + self._timer_frac[ch]
                self.timers[ch] += np.uint64(int(ticks))
                self._timer_frac[ch] = ticks - int(ticks)
                self._histogram_pulses(ch, live)

    def _histogram_pulses(self, ch: int, live: float) -> None:
        src = self.source(ch)
        if src.rate <= 0:
            return
        rng = self._pha_rng
        if src.periodic:
            t = self._next_periodic[ch] + live * src.rate
            n = int(t)
            self._next_periodic[ch] = t - n
        else:
            n = int(rng.poisson(src.rate * live))
        if n == 0:
            return
        heights = self._heights(src, rng, n)
        noise = self.model.noise * DAQ_COUNTS_PER_SCPI_COUNT
        measured = np.round(heights + rng.normal(0.0, noise, n))
        if self.record_truth:
            self.truth[ch].extend(measured.tolist())
        lo, hi = self.regs.pha_min[ch], self.regs.pha_max[ch]
        keep = measured[(measured >= max(lo, 0)) & (measured <= min(hi, HIST_BINS - 1))].astype(np.intp)
        np.add.at(self.hist[ch], keep, 1)

    # -- pulser ------------------------------------------------------------------------------
    def start_generator(self) -> None:
        """Code 29: runs when the loaded spectrum has entries (the server refuses an empty one)."""
        self.advance()
        with self.lock:
            g = self.regs.generator
            g.running = bool(int(g.spectrum.astype(np.int64).sum()) >= 1)

    def stop_generator(self) -> None:
        self.advance()
        with self.lock:
            self.regs.generator.running = False


def _spectrum_sampler(spectrum: np.ndarray) -> Callable[[np.random.Generator, int], np.ndarray]:
    """Bins drawn in proportion to ``spectrum`` (the pulser's ``lower_bound`` on the cumulative sum)."""
    cum = np.cumsum(spectrum.astype(np.float64))
    total = cum[-1] if cum.size else 0.0

    def sample(rng: np.random.Generator, n: int) -> np.ndarray:
        if total <= 0:
            return np.zeros(n)
        return np.searchsorted(cum, rng.uniform(0, total, n), side="right").astype(float)

    return sample
