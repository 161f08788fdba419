"""Red Pitaya importers: ``waveform`` (triggered traces) and ``spectrum`` (the FPGA's own histograms).

The lab boards run the MCPHA + daq acquisition server (port 1001, ``rp_daq``); ``waveform`` speaks
it by default exactly as mimoCoRB2's importer does, so a mimoCoRB2 setup for a lab board runs
unchanged. ``protocol: scpi`` selects the vendor's SCPI server instead (port 5000,
``rp_scpi_waveform``), with its own keys and ranges. ``spectrum`` reads the board's pulse-height
histograms and timers (``rp_spectrum``). Both daq importers can start the board's pulser
(``generator:``). ``mimocorb rp-emulator`` (``rp_emulator``) stands in for the board.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from mimocorb_gui.core.templates import setup_check
from mimocorb_gui.functions.importers import rp_daq_waveform, rp_scpi_waveform, rp_spectrum
from mimocorb_gui.functions.importers.rp_daq import (
    INPUTS,
    MAX_ADC_VALUE,
    MAXIMUM_SAMPLES,
    MIN_ADC_VALUE,
    SAMPLE_RATES,
    TRIGGER_MODES,
    TRIGGER_SLOPES,
)
from mimocorb_gui.functions.importers.rp_scpi_waveform import (
    KNOWN_KEYS,
    RedPitayaConfig,
    RedPitayaConfigError,
)

__all__ = [
    "INPUTS",
    "KNOWN_KEYS",
    "MAXIMUM_SAMPLES",
    "MAX_ADC_VALUE",
    "MIN_ADC_VALUE",
    "PROTOCOLS",
    "SAMPLE_RATES",
    "TRIGGER_MODES",
    "TRIGGER_SLOPES",
    "RedPitayaConfig",
    "RedPitayaConfigError",
    "check_config",
    "spectrum",
    "validate_config",
    "waveform",
]

PROTOCOLS = ("daq", "scpi")


def check_config(
    config: Mapping[str, Any], dtype: np.dtype | None = None, data_length: int | None = None
) -> list[str]:
    """All problems of a waveform config for its protocol (default daq), as messages naming the key."""
    protocol = config.get("protocol", "daq")
    if protocol == "scpi":
        return rp_scpi_waveform.check_config(config, dtype, data_length)
    if protocol != "daq":
        return [f"config key 'protocol': {protocol!r} is not allowed (valid: {', '.join(PROTOCOLS)})"]
    return rp_daq_waveform.check_config(config, dtype, data_length)


def validate_config(
    config: Mapping[str, Any], dtype: np.dtype | None = None, data_length: int | None = None
) -> RedPitayaConfig | Mapping[str, Any]:
    """The checked config (SCPI: a ``RedPitayaConfig``; daq: the mapping); ``RedPitayaConfigError`` otherwise."""
    if config.get("protocol", "daq") == "scpi":
        return rp_scpi_waveform.validate_config(config, dtype, data_length)
    problems = check_config(config, dtype, data_length)
    if problems:
        raise RedPitayaConfigError(f"{rp_daq_waveform.WHERE}: " + "; ".join(problems))
    return config


def _check_waveform(config, sinks=(), setup_dir=None, **_):
    sink = sinks[0] if sinks else None
    dtype, length = (sink.dtype, sink.data_length) if sink else (None, None)
    if config.get("protocol", "daq") == "daq":
        return rp_daq_waveform.check_config(config, dtype, length, str(setup_dir) if setup_dir else None)
    return check_config(config, dtype, length)


def _check_spectrum(config, sinks=(), setup_dir=None, **_):
    sink = sinks[0] if sinks else None
    dtype, length = (sink.dtype, sink.data_length) if sink else (None, None)
    return rp_spectrum.check_config(config, dtype, length, str(setup_dir) if setup_dir else None)


@setup_check(_check_waveform)
def waveform(buffer_io):
    """mimoCoRB2 Function: Use RedPitaya to acquire waveform data.

    Acquires triggered traces of IN1 and IN2 from a Red Pitaya running the lab's MCPHA + daq
    acquisition server (TCP port 1001), exactly as mimoCoRB2's importer does: the same keys,
    ranges, defaults and data layout; the board's negators invert the inputs before trigger and
    data. Requests of ``set_size`` traces are kept in flight (two outstanding), so the board
    never waits for a request. ``protocol: scpi`` talks to the vendor's SCPI server (port 5000)
    instead, with its own keys (see the README). If the board cannot be reached, stays silent for
    ``timeout`` seconds or closes the connection, the worker fails with a message naming the
    board; every event written before is kept. Dead time is the time spent outside receiving
    (converting a trace and waiting for a free slot). Use ``mimocorb rp-emulator`` without a board.

    Type
    ----
    Importer

    Buffers
    -------
    sources
        0
    sinks
        1 with data_dtype: {'IN1': int16, 'IN2': int16} (either channel may be omitted)
        data_length decides the total number of samples (must be at least
        number_of_samples_before_trigger and at most MAXIMUM_SAMPLES - 100 = 8388507)
    observes
        0

    Configs
    -------
    ip : str
        IP address (or host name) of the RedPitaya device.
    sample_rate : int
        Number of samples (125MHz) averaged into one. Must be one of the values in SAMPLE_RATES:
        1, 4, 8, 16, 32, 54, 128, 256.
    negator_IN1 : bool, optional (default=False)
        If True, the IN1 input is negated.
    negator_IN2 : bool, optional (default=False)
        If True, the IN2 input is negated.
    trigger_slope : str, optional (default='rising')
        Slope of the trigger. Must be one of the values in TRIGGER_SLOPES: rising, falling.
    trigger_mode : str, optional (default='normal')
        Mode of the trigger. Must be one of the values in TRIGGER_MODES: normal, auto.
    trigger_level : int
        Level of the trigger. Must be between MIN_ADC_VALUE (-4096) and MAX_ADC_VALUE (4095).
    trigger_source : str, optional (default='IN1')
        Source of the trigger. Must be one of the values in INPUTS: IN1, IN2.
    number_of_samples_before_trigger : int
        Number of samples to acquire before the trigger. Must be an integer between 0 and the
        total number of samples (data_length).
    set_size : int, optional (default=100)
        Number of traces per request to the board (two requests are kept in flight).
    port : int, optional (default=1001)
        TCP port of the daq server (e.g. 10001 for ``mimocorb rp-emulator`` without privileges).
    timeout : float, optional (default=5)
        Seconds of silence after which the board counts as gone.
    generator : dict, optional
        Start the board's pulser on OUT1 (cable it to IN1): rate (pulses/s), distribution
        (uniform or poisson), rise_time (ns, 0..100), fall_time (us, 0..100), lower_limit,
        upper_limit, spectrum (4096 counts: a list or a .npy/.txt/.hst file, relative to the
        setup), keep_pulsing (bool).
    protocol : str, optional (default='daq')
        daq (the lab boards' server) or scpi (the vendor's SCPI server; other keys apply).
    emulate : bool, optional (default=False)
        Demo without hardware: acquire from a built-in emulator started in this worker.

    Examples
    --------
    >>> # Workers:
    >>> #   rp_to_mimo:
    >>> #     function: importers.redpitaya.waveform
    >>> #     sinks: [oscilloscope]
    >>> #     config: {ip: rp-f0c38f.local, sample_rate: 4, trigger_level: 100,
    >>> #              number_of_samples_before_trigger: 100}
    """
    if buffer_io.config.get("protocol", "daq") == "scpi":
        rp_scpi_waveform.run(buffer_io)
    else:
        rp_daq_waveform.run(buffer_io)


@setup_check(_check_spectrum)
def spectrum(buffer_io):
    """mimoCoRB2 Function: Read the Red Pitaya's own pulse-height spectra (FPGA histograms).

    The board's MCPHA firmware histograms every pulse on IN1 and IN2 into 4096 bins while its
    timer runs; this importer resets histograms and timers, sets thresholds, delay and the
    acquisition time, and every ``interval`` seconds reads the timers and histograms: one event
    per read-out in its sink, and the files of ``exporters.histogram`` (``Histograms_<sink>/``)
    so the histogram dock shows the spectrum, with ``timers.csv`` giving live time (the board's
    timer) and real time. Ends when the run stops or the acquisition time is reached.

    Type
    ----
    Importer

    Buffers
    -------
    sources
        0
    sinks
        1 with data_dtype: {'IN1': int64, 'IN2': int64} (either may be omitted), data_length 4096
    observes
        0

    Configs
    -------
    ip : str
        IP address (or host name) of the RedPitaya device.
    port : int, optional (default=1001)
        TCP port of the daq server.
    interval : float, optional (default=1)
        Seconds between read-outs.
    duration : float, optional (default: none, until the run stops)
        Acquisition (live) time in seconds; the board stops counting then.
    min_threshold : int, optional (default=0)
        Lowest pulse height (bin) counted.
    max_threshold : int, optional (default=4095)
        Highest pulse height (bin) counted.
    pha_delay : int, optional (default=100)
        PHA delay (samples), as Pavel Demin's MCPHA client sets it.
    sample_rate : int, optional
        Decimation (SAMPLE_RATES); the board keeps its setting when not given.
    negator_IN1 : bool, optional (default=False)
        Negate IN1 (negative pulses).
    negator_IN2 : bool, optional (default=False)
        Negate IN2.
    generator : dict, optional
        Start the board's pulser (see redpitaya.waveform).
    timeout : float, optional (default=5)
        Seconds of silence after which the board counts as gone.
    emulate : bool, optional (default=False)
        Demo without hardware: read a built-in emulator started in this worker.
    """
    rp_spectrum.run(buffer_io)
