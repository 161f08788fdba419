"""Poisson-likelihood fits of histogram regions: Gaussian on a line, exponential on a constant, a line (no Qt).

Why iminuit: it is MINUIT, the minimiser our field's analyses (ROOT) use, with HESSE
uncertainties from the likelihood's curvature, validity flags that tell a converged minimum from a
failed one, and ``cost.ExtendedBinnedNLL``, the Poisson likelihood of binned counts. That cost
integrates the model over each bin exactly (it takes the model's integral), so wide bins, rebinned
bins and bins with 0 counts are all treated right, and its minimum is the likelihood-ratio
(Baker–Cousins) statistic, distributed as χ² with ndf = bins − parameters: the goodness of fit.
A least-squares fit with σ = √n (what the dock had) is biased for few counts per bin.

Every model is a density in counts per x unit (x in the channel's unit), so the numbers do not
depend on the bin width or on rebinning. A fit refuses (``ok`` False, ``message`` says why) when
the region holds too few entries or bins, when MINUIT does not converge, or when a peak is not
significant; it never returns numbers it cannot stand behind.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from mimocorb_gui.core.analysis.regions import FWHM_PER_SIGMA, region_sum
from mimocorb_gui.core.analysis.spectrum import bin_range, centres

__all__ = ["MIN_ENTRIES", "MODELS", "FitResult", "Model", "Parameter", "fit", "guess_model"]

MIN_ENTRIES = 20  # fewer entries in a region: no fit


@dataclass(frozen=True)
class Parameter:
    name: str
    value: float
    error: float
    unit: str = ""  # "x" (the channel's unit), "1/x" (counts per x unit), "count", "" (none)
    lower: float = math.nan  # MINOS: value - lower is the 68 % interval's low end (nan: use error)
    upper: float = math.nan

    def error_towards(self, truth: float) -> float:
        """The uncertainty on the side of ``truth`` (MINOS upper if truth is above the value): for pulls."""
        side = self.upper if truth > self.value else self.lower
        return side if math.isfinite(side) and side > 0 else self.error

    def unit_text(self, x_unit: str) -> str:
        u = x_unit or "unit"
        return {"x": x_unit, "1/x": f"counts/{u}", "count": "counts", "": ""}[self.unit]


@dataclass(frozen=True)
class FitResult:
    model: str
    ok: bool
    message: str = ""
    lo: float = math.nan
    hi: float = math.nan
    parameters: tuple[Parameter, ...] = ()
    deviance: float = math.nan  # -2 ln(L / L_saturated) at the minimum (χ² when fitted with a variance)
    ndf: int = 0
    entries: float = 0.0
    n_bins: int = 0
    curve: Callable[[np.ndarray], np.ndarray] | None = field(default=None, repr=False, compare=False)

    def __getitem__(self, name: str) -> Parameter:
        for p in self.parameters:
            if p.name == name:
                return p
        raise KeyError(f"fit '{self.model}' has no parameter '{name}' (has: {', '.join(self.names)})")

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.parameters]

    @property
    def chi2_ndf(self) -> float:
        return self.deviance / self.ndf if self.ndf > 0 else math.nan

    @property
    def p_value(self) -> float:
        if self.ndf <= 0 or not math.isfinite(self.deviance):
            return math.nan
        # scipy.special's chi-square survival function (what scipy.stats.chi2.sf computes): importing
        # scipy.stats took seconds of the GUI's main thread at the first fit of a run
        from scipy.special import chdtrc

        return float(chdtrc(self.ndf, self.deviance))

    def as_dict(self) -> dict:
        """Plain numbers for JSON/CSV files and the clipboard."""
        d = {"model": self.model, "ok": self.ok, "message": self.message, "lo": self.lo, "hi": self.hi,
             "entries": self.entries, "bins": self.n_bins, "deviance": self.deviance, "ndf": self.ndf,
             "chi2_ndf": self.chi2_ndf, "p_value": self.p_value}  # fmt: skip
        for p in self.parameters:
            d[p.name] = p.value
            d[f"{p.name}_error"] = p.error
        return d


@dataclass(frozen=True)
class Model:
    """A fit model: its parameters, their start values from the data, and its integral (counts in [a, b])."""

    key: str
    title: str
    names: tuple[str, ...]
    units: tuple[str, ...]
    minos: tuple[str, ...] = ()  # parameters that get asymmetric (MINOS) intervals


MODELS = {
    "gauss": Model("gauss", "Gaussian on a linear background", ("centre", "sigma", "net", "bg_left", "bg_right"),
                   ("x", "x", "count", "1/x", "1/x"), ("centre", "sigma", "net")),
    "exponential": Model("exponential", "Exponential decay on a constant", ("tau", "N0", "B"),
                         ("x", "1/x", "1/x"), ("tau",)),
    "line": Model("line", "Straight line", ("intercept", "slope"), ("1/x", "1/x")),
}  # fmt: skip


def guess_model(channel: str, unit: str = "") -> str:
    """The model a channel's name or unit suggests: decay or lifetime times decay exponentially."""
    name = channel.lower()
    if any(w in name for w in ("decay_time", "lifetime", "life_time", "delay", "dt_")) or name in ("dt", "t"):
        return "exponential"
    return "gauss"


# --------------------------------------------------------------------------------------------
# integrals of the densities over [a, b] (x relative to the region's lower end x0, width L)


def _line_integral(a, b, x0, length, left, right):
    # density left + (right-left) * (x-x0)/L
    ua, ub = a - x0, b - x0
    return left * (ub - ua) + (right - left) * (ub**2 - ua**2) / (2 * length)


def _gauss_integral(a, b, centre, sigma, net):
    from scipy.special import ndtr

    return net * (ndtr((b - centre) / sigma) - ndtr((a - centre) / sigma))


def fit(
    edges, counts, lo: float, hi: float, model: str = "gauss", variance=None, minos: bool = True
) -> FitResult:
    """Fit ``model`` to the bins whose centres lie in [lo, hi] by maximising the Poisson likelihood.

    With ``variance`` (per bin, e.g. of a background-subtracted spectrum, whose counts are no longer
    Poisson and may be negative) the fit minimises χ² = Σ (n − μ)² / variance instead.
    ``minos=False`` skips the asymmetric intervals (several times faster: for live refits).
    """
    if model not in MODELS:
        raise ValueError(f"fit model '{model}' unknown (valid: {', '.join(MODELS)})")
    edges = np.asarray(edges, dtype=float)
    counts = np.asarray(counts, dtype=float)
    lo, hi = (float(lo), float(hi)) if lo <= hi else (float(hi), float(lo))
    first, last = bin_range(edges, lo, hi)
    spec = MODELS[model]
    n_bins = max(0, last - first + 1)
    entries = float(counts[first : last + 1].sum()) if n_bins else 0.0

    def refuse(message: str) -> FitResult:
        return FitResult(model, False, message, lo, hi, entries=entries, n_bins=n_bins)

    if n_bins < len(spec.names) + 1:
        return refuse(
            f"region holds {n_bins} bins; a {spec.title.lower()} needs at least {len(spec.names) + 1}"
        )
    if entries < MIN_ENTRIES:
        return refuse(f"region holds {entries:.0f} entries; a fit needs at least {MIN_ENTRIES}")
    if variance is None and np.any(counts[first : last + 1] < 0):
        return refuse("region holds negative counts: a likelihood fit needs counts (give their variance)")
    xe = edges[first : last + 2]
    n = counts[first : last + 1]
    var = None if variance is None else np.maximum(np.asarray(variance, dtype=float)[first : last + 1], 1.0)
    builder = {"gauss": _gauss_setup, "exponential": _exp_setup, "line": _line_setup}[model]
    integral, start, limits = builder(xe, n, edges, counts, lo, hi)
    try:
        minuit = _minimise(xe, n, integral, start, limits, spec.names, spec.minos if minos else (), var)
    except (RuntimeError, ValueError, FloatingPointError) as exc:
        return refuse(f"fit did not converge ({exc})")
    if not minuit.valid or not minuit.accurate:
        why = "no valid minimum" if not minuit.valid else "uncertainties not accurate"
        return refuse(f"fit did not converge ({why}); move or widen the region")
    values = [float(v) for v in minuit.values]
    errors = [float(e) for e in minuit.errors]
    params = [
        Parameter(nm, v, e, u, *_minos(minuit, nm))
        for nm, v, e, u in zip(spec.names, values, errors, spec.units, strict=True)
    ]
    at_limit = [p.name for p, lim in zip(params, limits, strict=True) if _at_limit(p.value, p.error, lim)
                and p.name not in ("bg_left", "bg_right", "B", "intercept", "slope")]  # fmt: skip
    if at_limit:
        return refuse(f"fit ran into a limit ({', '.join(at_limit)}); move or widen the region")
    if model == "gauss":
        net = params[2]
        if not net.value > 2.0 * net.error:
            return refuse(f"no significant peak in the region (net {net.value:.0f} ± {net.error:.0f} counts)")
        params = params[:3] + [
            Parameter("fwhm", FWHM_PER_SIGMA * params[1].value, FWHM_PER_SIGMA * params[1].error, "x"),
            Parameter("resolution", FWHM_PER_SIGMA * params[1].value / abs(params[0].value)
                      if params[0].value else math.nan, _resolution_error(params), ""),
            *params[3:],
        ]  # fmt: skip
    elif model == "line":
        # the fit's parameters are the densities at the region's ends; report intercept at x0 and slope
        length = xe[-1] - xe[0]
        cov = np.asarray(minuit.covariance)
        left, right = values
        jac = np.array([[1.0, 0.0], [-1.0 / length, 1.0 / length]])
        v = jac @ cov @ jac.T
        params = [Parameter("value_at_lo", left, math.sqrt(max(v[0, 0], 0)), "1/x"),
                  Parameter("slope", (right - left) / length, math.sqrt(max(v[1, 1], 0)), "1/x")]  # fmt: skip
    curve = _density(model, values, xe)
    deviance = float(minuit.fval)
    return FitResult(model, True, "", lo, hi, tuple(params), deviance, n_bins - len(values), entries,
                     n_bins, curve)  # fmt: skip


def _resolution_error(params: list[Parameter]) -> float:
    c, s = params[0], params[1]
    if not c.value:
        return math.nan
    r = FWHM_PER_SIGMA * s.value / abs(c.value)
    return r * math.hypot(s.error / s.value if s.value else 0.0, c.error / c.value)


def _at_limit(value: float, error: float, lim: tuple[float, float]) -> bool:
    lo, hi = lim
    tol = max(abs(error), 1e-12) * 1e-3
    return (math.isfinite(lo) and value - lo < tol) or (math.isfinite(hi) and hi - value < tol)


def _minos(minuit, name: str) -> tuple[float, float]:
    merr = minuit.merrors.get(name) if minuit.merrors else None
    if merr is None or not merr.is_valid:
        return math.nan, math.nan
    return float(-merr.lower), float(merr.upper)


def _minimise(xe, n, integral, start, limits, names, minos, var=None):
    from iminuit import Minuit
    from iminuit.cost import ExtendedBinnedNLL

    def scaled_cdf(x, *p):
        return integral(xe[0], x, *p)

    if var is None:
        cost = ExtendedBinnedNLL(n, xe, scaled_cdf)
    else:

        def cost(*p):
            mu = np.diff(scaled_cdf(xe, *p))
            return float(np.sum((n - mu) ** 2 / var))

        cost.errordef = Minuit.LEAST_SQUARES
    m = Minuit(cost, *start, name=names)
    for name, lim in zip(names, limits, strict=True):
        m.limits[name] = lim
    with np.errstate(all="ignore"):
        m.migrad(ncall=20000)
        if m.valid:
            m.hesse()
            if minos:
                try:
                    m.minos(*minos)
                except RuntimeError:  # an interval that runs into a limit: keep HESSE errors
                    pass
    return m


def _density(model: str, values: list[float], xe: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """The fitted density (counts per x unit) as a function of x, for drawing."""
    x0, length = float(xe[0]), float(xe[-1] - xe[0])
    if model == "gauss":
        c, s, net, left, right = values
        return lambda x: (net / (s * math.sqrt(2 * math.pi)) * np.exp(-0.5 * ((np.asarray(x) - c) / s) ** 2)
                          + left + (right - left) * (np.asarray(x) - x0) / length)  # fmt: skip
    if model == "exponential":
        tau, n0, b = values
        return lambda x: n0 * np.exp(-np.asarray(x) / tau) + b
    left, right = values
    return lambda x: left + (right - left) * (np.asarray(x) - x0) / length


# --------------------------------------------------------------------------------------------
# start values and limits per model


def _gauss_setup(xe, n, edges, counts, lo, hi):
    x0, length = float(xe[0]), float(xe[-1] - xe[0])
    widths = np.diff(xe)
    s = region_sum(edges, counts, lo, hi)
    k = max(1, min(3, len(n) // 4))
    left = max(float(n[:k].sum() / widths[:k].sum()), 0.0)
    right = max(float(n[-k:].sum() / widths[-k:].sum()), 0.0)
    x = centres(xe)
    centre = s.centroid if math.isfinite(s.centroid) else float(x[np.argmax(n)])
    centre = float(np.clip(centre, x0, x0 + length))
    sigma = s.fwhm / FWHM_PER_SIGMA if math.isfinite(s.fwhm) and s.fwhm > 0 else length / 6
    sigma = float(np.clip(sigma, widths.min() / 2, length / 2))
    net = max(float(s.net), 0.1 * float(n.sum()) + 1.0)

    def integral(a, b, c, sg, nt, bl, br):
        return _gauss_integral(a, b, c, sg, nt) + _line_integral(a, b, x0, length, bl, br)

    limits = [
        (x0, x0 + length),
        (widths.min() / 20, length),
        (0.0, math.inf),
        (0.0, math.inf),
        (0.0, math.inf),
    ]
    return integral, [centre, sigma, net, left, right], limits


def _exp_setup(xe, n, edges, counts, lo, hi):
    x0, x1 = float(xe[0]), float(xe[-1])
    widths = np.diff(xe)
    dens = n / widths
    k = max(1, len(n) // 5)
    b = max(float(dens[-k:].mean()), 0.0)
    x = centres(xe)
    above = np.clip(dens - b, 0.0, None)
    # mean of x - x0 over the excess ~ tau for a window much longer than tau
    tau = float((above * widths * (x - x0)).sum() / max((above * widths).sum(), 1e-12))
    tau = float(np.clip(tau if tau > 0 else (x1 - x0) / 3, (x1 - x0) / 200, 20 * (x1 - x0)))
    n0 = max(float(dens[:k].mean()) - b, 1.0) * math.exp(x0 / tau)

    def integral(a, bb, t, n0_, bg):
        return n0_ * t * (np.exp(-a / t) - np.exp(-bb / t)) + bg * (bb - a)

    limits = [((x1 - x0) / 1000, 100 * (x1 - x0)), (0.0, math.inf), (0.0, math.inf)]
    return integral, [tau, n0, b], limits


def _line_setup(xe, n, edges, counts, lo, hi):
    x0, length = float(xe[0]), float(xe[-1] - xe[0])
    widths = np.diff(xe)
    k = max(1, len(n) // 4)
    left = max(float(n[:k].sum() / widths[:k].sum()), 0.1)
    right = max(float(n[-k:].sum() / widths[-k:].sum()), 0.1)

    def integral(a, b, bl, br):
        return _line_integral(a, b, x0, length, bl, br)

    return integral, [left, right], [(0.0, math.inf), (0.0, math.inf)]
