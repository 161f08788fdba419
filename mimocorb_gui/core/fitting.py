"""Region sums and a Gaussian-on-linear-background fit for histogram peaks (no Qt; the GUI's MCA tools).

The histogram dock lets a user drag a region over a peak; these functions turn the bins inside
that region into the numbers multichannel-analyser programs show: gross counts, net counts above a
linear background, and a Gaussian fit with centre, sigma, FWHM and net counts with uncertainties.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = [
    "FWHM_PER_SIGMA",
    "GaussFit",
    "RegionSum",
    "fit_gaussian",
    "gauss_line",
    "peak_region",
    "rebin",
    "region_sum",
]

END_BINS = 3  # bins averaged at each end of a region for its background
FWHM_PER_SIGMA = 2.0 * math.sqrt(2.0 * math.log(2.0))  # 2.3548...


@dataclass(frozen=True)
class RegionSum:
    """Counts of the bins whose centres lie in [lo, hi]; background: the line through the mean counts of
    the first and last ``END_BINS`` bins (none for regions narrower than 4 bins)."""

    lo: float
    hi: float
    first_bin: int
    last_bin: int  # inclusive; last_bin < first_bin means the region holds no bin
    gross: float
    background: float
    net: float
    net_error: float
    mean: float  # count-weighted mean of the bin centres (nan if no counts)

    @property
    def n_bins(self) -> int:
        return max(0, self.last_bin - self.first_bin + 1)


@dataclass(frozen=True)
class GaussFit:
    """Result of fitting A·exp(-(x-centre)²/2σ²) + b0 + b1·(x-centre) to the bins of a region."""

    ok: bool
    message: str = ""
    centre: float = math.nan
    centre_error: float = math.nan
    sigma: float = math.nan
    sigma_error: float = math.nan
    amplitude: float = math.nan
    background0: float = math.nan  # background at the centre, counts per bin
    background1: float = math.nan  # background slope, counts per bin per x unit
    net: float = math.nan  # counts in the Gaussian (area / bin width)
    net_error: float = math.nan
    chi2_ndf: float = math.nan

    @property
    def fwhm(self) -> float:
        return FWHM_PER_SIGMA * self.sigma

    @property
    def fwhm_error(self) -> float:
        return FWHM_PER_SIGMA * self.sigma_error

    @property
    def resolution(self) -> float:
        """FWHM / centre (the spectroscopist's energy resolution), nan when the centre is 0."""
        return self.fwhm / self.centre if self.centre else math.nan


def _centres(edges: np.ndarray) -> np.ndarray:
    return 0.5 * (edges[:-1] + edges[1:])


def _bin_range(edges: np.ndarray, lo: float, hi: float) -> tuple[int, int]:
    """First and last (inclusive) bin index whose centre lies within [lo, hi]."""
    if lo > hi:
        lo, hi = hi, lo
    centres = _centres(edges)
    first = int(np.searchsorted(centres, lo, side="left"))
    last = int(np.searchsorted(centres, hi, side="right")) - 1
    return first, last


def rebin(edges: np.ndarray, counts: np.ndarray, factor: int) -> tuple[np.ndarray, np.ndarray]:
    """Merge ``factor`` neighbouring bins; a remainder at the high end becomes one (narrower) last bin."""
    edges = np.asarray(edges, dtype=float)
    counts = np.asarray(counts)
    factor = int(factor)
    if factor <= 1 or len(counts) <= 1:
        return edges, counts
    n = len(counts)
    starts = np.arange(0, n, factor)
    merged = np.add.reduceat(counts, starts)
    new_edges = np.append(edges[starts], edges[-1])
    return new_edges, merged


def region_sum(edges, counts, lo: float, hi: float) -> RegionSum:
    """Gross and net counts of a region above a linear background estimated at its ends."""
    edges = np.asarray(edges, dtype=float)
    counts = np.asarray(counts, dtype=float)
    first, last = _bin_range(edges, lo, hi)
    if last < first:
        return RegionSum(lo, hi, first, last, 0.0, 0.0, 0.0, 0.0, math.nan)
    sel = counts[first : last + 1]
    gross = float(sel.sum())
    n = len(sel)
    k = min(END_BINS, n // 4)  # bins averaged at each end for the background line (MCA convention)
    if k >= 1:
        left, right = sel[:k].mean(), sel[-k:].mean()
        background = 0.5 * (left + right) * n
        # Poisson: var(gross) = gross; each end mean has var = sum / k**2
        var_bg = (n / 2.0) ** 2 * (sel[:k].sum() + sel[-k:].sum()) / k**2
    else:
        background, var_bg = 0.0, 0.0
    net = gross - background
    net_error = math.sqrt(max(gross, 0.0) + var_bg)
    centres = _centres(edges)[first : last + 1]
    mean = float((sel * centres).sum() / gross) if gross > 0 else math.nan
    return RegionSum(float(lo), float(hi), first, last, gross, float(background), float(net), net_error, mean)


def gauss_line(x, amplitude: float, centre: float, sigma: float, b0: float, b1: float):
    """The fit model: Gaussian peak on a straight background (x relative to the centre for the slope)."""
    x = np.asarray(x, dtype=float)
    return amplitude * np.exp(-0.5 * ((x - centre) / sigma) ** 2) + b0 + b1 * (x - centre)


def fit_gaussian(edges, counts, lo: float, hi: float) -> GaussFit:
    """Fit a Gaussian on a linear background to the bins whose centres lie in [lo, hi].

    Weights are Poisson (sigma = sqrt(max(counts, 1))). Needs at least 5 bins and some counts;
    on failure ``ok`` is False and ``message`` says why (never raises for bad data).
    """
    from scipy.optimize import curve_fit

    edges = np.asarray(edges, dtype=float)
    counts = np.asarray(counts, dtype=float)
    first, last = _bin_range(edges, lo, hi)
    n = last - first + 1
    if n < 5:
        return GaussFit(False, f"region holds {max(n, 0)} bins; a fit needs at least 5")
    y = counts[first : last + 1]
    x = _centres(edges)[first : last + 1]
    width = float(np.mean(np.diff(edges[first : last + 2])))
    if y.sum() <= 0:
        return GaussFit(False, "no counts in the region")
    # start values: background from the ends, peak from the highest bin, sigma from the second moment
    b0_guess = 0.5 * (y[:2].mean() + y[-2:].mean())
    b1_guess = (y[-2:].mean() - y[:2].mean()) / (x[-1] - x[0]) if x[-1] > x[0] else 0.0
    above = np.clip(y - b0_guess, 0, None)
    if above.sum() <= 0:
        above = y
    mu_guess = float((above * x).sum() / above.sum())
    var = float((above * (x - mu_guess) ** 2).sum() / above.sum())
    sigma_guess = max(math.sqrt(var) if var > 0 else width, width / 2)
    amp_guess = max(float(y.max() - b0_guess), 1.0)
    p0 = [amp_guess, mu_guess, sigma_guess, b0_guess, b1_guess]
    span = x[-1] - x[0]
    bounds = (
        [0.0, x[0] - 0.5 * width, width / 2, -np.inf, -np.inf],
        [np.inf, x[-1] + 0.5 * width, max(span, width), np.inf, np.inf],
    )
    p0 = [min(max(v, lo_b), hi_b) for v, lo_b, hi_b in zip(p0, bounds[0], bounds[1], strict=True)]
    sigma_y = np.sqrt(np.maximum(y, 1.0))
    try:
        popt, pcov = curve_fit(
            gauss_line, x, y, p0=p0, sigma=sigma_y, absolute_sigma=True, bounds=bounds, maxfev=5000
        )
    except (RuntimeError, ValueError) as exc:
        return GaussFit(False, f"fit did not converge ({exc})")
    if not np.all(np.isfinite(pcov)):
        perr = np.full(5, math.nan)
    else:
        perr = np.sqrt(np.clip(np.diag(pcov), 0, None))
    amp, mu, sig, b0, b1 = (float(v) for v in popt)
    resid = (y - gauss_line(x, *popt)) / sigma_y
    ndf = max(n - 5, 1)
    net = amp * sig * math.sqrt(2 * math.pi) / width
    # error of the product amp*sigma with correlation
    if np.all(np.isfinite(pcov)):
        var_net = (
            (sig**2 * pcov[0, 0] + amp**2 * pcov[2, 2] + 2 * amp * sig * pcov[0, 2]) * 2 * math.pi / width**2
        )
        net_err = math.sqrt(max(var_net, 0.0))
    else:
        net_err = math.nan
    return GaussFit(
        ok=True,
        centre=mu,
        centre_error=float(perr[1]),
        sigma=abs(sig),
        sigma_error=float(perr[2]),
        amplitude=amp,
        background0=b0,
        background1=b1,
        net=net,
        net_error=net_err,
        chi2_ndf=float((resid**2).sum() / ndf),
    )


def peak_region(edges, counts, min_counts: int = 50) -> tuple[float, float] | None:
    """A region around the most prominent peak (±2.5 sigma estimated from its FWHM), or None.

    The counts are smoothed over a few bins first, so a single noisy bin is not a peak; a peak at
    the very first or last bin (noise threshold, overflow) is not taken. None while the histogram
    holds fewer than ``min_counts`` entries or shows no peak.
    """
    from scipy.signal import find_peaks, peak_widths

    edges = np.asarray(edges, dtype=float)
    counts = np.asarray(counts, dtype=float)
    n = len(counts)
    if n < 8 or counts.sum() < min_counts:
        return None
    k = max(3, n // 50) | 1  # odd box width, about 2 % of the bins
    smooth = np.convolve(counts, np.ones(k) / k, mode="same")
    peaks, props = find_peaks(smooth, prominence=max(smooth.max() * 0.05, 1e-12))
    peaks_ok = [
        (p, prom) for p, prom in zip(peaks, props["prominences"], strict=True) if k // 2 < p < n - 1 - k // 2
    ]
    if not peaks_ok:
        return None
    best = max(peaks_ok, key=lambda pp: pp[1])[0]
    width_bins = float(peak_widths(smooth, [best], rel_height=0.5)[0][0])  # FWHM in bins
    half = max(3.0, 2.5 * width_bins / FWHM_PER_SIGMA)
    bin_width = (edges[-1] - edges[0]) / n
    centre = 0.5 * (edges[best] + edges[best + 1])
    lo = max(edges[0], centre - half * bin_width)
    hi = min(edges[-1], centre + half * bin_width)
    return float(lo), float(hi)
