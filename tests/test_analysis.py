"""core.analysis: regions, spectrum files, peak search, calibration, fit refusals (no Qt)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mimocorb_gui.core.analysis import (
    COMMON_LINES,
    Calibration,
    Spectrum,
    bin_range,
    centres,
    find_peaks,
    fit,
    guess_model,
    load_calibrations,
    peak_region,
    read_spectrum_csv,
    rebin,
    region_sum,
    results_text,
    save_calibration,
    snap_to_edges,
    subtract_background,
    write_results,
    write_spectrum_csv,
)
from mimocorb_gui.functions.simulators import sample_gamma_energies

# ----- regions --------------------------------------------------------------------------------


def numpy_sum(edges, counts, lo, hi):
    """What the region must hold: numpy's sum over the bins whose centres lie in [lo, hi]."""
    c = 0.5 * (edges[1:] + edges[:-1])
    return counts[(c >= lo) & (c <= hi)].sum()


@pytest.mark.parametrize("factor", [1, 2, 3, 8])
@pytest.mark.parametrize("kind", ["float", "integer"])
def test_region_gross_equals_numpy_sum(kind, factor):
    rng = np.random.default_rng(3)
    if kind == "float":  # a gamma spectrum in volts, [0, 0.8, 100]
        values = sample_gamma_energies(rng, 5000) / 1000.0
        edges = np.linspace(0, 0.8, 101)
        regions = [(0.6, 0.72), (0.1, 0.3), (0.0, 0.8), (0.333, 0.337)]
    else:  # the muon setup's panels_hit: integers 1..4 in [0.5, 4.5, 4]
        values = rng.integers(1, 5, 500)
        edges = np.linspace(0.5, 4.5, 5)
        regions = [(1.5, 3.5), (2.1, 2.9), (0.5, 4.5), (3.6, 4.4)]
    counts = np.histogram(values, bins=edges)[0]
    e, c = rebin(edges, counts, factor)
    assert c.sum() == counts.sum()
    assert np.array_equal(np.histogram(values, bins=e)[0], c)  # rebinning = histogramming with wider bins
    for lo, hi in regions:
        s = region_sum(e, c, lo, hi)
        first, last = bin_range(e, lo, hi)
        expected = numpy_sum(e, c, lo, hi)
        if expected == 0 and last == first:  # narrower than a bin: the bin its middle lies in
            expected = c[first]
        assert s.gross == expected, (lo, hi)
        assert s.gross > 0  # never 0 over counts (the old panels_hit bug)
        assert s.gross_error == pytest.approx(math.sqrt(s.gross))


def test_region_between_integer_centres_counts_the_bin_under_it():
    edges = np.linspace(0.5, 4.5, 5)
    counts = np.array([10, 125, 30, 5])
    s = region_sum(edges, counts, 2.1, 2.9)  # inside bin [1.5, 2.5) and [2.5, 3.5): middle 2.5
    assert s.gross == counts[2]
    assert snap_to_edges(edges, 1.6, 2.4) == (1.5, 2.5)


def test_region_net_centroid_fwhm_of_a_peak_on_a_line():
    edges = np.linspace(0, 100, 201)
    x = centres(edges)
    line = 20 + 0.1 * x
    peak = 2000 * 0.5 / (3.0 * math.sqrt(2 * math.pi)) * np.exp(-0.5 * ((x - 50) / 3.0) ** 2)
    counts = line + peak
    s = region_sum(edges, counts, 30, 70)
    assert s.net == pytest.approx(peak[(x >= 30) & (x <= 70)].sum(), rel=1e-3)
    assert s.background == pytest.approx(line[(x >= 30) & (x <= 70)].sum(), rel=1e-3)
    assert s.centroid == pytest.approx(50, abs=0.01)
    assert s.fwhm == pytest.approx(2.3548 * 3.0, rel=0.02)
    assert s.resolution == pytest.approx(s.fwhm / 50)
    assert s.net_error > 0 and s.centroid_error > 0


def test_region_outside_the_histogram_is_empty():
    s = region_sum(np.linspace(0, 1, 11), np.ones(10), 2, 3)
    assert s.n_bins == 0 and s.gross == 0 and math.isnan(s.centroid)


def test_automatic_region_sits_on_the_photopeak():
    rng = np.random.default_rng(5)
    counts, edges = np.histogram(sample_gamma_energies(rng, 20000) / 1000, bins=100, range=(0, 0.8))
    lo, hi = peak_region(edges, counts)
    assert lo < 0.6617 < hi and hi - lo < 0.2
    assert lo in edges and hi in edges


# ----- fits -----------------------------------------------------------------------------------


def test_fit_refuses_too_few_counts_and_flat_regions():
    edges = np.linspace(0, 1, 101)
    counts = np.zeros(100)
    counts[40:60] = 0
    counts[45] = 3
    r = fit(edges, counts, 0.3, 0.7, "gauss")
    assert not r.ok and "entries" in r.message and not r.parameters
    flat = np.random.default_rng(1).poisson(50, 100)
    r = fit(edges, flat, 0.4, 0.6, "gauss")  # "a fit over nothing"
    assert not r.ok, r.as_dict()
    assert r.message
    r = fit(edges, flat, 0.4, 0.42, "gauss")
    assert not r.ok and "bins" in r.message
    with pytest.raises(ValueError, match="valid: gauss"):
        fit(edges, flat, 0, 1, "landau")


def test_gauss_fit_compares_with_scipy_on_the_same_numbers():
    """The fitted centre/sigma/net agree with scipy's own minimisation of the same Poisson likelihood."""
    from scipy.optimize import minimize
    from scipy.special import ndtr

    rng = np.random.default_rng(11)
    values = np.concatenate([rng.normal(0.5, 0.03, 3000), rng.uniform(0, 1, 4000)])
    counts, edges = np.histogram(values, bins=100, range=(0, 1))
    r = fit(edges, counts, 0.35, 0.65, "gauss")
    assert r.ok, r.message
    sel = slice(35, 65)
    xe, n = edges[35:66], counts[sel]

    def nll(p):
        c, s, net, bl, br = p
        mu = (
            net * np.diff(ndtr((xe - c) / s))
            + bl * np.diff(xe)
            + (br - bl) * np.diff((xe - xe[0]) ** 2) / (2 * (xe[-1] - xe[0]))
        )
        return float(np.sum(mu - n * np.log(np.maximum(mu, 1e-300))))

    p0 = [0.5, 0.03, 3000, 4000, 4000]
    best = minimize(nll, p0, method="Nelder-Mead", options={"xatol": 1e-9, "fatol": 1e-9, "maxiter": 40000})
    assert r["centre"].value == pytest.approx(best.x[0], abs=0.05 * r["centre"].error)
    assert r["sigma"].value == pytest.approx(best.x[1], abs=0.05 * r["sigma"].error)
    assert r["net"].value == pytest.approx(best.x[2], abs=0.05 * r["net"].error)
    assert 0 < r.chi2_ndf < 2 and 0 < r.p_value <= 1 and r.ndf == 30 - 5
    from scipy.stats import chi2

    assert r.p_value == pytest.approx(chi2.sf(r.deviance, r.ndf), rel=1e-12)  # the textbook definition
    assert r.entries == counts[sel].sum()
    assert r.curve is not None and r.curve(np.array([0.5]))[0] > 0


def test_background_subtracted_counts_are_fitted_by_chi2_with_their_variance():
    rng = np.random.default_rng(9)
    edges = np.linspace(0, 1, 101)
    x = centres(edges)
    signal = np.histogram(rng.normal(0.5, 0.04, 2000), bins=edges)[0]
    bg_here = rng.poisson(30, 100)
    bg_run = rng.poisson(60, 100)  # twice the live time
    net = signal + bg_here - 0.5 * bg_run
    variance = signal + bg_here + 0.25 * bg_run
    assert not fit(edges, net - 40, 0.3, 0.7).ok  # negative counts: no likelihood fit without variance
    r = fit(edges, net, 0.3, 0.7, "gauss", variance)
    assert r.ok, r.message
    assert abs(r["centre"].value - 0.5) < 3 * r["centre"].error
    assert abs(r["net"].value - 2000) < 3 * r["net"].error + 50
    assert 0 < r.chi2_ndf < 2.5 and x.size == 100


def test_line_fit_and_models_by_channel_name():
    edges = np.linspace(0, 10, 51)
    x = centres(edges)
    counts = np.random.default_rng(2).poisson((100 + 10 * x) * 0.2)
    r = fit(edges, counts, 0, 10, "line")
    assert r.ok, r.message
    assert abs(r["slope"].value - 10) < 3 * r["slope"].error
    assert abs(r["value_at_lo"].value - 100) < 3 * r["value_at_lo"].error
    assert guess_model("decay_time") == "exponential"
    assert guess_model("peak_heights") == "gauss"


# ----- peak search and calibration ------------------------------------------------------------


def simulated_heights(energy_keV, n, rng, volts_per_keV=1 / 1000):
    return sample_gamma_energies(rng, n, energy_keV) * volts_per_keV


def test_peak_search_finds_the_photopeak_first():
    rng = np.random.default_rng(8)
    counts, edges = np.histogram(simulated_heights(661.657, 20000, rng), bins=100, range=(0, 0.8))
    peaks = find_peaks(edges, counts, prominence=0.05)
    assert peaks and abs(peaks[0].position - 0.6617) < 0.01
    assert peaks[0].fwhm == pytest.approx(0.07 * 0.6617, rel=0.3)


def test_two_marked_lines_calibrate_the_cs137_photopeak_within_one_percent():
    """Ba-133 (356 keV) and Na-22 (511 keV) runs calibrate the gamma setup's channel; the Cs-137 photopeak then reads 662."""
    rng = np.random.default_rng(1)
    edges = np.linspace(0, 0.8, 101)  # the gamma setup's peak_heights bins (V)
    marked = []
    for line in (356.0, 511.0):
        counts = np.histogram(simulated_heights(line, 20000, rng), bins=edges)[0]
        peak = find_peaks(edges, counts)[0]  # the user marks the strongest peak proposed
        r = fit(
            edges,
            counts,
            *snap_to_edges(edges, peak.position - 1.5 * peak.fwhm, peak.position + 1.5 * peak.fwhm),
        )
        assert r.ok, r.message
        marked.append((r["centre"].value, line, "marked"))
    cal = Calibration.from_points(marked, "linear")
    cs = np.histogram(simulated_heights(661.657, 20000, rng), bins=edges)[0]
    peak = find_peaks(edges, cs)[0]
    r = fit(edges, cs, peak.position - 0.06, peak.position + 0.06)
    energy = cal(r["centre"].value)
    assert energy == pytest.approx(661.66, rel=0.01)
    assert cal.inverse(energy) == pytest.approx(r["centre"].value)
    assert 661.66 in [e for _, e in COMMON_LINES]


def test_calibration_quadratic_round_trip_and_run_file(tmp_path):
    pts = [(0.1, 100.0), (0.5, 520.0), (0.9, 960.0)]
    cal = Calibration.from_points(pts, "quadratic")
    assert [cal(x) for x, _ in pts] == pytest.approx([e for _, e in pts])
    assert cal.inverse(cal(0.7)) == pytest.approx(0.7)
    with pytest.raises(ValueError, match="at least 3"):
        Calibration.from_points(pts[:2], "quadratic")
    with pytest.raises(ValueError, match="valid: linear, quadratic"):
        Calibration.from_points(pts, "cubic")
    save_calibration(tmp_path, "PulseHeights", "peak_heights", cal)
    save_calibration(tmp_path, "PulseHeights", "position", Calibration.from_points(pts[:2]))
    back = load_calibrations(tmp_path)
    assert back["PulseHeights/peak_heights"] == cal
    save_calibration(tmp_path, "PulseHeights", "position", None)
    assert list(load_calibrations(tmp_path)) == ["PulseHeights/peak_heights"]
    with pytest.raises(ValueError, match="coefficients"):
        Calibration.from_dict({"kind": "linear", "coefficients": [1]})


# ----- spectra ----------------------------------------------------------------------------------


def test_spectrum_csv_round_trip_with_energy(tmp_path):
    edges = np.linspace(0, 0.8, 11)
    counts = np.arange(10)
    spec = Spectrum(edges, counts, "peak_heights", "V", live_time=58.5, real_time=60.0)
    cal = Calibration.from_points([(0, 0), (0.8, 800)])
    path = write_spectrum_csv(tmp_path / "s.csv", spec, cal(edges), header={"setup": "gamma", "run": "r1"})
    back, energy = read_spectrum_csv(path)
    assert np.array_equal(back.edges, edges) and np.array_equal(back.counts, counts)
    assert energy == pytest.approx(edges * 1000)
    assert back.live_time == 58.5 and back.real_time == 60.0 and back.meta["run"] == "r1"
    assert spec.rate() == pytest.approx((45 / 58.5, math.sqrt(45) / 58.5))
    assert spec.dead_fraction == pytest.approx(1.5 / 60)
    with pytest.raises(ValueError, match="len\\(edges\\)"):
        Spectrum(edges[:-1], counts)


def test_background_subtraction_scales_by_live_time():
    edges = np.linspace(0, 1, 5)
    s = Spectrum(edges, np.array([100, 200, 300, 400]), live_time=100.0)
    b = Spectrum(edges, np.array([10, 10, 10, 10]), live_time=50.0)
    net, err = subtract_background(s, b)
    assert net == pytest.approx([80, 180, 280, 380])
    assert err == pytest.approx(np.sqrt(np.array([100, 200, 300, 400]) + 4 * 10))
    with pytest.raises(ValueError, match="live time"):
        subtract_background(s, Spectrum(edges, np.ones(4)))
    with pytest.raises(ValueError, match="bins differ"):
        subtract_background(s, Spectrum(np.linspace(0, 2, 5), np.ones(4), live_time=1))


def test_results_files_and_clipboard_text(tmp_path):
    rows = [{"channel": "decay_time", "tau": 2.19, "tau_error": 0.1}, {"channel": "x", "net": 5.0}]
    csv_path, json_path = write_results(tmp_path, "fit_results", rows, {"run": "r"})
    import csv
    import json

    assert list(csv.DictReader(csv_path.open()))[0]["tau"] == "2.19"
    assert json.loads(json_path.read_text())["results"][1]["net"] == 5.0
    assert results_text(rows).splitlines()[0].split("\t") == ["channel", "tau", "tau_error", "net"]


def test_rebin_keeps_counts_and_edges():
    edges = np.linspace(0, 10, 11)
    counts = np.arange(10)
    e2, c2 = rebin(edges, counts, 3)
    assert list(c2) == [0 + 1 + 2, 3 + 4 + 5, 6 + 7 + 8, 9]
    assert list(e2) == [0, 3, 6, 9, 10]
    assert rebin(edges, counts, 1)[1] is counts


def test_region_edge_cases():
    edges = np.linspace(0, 10, 11)
    counts = np.arange(10)
    swapped = region_sum(edges, counts, 7, 2)
    assert swapped.n_bins == 5
    assert region_sum(edges, counts, 2, 4).background == 0  # narrower than 4 bins: no background estimate


def test_peak_region_finds_the_most_prominent_peak():
    rng = np.random.default_rng(4)
    values = np.concatenate(
        [rng.normal(0.662, 0.02, 400), rng.uniform(0.05, 0.48, 1500), rng.exponential(0.02, 600)]
    )
    counts, edges = np.histogram(values, bins=200, range=(0, 1))
    lo, hi = peak_region(edges, counts)
    assert lo < 0.662 < hi
    assert 0.05 < hi - lo < 0.25  # about ±4 sigma
    assert peak_region(edges, np.zeros(200)) is None
    assert peak_region(edges, counts, min_counts=10**6) is None


def test_scope_measurements():
    from mimocorb_gui.core.analysis.scope import crosses_level, cursor_readout, inverse_unit

    assert inverse_unit("µs") == "MHz" and inverse_unit("ns") == "GHz" and inverse_unit("V") == "1/V"
    r = cursor_readout(1.0, 1.5, -0.2, 0.1, "µs", "V")
    assert r.dt == 0.5 and r.inverse_dt == 2.0 and r.dv == pytest.approx(0.3)
    assert r.text == "Δt = 0.5 µs   1/Δt = 2 MHz   ΔV = 0.3 V"
    assert "1/Δt = –" in cursor_readout(1, 1, 0, 0, "s").text
    pulse = -0.3 * np.exp(-0.5 * ((np.arange(100) - 50) / 3) ** 2)
    assert crosses_level(pulse, -0.05) and not crosses_level(pulse, -0.5) and not crosses_level(pulse, 0.01)
    assert not crosses_level(np.full(10, 1.0), 1.0)


def test_decay_region_skips_the_minimum_delay_and_the_empty_tail():
    from mimocorb_gui.core.analysis import decay_region

    rng = np.random.default_rng(12)
    t = rng.exponential(2.197, 3000)
    t = t[(t > 0.1) & (t < 7.2)]  # min_delay_ns 100 and the end of the recorded window
    counts, edges = np.histogram(t, bins=40, range=(0, 8))
    lo, hi = decay_region(edges, counts)
    assert lo == pytest.approx(0.2) and hi == pytest.approx(7.2)
    r = fit(edges, counts, lo, hi, "exponential")
    assert r.ok and abs(r["tau"].value - 2.197) < 3 * r["tau"].error
    assert decay_region(edges, np.zeros(40)) is None
    from mimocorb_gui.core.analysis import format_value

    assert format_value(1.6e-7, 0.71) == "0.00 ± 0.71" and format_value(2.297, 0.076) == "2.297 ± 0.076"


def test_region_of_background_subtracted_counts_uses_their_variance():
    edges = np.linspace(0, 1, 11)
    s = Spectrum(edges, np.full(10, 10), live_time=10.0)
    b = Spectrum(edges, np.full(10, 40), live_time=20.0)  # scaled ×0.5: 20 per bin, more than s
    net, err = subtract_background(s, b)
    r = region_sum(edges, net, 0, 1, err**2)
    assert r.gross == pytest.approx(-100) and r.gross_error == pytest.approx(np.sqrt((err**2).sum()))
    assert r.net_error > r.gross_error  # plus the end-bin background estimate
