"""Simulated detectors: physics of the pure functions, and the Importer workers on real ring buffers."""

from __future__ import annotations

import math
from contextlib import contextmanager

import numpy as np
import pytest
from ring_helpers import drain as _drain
from scipy import optimize

from mimocorb_gui.core.bufferio import BufferIO
from mimocorb_gui.core.ringbuffer import RingBuffer
from mimocorb_gui.functions import _checks as checks
from mimocorb_gui.functions import _pacing as pacing
from mimocorb_gui.functions import simulators as sim
from mimocorb_gui.functions.analyzers import find_pulse_peaks

CS137 = 661.657


# ---------------------------------------------------------------------------------------------
# pulses


def test_pulse_shape_peak_and_causality():
    t = np.linspace(-50, 2000, 200001)
    s = sim.pulse_shape(t, 10.0, 250.0)
    assert s.max() == pytest.approx(1.0, abs=1e-6)
    assert np.all(s[t <= 0] == 0)
    t_peak = t[s.argmax()]
    assert t_peak == pytest.approx(10 * 250 / 240 * math.log(25), rel=1e-3)
    # tail decays with the decay constant
    assert s[np.searchsorted(t, 1500)] / s[np.searchsorted(t, 1250)] == pytest.approx(math.exp(-1), rel=1e-3)


def test_muon_pulse_width_is_fwhm():
    rise, decay = sim.muon_pulse_times(20.0)
    t = np.linspace(0, 400, 400001)
    above = t[sim.pulse_shape(t, rise, decay) >= 0.5]
    assert above[-1] - above[0] == pytest.approx(20.0, rel=1e-3)


def test_add_pulse_places_amplitude_at_time():
    wave = np.zeros(1000)
    sim.add_pulse(wave, t0=400.0, amplitude=2.5, sample_time=4.0, rise=2.0, decay=8.0)
    assert wave[:100].max() == 0
    assert wave.max() == pytest.approx(2.5, rel=0.02)
    assert 100 <= wave.argmax() <= 104
    sim.add_pulse(wave, t0=1e9, amplitude=1, sample_time=4.0, rise=2.0, decay=8.0)  # outside: no-op


# ---------------------------------------------------------------------------------------------
# muons


def _truncated_exp_mle(delays: np.ndarray, lo: float, hi: float) -> float:
    """Lifetime of an exponential observed only in [lo, hi] (maximum likelihood)."""
    mean = float(np.mean(delays - lo))
    width = hi - lo

    def score(tau):
        return tau - width / math.expm1(width / tau) - mean

    return optimize.brentq(score, 0.05 * mean, 20 * mean)


def test_muon_decay_delay_fits_lifetime_from_waveforms():
    rng = np.random.default_rng(2024)
    dt, n_samples, pre = 10.0, 4000, 100
    delays = []
    for _ in range(4000):
        wave, truth = sim.muon_event(
            rng, 1, n_samples, sample_time_ns=dt, stopped_fraction=1.0, pre_trigger_samples=pre, noise=0.003
        )
        assert truth.stopped and truth.stop_channel == 0
        peaks = find_pulse_peaks(wave[0], {"height": 0.05, "distance": 3, "invert": True})
        assert abs(peaks["position"][0] - pre) <= 5  # the trigger pulse (or an early decay merged with it)
        if len(peaks) > 1:
            delays.append((peaks["position"][1] - peaks["position"][0]) * dt / 1000.0)
    delays = np.asarray(delays)
    lo, hi = 0.1, (n_samples - pre - 10) * dt / 1000.0
    tau = _truncated_exp_mle(delays[(delays > lo) & (delays < hi)], lo, hi)
    assert tau == pytest.approx(2.197, rel=0.05)


def test_muon_truth_statistics():
    rng = np.random.default_rng(7)
    truths = [
        sim.muon_event(rng, 4, 200, stopped_fraction=0.3, lifetime_us=1.5, noise=0)[1] for _ in range(6000)
    ]
    stopped = [t for t in truths if t.stopped]
    assert len(stopped) / len(truths) == pytest.approx(0.3, abs=0.02)
    assert np.mean([t.decay_time_us for t in stopped]) == pytest.approx(1.5, rel=0.05)
    assert {t.stop_channel for t in stopped} == {0, 1, 2, 3}
    for t in stopped:
        assert t.decay_channels[0] == t.stop_channel
        assert all(abs(c - t.stop_channel) <= 1 for c in t.decay_channels)
    assert all(math.isnan(t.decay_time_us) and t.stop_channel == -1 for t in truths if not t.stopped)


def test_muon_event_waveform_properties():
    rng = np.random.default_rng(3)
    wave, truth = sim.muon_event(
        rng, 4, 4250, stopped_fraction=0.0, noise=0.0, offset=0.1, pulse_height=0.3, pre_trigger_samples=425
    )
    assert wave.shape == (4, 4250)
    assert np.all(wave[:, :425] == pytest.approx(0.1))  # baseline = offset before the trigger
    assert np.all(wave.max(axis=1) == pytest.approx(0.1))  # negative pulses only
    minima = wave.argmin(axis=1)
    assert np.all((minima >= 425) & (minima <= 432))  # one trigger pulse per panel
    pos, _ = sim.muon_event(rng, 2, 500, stopped_fraction=0.0, noise=0.0, polarity=1)
    assert pos.min() >= 0 and pos.max() > 0.1
    noisy, _ = sim.muon_event(rng, 1, 20000, stopped_fraction=0.0, noise=0.01, pre_trigger_samples=19000)
    assert noisy[0, :18000].std() == pytest.approx(0.01, rel=0.05)


def test_background_pulses():
    rng = np.random.default_rng(5)
    n_pulses = []
    for _ in range(300):
        wave, _ = sim.muon_event(
            rng,
            1,
            5000,
            sample_time_ns=4,
            stopped_fraction=0.0,
            noise=0.0,
            background_rate=2e5,
            pre_trigger_samples=0,
        )
        n_pulses.append(len(find_pulse_peaks(wave[0], {"height": 0.02, "invert": True, "distance": 10})))
    # trigger pulse + Poisson(2e5 Hz * 20 µs = 4) background pulses (some overlap)
    assert np.mean(n_pulses) == pytest.approx(5.0, rel=0.1)


# ---------------------------------------------------------------------------------------------
# gammas


def test_compton_edge_and_backscatter_energies():
    assert sim.compton_edge(CS137) == pytest.approx(477.3, abs=0.2)  # Cs-137 textbook value
    assert sim.backscatter_energy(CS137) == pytest.approx(184.3, abs=0.2)
    assert sim.compton_edge(CS137) + sim.backscatter_energy(CS137) == pytest.approx(CS137)
    assert sim.compton_edge(1332.5) == pytest.approx(1118.1, abs=0.3)  # Co-60


def test_klein_nishina_matches_angular_cross_section():
    """dσ/dT from the recoil formula equals dσ/dΩ·2π/|dT/dcosθ| from the angular Klein–Nishina formula."""
    e, m = CS137, sim.ELECTRON_MASS_KEV
    cos = np.linspace(-0.999, 0.9, 500)
    ratio = 1.0 / (1.0 + e / m * (1.0 - cos))  # E'/E
    dsigma_domega = 0.5 * ratio**2 * (ratio + 1.0 / ratio - (1.0 - cos**2))
    T = e * (1.0 - ratio)
    dT_dcos = e * ratio**2 * e / m
    from_angles = dsigma_domega * 2 * np.pi / dT_dcos
    from_recoil = sim.klein_nishina_dsigma_dT(T, e)
    r = from_angles / from_recoil
    assert np.allclose(r, r[0], rtol=1e-9)
    assert sim.klein_nishina_dsigma_dT(np.array([sim.compton_edge(e) + 1.0, -1.0]), e).tolist() == [0, 0]


def test_ideal_spectrum_components():
    rng = np.random.default_rng(11)
    e = sim.sample_gamma_energies(
        rng, 400_000, CS137, photo_fraction=0.3, backscatter_fraction=0.05, resolution=0
    )
    edge = sim.compton_edge(CS137)
    photo = e == CS137
    assert photo.mean() == pytest.approx(0.3, abs=0.005)
    rest = e[~photo]
    assert rest.max() <= edge + 1e-9
    assert rest.max() >= 0.999 * edge
    # Klein–Nishina: the continuum rises towards the edge
    h, _ = np.histogram(rest, bins=20, range=(0, edge))
    assert h[-1] > 1.3 * h[10]
    # backscatter peak: photons scattered by 120..180 degrees, on top of the continuum
    lo, hi = sim.backscatter_energy(CS137, 180) - 1e-6, sim.backscatter_energy(CS137, 120)
    in_window = np.mean((e > lo) & (e < hi))
    e0 = sim.sample_gamma_energies(
        rng, 400_000, CS137, photo_fraction=0.3, backscatter_fraction=0.0, resolution=0
    )
    continuum_only = np.mean((e0 > lo) & (e0 < hi)) * 0.65 / 0.70
    assert in_window - continuum_only == pytest.approx(0.05, abs=0.003)


def _gauss(x, a, mu, sigma, c):
    return a * np.exp(-0.5 * ((x - mu) / sigma) ** 2) + c


def _fit_peak(values: np.ndarray, lo: float, hi: float) -> tuple[float, float]:
    h, edges = np.histogram(values, bins=80, range=(lo, hi))
    x = 0.5 * (edges[1:] + edges[:-1])
    p, _ = optimize.curve_fit(_gauss, x, h, p0=(h.max(), x[h.argmax()], (hi - lo) / 8, 0))
    return p[1], abs(p[2])


def test_photopeak_centre_and_resolution():
    rng = np.random.default_rng(12)
    e = sim.sample_gamma_energies(rng, 300_000, CS137, resolution=0.07)
    mu, sigma = _fit_peak(e, 560, 760)
    assert mu == pytest.approx(CS137, rel=0.02)
    assert sigma * sim.FWHM_PER_SIGMA / CS137 == pytest.approx(0.07, rel=0.1)
    # resolution scales as 1/sqrt(E): a 1332 keV line measured with resolution given at 1332 keV
    e2 = sim.sample_gamma_energies(rng, 300_000, 1332.5, resolution=0.05)
    mu2, sigma2 = _fit_peak(e2, 1150, 1500)
    assert mu2 == pytest.approx(1332.5, rel=0.02)
    assert sim.energy_sigma(np.array(4 * 100.0), 0.07, 100.0) == pytest.approx(
        2 * sim.energy_sigma(100.0, 0.07, 100.0)
    )
    assert sigma2 * sim.FWHM_PER_SIGMA / 1332.5 == pytest.approx(0.05, rel=0.1)


def test_smeared_compton_edge_location():
    rng = np.random.default_rng(13)
    e = sim.sample_gamma_energies(rng, 600_000, CS137, photo_fraction=0.3, resolution=0.07)
    h, edges = np.histogram(e, bins=200, range=(300, 600))
    x = 0.5 * (edges[1:] + edges[:-1])
    plateau = h[(x > 400) & (x < 440)].mean()
    after = np.nonzero((x > 440) & (h < 0.5 * plateau))[0][0]
    assert x[after] == pytest.approx(sim.compton_edge(CS137), rel=0.03)


def test_gamma_waveforms_pha_recovers_photopeak():
    rng = np.random.default_rng(14)
    keV_per_unit = 2000.0
    energies = sim.sample_gamma_energies(rng, 3000, CS137, photo_fraction=0.5, resolution=0.06)
    heights = []
    for energy in energies:
        wave = sim.make_gamma_waveform(rng, energy / keV_per_unit, 1024, noise=0.0005, baseline=0.01)
        assert wave.shape == (1024,)
        peaks = find_pulse_peaks(wave, {"height": 0.03, "distance": 800})
        if len(peaks):
            heights.append(peaks["peak_heights"][0] - 0.01)
    mu, _ = _fit_peak(np.asarray(heights) * keV_per_unit, 560, 760)
    assert mu == pytest.approx(CS137, rel=0.02)


def test_sample_gamma_energies_rejects_bad_fractions():
    with pytest.raises(ValueError):
        sim.sample_gamma_energies(np.random.default_rng(), 10, photo_fraction=0.9, backscatter_fraction=0.2)


# ---------------------------------------------------------------------------------------------
# pacing and config checks


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, dt):
        self.now += dt


@pytest.mark.parametrize("distribution", ["poisson", "uniform"])
def test_event_pacer_mean_rate(distribution):
    clock = FakeClock()
    pacer = pacing.EventPacer(250.0, distribution, np.random.default_rng(1), clock=clock, sleep=clock.sleep)
    for _ in range(20000):
        assert pacer.wait()
    assert clock.now == pytest.approx(20000 / 250.0, rel=0.03)


def test_event_pacer_gaps_are_exponential():
    pacer = pacing.EventPacer(100.0, "poisson", np.random.default_rng(2))
    gaps = np.array([pacer.gap() for _ in range(50000)])
    assert gaps.mean() == pytest.approx(0.01, rel=0.02)
    assert gaps.std() == pytest.approx(0.01, rel=0.03)  # exponential: std == mean
    assert pacing.EventPacer(100.0, "uniform").gap() == 0.01


def test_event_pacer_stop_and_lag():
    clock = FakeClock()
    stop = {"now": False}
    pacer = pacing.EventPacer(0.5, "uniform", clock=clock, sleep=clock.sleep, should_stop=lambda: stop["now"])
    assert pacer.wait() and clock.now == pytest.approx(2.0)
    clock.now += 100  # a long stall (back-pressure): no burst of catch-up events afterwards
    assert pacer.wait() and clock.now == pytest.approx(104.0)
    stop["now"] = True
    assert not pacer.wait()
    with pytest.raises(ValueError, match="uniform"):
        pacing.EventPacer(1, "gauss")


def _io(config, name="w"):
    return BufferIO(name, [], [], [], config=config)


def test_check_number_and_choice_messages():
    io = _io({"rate": "fast", "n": 2.5, "p": "NEGATIVE", "q": "sideways", "x": 3})
    with pytest.raises(ValueError, match=r"worker 'w': config 'rate' must be a number >= 0, got 'fast'"):
        checks.check_number(io, "rate", 1, minimum=0)
    with pytest.raises(ValueError, match="must be an integer"):
        checks.check_number(io, "n", 1, integer=True)
    with pytest.raises(ValueError, match="<= 1"):
        checks.check_number(io, "x", 1, maximum=1)
    assert checks.check_number(io, "missing", 4, integer=True) == 4
    assert checks.check_choice(io, "p", "negative", ("negative", "positive")) == "negative"
    with pytest.raises(ValueError, match="'negative', 'positive', got 'sideways'"):
        checks.check_choice(io, "q", "negative", ("negative", "positive"))


def test_to_sink_dtype_clips_integers():
    out = sim.to_sink_dtype(np.array([-1e6, -1.6, 0.4, 1e6]), np.dtype("int16"))
    assert out.dtype == np.int16 and out.tolist() == [-32768, -2, 0, 32767]


# ---------------------------------------------------------------------------------------------
# the worker functions on real ring buffers (in this process)


@contextmanager
def ring(name, slots, length, dtype):
    rb = RingBuffer(name, slots, length, dtype)
    try:
        yield rb
    finally:
        rb.unlink()


def test_muon_pulses_worker_fills_sink():
    dtype = {"chA": "float32", "chB": "float32", "chC": "float32", "chD": "float32"}
    with ring("muons", 12, 1000, dtype) as rb:
        io = BufferIO(
            "muons",
            [],
            [rb.writer()],
            [],
            config={"rate": 0, "number_of_events": 10, "seed": 1, "offset": 0.05},
        )
        sim.muon_pulses(io)
        assert rb.closed
        events = _drain(rb)
    assert len(events) == 10
    assert [int(m["counter"][0]) for m, _ in events] == list(range(10))
    for _, d in events:
        assert d.dtype.names == ("chA", "chB", "chC", "chD")
        assert d.shape == (1000,)
        assert d["chA"].min() < -0.1  # negative trigger pulse on the top panel
        assert np.median(d["chA"]) == pytest.approx(0.05, abs=0.01)


def test_muon_pulses_integer_fields_and_seed_reproducible():
    def run():
        with ring("adc", 6, 500, {"IN1": "int16", "IN2": "int16"}) as rb:
            io = BufferIO(
                "m",
                [],
                [rb.writer()],
                [],
                config={"rate": 0, "number_of_events": 5, "seed": 42, "pulse_height": 2000, "noise": 5},
            )
            sim.muon_pulses(io)
            return [d for _, d in _drain(rb)]

    a, b = run(), run()
    assert a[0].dtype["IN1"] == np.int16
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert min(int(d["IN1"].min()) for d in a) < -1000


def test_gamma_pulses_worker_spectrum():
    with ring("gammas", 410, 512, {"IN1": "float32", "IN2": "float32"}) as rb:
        io = BufferIO(
            "g",
            [],
            [rb.writer()],
            [],
            config={"rate": 0, "number_of_events": 400, "seed": 3, "gain": 0.002, "decay_time_ns": 100},
        )
        sim.gamma_pulses(io)
        events = _drain(rb)
    assert len(events) == 400
    heights = np.array([d["IN1"].max() for _, d in events])
    assert heights.max() < 1.6  # 662 keV * 0.002 / keV = 1.32 plus resolution
    assert np.sum(np.abs(heights - 1.3233) < 0.08) > 100  # the photopeak
    assert max(float(np.abs(d["IN2"]).max()) for _, d in events) < 0.05  # second field: noise only


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"polarity": "up"}, "config 'polarity' must be one of 'negative', 'positive'"),
        ({"rate": -1}, "config 'rate' must be a number >= 0"),
        ({"stopped_fraction": 2}, "config 'stopped_fraction' must be a number >= 0 and <= 1"),
        ({"pre_trigger_samples": 5000}, "config 'pre_trigger_samples' must be an integer"),
        ({"seed": "abc"}, "config 'seed' must be an integer"),
    ],
)
def test_muon_pulses_config_errors(config, message):
    with ring("bad", 2, 100, {"chA": "float32"}) as rb:
        io = BufferIO("muons", [], [rb.writer()], [], config=config)
        with pytest.raises(ValueError, match=message):
            sim.muon_pulses(io)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"gain": 1, "keV_per_unit": 1}, "either 'keV_per_unit' or 'gain'"),
        ({"photo_fraction": 0.9, "backscatter_fraction": 0.2}, "photo_fraction \\+ backscatter_fraction"),
        ({"energy_keV": 0}, "config 'energy_keV' must be a number > 0"),
    ],
)
def test_gamma_pulses_config_errors(config, message):
    with ring("bad", 2, 100, {"IN1": "float32"}) as rb:
        io = BufferIO("gammas", [], [rb.writer()], [], config=config)
        with pytest.raises(ValueError, match=message):
            sim.gamma_pulses(io)


def test_docstrings_follow_the_manual_template():
    for func in (sim.muon_pulses, sim.gamma_pulses):
        doc = func.__doc__
        assert doc.startswith("mimoCoRB2 Function: ")
        for section in ("Type\n", "Buffers\n", "Configs\n", "Examples\n", "Importer"):
            assert section in doc
