"""Worker functions of the simple example: a user's function file next to the setup."""

import numpy as np

from mimocorb_gui import BufferIO, Filter


def threshold_filter(buffer_io: BufferIO):
    """mimoCoRB2 Function: Pass events whose pulse reaches min_height.

    Copies an event to every sink when the maximum of its waveform in ``channel`` is at least
    ``min_height``; other events are dropped.

    Type
    ----
    Filter

    Buffers
    -------
    sources
        1 waveform buffer
    sinks
        1 or more with the dtype of the source
    observes
        0

    Configs
    -------
    min_height : float, optional (default=0.1)
        Smallest pulse maximum that passes, in the units of the data.
    channel : str, optional (default=first field)
        Field of the source buffer to look at.
    """
    my_filter = Filter(buffer_io)
    min_height = buffer_io.get("min_height", 0.1)
    channel = buffer_io.get("channel") or my_filter.data_example.dtype.names[0]

    def ufunc(data):
        return bool(np.max(data[channel]) >= min_height)

    my_filter(ufunc)
