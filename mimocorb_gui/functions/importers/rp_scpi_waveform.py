"""The SCPI path of ``importers.redpitaya.waveform`` (``protocol: scpi``): config checks and the acquisition loop.

Drives the vendor's SCPI server (port 5000) through ``rp_scpi.RedPitayaScope`` (pyvisa +
pyvisa-py): arm, wait for the trigger, read both inputs around the trigger position, re-arm. Its
keys and ranges are the SCPI server's (decimations 1..65536, raw counts -8192..8191, at most
16384 samples); messages name the protocol.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from mimocorb_gui.functions.importers.rp_scpi import (
    ADC_MAX,
    ADC_MIN,
    BUFFER_SIZE,
    DECIMATIONS,
    FULL_SCALE_V,
    RedPitayaError,
    RedPitayaScope,
    ScopeSettings,
)

__all__ = [
    "INPUTS",
    "MAXIMUM_SAMPLES",
    "MAX_ADC_VALUE",
    "MIN_ADC_VALUE",
    "SAMPLE_RATES",
    "TRIGGER_MODES",
    "TRIGGER_SLOPES",
    "RedPitayaConfig",
    "RedPitayaConfigError",
    "check_config",
    "validate_config",
    "run",
]

# the manual's names
SAMPLE_RATES = DECIMATIONS  # decimation factors: 1, 2, 4, ... 65536
INPUTS = ("IN1", "IN2")
TRIGGER_SOURCES = ("IN1", "IN2", "EXT")
TRIGGER_SLOPES = ("rising", "falling")
TRIGGER_MODES = ("normal", "auto")
TRANSFERS = ("binary", "ascii")
GAINS = tuple(FULL_SCALE_V)  # LV, HV
MIN_ADC_VALUE, MAX_ADC_VALUE = ADC_MIN, ADC_MAX
MAXIMUM_SAMPLES = BUFFER_SIZE

KNOWN_KEYS = (
    "protocol",
    "ip",
    "port",
    "timeout",
    "sample_rate",
    "negator_IN1",
    "negator_IN2",
    "trigger_slope",
    "trigger_mode",
    "trigger_level",
    "trigger_source",
    "number_of_samples_before_trigger",
    "set_size",
    "transfer",
    "gain",
    "auto_trigger_interval",
    "emulate",
)


class RedPitayaConfigError(ValueError):
    """A config value of the redpitaya importer is missing or not allowed; the message names the key."""


@dataclass(frozen=True)
class RedPitayaConfig:
    ip: str
    sample_rate: int
    trigger_level: int
    number_of_samples_before_trigger: int
    port: int = 5000
    timeout: float = 5.0
    negator_IN1: bool = False
    negator_IN2: bool = False
    trigger_slope: str = "rising"
    trigger_mode: str = "normal"
    trigger_source: str = "IN1"
    set_size: int = 100
    transfer: str = "binary"
    gain: str = "LV"
    auto_trigger_interval: float = 0.1
    emulate: bool = False

    def scope_settings(self, channels: tuple[str, ...], n_samples: int) -> ScopeSettings:
        return ScopeSettings(
            decimation=self.sample_rate,
            n_samples=n_samples,
            pre_trigger=self.number_of_samples_before_trigger,
            trigger_source=self.trigger_source,
            trigger_slope=self.trigger_slope,
            trigger_level=self.trigger_level,
            channels=channels,
            negate=tuple(ch for ch in INPUTS if getattr(self, f"negator_{ch}")),
            gain=self.gain,
            averaging=True,  # "Number of samples (125MHz) averaged into one"
        )


def _choices(values) -> str:
    return ", ".join(map(str, values))


def _problems(config: Mapping[str, Any], dtype: np.dtype | None, data_length: int | None) -> list[str]:
    problems: list[str] = []

    def bad(key: str, message: str) -> None:
        problems.append(f"config key '{key}': {message}")

    def is_int(v: Any) -> bool:
        return isinstance(v, int | np.integer) and not isinstance(v, bool)

    required = ("sample_rate", "trigger_level", "number_of_samples_before_trigger")
    if config.get("emulate") is not True:
        required = ("ip", *required)
    for key in required:
        if key not in config:
            bad(key, "is required")
    ip = config.get("ip")
    if "ip" in config and (not isinstance(ip, str) or not ip.strip()):
        bad("ip", f"{ip!r} is not a host name or IP address (a non-empty string, e.g. '192.168.1.100')")
    if "sample_rate" in config:
        v = config["sample_rate"]
        if not is_int(v) or v not in SAMPLE_RATES:
            bad("sample_rate", f"{v!r} is not allowed (valid decimations: {_choices(SAMPLE_RATES)})")
    if "trigger_level" in config:
        v = config["trigger_level"]
        if not is_int(v) or not MIN_ADC_VALUE <= v <= MAX_ADC_VALUE:
            bad(
                "trigger_level",
                f"{v!r} is not an integer between {MIN_ADC_VALUE} and {MAX_ADC_VALUE} (raw ADC counts)",
            )
    if "number_of_samples_before_trigger" in config:
        v = config["number_of_samples_before_trigger"]
        hi = (data_length if data_length is not None else MAXIMUM_SAMPLES) - 1
        if not is_int(v) or not 0 <= v <= hi:
            bad(
                "number_of_samples_before_trigger",
                f"{v!r} is not an integer between 0 and {hi} (data_length - 1)",
            )
    if "port" in config:
        v = config["port"]
        if not is_int(v) or not 1 <= v <= 65535:
            bad("port", f"{v!r} is not a TCP port (1..65535; the SCPI server uses 5000)")
    if "timeout" in config:
        v = config["timeout"]
        if isinstance(v, bool) or not isinstance(v, int | float) or not v > 0 or not math.isfinite(v):
            bad("timeout", f"{v!r} is not a positive number of seconds")
    if "auto_trigger_interval" in config:
        v = config["auto_trigger_interval"]
        if isinstance(v, bool) or not isinstance(v, int | float) or not v > 0:
            bad("auto_trigger_interval", f"{v!r} is not a positive number of seconds")
    for key in ("negator_IN1", "negator_IN2", "emulate"):
        if key in config and not isinstance(config[key], bool | np.bool_):
            bad(key, f"{config[key]!r} is not allowed (valid: true, false)")
    for key, valid in (
        ("trigger_slope", TRIGGER_SLOPES),
        ("trigger_mode", TRIGGER_MODES),
        ("trigger_source", TRIGGER_SOURCES),
        ("transfer", TRANSFERS),
        ("gain", GAINS),
    ):
        if key in config and config[key] not in valid:
            bad(key, f"{config[key]!r} is not allowed (valid: {_choices(valid)})")
    if "set_size" in config:
        v = config["set_size"]
        if not is_int(v) or v < 1:
            bad("set_size", f"{v!r} is not a positive integer")

    if data_length is not None and not 1 <= data_length <= MAXIMUM_SAMPLES:
        problems.append(
            f"sink data_length {data_length} does not fit the Red Pitaya's buffer "
            f"(1..{MAXIMUM_SAMPLES} samples per event)"
        )
    if dtype is not None:
        names = dtype.names or ()
        wrong = [n for n in names if n not in INPUTS]
        if not names or wrong:
            problems.append(
                f"sink data_dtype fields {list(names)} not allowed: use IN1 and/or IN2 (int16), "
                f"e.g. {{IN1: int16, IN2: int16}}"
            )
        for n in names:
            if n in INPUTS and dtype[n].kind not in "iuf":
                problems.append(f"sink data_dtype field '{n}' must be numeric (int16), is {dtype[n]}")
    return problems


def check_config(
    config: Mapping[str, Any], dtype: np.dtype | None = None, data_length: int | None = None
) -> list[str]:
    """All problems of a redpitaya importer config (and its sink's dtype/data_length), as messages."""
    return _problems(config, np.dtype(dtype) if dtype is not None else None, data_length)


def validate_config(
    config: Mapping[str, Any], dtype: np.dtype | None = None, data_length: int | None = None
) -> RedPitayaConfig:
    """The checked config; ``RedPitayaConfigError`` naming every bad key and what would be valid."""
    problems = check_config(config, dtype, data_length)
    if problems:
        raise RedPitayaConfigError("redpitaya.waveform (protocol: scpi): " + "; ".join(problems))
    kwargs = {k: config[k] for k in KNOWN_KEYS if k in config and k != "protocol"}
    kwargs["ip"] = kwargs.get("ip", "127.0.0.1").strip()
    for key in ("port", "sample_rate", "trigger_level", "number_of_samples_before_trigger", "set_size"):
        if key in kwargs:
            kwargs[key] = int(kwargs[key])
    for key in ("negator_IN1", "negator_IN2", "emulate"):
        if key in kwargs:
            kwargs[key] = bool(kwargs[key])
    for key in ("timeout", "auto_trigger_interval"):
        if key in kwargs:
            kwargs[key] = float(kwargs[key])
    return RedPitayaConfig(**kwargs)


def run(buffer_io) -> None:
    """The SCPI acquisition loop of ``redpitaya.waveform`` (see its docstring)."""
    from mimocorb_gui.core.templates import Importer

    importer = Importer(buffer_io)
    example = importer.data_example
    log = buffer_io.logger

    def stop() -> bool:
        return bool(getattr(buffer_io, "stop_requested", False))

    def ufunc():
        cfg = validate_config(buffer_io.config, example.dtype, int(example.shape[0]))
        channels = tuple(n for n in INPUTS if n in (example.dtype.names or ()))
        settings = cfg.scope_settings(channels, int(example.shape[0]))
        emulator = None
        ip, port = cfg.ip, cfg.port
        if cfg.emulate:
            from mimocorb_gui.functions.importers.rp_emulator import EmulatorServer

            emulator = EmulatorServer("127.0.0.1", 0).start()
            ip, port = emulator.address
            log.warning(
                "emulate: true - acquiring from the built-in emulator at %s:%d, not from a board", ip, port
            )
        scope = RedPitayaScope(ip, port, cfg.timeout, cfg.transfer)
        stats = _Stats()
        try:
            scope.open()
            log.info("connected to %s: %s", scope.where, scope.idn)
            scope.configure(settings)
            log.info(
                "acquiring %d samples of %s (%d before the trigger), decimation %d (%.3g s/sample), "
                "trigger %s level %d counts = %.4f V",
                settings.n_samples,
                "+".join(channels),
                settings.pre_trigger,
                settings.decimation,
                8e-9 * settings.decimation,
                settings.trigger_command(),
                settings.trigger_level,
                settings.trigger_volts(),
            )
            max_wait = cfg.auto_trigger_interval if cfg.trigger_mode == "auto" else None
            while not stop():
                t_arm = time.monotonic()
                scope.arm()
                stats.armed(t_arm)
                if not scope.wait(stop=stop, max_wait=max_wait):
                    if stop():
                        break
                    scope.force_trigger()  # auto mode: no trigger for auto_trigger_interval
                    if not scope.wait(stop=stop):
                        break
                    stats.forced += 1
                t_triggered = time.monotonic()
                stats.triggered(t_triggered)
                channel_data = scope.read()
                event = np.empty(example.shape, dtype=example.dtype)
                for name in channels:
                    event[name] = channel_data[name]
                # the read-out is dead time of the board; the template adds the wait for a free slot
                importer.add_deadtime(time.monotonic() - t_triggered)
                yield event
                stats.events += 1
                if stats.events % cfg.set_size == 0:
                    errors = scope.errors()
                    if errors:
                        log.warning("%s reports: %s", scope.where, "; ".join(errors))
                    log.info("%s", stats.summary())
        except RedPitayaError as e:
            log.error("%s; stopping after %d events (all kept)", e, stats.events)
            raise
        finally:
            if scope.is_open:
                scope.disarm()
            scope.close()
            if emulator is not None:
                emulator.stop()
            if stats.events:
                log.info("finished: %s", stats.summary())
        yield None

    importer(ufunc)


class _Stats:
    """Event rate and board dead time (time not spent waiting for a trigger)."""

    def __init__(self) -> None:
        self.events = 0
        self.forced = 0
        self.t_first: float | None = None
        self.t_trigger: float | None = None
        self.dead = 0.0
        self.t_last_report = time.monotonic()
        self.events_last_report = 0
        self.dead_last_report = 0.0

    def armed(self, t: float) -> None:
        if self.t_first is None:
            self.t_first = t
        if self.t_trigger is not None:
            self.dead += t - self.t_trigger

    def triggered(self, t: float) -> None:
        self.t_trigger = t

    def summary(self) -> str:
        now = time.monotonic()
        span = max(now - self.t_last_report, 1e-9)
        n = self.events - self.events_last_report
        dead = self.dead - self.dead_last_report
        self.t_last_report, self.events_last_report, self.dead_last_report = now, self.events, self.dead
        total = max(now - (self.t_first or now), 1e-9)
        forced = f", {self.forced} forced (auto)" if self.forced else ""
        return (
            f"{self.events} events{forced}; last {n} at {n / span:.1f}/s, board dead time "
            f"{100 * dead / span:.1f} % (overall {100 * self.dead / total:.1f} %)"
        )
