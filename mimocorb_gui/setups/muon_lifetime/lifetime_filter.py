"""Lifetime filter of the muon example, written for mimoCoRB2 (it runs unchanged in mimocorb_gui)."""

import numpy as np

from mimocorb2 import BufferIO, Filter


def pulse_starts(trace, threshold):
    """Sample indices where a negative pulse crosses -threshold downwards."""
    below = trace < -threshold
    return np.flatnonzero(below[1:] & ~below[:-1]) + 1


def find_decays(buffer_io: BufferIO):
    """mimoCoRB2 Function: Keep events with a delayed second pulse in one panel (a muon decay).

    An event passes when one of the channels has a pulse (the muon) followed at least
    ``min_delay_ns`` later by another one (the decay electron). Run it with several processes:
    each event is looked at by one of them.

    Type
    ----
    Filter

    Buffers
    -------
    sources
        1 waveform buffer with negative pulses (one field per panel)
    sinks
        1 or more with the dtype of the source; accepted events go to every sink
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
    channels : list of str, optional (default=all fields)
        Panels to look at.
    """
    my_filter = Filter(buffer_io)
    threshold = buffer_io.get("threshold", 0.05)
    min_delay = buffer_io.get("min_delay_ns", 100) / buffer_io.get("sample_time_ns", 4)
    channels = buffer_io.get("channels") or list(my_filter.data_example.dtype.names)

    def ufunc(data):
        for ch in channels:
            starts = pulse_starts(data[ch], threshold)
            if len(starts) >= 2 and starts[-1] - starts[0] >= min_delay:
                return True
        return False

    my_filter(ufunc)
