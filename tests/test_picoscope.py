"""importers.picoscope: config checks, the missing-driver message, and the data path with the driver replaced."""

from __future__ import annotations

import ctypes
import logging
import threading
import time

import numpy as np
import pytest

from mimocorb_gui.functions.importers import picoscope

pytestmark = pytest.mark.timeout(30)

CONFIG = {
    "channel_coupling": "DC",
    "trigger_channel": "A",
    "trigger_level": 50.0,
    "pre_trigger_samples": 20,
    "timebase": 2,
    "number_of_memory_segments": 3,
    "channel_range": "500MV",
}
MAX_ADC = 32512


class FakePS3000A:
    """Stands in for picosdk's ``ps3000a``: records calls, fills the registered buffers with known counts."""

    PS3000A_CHANNEL = {
        "PS3000A_CHANNEL_A": 0,
        "PS3000A_CHANNEL_B": 1,
        "PS3000A_CHANNEL_C": 2,
        "PS3000A_CHANNEL_D": 3,
        "PS3000A_EXTERNAL": 4,
    }
    PS3000A_COUPLING = {"PS3000A_AC": 0, "PS3000A_DC": 1}
    PS3000A_RANGE = {f"PS3000A_{name}": i for i, name in enumerate(picoscope.RANGES)}
    PS3000A_THRESHOLD_DIRECTION = {
        "PS3000A_ABOVE": 0,
        "PS3000A_BELOW": 1,
        "PS3000A_RISING": 2,
        "PS3000A_FALLING": 3,
        "PS3000A_RISING_OR_FALLING": 4,
    }
    PS3000A_RATIO_MODE = {"PS3000A_RATIO_MODE_NONE": 0}

    def __init__(self, blocks_before_silence: int = 10**9):
        self.calls: list[tuple] = []
        self.buffers: dict[tuple[int, int], np.ndarray] = {}
        self.blocks = 0
        self.blocks_before_silence = blocks_before_silence
        self.closed = False

    def _call(self, name, *args):
        self.calls.append((name, *args))
        return 0

    def ps3000aOpenUnit(self, handle, serial):
        return self._call("OpenUnit")

    def ps3000aMaximumValue(self, handle, value):
        ctypes.cast(value, ctypes.POINTER(ctypes.c_int16))[0] = MAX_ADC
        return self._call("MaximumValue")

    def ps3000aSetChannel(self, handle, channel, enabled, coupling, rng, offset):
        return self._call("SetChannel", channel, enabled, coupling, rng, offset)

    def ps3000aSetSimpleTrigger(self, handle, enabled, source, level, direction, delay, auto):
        return self._call("SetSimpleTrigger", source, level, direction)

    def ps3000aGetTimebase2(self, handle, timebase, n, interval, oversample, max_samples, segment):
        return self._call("GetTimebase2", timebase, n)

    def ps3000aMemorySegments(self, handle, segments, per_segment):
        return self._call("MemorySegments", segments)

    def ps3000aSetNoOfCaptures(self, handle, n):
        return self._call("SetNoOfCaptures", n)

    def ps3000aSetDataBuffer(self, handle, channel, ptr, n, segment, mode):
        self.buffers[(channel, segment)] = np.ctypeslib.as_array(ptr, shape=(n,))
        return self._call("SetDataBuffer", channel, n, segment)

    def ps3000aRunBlock(self, handle, pre, post, timebase, oversample, indisposed, segment, callback, param):
        self.calls.append(("RunBlock", pre, post, timebase))
        if self.blocks < self.blocks_before_silence:
            threading.Timer(0.01, callback, args=(0, 0, None)).start()
        return 0

    def ps3000aGetValuesBulk(self, handle, n, first, last, ratio, mode, overflow):
        for (channel, segment), buf in self.buffers.items():
            buf[:] = self.blocks * 1000 + segment * 100 + channel * 10 + np.arange(buf.size) % 7
        self.blocks += 1
        return self._call("GetValuesBulk", first, last)

    def ps3000aStop(self, handle):
        return self._call("Stop")

    def ps3000aCloseUnit(self, handle):
        self.closed = True
        return self._call("CloseUnit")


def expected_mv(block, segment, channel, n, range_mv):
    adc = block * 1000 + segment * 100 + channel * 10 + np.arange(n) % 7
    return adc * range_mv / MAX_ADC


def test_missing_driver_says_what_to_install(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_picosdk(name, *args, **kwargs):
        if name.startswith("picosdk"):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_picosdk)
    message = picoscope.driver_problem()
    assert "pip install 'mimocorb-gui[picoscope]'" in message and "PicoSDK" in message

    class Sink:
        dtype = np.dtype([("chA", "f4")])
        data_length = 100

    problems = picoscope.source.check_setup(CONFIG, sinks=[Sink()])
    assert problems == [message]  # a good config: only the driver is missing


@pytest.mark.parametrize(
    ("key", "value", "needle"),
    [
        ("channel_coupling", "GND", "(valid: AC, DC)"),
        ("trigger_channel", "C", "'C' is not captured (the sink has 2 field(s): A, B)"),
        ("channel_range", "3V", "'channel_range': '3V' is not allowed"),
        ("trigger_direction", "UP", "(valid: ABOVE, BELOW, RISING, FALLING, RISING_OR_FALLING)"),
        ("pre_trigger_samples", 101, "0..100"),
        ("number_of_memory_segments", 10**6, "exceed the scope's 128 MS"),
    ],
)
def test_config_checks(key, value, needle):
    dtype = np.dtype([("chA", "f4"), ("chB", "f4")])
    problems = picoscope.check_config({**CONFIG, key: value}, dtype, 100)
    assert any(needle in p for p in problems), problems
    assert picoscope.check_config(CONFIG, dtype, 100) == []


def test_driver_calls_and_trigger_level_conversion():
    fake = FakePS3000A()
    scope = picoscope.PicoScope3000A(
        {**CONFIG, "channelB_range": "2V", "channel_range": "500MV"}, 2, 100, fake, None
    )
    names = [c[0] for c in fake.calls]
    assert names[:2] == ["OpenUnit", "MaximumValue"] and names.count("SetChannel") == 2
    trigger = next(c for c in fake.calls if c[0] == "SetSimpleTrigger")
    assert trigger == ("SetSimpleTrigger", 0, round(50.0 * MAX_ADC / 500), 2)  # picosdk's mV2adc, channel A
    assert names.count("SetDataBuffer") == 2 * 3 and ("MemorySegments", 3) in fake.calls
    scope.close()
    assert fake.closed


def test_worker_writes_every_segment_in_mv():
    """The whole importer with the driver replaced: 3 segments per block, channels A and B, values in mV."""
    from mimocorb_gui.core.bufferio import BufferIO, StopFlag
    from mimocorb_gui.core.ringbuffer import RingBuffer

    fake = FakePS3000A(blocks_before_silence=3)
    rb = RingBuffer(f"pico_{id(fake) & 0xFFFFFF:x}", 16, 100, {"chA": "f4", "chB": "f4"})
    stop = StopFlag()
    io = BufferIO(
        "pico",
        [],
        [rb.writer(0)],
        [],
        config={**CONFIG, "channel_range": "1V"},
        logger=logging.getLogger("test.pico"),
        stop_flag=stop,
    )
    reader = rb.reader()
    thread = threading.Thread(target=picoscope.source, args=(io, (fake, None)), daemon=True)
    thread.start()
    events = []
    deadline = time.monotonic() + 10
    try:
        while len(events) < 9 and time.monotonic() < deadline:
            idx = reader.acquire(timeout=0.2)
            if idx >= 0:
                events.append(reader.slot(idx)[1].copy())
                reader.release(idx)
        stop.set()
        thread.join(timeout=5)
    finally:
        rb.close()
        rb.unlink()
    assert not thread.is_alive() and fake.closed
    assert len(events) == 9  # 3 blocks x 3 segments, in order
    for k, event in enumerate(events):
        block, segment = divmod(k, 3)
        np.testing.assert_allclose(event["chA"], expected_mv(block, segment, 0, 100, 1000), rtol=1e-6)
        np.testing.assert_allclose(event["chB"], expected_mv(block, segment, 1, 100, 1000), rtol=1e-6)
    runs = [c for c in fake.calls if c[0] == "RunBlock"]
    assert runs[0] == ("RunBlock", 20, 80, 2)  # pre and post trigger samples, timebase
