"""Worker functions of the muon lifetime example, written for mimoCoRB2 (imports unchanged)."""

import numpy as np
from pulse_tools import pulse_positions

import mimocorb2 as mi2
from mimocorb2 import BufferIO


def find_decays(buffer_io: BufferIO):
    """mimoCoRB2 Function: Accept events with a second pulse in the panel that stopped the muon.

    Looks for two pulses in the configured channels; events with a delayed second pulse are
    copied to the first sink, their decay time and pulse heights go to the second one.

    Type
    ----
    Processor

    Buffers
    -------
    sources
        1 waveform buffer
    sinks
        2: accepted waveforms (same dtype as the source), decay parameters (data_length = 1)
    observes
        0

    Configs
    -------
    channels : list of str
        Channels to search for pulses.
    min_height : float, optional (default=0.1)
        Minimum pulse height in volts.
    min_delay_samples : int, optional (default=50)
        Minimum distance between the two pulses.
    """
    processor = mi2.Processor(buffer_io)
    channels = buffer_io["channels"]
    min_height = buffer_io.get("min_height", 0.1)
    min_delay = buffer_io.get("min_delay_samples", 50)
    params = np.zeros(1, dtype=buffer_io.data_out_examples[1].dtype)

    def ufunc(data):
        for ch in channels:
            pos = pulse_positions(data[ch], min_height)
            if len(pos) >= 2 and pos[1] - pos[0] >= min_delay:
                params["decay_time"] = (pos[1] - pos[0]) * 4e-3
                params["first_height"] = -data[ch][pos[0]]
                params["second_height"] = -data[ch][pos[1]]
                return [data, params]
        return None

    processor(ufunc)


def print_decays(buffer_io: BufferIO):
    """mimoCoRB2 Function: Log every decay time.

    Type
    ----
    Exporter

    Buffers
    -------
    sources
        1 with data_length = 1 and a decay_time field
    sinks
        0
    observes
        0
    """
    exporter = mi2.Exporter(buffer_io)
    for data, _metadata in exporter:
        buffer_io.logger.info("decay after %.3f us", data["decay_time"][0])
