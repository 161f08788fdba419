"""A muon lifetime experiment on a stack of scintillator panels: one event's waveforms and its truth."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from mimocorb_gui.functions._pulse_shapes import add_pulse, pulse_shape

__all__ = ["MuonTruth", "muon_event", "muon_pulse_times", "sample_moyal"]


def _fwhm_of_shape(rise: float, decay: float) -> float:
    t = np.linspace(0, 20 * decay + 10 * rise, 200001)
    above = t[pulse_shape(t, rise, decay) >= 0.5]
    return float(above[-1] - above[0])


_MUON_RISE_OVER_DECAY = 0.25
_MUON_FWHM_OVER_DECAY = _fwhm_of_shape(_MUON_RISE_OVER_DECAY, 1.0)


def muon_pulse_times(pulse_width_ns: float) -> tuple[float, float]:
    """(rise, decay) time constants in ns of a PMT pulse whose FWHM is ``pulse_width_ns``."""
    decay = pulse_width_ns / _MUON_FWHM_OVER_DECAY
    return _MUON_RISE_OVER_DECAY * decay, decay


def sample_moyal(rng: np.random.Generator, size: Any = None) -> np.ndarray:
    """Moyal distribution (Landau approximation, mode 0): ``-ln(Z**2)`` for standard normal Z."""
    z = rng.standard_normal(size)
    return -np.log(np.maximum(z * z, 1e-300))


@dataclass(frozen=True)
class MuonTruth:
    """What happened in one simulated muon event (for tests and for checking analyses)."""

    stopped: bool
    stop_channel: int  # -1 for a muon that crossed all panels
    decay_time_us: float  # nan unless stopped
    decay_channels: tuple[int, ...]  # channels with a decay-electron pulse (may be outside the window)
    trigger_time_ns: float


def muon_event(
    rng: np.random.Generator,
    n_channels: int,
    n_samples: int,
    *,
    sample_time_ns: float = 4.0,
    lifetime_us: float = 2.197,
    stopped_fraction: float = 0.25,
    pulse_height: float = 0.3,
    pulse_width_ns: float = 20.0,
    noise: float = 0.003,
    offset: float = 0.0,
    pre_trigger_samples: int | None = None,
    polarity: int = -1,
    landau_width: float = 0.15,
    background_rate: float = 0.0,
    out: np.ndarray | None = None,
) -> tuple[np.ndarray, MuonTruth]:
    """One muon event on a stack of ``n_channels`` scintillator panels (channel 0 on top).

    A muon crosses the panels from the top. With probability ``stopped_fraction`` it stops in a
    panel chosen uniformly and decays there after an exponentially distributed time
    (``lifetime_us``); otherwise it crosses all panels. The trigger pulse appears at the same
    time in every panel the muon reached (amplitude ``pulse_height`` times a Landau-like factor
    ``1 + landau_width * Moyal``). The decay electron gives a pulse in the stopping panel and, in
    half the cases, in its upper or lower neighbour (uniform amplitude 0.3 to 1.5 ``pulse_height``).
    ``background_rate`` (Hz per channel) adds uncorrelated single pulses. Pulses have the sign of
    ``polarity`` (-1: negative like a PMT anode), sit on ``offset`` and carry Gaussian ``noise``.

    Returns the waveforms ``(n_channels, n_samples)`` in float64 and a :class:`MuonTruth`.
    """
    dt = float(sample_time_ns)
    rise, decay = muon_pulse_times(pulse_width_ns)
    if pre_trigger_samples is None:
        pre_trigger_samples = n_samples // 10
    waves = out if out is not None else np.empty((n_channels, n_samples), dtype=np.float64)
    pulses = np.zeros((n_channels, n_samples), dtype=np.float64)

    t_trigger = (pre_trigger_samples + rng.random()) * dt
    stopped = bool(rng.random() < stopped_fraction)
    stop_channel = int(rng.integers(n_channels)) if stopped else -1
    reached = stop_channel + 1 if stopped else n_channels
    heights = pulse_height * np.maximum(0.1, 1.0 + landau_width * sample_moyal(rng, reached))
    for ch in range(reached):
        add_pulse(pulses[ch], t_trigger, heights[ch], dt, rise, decay)

    decay_time_us = math.nan
    decay_channels: tuple[int, ...] = ()
    if stopped:
        decay_time_us = float(rng.exponential(lifetime_us))
        channels = [stop_channel]
        if rng.random() < 0.5:
            neighbour = stop_channel + (1 if rng.random() < 0.5 else -1)
            if 0 <= neighbour < n_channels:
                channels.append(neighbour)
        decay_channels = tuple(channels)
        t_decay = t_trigger + decay_time_us * 1000.0
        for ch in decay_channels:
            add_pulse(pulses[ch], t_decay, pulse_height * rng.uniform(0.3, 1.5), dt, rise, decay)

    if background_rate > 0:
        window_s = n_samples * dt * 1e-9
        for ch in range(n_channels):
            for _ in range(rng.poisson(background_rate * window_s)):
                t_bg = rng.uniform(0, n_samples * dt)
                amp = pulse_height * max(0.1, 1.0 + landau_width * float(sample_moyal(rng)))
                add_pulse(pulses[ch], t_bg, amp, dt, rise, decay)

    if noise > 0:
        waves[:] = rng.normal(offset, noise, size=(n_channels, n_samples))
    else:
        waves[:] = offset
    waves += polarity * pulses
    truth = MuonTruth(stopped, stop_channel, decay_time_us, decay_channels, t_trigger)
    return waves, truth
