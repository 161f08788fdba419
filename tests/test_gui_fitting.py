"""core.fitting: region sums and the Gaussian-on-background fit of the histogram dock (no Qt)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mimocorb_gui.core.fitting import FWHM_PER_SIGMA, fit_gaussian, gauss_line, peak_region, rebin, region_sum


def peak_on_background(n_peak=5000, centre=662.0, sigma=20.0, n_bg=20000, seed=1, bins=500):
    rng = np.random.default_rng(seed)
    values = np.concatenate([rng.normal(centre, sigma, n_peak), rng.uniform(0, 1000, n_bg)])
    counts, edges = np.histogram(values, bins=bins, range=(0, 1000))
    return edges, counts


def test_fit_recovers_centre_sigma_and_net_counts():
    edges, counts = peak_on_background()
    fit = fit_gaussian(edges, counts, 560, 760)
    assert fit.ok, fit.message
    assert abs(fit.centre - 662) < 3 * fit.centre_error + 0.5
    assert abs(fit.sigma - 20) < 3 * fit.sigma_error + 0.5
    assert fit.fwhm == pytest.approx(FWHM_PER_SIGMA * fit.sigma)
    assert abs(fit.net - 5000) < 3 * fit.net_error
    assert 0.5 < fit.chi2_ndf < 2.0
    assert fit.resolution == pytest.approx(fit.fwhm / fit.centre)
    # the background under the peak: 20000 / 500 bins = 40 per bin
    assert abs(fit.background0 - 40) < 5


@pytest.mark.parametrize("seed", range(5))
def test_fit_pulls_are_reasonable(seed):
    edges, counts = peak_on_background(n_peak=2000, sigma=15, n_bg=5000, seed=seed)
    fit = fit_gaussian(edges, counts, 580, 740)
    assert fit.ok
    assert abs(fit.centre - 662) / fit.centre_error < 4
    assert abs(fit.net - 2000) / fit.net_error < 4


def test_region_sum_net_counts_above_linear_background():
    edges = np.arange(0, 101, 1.0)
    x = 0.5 * (edges[1:] + edges[:-1])
    counts = (10 + 0.1 * x).round()  # a sloped background, no peak
    s = region_sum(edges, counts, 20, 60)
    assert s.first_bin == 20 and s.last_bin == 59 and s.n_bins == 40
    assert s.gross == counts[20:60].sum()
    assert abs(s.net) < 2 * s.net_error + 1
    counts2 = counts.copy()
    counts2[38:42] += 250  # 1000 counts of peak
    s2 = region_sum(edges, counts2, 20, 60)
    assert abs(s2.net - 1000) < 3 * s2.net_error
    assert abs(s2.mean - 40) < 4


def test_region_edge_cases():
    edges = np.linspace(0, 10, 11)
    counts = np.arange(10)
    empty = region_sum(edges, counts, 3.6, 3.7)  # no bin centre inside
    assert empty.n_bins == 0 and empty.gross == 0 and math.isnan(empty.mean)
    swapped = region_sum(edges, counts, 7, 2)
    assert swapped.n_bins == 5
    assert region_sum(edges, counts, 2, 4).background == 0  # narrower than 4 bins: no background estimate


def test_fit_fails_gracefully():
    edges = np.linspace(0, 10, 11)
    assert not fit_gaussian(edges, np.zeros(10), 0, 10).ok
    few = fit_gaussian(edges, np.ones(10), 2, 4)
    assert not few.ok and "5" in few.message
    assert not math.isfinite(few.centre)


def test_rebin_keeps_counts_and_edges():
    edges = np.linspace(0, 10, 11)
    counts = np.arange(10)
    e2, c2 = rebin(edges, counts, 3)
    assert list(c2) == [0 + 1 + 2, 3 + 4 + 5, 6 + 7 + 8, 9]
    assert list(e2) == [0, 3, 6, 9, 10]
    assert rebin(edges, counts, 1)[1] is counts


def test_model_function():
    assert gauss_line(5.0, 10, 5, 1, 2, 0.5) == pytest.approx(12)
    assert gauss_line(6.0, 10, 5, 1, 2, 0.5) == pytest.approx(10 * math.exp(-0.5) + 2.5)


def test_peak_region_finds_the_most_prominent_peak():
    rng = np.random.default_rng(4)
    values = np.concatenate(
        [rng.normal(0.662, 0.02, 400), rng.uniform(0.05, 0.48, 1500), rng.exponential(0.02, 600)]
    )
    counts, edges = np.histogram(values, bins=200, range=(0, 1))
    lo, hi = peak_region(edges, counts)
    assert lo < 0.662 < hi
    assert 0.05 < hi - lo < 0.2  # about ±2.5 sigma
    assert peak_region(edges, np.zeros(200)) is None
    assert peak_region(edges, counts, min_counts=10**6) is None
