"""Simulated detectors that need no hardware: muon lifetime panels and a scintillator gamma spectrometer.

The physics lives in pure functions that take a ``numpy.random.Generator`` and return arrays, so
it can be tested without buffers: pulse shapes in ``functions._pulse_shapes``, muon events in
``functions._muon_physics``, gamma spectra and pulses in ``functions._gamma_physics`` (all of
them importable from here as well). The worker functions ``muon_pulses`` and ``gamma_pulses``
(this module) wrap them in the Importer template.
Event timing (Poisson or uniform waiting times, stop-aware sleeping) is ``functions._pacing``,
config checks ``functions._checks``; both are shared with the other prebuilt functions.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from mimocorb_gui.core.bufferio import BufferIO
from mimocorb_gui.core.templates import Importer, setup_check
from mimocorb_gui.functions._checks import check_choice, check_number
from mimocorb_gui.functions._gamma_physics import (
    ELECTRON_MASS_KEV,
    FWHM_PER_SIGMA,
    backscatter_energy,
    compton_edge,
    energy_sigma,
    klein_nishina_dsigma_dT,
    make_gamma_waveform,
    sample_compton_energies,
    sample_gamma_energies,
)
from mimocorb_gui.functions._muon_physics import MuonTruth, muon_event, muon_pulse_times, sample_moyal
from mimocorb_gui.functions._pacing import EventPacer
from mimocorb_gui.functions._pulse_shapes import add_pulse, pulse_shape

# the physics is imported from its modules and offered here too, where it has always been
__all__ = [
    "ELECTRON_MASS_KEV",
    "FWHM_PER_SIGMA",
    "MuonTruth",
    "add_pulse",
    "backscatter_energy",
    "compton_edge",
    "energy_sigma",
    "gamma_pulses",
    "klein_nishina_dsigma_dT",
    "make_gamma_waveform",
    "muon_event",
    "muon_pulse_times",
    "muon_pulses",
    "pulse_shape",
    "sample_compton_energies",
    "sample_gamma_energies",
    "sample_moyal",
    "to_sink_dtype",
]

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


@dataclass
class _Simulation:
    """What a simulator sets up before its first event: the Importer, the sink's dtype, samples and
    numeric fields, the checked settings, the random generator and the event pacer."""

    importer: Importer
    dtype: np.dtype
    n_samples: int
    fields: list[str]
    common: dict[str, Any]
    params: Any
    rng: np.random.Generator
    pacer: EventPacer

    @classmethod
    def prepare(cls, buffer_io: BufferIO, settings) -> _Simulation:
        importer = Importer(buffer_io)
        example = importer.data_example
        dtype, n_samples = example.dtype, example.shape[0]
        fields = _numeric_fields(buffer_io, dtype)
        common, params = settings(buffer_io, n_samples)
        rng = _rng(buffer_io, common["seed"])
        pacer = EventPacer(common["rate"], "poisson", rng, should_stop=lambda: buffer_io.stop_requested)
        return cls(importer, dtype, n_samples, fields, common, params, rng, pacer)

    def events(self) -> Iterator[int]:
        """Event numbers, ``number_of_events`` of them (-1: until the run stops)."""
        return _event_count(self.common["number_of_events"])


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
    sim = _Simulation.prepare(buffer_io, _muon_settings)
    dtype, n_samples, fields, rng = sim.dtype, sim.n_samples, sim.fields, sim.rng
    waves = np.empty((len(fields), n_samples), dtype=np.float64)

    def ufunc():
        for _ in sim.events():
            muon_event(rng, len(fields), n_samples, out=waves, **sim.params)
            if not sim.pacer.wait():
                break
            data = np.zeros(n_samples, dtype=dtype)
            for i, name in enumerate(fields):
                data[name] = to_sink_dtype(waves[i], dtype[name])
            yield data
        yield None

    sim.importer(ufunc)


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
    sim = _Simulation.prepare(buffer_io, _gamma_settings)
    dtype, n_samples, fields, rng = sim.dtype, sim.n_samples, sim.fields, sim.rng
    energy, photo_fraction, backscatter_fraction, resolution, keV_per_unit, shape = sim.params
    wave = np.empty(n_samples, dtype=np.float64)
    batch = 1024

    def ufunc():
        energies = np.empty(0)
        for i in sim.events():
            if i % batch == 0:
                energies = sample_gamma_energies(
                    rng, batch, energy, photo_fraction, backscatter_fraction, resolution
                )
            make_gamma_waveform(rng, energies[i % batch] / keV_per_unit, n_samples, out=wave, **shape)
            if not sim.pacer.wait():
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

    sim.importer(ufunc)
