"""Miscellaneous workers: copy one stream to several buffers."""

from __future__ import annotations

from mimocorb_gui.core.bufferio import BufferIO
from mimocorb_gui.core.templates import Filter

__all__ = ["copy"]


def copy(buffer_io: BufferIO) -> None:
    """mimoCoRB2 Function: Copy data from one source to multiple sinks.

    Copies every event of the source buffer to every sink buffer (metadata included, as bytes).
    Useful for duplicating data streams: a buffer read by two workers splits its events between
    them, while a copy gives each of them all events.

    Type
    ----
    Filter

    Buffers
    -------
    sources
        1 source buffer containing the data to be copied
    sinks
        1 or more sink buffers that will receive the copied data (same dtype and data_length as the source)
    observes
        0

    Examples
    --------
    >>> # Workers:  copy: {function: misc.copy, sources: [Pulses], sinks: [PulsesToFile, PulsesToAnalysis]}
    """
    Filter(buffer_io)(_always)


def _always(_data) -> bool:
    return True
