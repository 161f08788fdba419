"""Fit accuracy on the project's own simulators with known truth (seeded): pulls of 100 fits each.

pull = (fit - truth) / fitted uncertainty on the side of the truth (MINOS); for a correct likelihood
fit with correct uncertainties the pulls of many independent experiments have mean 0 and standard
deviation 1. (With the symmetric HESSE error the lifetime pulls spread 1.15-1.2: the error of an
exponential's tau grows with tau, so low fluctuations get small errors. MINOS intervals fix that.)
"""

from __future__ import annotations

import numpy as np
import pytest

from mimocorb_gui.core.analysis import fit
from mimocorb_gui.functions.simulators import energy_sigma, muon_event, sample_gamma_energies

N_EXPERIMENTS = 100
LIFETIME_US = 2.197  # the muon setup's lifetime_us
DECAY_BINS = (0.0, 8.0, 40)  # setups/muon_lifetime: decay_time: [0, 8, 40] µs
GAMMA_BINS = (0.0, 0.8, 100)  # setups/gamma_spectroscopy: peak_heights: [0, 0.8, 100] V
KEV_PER_VOLT = 1000.0  # its detector's keV_per_unit
CS137_KEV = 661.657


def muon_decay_times(rng: np.random.Generator, n: int) -> np.ndarray:
    """Decay times (µs) of n stopped muons, from the simulator's own events (their MuonTruth)."""
    out = np.empty(n)
    for i in range(n):
        _, truth = muon_event(rng, 1, 8, stopped_fraction=1.0, lifetime_us=LIFETIME_US, noise=0.0)
        out[i] = truth.decay_time_us
    return out


def pull_summary(pulls: list[float]) -> tuple[float, float]:
    p = np.asarray(pulls)
    return float(p.mean()), float(p.std(ddof=1))


def test_lifetime_pulls_of_the_exponential_fit():
    rng = np.random.default_rng(20261202)
    lo, hi, nb = DECAY_BINS
    edges = np.linspace(lo, hi, nb + 1)
    pulls, taus = [], []
    for _ in range(N_EXPERIMENTS):
        times = muon_decay_times(rng, 500)
        # random coincidences: a flat background of 40 counts over the window
        values = np.concatenate([times, rng.uniform(lo, hi, rng.poisson(40))])
        counts = np.histogram(values, bins=edges)[0]
        result = fit(edges, counts, lo, hi, "exponential")
        assert result.ok, result.message
        tau = result["tau"]
        pulls.append((tau.value - LIFETIME_US) / tau.error_towards(LIFETIME_US))
        taus.append(tau.value)
    mean, spread = pull_summary(pulls)
    print(f"tau pulls: mean {mean:+.3f}, spread {spread:.3f}; mean tau {np.mean(taus):.3f} µs")
    assert abs(mean) < 0.2
    assert 0.85 < spread < 1.15


def test_photopeak_centre_and_width_pulls_of_the_gaussian_fit():
    rng = np.random.default_rng(662)
    lo, hi, nb = GAMMA_BINS
    edges = np.linspace(lo, hi, nb + 1)
    centre_true = CS137_KEV / KEV_PER_VOLT
    sigma_true = float(energy_sigma(CS137_KEV, 0.07, CS137_KEV)) / KEV_PER_VOLT
    # ±4 sigma, as the dock's automatic region: at ±3 sigma the (non-negative) linear background
    # takes the peak's tails and sigma comes out low (mean pull -0.29 measured; -0.09 at ±4 sigma)
    region = (centre_true - 4 * sigma_true, centre_true + 4 * sigma_true)
    centre_pulls, sigma_pulls, entries = [], [], []
    for _ in range(N_EXPERIMENTS):
        heights = sample_gamma_energies(rng, 1500, CS137_KEV) / KEV_PER_VOLT  # about 500 in the photopeak
        counts = np.histogram(heights, bins=edges)[0]
        result = fit(edges, counts, *region, "gauss")
        assert result.ok, result.message
        centre_pulls.append(
            (result["centre"].value - centre_true) / result["centre"].error_towards(centre_true)
        )
        sigma_pulls.append((result["sigma"].value - sigma_true) / result["sigma"].error_towards(sigma_true))
        entries.append(result.entries)
    c_mean, c_spread = pull_summary(centre_pulls)
    s_mean, s_spread = pull_summary(sigma_pulls)
    print(f"centre pulls: mean {c_mean:+.3f}, spread {c_spread:.3f}; sigma pulls: mean {s_mean:+.3f}, "
          f"spread {s_spread:.3f}; entries in region {np.mean(entries):.0f}")  # fmt: skip
    assert abs(c_mean) < 0.2 and 0.85 < c_spread < 1.15
    assert abs(s_mean) < 0.2 and 0.85 < s_spread < 1.15


@pytest.mark.parametrize("factor", [1, 2])
def test_lifetime_fit_does_not_depend_on_rebinning(factor):
    from mimocorb_gui.core.analysis import rebin

    rng = np.random.default_rng(7)
    edges = np.linspace(0, 8, 41)
    counts = np.histogram(muon_decay_times(rng, 2000), bins=edges)[0]
    e, c = rebin(edges, counts, factor)
    r = fit(e, c, 0, 8, "exponential")
    assert r.ok, r.message
    assert abs(r["tau"].value - LIFETIME_US) < 3 * r["tau"].error
