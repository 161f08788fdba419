"""Peak search on a spectrum: smoothed counts, peaks above a prominence threshold (no Qt).

The counts are smoothed with a Gaussian kernel of about 1.5 % of the bins (at least one bin), so
single noisy bins are no peaks; scipy.signal.find_peaks then keeps the maxima whose prominence
(height above the higher of the two saddles around them) exceeds ``prominence`` times the
highest smoothed bin and at least three standard deviations of the Poisson noise there.
Peaks in the outermost bins (a noise threshold, an overflow bin) are not reported.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from mimocorb_gui.core.analysis.spectrum import centres

__all__ = ["Peak", "find_peaks", "smooth"]


@dataclass(frozen=True)
class Peak:
    position: float  # x of the smoothed maximum (interpolated between bins)
    height: float  # smoothed counts per bin at the maximum
    prominence: float  # counts per bin above the saddles
    fwhm: float  # full width at half prominence, in x units
    bin: int


def smooth(counts: np.ndarray, sigma_bins: float | None = None) -> np.ndarray:
    """Counts convolved with a normalised Gaussian of ``sigma_bins`` (default: 1.5 % of the bins, >= 1)."""
    counts = np.asarray(counts, dtype=float)
    n = len(counts)
    if sigma_bins is None:
        sigma_bins = max(1.0, 0.015 * n)
    if sigma_bins <= 0 or n < 3:
        return counts.copy()
    half = int(math.ceil(3 * sigma_bins))
    k = np.arange(-half, half + 1)
    kernel = np.exp(-0.5 * (k / sigma_bins) ** 2)
    kernel /= kernel.sum()
    padded = np.pad(counts, half, mode="edge")
    return np.convolve(padded, kernel, mode="valid")


def find_peaks(edges, counts, prominence: float = 0.05, sigma_bins: float | None = None) -> list[Peak]:
    """Peaks of the smoothed spectrum, strongest (by prominence) first."""
    from scipy.signal import find_peaks as scipy_find_peaks
    from scipy.signal import peak_widths

    edges = np.asarray(edges, dtype=float)
    counts = np.asarray(counts, dtype=float)
    n = len(counts)
    if n < 5 or not counts.sum() > 0:
        return []
    s = smooth(counts, sigma_bins)
    threshold = max(prominence * float(s.max()), 1e-12)
    idx, props = scipy_find_peaks(s, prominence=threshold)
    if len(idx) == 0:
        return []
    widths = peak_widths(s, idx, rel_height=0.5)[0]
    c = centres(edges)
    bin_w = np.diff(edges)
    out = []
    for i, prom, w in zip(idx, props["prominences"], widths, strict=True):
        if i <= 1 or i >= n - 2:
            continue
        if prom < 3.0 * math.sqrt(max(s[i], 1.0) / max(1.0, 2.0 * (sigma_bins or max(1.0, 0.015 * n)))):
            continue  # not significant against the (smoothed) Poisson noise
        # parabola through the three smoothed bins around the maximum
        y0, y1, y2 = s[i - 1], s[i], s[i + 1]
        denom = y0 - 2 * y1 + y2
        shift = 0.5 * (y0 - y2) / denom if denom < 0 else 0.0
        pos = float(c[i] + np.clip(shift, -0.5, 0.5) * bin_w[i])
        out.append(Peak(pos, float(s[i]), float(prom), float(w * bin_w[i]), int(i)))
    out.sort(key=lambda p: -p.prominence)
    return out
