"""The daq path of ``importers.redpitaya.waveform`` (the default, ``protocol: daq``): config checks and the loop.

Keys, ranges and defaults are mimoCoRB2's (``mimocorb2/functions/importers/redpitaya.py``):
``sample_rate`` in 1, 4, 8, 16, 32, 54, 128, 256; ``trigger_level`` an integer -4096..4095;
``number_of_samples_before_trigger`` 0..data_length; ``set_size`` 100; negators, slope, mode and
source as there. Keys this importer does not know are ignored, as there (mimoCoRB2's examples share
one config file between the importer and a simulation). The data layout is the reference's: the
sink's ``IN1`` / ``IN2`` fields get the two interleaved int16 channels of each trace.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from typing import Any

import numpy as np

from mimocorb_gui.functions.importers.rp_daq import (
    CUT_OFF,
    DAQ_PORT,
    INPUTS,
    MAX_ADC_VALUE,
    MAXIMUM_SAMPLES,
    MIN_ADC_VALUE,
    SAMPLE_RATES,
    TRIGGER_MODES,
    TRIGGER_SLOPES,
    RedPitayaDaq,
    check_generator,
    parse_generator,
    trace_settings,
)
from mimocorb_gui.functions.importers.rp_scpi import RedPitayaError

__all__ = ["check_config", "run"]

WHERE = "redpitaya.waveform (protocol: daq)"


def _is_int(v: Any) -> bool:
    return isinstance(v, int | np.integer) and not isinstance(v, bool)


def common_problems(config: Mapping[str, Any], folder: str | None = None) -> list[str]:
    """Problems of the connection keys both daq importers share (ip, port, timeout, emulate, generator)."""
    problems: list[str] = []

    def bad(key: str, message: str) -> None:
        problems.append(f"config key '{key}': {message}")

    if config.get("emulate") is not True and "ip" not in config:
        bad("ip", "is required (the board's address, e.g. 'rp-f0c38f.local' or '192.168.1.100')")
    ip = config.get("ip")
    if "ip" in config and (not isinstance(ip, str) or not ip.strip()):
        bad("ip", f"{ip!r} is not a host name or IP address (a non-empty string)")
    if "port" in config and (not _is_int(config["port"]) or not 1 <= config["port"] <= 65535):
        bad(
            "port", f"{config['port']!r} is not a TCP port (1..65535; the board's daq server uses {DAQ_PORT})"
        )
    if "timeout" in config:
        v = config["timeout"]
        if isinstance(v, bool) or not isinstance(v, int | float) or not v > 0 or not math.isfinite(v):
            bad("timeout", f"{v!r} is not a positive number of seconds")
    if "emulate" in config and not isinstance(config["emulate"], bool):
        bad("emulate", f"{config['emulate']!r} is not allowed (valid: true, false)")
    if config.get("generator") is not None:
        problems += [f"config key {p}" for p in check_generator(config["generator"], "'generator'", folder)]
    return problems


def check_config(
    config: Mapping[str, Any],
    dtype: np.dtype | None = None,
    data_length: int | None = None,
    folder: str | None = None,
) -> list[str]:
    """All problems of a daq-protocol waveform config (and its sink), as messages naming the key."""
    problems = common_problems(config, folder)

    def bad(key: str, message: str) -> None:
        problems.append(f"config key '{key}': {message}")

    for key in ("sample_rate", "trigger_level", "number_of_samples_before_trigger"):
        if key not in config:
            bad(key, "is required")
    if "sample_rate" in config:
        v = config["sample_rate"]
        if not _is_int(v) or v not in SAMPLE_RATES:
            bad("sample_rate", f"{v!r} is not allowed (valid: {', '.join(map(str, SAMPLE_RATES))})")
    if "trigger_level" in config:
        v = config["trigger_level"]
        if not _is_int(v) or not MIN_ADC_VALUE <= v <= MAX_ADC_VALUE:
            bad("trigger_level", f"{v!r} is not an integer {MIN_ADC_VALUE}..{MAX_ADC_VALUE} (ADC counts)")
    if "number_of_samples_before_trigger" in config:
        v = config["number_of_samples_before_trigger"]
        hi = min(data_length, MAXIMUM_SAMPLES) if data_length is not None else MAXIMUM_SAMPLES
        if not _is_int(v) or not 0 <= v <= hi:
            bad("number_of_samples_before_trigger", f"{v!r} is not an integer 0..{hi} (at most data_length)")
    for key, valid in (
        ("trigger_slope", TRIGGER_SLOPES),
        ("trigger_mode", TRIGGER_MODES),
        ("trigger_source", INPUTS),
    ):
        if key in config and config[key] not in valid:
            bad(key, f"{config[key]!r} is not allowed (valid: {', '.join(valid)})")
    for key in ("negator_IN1", "negator_IN2"):
        if key in config and not isinstance(config[key], bool | np.bool_ | int):
            bad(key, f"{config[key]!r} is not allowed (valid: true, false)")
    if "set_size" in config and (not _is_int(config["set_size"]) or config["set_size"] < 1):
        bad("set_size", f"{config['set_size']!r} is not a positive integer (traces per request)")
    if data_length is not None and not 1 <= data_length <= MAXIMUM_SAMPLES - CUT_OFF:
        problems.append(
            f"sink data_length {data_length} does not fit the board's ring (1..{MAXIMUM_SAMPLES - CUT_OFF} "
            f"samples: {MAXIMUM_SAMPLES} less the {CUT_OFF} extra samples requested per trace)"
        )
    if dtype is not None:
        names = dtype.names or ()
        wrong = [n for n in names if n not in INPUTS]
        if not names or wrong:
            problems.append(f"sink data_dtype fields {list(names)} not allowed: use IN1 and/or IN2 (int16)")
    return problems


def run(buffer_io) -> None:
    """The daq acquisition loop of ``redpitaya.waveform`` (see its docstring)."""
    from mimocorb_gui.core.templates import Importer

    importer = Importer(buffer_io)
    example = importer.data_example
    log = buffer_io.logger
    config = buffer_io.config
    n_samples = int(example.shape[0])
    channels = [(name, INPUTS[name]) for name in INPUTS if name in (example.dtype.names or ())]

    def stop() -> bool:
        return bool(getattr(buffer_io, "stop_requested", False))

    def ufunc():
        problems = check_config(config, example.dtype, n_samples, str(buffer_io.setup_dir))
        if problems:
            raise ValueError(f"{WHERE}: " + "; ".join(problems))
        settings = trace_settings(config, n_samples)
        set_size = int(config.get("set_size", 100))
        emulator = None
        ip, port = str(config.get("ip", "127.0.0.1")).strip(), int(config.get("port", DAQ_PORT))
        if config.get("emulate") is True:
            from mimocorb_gui.functions.importers.rp_daq_server import DaqServer

            emulator = DaqServer("127.0.0.1", 0).start()
            ip, port = emulator.address
            log.warning(
                "emulate: true - acquiring from the built-in emulator at %s:%d, not from a board", ip, port
            )
        rp = RedPitayaDaq(ip, port, float(config.get("timeout", 5.0)))
        events = 0
        t_start = time.monotonic()
        try:
            rp.open()
            if config.get("generator") is not None:
                g = parse_generator(config["generator"], getattr(buffer_io, "setup_dir", None))
                rp.start_generator(g)
                log.info(
                    "pulser on OUT1: %d/s %s, rise %d ns, fall %d us",
                    g.rate,
                    g.distribution,
                    g.rise_time,
                    g.fall_time,
                )
            rp.configure(settings)
            log.info(
                "%s: %d samples (%d before the trigger), sample_rate %d, trigger %s %s at %d, %d traces per request",
                rp.where,
                n_samples,
                settings.pre_trigger,
                settings.sample_rate,
                settings.trigger_source,
                settings.trigger_slope,
                settings.trigger_level,
                set_size,
            )
            for trace in rp.traces(n_samples, set_size, stop=stop):
                t0 = time.monotonic()
                event = np.empty(example.shape, dtype=example.dtype)
                for name, col in channels:
                    event[name] = trace[:, col]
                importer.add_deadtime(time.monotonic() - t0)  # the template adds the wait for a slot
                yield event
                events += 1
        except RedPitayaError as e:
            log.error("%s; stopping after %d events (all kept)", e, events)
            raise
        finally:
            rp.close()
            if emulator is not None:
                emulator.stop()
            if events:
                span = max(time.monotonic() - t_start, 1e-9)
                log.info("finished: %d events in %.1f s (%.1f/s)", events, span, events / span)
        yield None

    importer(ufunc)
