"""Simulated detectors that need no hardware: muon lifetime panels and a scintillator gamma spectrometer.

The physics lives in pure functions (``muon_event``, ``sample_gamma_energies``, ``make_gamma_waveform``
...) that take a ``numpy.random.Generator`` and return arrays, so it can be tested without buffers.
The worker functions ``muon_pulses`` and ``gamma_pulses`` wrap them in the Importer template.
Event timing (Poisson or uniform waiting times, stop-aware sleeping) is ``functions._pacing``,
config checks ``functions._checks``; both are shared with the other prebuilt functions.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from mimocorb_gui.core.bufferio import BufferIO
from mimocorb_gui.core.templates import Importer, setup_check
from mimocorb_gui.functions._checks import check_choice, check_number
from mimocorb_gui.functions._pacing import EventPacer

__all__ = [
    "ELECTRON_MASS_KEV",
    "MuonTruth",
    "add_pulse",
    "backscatter_energy",
    "compton_edge",
    "gamma_pulses",
    "klein_nishina_dsigma_dT",
    "make_gamma_waveform",
    "muon_event",
    "muon_pulses",
    "pulse_shape",
    "sample_compton_energies",
    "sample_gamma_energies",
    "to_sink_dtype",
]

ELECTRON_MASS_KEV = 510.99895
FWHM_PER_SIGMA = 2.0 * math.sqrt(2.0 * math.log(2.0))


# --------------------------------------------------------------------------------------------
# pulses


def pulse_shape(t: np.ndarray, rise: float, decay: float) -> np.ndarray:
    """Fast rise, exponential decay: ``exp(-t/decay) - exp(-t/rise)`` scaled to a maximum of 1, 0 for t < 0."""
    t = np.asarray(t, dtype=np.float64)
    out = np.zeros_like(t)
    pos = t > 0
    if rise <= 0:
        out[pos] = np.exp(-t[pos] / decay)
        out[t == 0] = 1.0
        return out
    if abs(rise - decay) < 1e-12 * decay:
        rise = decay * (1 - 1e-6)
    t_peak = rise * decay / (decay - rise) * math.log(decay / rise)
    norm = math.exp(-t_peak / decay) - math.exp(-t_peak / rise)
    out[pos] = (np.exp(-t[pos] / decay) - np.exp(-t[pos] / rise)) / norm
    return out


def add_pulse(
    wave: np.ndarray,
    t0: float,
    amplitude: float,
    sample_time: float,
    rise: float,
    decay: float,
    span: float = 12.0,
) -> None:
    """Add ``amplitude * pulse_shape(t - t0)`` to ``wave`` in place (sample i at time i*sample_time)."""
    n = wave.shape[-1]
    first = max(0, math.ceil(t0 / sample_time))
    last = min(n, math.ceil((t0 + span * decay + 4 * rise) / sample_time) + 1)
    if first >= last:
        return
    t = np.arange(first, last) * sample_time - t0
    wave[..., first:last] += amplitude * pulse_shape(t, rise, decay)


def _fwhm_of_shape(rise: float, decay: float) -> float:
    t = np.linspace(0, 20 * decay + 10 * rise, 200001)
    above = t[pulse_shape(t, rise, decay) >= 0.5]
    return float(above[-1] - above[0])


_MUON_RISE_OVER_DECAY = 0.25
_MUON_FWHM_OVER_DECAY = _fwhm_of_shape(_MUON_RISE_OVER_DECAY, 1.0)


def muon_pulse_times(pulse_width_ns: float) -> tuple[float, float]:
    """(rise, decay) time constants in ns of a PMT pulse whose FWHM is ``pulse_width_ns``."""
    decay = pulse_width_ns / _MUON_FWHM_OVER_DECAY
    return _MUON_RISE_OVER_DECAY * decay, decay


def sample_moyal(rng: np.random.Generator, size: Any = None) -> np.ndarray:
    """Moyal distribution (Landau approximation, mode 0): ``-ln(Z**2)`` for standard normal Z."""
    z = rng.standard_normal(size)
    return -np.log(np.maximum(z * z, 1e-300))


@dataclass(frozen=True)
class MuonTruth:
    """What happened in one simulated muon event (for tests and for checking analyses)."""

    stopped: bool
    stop_channel: int  # -1 for a muon that crossed all panels
    decay_time_us: float  # nan unless stopped
    decay_channels: tuple[int, ...]  # channels with a decay-electron pulse (may be outside the window)
    trigger_time_ns: float


def muon_event(
    rng: np.random.Generator,
    n_channels: int,
    n_samples: int,
    *,
    sample_time_ns: float = 4.0,
    lifetime_us: float = 2.197,
    stopped_fraction: float = 0.25,
    pulse_height: float = 0.3,
    pulse_width_ns: float = 20.0,
    noise: float = 0.003,
    offset: float = 0.0,
    pre_trigger_samples: int | None = None,
    polarity: int = -1,
    landau_width: float = 0.15,
    background_rate: float = 0.0,
    out: np.ndarray | None = None,
) -> tuple[np.ndarray, MuonTruth]:
    """One muon event on a stack of ``n_channels`` scintillator panels (channel 0 on top).

    A muon crosses the panels from the top. With probability ``stopped_fraction`` it stops in a
    panel chosen uniformly and decays there after an exponentially distributed time
    (``lifetime_us``); otherwise it crosses all panels. The trigger pulse appears at the same
    time in every panel the muon reached (amplitude ``pulse_height`` times a Landau-like factor
    ``1 + landau_width * Moyal``). The decay electron gives a pulse in the stopping panel and, in
    half the cases, in its upper or lower neighbour (uniform amplitude 0.3 to 1.5 ``pulse_height``).
    ``background_rate`` (Hz per channel) adds uncorrelated single pulses. Pulses have the sign of
    ``polarity`` (-1: negative like a PMT anode), sit on ``offset`` and carry Gaussian ``noise``.

    Returns the waveforms ``(n_channels, n_samples)`` in float64 and a :class:`MuonTruth`.
    """
    dt = float(sample_time_ns)
    rise, decay = muon_pulse_times(pulse_width_ns)
    if pre_trigger_samples is None:
        pre_trigger_samples = n_samples // 10
    waves = out if out is not None else np.empty((n_channels, n_samples), dtype=np.float64)
    pulses = np.zeros((n_channels, n_samples), dtype=np.float64)

    t_trigger = (pre_trigger_samples + rng.random()) * dt
    stopped = bool(rng.random() < stopped_fraction)
    stop_channel = int(rng.integers(n_channels)) if stopped else -1
    reached = stop_channel + 1 if stopped else n_channels
    heights = pulse_height * np.maximum(0.1, 1.0 + landau_width * sample_moyal(rng, reached))
    for ch in range(reached):
        add_pulse(pulses[ch], t_trigger, heights[ch], dt, rise, decay)

    decay_time_us = math.nan
    decay_channels: tuple[int, ...] = ()
    if stopped:
        decay_time_us = float(rng.exponential(lifetime_us))
        channels = [stop_channel]
        if rng.random() < 0.5:
            neighbour = stop_channel + (1 if rng.random() < 0.5 else -1)
            if 0 <= neighbour < n_channels:
                channels.append(neighbour)
        decay_channels = tuple(channels)
        t_decay = t_trigger + decay_time_us * 1000.0
        for ch in decay_channels:
            add_pulse(pulses[ch], t_decay, pulse_height * rng.uniform(0.3, 1.5), dt, rise, decay)

    if background_rate > 0:
        window_s = n_samples * dt * 1e-9
        for ch in range(n_channels):
            for _ in range(rng.poisson(background_rate * window_s)):
                t_bg = rng.uniform(0, n_samples * dt)
                amp = pulse_height * max(0.1, 1.0 + landau_width * float(sample_moyal(rng)))
                add_pulse(pulses[ch], t_bg, amp, dt, rise, decay)

    if noise > 0:
        waves[:] = rng.normal(offset, noise, size=(n_channels, n_samples))
    else:
        waves[:] = offset
    waves += polarity * pulses
    truth = MuonTruth(stopped, stop_channel, decay_time_us, decay_channels, t_trigger)
    return waves, truth


# --------------------------------------------------------------------------------------------
# gamma spectroscopy


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


# --------------------------------------------------------------------------------------------
# worker helpers


def to_sink_dtype(values: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Cast float samples to a field dtype: integers are rounded and clipped to their range."""
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return np.clip(np.rint(values), info.min, info.max).astype(dtype)
    return values.astype(dtype, copy=False)


def _numeric_fields(io: BufferIO, dtype: np.dtype) -> list[str]:
    fields = [n for n in dtype.names if dtype[n].shape == () and np.issubdtype(dtype[n], np.number)]
    if not fields:
        raise ValueError(
            f"worker '{io.name}': sink '{io.write[0].buffer.name}' has no numeric fields for waveforms"
        )
    skipped = [n for n in dtype.names if n not in fields]
    if skipped:
        io.logger.warning("fields %s are not numeric scalars and stay zero", ", ".join(skipped))
    return fields


def _common_config(io: BufferIO, n_samples: int, default_rate: float) -> dict[str, Any]:
    cfg = {
        "rate": check_number(io, "rate", default_rate, minimum=0),
        "number_of_events": check_number(io, "number_of_events", -1, minimum=-1, integer=True),
        "sample_time_ns": check_number(io, "sample_time_ns", 4.0, above=0),
        "pre_trigger_samples": check_number(
            io, "pre_trigger_samples", n_samples // 10, minimum=0, maximum=n_samples - 1, integer=True
        ),
        "noise": check_number(io, "noise", None, minimum=0, allow_none=True),
        "seed": io.get("seed", None),
    }
    if cfg["seed"] is not None and not isinstance(cfg["seed"], int):
        raise ValueError(f"worker '{io.name}': config 'seed' must be an integer or null, got {cfg['seed']!r}")
    return cfg


def _rng(io: BufferIO, seed: int | None) -> np.random.Generator:
    """A generator per process: the same seed still gives each process of a worker its own stream."""
    if seed is None:
        return np.random.default_rng()
    return np.random.default_rng([int(seed), int(getattr(io, "process_index", 0))])


def _event_count(n: int) -> Iterator[int]:
    i = 0
    while n < 0 or i < n:
        yield i
        i += 1


def _muon_settings(buffer_io, n_samples: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """The config of ``muon_pulses``, checked (ValueError naming the key); also run by ``mimocorb check``."""
    common = _common_config(buffer_io, n_samples, default_rate=20.0)
    pulse_height = check_number(buffer_io, "pulse_height", 0.3)
    params = {
        "sample_time_ns": common["sample_time_ns"],
        "lifetime_us": check_number(buffer_io, "lifetime_us", 2.197, above=0),
        "stopped_fraction": check_number(buffer_io, "stopped_fraction", 0.25, minimum=0, maximum=1),
        "pulse_height": pulse_height,
        "pulse_width_ns": check_number(buffer_io, "pulse_width_ns", 20.0, above=0),
        "noise": common["noise"] if common["noise"] is not None else 0.01 * abs(pulse_height),
        "offset": check_number(buffer_io, "offset", 0.0),
        "pre_trigger_samples": common["pre_trigger_samples"],
        "polarity": -1
        if check_choice(buffer_io, "polarity", "negative", ("negative", "positive")) == "negative"
        else 1,
        "landau_width": check_number(buffer_io, "landau_width", 0.15, minimum=0),
        "background_rate": check_number(buffer_io, "background_rate", 0.0, minimum=0),
    }
    return common, params


def _gamma_settings(buffer_io, n_samples: int) -> tuple[dict[str, Any], tuple]:
    """The config of ``gamma_pulses``, checked (ValueError naming the key); also run by ``mimocorb check``."""
    common = _common_config(buffer_io, n_samples, default_rate=200.0)
    energy = check_number(buffer_io, "energy_keV", 661.657, above=0)
    photo_fraction = check_number(buffer_io, "photo_fraction", 0.35, minimum=0, maximum=1)
    backscatter_fraction = check_number(buffer_io, "backscatter_fraction", 0.05, minimum=0, maximum=1)
    if photo_fraction + backscatter_fraction > 1:
        raise ValueError(
            f"worker '{buffer_io.name}': photo_fraction + backscatter_fraction must be <= 1, "
            f"got {photo_fraction} + {backscatter_fraction}"
        )
    resolution = check_number(buffer_io, "resolution", 0.07, minimum=0)
    if "gain" in buffer_io.config and "keV_per_unit" in buffer_io.config:
        raise ValueError(f"worker '{buffer_io.name}': give either 'keV_per_unit' or 'gain', not both")
    if "gain" in buffer_io.config:
        keV_per_unit = 1.0 / check_number(buffer_io, "gain", None, above=0)
    else:
        keV_per_unit = check_number(buffer_io, "keV_per_unit", 1000.0, above=0)
    shape = {
        "sample_time_ns": common["sample_time_ns"],
        "rise_time_ns": check_number(buffer_io, "rise_time_ns", 10.0, minimum=0),
        "decay_time_ns": check_number(buffer_io, "decay_time_ns", 250.0, above=0),
        "pre_trigger_samples": common["pre_trigger_samples"],
        "noise": common["noise"] if common["noise"] is not None else 0.002 * energy / keV_per_unit,
        "baseline": check_number(buffer_io, "baseline", 0.0),
    }
    return common, (energy, photo_fraction, backscatter_fraction, resolution, keV_per_unit, shape)


class _ConfigOnly:
    """What the config parsing reads of a BufferIO, for the setup check (no buffers, no processes)."""

    def __init__(self, config: Any) -> None:
        self.name = "?"
        self.config = config

    def get(self, key: str, default: Any = None) -> Any:
        return self.config.get(key, default)


def _settings_check(settings) -> Any:
    """A ``setup_check`` running a simulator's config parsing on the setup's config and sink."""

    def check(config, sinks=(), **_) -> list[str]:
        problems = []
        sink = sinks[0] if sinks else None
        if sink is not None and not [
            n
            for n in sink.dtype.names
            if sink.dtype[n].shape == () and np.issubdtype(sink.dtype[n], np.number)
        ]:
            problems.append(f"sink '{sink.name}' has no numeric fields for waveforms")
        try:
            settings(_ConfigOnly(config), sink.data_length if sink is not None else 1000)
        except ValueError as exc:
            problems.append(str(exc).replace("worker '?': ", ""))
        return problems

    return check


@setup_check(_settings_check(_muon_settings))
def muon_pulses(buffer_io: BufferIO) -> None:
    """mimoCoRB2 Function: Simulate a muon lifetime experiment (waveforms of scintillator panels).

    Importer of oscilloscope-like events from a stack of scintillator panels read out by
    photomultipliers; one sink field per panel (e.g. chA..chD, channel 0 = top panel). Every event
    is a muon crossing the panels: a trigger pulse at ``pre_trigger_samples`` in each panel it
    reached. A fraction ``stopped_fraction`` of the muons stops in a random panel and decays after
    an exponentially distributed time (``lifetime_us``): a second, delayed pulse in that panel and,
    in half of the cases, in a neighbouring panel (decay electron going up or down). Pulses are
    negative by default like a PMT anode signal (``polarity``), with a Landau-like amplitude
    spread, Gaussian noise and an analogue ``offset``. Waiting times between events are
    exponential (Poisson process at ``rate``). Values are in the units of ``pulse_height``
    (volts by default); integer sink fields get rounded, clipped values (ADC counts).

    Type
    ----
    Importer

    Buffers
    -------
    sources
        0
    sinks
        1, one numeric field per panel (e.g. {chA: float32, chB: float32, chC: float32, chD: float32});
        data_length = samples per waveform (e.g. 4250 × 4 ns = 17 µs covers ~8 lifetimes)
    observes
        0

    Configs
    -------
    rate : float, optional (default=20)
        Mean event rate in Hz (Poisson waiting times); 0 = as fast as possible.
    number_of_events : int, optional (default=-1)
        Events to generate before the importer ends; -1 = until the run is stopped.
    lifetime_us : float, optional (default=2.197)
        Muon lifetime in microseconds.
    stopped_fraction : float, optional (default=0.25)
        Fraction of muons that stop in a panel and decay.
    pulse_height : float, optional (default=0.3)
        Most probable pulse amplitude (volts, or ADC counts for integer fields).
    pulse_width_ns : float, optional (default=20)
        Full width at half maximum of a pulse in ns.
    polarity : str, optional (default='negative')
        'negative' (PMT anode) or 'positive' (e.g. after an inverting amplifier).
    noise : float, optional (default=0.01 * pulse_height)
        Standard deviation of the Gaussian noise.
    offset : float, optional (default=0)
        Analogue offset added to every sample (baseline).
    sample_time_ns : float, optional (default=4)
        Time between two samples in ns.
    pre_trigger_samples : int, optional (default=data_length // 10)
        Sample index of the trigger pulse.
    landau_width : float, optional (default=0.15)
        Relative width of the Landau-like amplitude fluctuation.
    background_rate : float, optional (default=0)
        Rate in Hz per panel of uncorrelated single pulses (random coincidences).
    seed : int, optional (default=None)
        Seed of the random generator (each process of the worker gets its own stream).

    Examples
    --------
    >>> # setup.yaml
    >>> # Buffers:
    >>> #   InputBuffer: {slot_count: 128, data_length: 4250,
    >>> #                 data_dtype: {chA: float32, chB: float32, chC: float32, chD: float32}}
    >>> # Workers:
    >>> #   muons: {function: simulators.muon_pulses, sinks: [InputBuffer],
    >>> #           config: {rate: 50, stopped_fraction: 0.3, sample_time_ns: 4}}
    """
    importer = Importer(buffer_io)
    example = importer.data_example
    dtype, n_samples = example.dtype, example.shape[0]
    fields = _numeric_fields(buffer_io, dtype)
    common, params = _muon_settings(buffer_io, n_samples)
    rng = _rng(buffer_io, common["seed"])
    pacer = EventPacer(common["rate"], "poisson", rng, should_stop=lambda: buffer_io.stop_requested)
    waves = np.empty((len(fields), n_samples), dtype=np.float64)

    def ufunc():
        for _ in _event_count(common["number_of_events"]):
            muon_event(rng, len(fields), n_samples, out=waves, **params)
            if not pacer.wait():
                break
            data = np.zeros(n_samples, dtype=dtype)
            for i, name in enumerate(fields):
                data[name] = to_sink_dtype(waves[i], dtype[name])
            yield data
        yield None

    importer(ufunc)


@setup_check(_settings_check(_gamma_settings))
def gamma_pulses(buffer_io: BufferIO) -> None:
    """mimoCoRB2 Function: Simulate a scintillation gamma spectrometer (e.g. NaI(Tl) with Cs-137).

    Importer of single pulses whose heights follow the spectrum a scintillator records from a
    mono-energetic gamma source: the photopeak at ``energy_keV`` (fraction ``photo_fraction``),
    the Compton continuum with the Klein–Nishina shape up to the Compton edge E·2E/(mc²+2E)
    (477 keV for 662 keV), and the backscatter peak near E/(1+2E/mc²) (184 keV). Energies are
    smeared with the detector ``resolution`` (FWHM/E at the photopeak, scaling as 1/sqrt(E)) and
    converted to pulse heights with ``keV_per_unit``. Pulses are positive (as after a
    preamplifier) with a fast rise and exponential decay, on a noisy ``baseline``. The first
    numeric field of the sink carries the pulse; further numeric fields get baseline and noise only.

    Type
    ----
    Importer

    Buffers
    -------
    sources
        0
    sinks
        1 with numeric field(s), e.g. {IN1: float32} or {IN1: int16} (ADC counts);
        data_length = samples per waveform (e.g. 1024)
    observes
        0

    Configs
    -------
    rate : float, optional (default=200)
        Mean event rate in Hz (Poisson waiting times); 0 = as fast as possible.
    number_of_events : int, optional (default=-1)
        Events to generate before the importer ends; -1 = until the run is stopped.
    energy_keV : float, optional (default=661.657)
        Gamma energy (Cs-137: 661.657 keV, Co-60 lines: 1173 / 1332 keV, Na-22: 511 / 1275 keV).
    photo_fraction : float, optional (default=0.35)
        Fraction of events in the photopeak (peak-to-total ratio).
    backscatter_fraction : float, optional (default=0.05)
        Fraction of events in the backscatter peak.
    resolution : float, optional (default=0.07)
        Energy resolution, FWHM / E at the photopeak (NaI(Tl): about 0.07).
    keV_per_unit : float, optional (default=1000)
        Calibration: keV per unit of pulse height (1000 keV per volt: 662 keV -> 0.662 V).
    gain : float, optional (default=None)
        Alternative calibration: pulse-height units per keV (gain = 1 / keV_per_unit). Give one of the two.
    rise_time_ns : float, optional (default=10)
        Rise time constant of the pulse in ns.
    decay_time_ns : float, optional (default=250)
        Decay time constant of the pulse in ns (NaI(Tl) scintillation: 230 ns).
    noise : float, optional (default=0.002 * energy_keV / keV_per_unit)
        Standard deviation of the Gaussian noise.
    baseline : float, optional (default=0)
        Baseline (offset) of the waveform.
    sample_time_ns : float, optional (default=4)
        Time between two samples in ns.
    pre_trigger_samples : int, optional (default=data_length // 10)
        Sample index where the pulse starts.
    seed : int, optional (default=None)
        Seed of the random generator (each process of the worker gets its own stream).

    Examples
    --------
    >>> # Buffers:  Pulses: {slot_count: 64, data_length: 1024, data_dtype: {IN1: float32}}
    >>> # Workers:  source: {function: simulators.gamma_pulses, sinks: [Pulses],
    >>> #                    config: {rate: 500, energy_keV: 661.657, resolution: 0.07}}
    >>> #           pha: {function: analyzers.pha, sources: [Pulses], sinks: [Heights],
    >>> #                 config: {height: 0.02, distance: 500}}
    """
    importer = Importer(buffer_io)
    example = importer.data_example
    dtype, n_samples = example.dtype, example.shape[0]
    fields = _numeric_fields(buffer_io, dtype)
    common, (energy, photo_fraction, backscatter_fraction, resolution, keV_per_unit, shape) = _gamma_settings(
        buffer_io, n_samples
    )
    rng = _rng(buffer_io, common["seed"])
    pacer = EventPacer(common["rate"], "poisson", rng, should_stop=lambda: buffer_io.stop_requested)
    wave = np.empty(n_samples, dtype=np.float64)
    batch = 1024

    def ufunc():
        energies = np.empty(0)
        for i in _event_count(common["number_of_events"]):
            if i % batch == 0:
                energies = sample_gamma_energies(
                    rng, batch, energy, photo_fraction, backscatter_fraction, resolution
                )
            make_gamma_waveform(rng, energies[i % batch] / keV_per_unit, n_samples, out=wave, **shape)
            if not pacer.wait():
                break
            data = np.zeros(n_samples, dtype=dtype)
            data[fields[0]] = to_sink_dtype(wave, dtype[fields[0]])
            for name in fields[1:]:
                quiet = (
                    rng.normal(shape["baseline"], shape["noise"], n_samples)
                    if shape["noise"] > 0
                    else shape["baseline"]
                )
                data[name] = to_sink_dtype(np.asarray(quiet, dtype=np.float64), dtype[name])
            yield data
        yield None

    importer(ufunc)
