"""The emulated Red Pitaya's inputs: detector pulses (Cs-137 gamma spectrum) and noise, shared by both servers.

No sockets here. ``SignalModel`` says what each input carries (pulse rate, polarity, height
scale, noise, pulse shape); ``local_gamma_energies`` draws the deposited energies. Both the SCPI
board (``rp_scpi_board``) and the MCPHA/daq board (``rp_daq_board``) draw their pulses from it,
so one model feeds the traces of either protocol and the FPGA histograms.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = ["BASE_SAMPLE_PERIOD", "BUFFER_SIZE", "SignalModel", "first_crossing", "local_gamma_energies"]

BUFFER_SIZE = 16384  # samples of the SCPI server's circular buffer (pulse_samples' upper bound)
BASE_SAMPLE_PERIOD = 8e-9  # 125 MS/s


# ----------------------------------------------------------------------------------------------
# gamma spectrum
# ----------------------------------------------------------------------------------------------

ELECTRON_MASS_KEV = 511.0


def _compton_electron_energies(rng: np.random.Generator, e_gamma: float, n: int) -> np.ndarray:
    """Recoil electron energies (keV) of Compton scattering, Klein-Nishina distributed (rejection sampling)."""
    eps = e_gamma / ELECTRON_MASS_KEV
    t_max = e_gamma * 2 * eps / (1 + 2 * eps)  # Compton edge

    def kn(t: np.ndarray) -> np.ndarray:
        s = t / e_gamma
        return 2 + s**2 / (eps**2 * (1 - s) ** 2) + s / (1 - s) * (s - 2 / eps)

    bound = float(kn(np.array([t_max])).max()) * 1.05
    out = np.empty(0)
    while out.size < n:
        t = rng.uniform(0, t_max, size=2 * (n - out.size) + 16)
        keep = rng.uniform(0, bound, size=t.size) < kn(t)
        out = np.concatenate([out, t[keep]])
    return out[:n]


def local_gamma_energies(rng: np.random.Generator, n: int) -> np.ndarray:
    """Deposited energies (keV) of ``n`` Cs-137 gammas in a NaI-like scintillator.

    Local stand-in used when ``mimocorb_gui.functions.simulators.sample_gamma_energies`` is not
    available: 30 % photopeak (662 keV), 55 % Compton continuum (Klein-Nishina, edge 477 keV),
    7 % backscatter peak (184 keV), 8 % Ba K X-rays (32 keV); Gaussian resolution 7 % FWHM at
    662 keV, scaling with sqrt(E).
    """
    kind = rng.choice(4, size=n, p=[0.30, 0.55, 0.07, 0.08])
    e = np.empty(n)
    e[kind == 0] = 661.7
    n_c = int(np.count_nonzero(kind == 1))
    e[kind == 1] = _compton_electron_energies(rng, 661.7, n_c) if n_c else 0
    e[kind == 2] = 184.0
    e[kind == 3] = 32.0
    sigma = 0.07 / 2.355 * np.sqrt(np.maximum(e, 1.0) * 661.7)
    return np.maximum(e + rng.normal(0.0, 1.0, n) * sigma, 0.0)


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
        """The energy sampler: the model's own, else ``simulators.sample_gamma_energies`` (Cs-137)."""
        if self.energy_sampler is not None:
            return self.energy_sampler
        from mimocorb_gui.functions.simulators import sample_gamma_energies

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
