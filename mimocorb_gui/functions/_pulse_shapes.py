"""Detector pulse shapes: a fast rise and an exponential decay, added into sampled waveforms."""

from __future__ import annotations

import math

import numpy as np

__all__ = ["add_pulse", "pulse_shape"]


def pulse_shape(t: np.ndarray, rise: float, decay: float) -> np.ndarray:
    """Fast rise, exponential decay: ``exp(-t/decay) - exp(-t/rise)`` scaled to a maximum of 1, 0 for t < 0."""
    t = np.asarray(t, dtype=np.float64)
    out = np.zeros_like(t)
    pos = t > 0
    if rise <= 0:
        out[pos] = np.exp(-t[pos] / decay)
        out[t == 0] = 1.0
        return out
    if abs(rise - decay) < 1e-12 * decay:
        rise = decay * (1 - 1e-6)
    t_peak = rise * decay / (decay - rise) * math.log(decay / rise)
    norm = math.exp(-t_peak / decay) - math.exp(-t_peak / rise)
    out[pos] = (np.exp(-t[pos] / decay) - np.exp(-t[pos] / rise)) / norm
    return out


def add_pulse(
    wave: np.ndarray,
    t0: float,
    amplitude: float,
    sample_time: float,
    rise: float,
    decay: float,
    span: float = 12.0,
) -> None:
    """Add ``amplitude * pulse_shape(t - t0)`` to ``wave`` in place (sample i at time i*sample_time)."""
    n = wave.shape[-1]
    first = max(0, math.ceil(t0 / sample_time))
    last = min(n, math.ceil((t0 + span * decay + 4 * rise) / sample_time) + 1)
    if first >= last:
        return
    t = np.arange(first, last) * sample_time - t0
    wave[..., first:last] += amplitude * pulse_shape(t, rise, decay)
