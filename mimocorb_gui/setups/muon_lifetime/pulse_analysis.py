"""Pulse parameters of accepted muon decays (written for mimoCoRB2, as the lifetime filter)."""

import numpy as np
from lifetime_filter import pulse_starts  # a sibling file: the setup's folder is on the path

import mimocorb2 as mi2


def pulse_parameters(buffer_io):
    """mimoCoRB2 Function: Decay time and pulse heights of an event with a muon decay.

    For the first channel with a muon pulse and a decay pulse at least ``min_delay_ns`` later,
    writes one event with the decay time (µs), the panel, both pulse heights (V, positive) and the
    number of panels the muon pulse was seen in. Events without a decay are dropped.

    Type
    ----
    Processor

    Buffers
    -------
    sources
        1 waveform buffer with negative pulses (one field per panel)
    sinks
        1 with data_length = 1 and the fields decay_time, decay_channel, trigger_height,
        decay_height, panels_hit
    observes
        0

    Configs
    -------
    threshold : float, optional (default=0.05)
        Pulse threshold in volts (pulses are negative).
    min_delay_ns : float, optional (default=100)
        Smallest time between the muon pulse and the decay pulse.
    sample_time_ns : float, optional (default=4)
        Time between two samples.
    """
    processor = mi2.Processor(buffer_io)
    threshold = buffer_io.get("threshold", 0.05)
    sample_time_us = buffer_io.get("sample_time_ns", 4) / 1000.0
    min_delay = buffer_io.get("min_delay_ns", 100) / 1000.0 / sample_time_us
    channels = list(processor.data_example.dtype.names)
    result = np.zeros(1, dtype=buffer_io.data_out_examples[0].dtype)
    window = 10  # samples after a threshold crossing in which the pulse has its minimum

    def ufunc(data):
        for i, ch in enumerate(channels):
            trace = data[ch]
            starts = pulse_starts(trace, threshold)
            if len(starts) < 2:
                continue
            muon = starts[0]
            later = starts[starts - muon >= min_delay]
            if len(later) == 0:
                continue
            decay = later[0]
            result["decay_time"] = (decay - muon) * sample_time_us
            result["decay_channel"] = i
            result["trigger_height"] = -trace[muon : muon + window].min()
            result["decay_height"] = -trace[decay : decay + window].min()
            result["panels_hit"] = sum(
                bool(data[c][muon - 2 : muon + window].min() < -threshold) for c in channels
            )
            return [result]
        return None

    processor(ufunc)
