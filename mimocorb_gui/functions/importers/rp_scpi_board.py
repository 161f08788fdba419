"""The emulated board behind the SCPI server: settings, the trigger process and the 16384-sample circular buffers.

No sockets here (``rp_scpi_server`` speaks the protocol). Times are real: ``ACQ:START`` arms a
capture whose trigger time is drawn from the signal model (the first pulse that crosses the
level with the slope, after the pre-trigger part of the buffer is full); the buffer contents are
made when first read, with the triggering pulse's crossing at ``TPOS``.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field

import numpy as np

from mimocorb_gui.functions.importers.rp_signal import (
    BASE_SAMPLE_PERIOD,
    BUFFER_SIZE,
    SignalModel,
    first_crossing,
)

__all__ = ["ADC_MAX", "ADC_MIN", "DECIMATIONS", "FULL_SCALE_V", "ScpiBoard"]

ADC_MIN, ADC_MAX = -8192, 8191
DECIMATIONS = tuple(2**k for k in range(17))  # 1, 2, 4, ... 65536
FULL_SCALE_V = {"LV": 1.0, "HV": 20.0}


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


class ScpiBoard:
    """The acquisition hardware: settings, the trigger process and the circular buffers."""

    NOISE_TRIGGER_SIGMAS = 5.0  # a level closer than this to the baseline is crossed by the noise itself

    def __init__(self, model: SignalModel, seed: int | None) -> None:
        self.model = model
        self.rng = np.random.default_rng(seed)
        self.sampler = model.sampler()
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
                if first_crossing(np.concatenate([[m.baseline], w]), level, rising) is not None:
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
            j = first_crossing(sig, level, rising)
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
