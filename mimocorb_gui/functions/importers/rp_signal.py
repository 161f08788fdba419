"""The emulated Red Pitaya's inputs: detector pulses (Cs-137 gamma spectrum) and noise, shared by both servers.

No sockets here. ``SignalModel`` says what each input carries (pulse rate, polarity, height
scale, noise, pulse shape); ``sample_gamma_energies`` (``functions._gamma_physics``) draws the
deposited energies. Both the SCPI board (``rp_scpi_board``) and the MCPHA/daq board
(``rp_daq_board``) draw their pulses from it, so one model feeds the traces of either protocol
and the FPGA histograms.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from mimocorb_gui.functions._gamma_physics import sample_gamma_energies

__all__ = ["BASE_SAMPLE_PERIOD", "BUFFER_SIZE", "SignalModel", "first_crossing"]

BUFFER_SIZE = 16384  # samples of the SCPI server's circular buffer (pulse_samples' upper bound)
BASE_SAMPLE_PERIOD = 8e-9  # 125 MS/s


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

    def sampler(self) -> Callable[[np.random.Generator, int], np.ndarray]:
        """The energy sampler: the model's own, else ``sample_gamma_energies`` (Cs-137)."""
        if self.energy_sampler is not None:
            return self.energy_sampler
        return sample_gamma_energies

    def pulse_samples(self, dt: float) -> int:
        """How many samples a pulse lasts before it has decayed below 1e-4 of its height."""
        return int(min(BUFFER_SIZE, math.ceil((self.tau_rise * 5 + self.tau_fall * 9.3) / dt) + 2))


# ----------------------------------------------------------------------------------------------


def first_crossing(sig: np.ndarray, level: float, rising: bool) -> int | None:
    """Index ``j >= 1`` of the first sample at/after a crossing of ``level`` in the given direction."""
    prev, cur = sig[:-1], sig[1:]
    hits = (
        np.flatnonzero((prev < level) & (cur >= level))
        if rising
        else np.flatnonzero((prev > level) & (cur <= level))
    )
    return int(hits[0]) + 1 if hits.size else None
