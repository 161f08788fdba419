"""``importers.picoscope.source``: PicoScope 3000A waveforms in rapid block mode (mimoCoRB2's importer, its keys).

The driver is PicoTech's: the ``picosdk`` Python wrappers (PyPI, an optional dependency:
``pip install 'mimocorb-gui[picoscope]'``) over the PicoSDK C library (``libps3000a``, installed
from PicoTech). Neither is needed to load a setup: ``mimocorb check`` says what to install.

One capture cycle, as in mimoCoRB2 (and PicoTech's rapid-block example): the scope fills
``number_of_memory_segments`` segments, one per trigger, with ``pre_trigger_samples`` before the
trigger and ``data_length - pre_trigger_samples`` after; the driver's ready callback sets an
event; ``GetValuesBulk`` copies all segments into the buffers registered with ``SetDataBuffer``;
the next block is started at once and the segments are converted to mV (``adc * range_mV /
max_adc``) and written as one event each, field order = channels A, B, C, D. Unlike the
reference, a trigger channel that is not captured is a config error (the reference silently
used A), and a run stop is seen while waiting for a block.
"""

from __future__ import annotations

import ctypes
import threading
import time
from collections.abc import Mapping
from typing import Any

import numpy as np

from mimocorb_gui.core.templates import setup_check

__all__ = ["PicoScope3000A", "check_config", "driver_problem", "load_driver", "source"]

RANGES = (
    "10MV",
    "20MV",
    "50MV",
    "100MV",
    "200MV",
    "500MV",
    "1V",
    "2V",
    "5V",
    "10V",
    "20V",
    "50V",
    "100V",
    "200V",
)
RANGE_MV = (10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000, 200000)
COUPLINGS = ("AC", "DC")
TRIGGER_CHANNELS = ("A", "B", "C", "D", "EXT")
DIRECTIONS = ("ABOVE", "BELOW", "RISING", "FALLING", "RISING_OR_FALLING")
CHANNELS = ("A", "B", "C", "D")
EXT_RANGE_MV = 5000.0
MAX_SAMPLES = 128_000_000  # the PS3404D's memory: channels x samples x segments
INSTALL = (
    "importers.picoscope needs PicoTech's Python wrappers and driver: pip install 'mimocorb-gui[picoscope]' "
    "(the 'picosdk' package) and the PicoSDK (libps3000a) from PicoTech's downloads page"
)


def load_driver():
    """``(ps3000a, assert_pico_ok)`` from picosdk; raises ImportError/OSError without the wrappers or library."""
    from picosdk.functions import assert_pico_ok
    from picosdk.ps3000a import ps3000a

    return ps3000a, assert_pico_ok


def driver_problem() -> str | None:
    """None when picosdk and the PicoSDK library load; else what to install."""
    try:
        load_driver()
    except ImportError:
        return INSTALL
    except Exception as e:  # picosdk raises its own error when libps3000a is missing
        return f"{INSTALL} ('picosdk' is installed, the PicoSDK library is not: {e})"
    return None


def _is_int(v: Any) -> bool:
    return isinstance(v, int | np.integer) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool)


def check_config(
    config: Mapping[str, Any], dtype: np.dtype | None = None, data_length: int | None = None
) -> list[str]:
    """Problems of a picoscope config (the reference's keys) and its sink, as messages naming the key."""
    problems: list[str] = []

    def bad(key: str, message: str) -> None:
        problems.append(f"config key '{key}': {message}")

    for key in (
        "channel_coupling",
        "trigger_channel",
        "trigger_level",
        "pre_trigger_samples",
        "timebase",
        "number_of_memory_segments",
    ):
        if key not in config:
            bad(key, "is required")
    if "channel_coupling" in config and config["channel_coupling"] not in COUPLINGS:
        bad(
            "channel_coupling",
            f"{config['channel_coupling']!r} is not allowed (valid: {', '.join(COUPLINGS)})",
        )
    n_channels = len(dtype.names or ()) if dtype is not None else 4
    captured = CHANNELS[:n_channels]
    if "trigger_channel" in config:
        v = config["trigger_channel"]
        if v not in TRIGGER_CHANNELS:
            bad("trigger_channel", f"{v!r} is not allowed (valid: {', '.join(TRIGGER_CHANNELS)})")
        elif v != "EXT" and v not in captured:
            bad(
                "trigger_channel",
                f"{v!r} is not captured (the sink has {n_channels} field(s): {', '.join(captured)})",
            )
    if "trigger_level" in config and not _is_number(config["trigger_level"]):
        bad("trigger_level", f"{config['trigger_level']!r} is not a number (mV)")
    if "trigger_direction" in config and config["trigger_direction"] not in DIRECTIONS:
        bad(
            "trigger_direction",
            f"{config['trigger_direction']!r} is not allowed (valid: {', '.join(DIRECTIONS)})",
        )
    for key in ("channel_range", *(f"channel{c}_range" for c in CHANNELS)):
        if key in config and config[key] not in RANGES:
            bad(key, f"{config[key]!r} is not allowed (valid: {', '.join(RANGES)})")
    for key in ("analogue_offset", *(f"analogue_offset_ch{c}" for c in CHANNELS)):
        if key in config and not _is_number(config[key]):
            bad(key, f"{config[key]!r} is not a number (V)")
    if "timebase" in config and (not _is_int(config["timebase"]) or config["timebase"] < 0):
        bad("timebase", f"{config['timebase']!r} is not a timebase number (an integer >= 0, see PicoSDK)")
    if "pre_trigger_samples" in config:
        v = config["pre_trigger_samples"]
        hi = data_length if data_length is not None else MAX_SAMPLES
        if not _is_int(v) or not 0 <= v <= hi:
            bad("pre_trigger_samples", f"{v!r} is not an integer 0..{hi} (at most data_length)")
    if "number_of_memory_segments" in config:
        v = config["number_of_memory_segments"]
        if not _is_int(v) or v < 1:
            bad("number_of_memory_segments", f"{v!r} is not a positive integer")
        elif data_length is not None and n_channels * data_length * v > MAX_SAMPLES:
            bad(
                "number_of_memory_segments",
                f"{v} segments x {n_channels} channels x {data_length} samples exceed the scope's 128 MS",
            )
    if dtype is not None and not 1 <= len(dtype.names or ()) <= 4:
        problems.append("sink data_dtype: 1 to 4 fields (channels A, B, C, D in this order), e.g. {chA: f4}")
    return problems


def _check_setup(config, sinks=(), **_):
    sink = sinks[0] if sinks else None
    problems = check_config(config, sink.dtype if sink else None, sink.data_length if sink else None)
    missing = driver_problem()
    return [*problems, missing] if missing else problems


class PicoScope3000A:
    """A PS3000A in rapid block mode through ``driver`` (picosdk's ``ps3000a``; tests pass a stand-in)."""

    def __init__(
        self, config: Mapping[str, Any], n_channels: int, n_samples: int, driver=None, check=None
    ) -> None:
        if driver is None:
            driver, check = load_driver()
        self.ps = driver
        self.ok = check or _assert_ok
        self.n_channels = n_channels
        self.n_samples = n_samples
        self.pre = int(config["pre_trigger_samples"])
        self.post = n_samples - self.pre
        self.timebase = int(config["timebase"])
        self.segments = int(config["number_of_memory_segments"])
        self.ready = threading.Event()
        self.handle = ctypes.c_int16()
        ps = self.ps
        status = ps.ps3000aOpenUnit(ctypes.byref(self.handle), None)
        if status in (282, 286):  # no power supply / USB 3 device on USB 2: switch the power source
            self.ok(ps.ps3000aChangePowerSource(self.handle, status))
        else:
            self.ok(status)
        max_adc = ctypes.c_int16(0)
        self.ok(ps.ps3000aMaximumValue(self.handle, ctypes.byref(max_adc)))
        self.max_adc = int(max_adc.value)
        coupling = ps.PS3000A_COUPLING["PS3000A_" + config["channel_coupling"]]
        self.range_mv = []
        for c in CHANNELS[:n_channels]:
            name = config.get("channel_range", config.get(f"channel{c}_range", "20V"))
            offset = float(config.get("analogue_offset", config.get(f"analogue_offset_ch{c}", 0.0)))
            self.range_mv.append(RANGE_MV[RANGES.index(name)])
            channel = ps.PS3000A_CHANNEL[f"PS3000A_CHANNEL_{c}"]
            self.ok(
                ps.ps3000aSetChannel(
                    self.handle, channel, 1, coupling, ps.PS3000A_RANGE["PS3000A_" + name], offset
                )
            )
        trig = config["trigger_channel"]
        level_mv = float(config["trigger_level"])
        if trig == "EXT":
            level = round(level_mv * self.max_adc / EXT_RANGE_MV)
            source = ps.PS3000A_CHANNEL["PS3000A_EXTERNAL"]
        else:
            level = round(level_mv * self.max_adc / self.range_mv[CHANNELS.index(trig)])  # picosdk's mV2adc
            source = ps.PS3000A_CHANNEL[f"PS3000A_CHANNEL_{trig}"]
        self.trigger_adc = level
        direction = ps.PS3000A_THRESHOLD_DIRECTION["PS3000A_" + config.get("trigger_direction", "RISING")]
        self.ok(ps.ps3000aSetSimpleTrigger(self.handle, 1, source, level, direction, 0, 2**16))
        self.interval_ns = ctypes.c_float()
        returned = ctypes.c_int32()
        self.ok(
            ps.ps3000aGetTimebase2(
                self.handle,
                self.timebase,
                n_samples,
                ctypes.byref(self.interval_ns),
                ctypes.c_int16(),
                ctypes.byref(returned),
                0,
            )
        )
        per_segment = ctypes.c_int32(n_samples)
        self.ok(ps.ps3000aMemorySegments(self.handle, self.segments, ctypes.byref(per_segment)))
        self.ok(ps.ps3000aSetNoOfCaptures(self.handle, self.segments))
        self.buffers = np.zeros((n_channels, self.segments, n_samples), dtype=np.int16)
        ratio = ps.PS3000A_RATIO_MODE["PS3000A_RATIO_MODE_NONE"]
        for ci, c in enumerate(CHANNELS[:n_channels]):
            channel = ps.PS3000A_CHANNEL[f"PS3000A_CHANNEL_{c}"]
            for seg in range(self.segments):
                ptr = self.buffers[ci, seg].ctypes.data_as(ctypes.POINTER(ctypes.c_int16))
                self.ok(ps.ps3000aSetDataBuffer(self.handle, channel, ptr, n_samples, seg, ratio))
        self._callback = ctypes.CFUNCTYPE(None, ctypes.c_int16, ctypes.c_uint32, ctypes.c_void_p)(self._ready)
        self.scale = np.asarray(self.range_mv, dtype=np.float64)[:, None, None] / self.max_adc

    def _ready(self, handle, status, parameter) -> None:
        self.ready.set()

    def _run_block(self) -> None:
        self.ready.clear()
        indisposed = ctypes.c_int32(0)
        self.ok(
            self.ps.ps3000aRunBlock(
                self.handle,
                self.pre,
                self.post,
                self.timebase,
                0,
                ctypes.byref(indisposed),
                0,
                self._callback,
                None,
            )
        )

    def blocks(self, stop=None):
        """Yields ``(n_channels, segments, n_samples)`` float mV arrays, one per rapid block, until ``stop()``."""
        self._run_block()
        n = ctypes.c_int32(self.n_samples)
        overflow = (ctypes.c_int16 * self.segments)()
        ratio = self.ps.PS3000A_RATIO_MODE["PS3000A_RATIO_MODE_NONE"]
        while True:
            while not self.ready.wait(0.2):
                if stop is not None and stop():
                    return
            self.ok(
                self.ps.ps3000aGetValuesBulk(
                    self.handle, ctypes.byref(n), 0, self.segments - 1, 0, ratio, overflow
                )
            )
            mv = self.buffers * self.scale  # converted before the next block overwrites the buffers
            self._run_block()
            yield mv

    def close(self) -> None:
        try:
            self.ps.ps3000aStop(self.handle)
        finally:
            self.ps.ps3000aCloseUnit(self.handle)


def _assert_ok(status: int) -> None:
    if status != 0:
        raise RuntimeError(f"PicoScope driver call failed with status {status}")


@setup_check(_check_setup)
def source(buffer_io, driver=None):
    """mimoCoRB2 Function: Picoscope Source

    Read waveform data from a PicoScope 3000A USB oscilloscope in rapid block mode: one event
    per trigger, ``number_of_memory_segments`` triggers per block, values in mV. Needs the
    optional ``picosdk`` package and PicoTech's PicoSDK library (``mimocorb check`` says so when
    they are missing).

    Type
    ----
    Importer

    Buffers
    -------
    sources
        0
    sinks
        1 data_dtype: {'chA': 'f4', 'chB': 'f4', 'chC': 'f4', 'chD': 'f4'} # recommended
        first dtype is chA and so on -> not all channels have to be present
    observes
        0

    Configs
    -------
    channel_coupling : str
        AC or DC.
    trigger_channel : str
        A, B, C, D (a captured channel) or EXT.
    trigger_level : float
        Trigger level in mV (EXT: of the 5 V external range).
    pre_trigger_samples : int
        Samples before the trigger (0..data_length).
    timebase : int
        PicoSDK timebase number (sets the sampling interval; see the PS3000A programmer's guide).
    number_of_memory_segments : int
        Triggers captured per rapid block (channels x data_length x segments <= 128 MS).
    channel_range : str, optional (default="20V")
        Input range of all channels: 10MV, 20MV, 50MV, 100MV, 200MV, 500MV, 1V, 2V, 5V, 10V, 20V, 50V.
    channelA_range : str, optional (default="20V")
        Range of channel A; only used if channel_range is not given.
    channelB_range : str, optional (default="20V")
        Range of channel B; only used if channel_range is not given.
    channelC_range : str, optional (default="20V")
        Range of channel C; only used if channel_range is not given.
    channelD_range : str, optional (default="20V")
        Range of channel D; only used if channel_range is not given.
    analogue_offset : float, optional (default=0.0)
        Analogue offset of all channels, in V.
    analogue_offset_chA : float, optional (default=0.0)
        Offset of channel A in V; only used if analogue_offset is not given.
    analogue_offset_chB : float, optional (default=0.0)
        Offset of channel B in V; only used if analogue_offset is not given.
    analogue_offset_chC : float, optional (default=0.0)
        Offset of channel C in V; only used if analogue_offset is not given.
    analogue_offset_chD : float, optional (default=0.0)
        Offset of channel D in V; only used if analogue_offset is not given.
    trigger_direction : str, optional (default="RISING")
        ABOVE, BELOW, RISING, FALLING or RISING_OR_FALLING.
    """
    from mimocorb_gui.core.templates import Importer

    importer = Importer(buffer_io)
    example = importer.data_example
    config = buffer_io.config
    names = example.dtype.names or ()

    def stop() -> bool:
        return bool(getattr(buffer_io, "stop_requested", False))

    def ufunc():
        problems = check_config(config, example.dtype, int(example.shape[0]))
        if problems:
            raise ValueError("picoscope.source: " + "; ".join(problems))
        if driver is None and (missing := driver_problem()):
            raise RuntimeError(missing)
        scope = PicoScope3000A(config, len(names), int(example.shape[0]), *(driver or (None, None)))
        try:
            for block in scope.blocks(stop):
                t0 = time.monotonic()
                for seg in range(block.shape[1]):
                    event = np.empty(example.shape, dtype=example.dtype)
                    for ci, name in enumerate(names):
                        event[name] = block[ci, seg]
                    importer.add_deadtime(time.monotonic() - t0 if seg == 0 else 0.0)
                    yield event
                if stop():
                    break
        finally:
            scope.close()
        yield None

    importer(ufunc)
