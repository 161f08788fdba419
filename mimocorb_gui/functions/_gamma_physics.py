"""Gamma spectroscopy with a scintillator: Compton kinematics, Klein–Nishina, deposited energies, pulses."""

from __future__ import annotations

import math

import numpy as np

from mimocorb_gui.functions._pulse_shapes import add_pulse

__all__ = [
    "ELECTRON_MASS_KEV",
    "FWHM_PER_SIGMA",
    "backscatter_energy",
    "compton_edge",
    "energy_sigma",
    "klein_nishina_dsigma_dT",
    "make_gamma_waveform",
    "sample_compton_energies",
    "sample_gamma_energies",
]

ELECTRON_MASS_KEV = 510.99895
FWHM_PER_SIGMA = 2.0 * math.sqrt(2.0 * math.log(2.0))


def compton_edge(energy_keV: float | np.ndarray) -> float | np.ndarray:
    """Maximum energy transferred to the electron in one Compton scatter: E * 2E / (mc^2 + 2E)."""
    e = np.asarray(energy_keV, dtype=np.float64)
    edge = e * 2.0 * e / (ELECTRON_MASS_KEV + 2.0 * e)
    return float(edge) if edge.ndim == 0 else edge


def backscatter_energy(energy_keV: float, angle_deg: float | np.ndarray = 180.0) -> float | np.ndarray:
    """Energy of a photon scattered by ``angle_deg`` (180 degrees: the backscatter peak E / (1 + 2E/mc^2))."""
    cos = np.cos(np.radians(angle_deg))
    e = energy_keV / (1.0 + energy_keV / ELECTRON_MASS_KEV * (1.0 - cos))
    return float(e) if np.ndim(e) == 0 else e


def klein_nishina_dsigma_dT(T: np.ndarray, energy_keV: float) -> np.ndarray:
    """Klein–Nishina dσ/dT (arbitrary units) for electron recoil energy T of a photon of energy E.

    ``2 + s²/(ε²(1-s)²) + s/(1-s) (s - 2/ε)`` with ``s = T/E``, ``ε = E/mc²`` (Knoll, eq. 10.5);
    zero above the Compton edge.
    """
    T = np.asarray(T, dtype=np.float64)
    eps = energy_keV / ELECTRON_MASS_KEV
    s = np.clip(T / energy_keV, 0.0, 1.0 - 1e-12)
    value = 2.0 + s * s / (eps * eps * (1.0 - s) ** 2) + s / (1.0 - s) * (s - 2.0 / eps)
    return np.where((T >= 0) & (T <= compton_edge(energy_keV)), value, 0.0)


def sample_compton_energies(rng: np.random.Generator, n: int, energy_keV: float) -> np.ndarray:
    """Electron recoil energies of single Compton scatters, Klein–Nishina distributed up to the edge."""
    edge = compton_edge(energy_keV)
    grid = np.linspace(0.0, edge, 4097)
    pdf = klein_nishina_dsigma_dT(grid, energy_keV)
    cdf = np.concatenate(([0.0], np.cumsum((pdf[1:] + pdf[:-1]) * 0.5 * np.diff(grid))))
    cdf /= cdf[-1]
    return np.interp(rng.random(n), cdf, grid)


def energy_sigma(energy_keV: np.ndarray, resolution: float, reference_keV: float) -> np.ndarray:
    """Gaussian sigma of a scintillator: FWHM/E = ``resolution`` at ``reference_keV``, scaling as 1/sqrt(E)."""
    e = np.maximum(np.asarray(energy_keV, dtype=np.float64), 0.0)
    return resolution * np.sqrt(reference_keV * e) / FWHM_PER_SIGMA


def sample_gamma_energies(
    rng: np.random.Generator,
    n: int,
    energy_keV: float = 661.657,
    photo_fraction: float = 0.35,
    backscatter_fraction: float = 0.05,
    resolution: float = 0.07,
) -> np.ndarray:
    """Energies deposited in a scintillator by ``n`` mono-energetic gammas (keV), resolution included.

    Mixture of: the photopeak (full energy, ``photo_fraction``); the backscatter peak (photons
    scattered by 120..180 degrees in the surroundings, then absorbed, ``backscatter_fraction``);
    the Compton continuum (the rest; Klein–Nishina recoil energies up to the Compton edge
    ``E·2E/(mc²+2E)``). Every deposit is smeared with a Gaussian whose FWHM is ``resolution``·E at
    the photopeak and scales as sqrt(E); ``resolution=0`` gives the ideal spectrum.
    """
    if not 0 <= photo_fraction <= 1 or not 0 <= backscatter_fraction <= 1 - photo_fraction:
        raise ValueError("need 0 <= photo_fraction and 0 <= backscatter_fraction <= 1 - photo_fraction")
    kind = rng.random(n)
    energies = np.empty(n, dtype=np.float64)
    photo = kind < photo_fraction
    back = (kind >= photo_fraction) & (kind < photo_fraction + backscatter_fraction)
    compton = ~(photo | back)
    energies[photo] = energy_keV
    cos = rng.uniform(-1.0, -0.5, int(back.sum()))  # 120..180 degrees
    energies[back] = energy_keV / (1.0 + energy_keV / ELECTRON_MASS_KEV * (1.0 - cos))
    energies[compton] = sample_compton_energies(rng, int(compton.sum()), energy_keV)
    if resolution > 0:
        energies += rng.standard_normal(n) * energy_sigma(energies, resolution, energy_keV)
        np.maximum(energies, 0.0, out=energies)
    return energies


def make_gamma_waveform(
    rng: np.random.Generator,
    amplitude: float,
    n_samples: int,
    *,
    sample_time_ns: float = 4.0,
    rise_time_ns: float = 10.0,
    decay_time_ns: float = 250.0,
    pre_trigger_samples: int | None = None,
    noise: float = 0.002,
    baseline: float = 0.0,
    polarity: int = 1,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """One scintillator pulse of peak ``amplitude`` (fast rise, exponential decay) on a noisy baseline.

    The pulse starts within the sample after ``pre_trigger_samples`` (sub-sample jitter), so its
    sampled maximum equals ``amplitude`` up to noise and a tiny sampling loss.
    """
    if pre_trigger_samples is None:
        pre_trigger_samples = n_samples // 10
    wave = out if out is not None else np.empty(n_samples, dtype=np.float64)
    if noise > 0:
        wave[:] = rng.normal(baseline, noise, n_samples)
    else:
        wave[:] = baseline
    t0 = (pre_trigger_samples + rng.random()) * sample_time_ns
    add_pulse(wave, t0, polarity * amplitude, sample_time_ns, rise_time_ns, decay_time_ns)
    return wave
