"""Analyzers: pulse height analysis of waveforms (scipy.signal.find_peaks): the first peak, or every peak."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from scipy import signal

from mimocorb_gui.core.bufferio import BufferIO
from mimocorb_gui.core.templates import Processor, setup_check

__all__ = [
    "FIND_PEAKS_KEYS",
    "PEAK_FIELDS",
    "available_peak_fields",
    "check_pha_config",
    "find_pulse_peaks",
    "pha",
    "sink_field_problems",
]

# config keys passed through to scipy.signal.find_peaks (rel_height defaults to 0.5 there too)
FIND_PEAKS_KEYS = (
    "height",
    "threshold",
    "distance",
    "prominence",
    "width",
    "wlen",
    "rel_height",
    "plateau_size",
)

# output field -> (config keys of which one must be set for find_peaks to compute it, dtype)
PEAK_FIELDS: dict[str, tuple[tuple[str, ...], str]] = {
    "position": ((), "i8"),
    "peak_heights": (("height",), "f8"),
    "left_thresholds": (("threshold",), "f8"),
    "right_thresholds": (("threshold",), "f8"),
    # find_peaks computes prominences whenever prominence or width is given
    "prominences": (("prominence", "width"), "f8"),
    "left_bases": (("prominence", "width"), "i8"),
    "right_bases": (("prominence", "width"), "i8"),
    "widths": (("width",), "f8"),
    "width_heights": (("width",), "f8"),
    "left_ips": (("width",), "f8"),
    "right_ips": (("width",), "f8"),
    "plateau_sizes": (("plateau_size",), "i8"),
    "left_edges": (("plateau_size",), "i8"),
    "right_edges": (("plateau_size",), "i8"),
}


def _find_peaks_kwargs(config: Mapping[str, Any]) -> dict[str, Any]:
    kwargs = {key: config.get(key) for key in FIND_PEAKS_KEYS}
    if kwargs["rel_height"] is None:
        kwargs["rel_height"] = 0.5
    for key, value in kwargs.items():
        if isinstance(value, list):  # YAML gives [min, max]
            kwargs[key] = tuple(value)
    return kwargs


def available_peak_fields(config: Mapping[str, Any]) -> list[str]:
    """Output fields find_peaks computes with this config (``position`` always)."""
    return [
        f for f, (keys, _) in PEAK_FIELDS.items() if not keys or any(config.get(k) is not None for k in keys)
    ]


def sink_field_problems(field_names: Sequence[str], config: Mapping[str, Any]) -> list[str]:
    """Why sink fields cannot be filled with this config (empty when all can)."""
    problems = []
    available = set(available_peak_fields(config))
    for name in field_names:
        if name not in PEAK_FIELDS:
            problems.append(f"field '{name}' is not a peak property (possible: {', '.join(PEAK_FIELDS)})")
        elif name not in available:
            keys = PEAK_FIELDS[name][0]
            need = " or ".join(f"'{k}'" for k in keys)
            problems.append(
                f"field '{name}' needs config {need} (e.g. '{keys[0]}: [null, null]' computes it without limits)"
            )
    return problems


def peaks_dtype(config: Mapping[str, Any]) -> np.dtype:
    return np.dtype([(f, PEAK_FIELDS[f][1]) for f in available_peak_fields(config)])


def find_pulse_peaks(waveform: np.ndarray, config: Mapping[str, Any]) -> np.ndarray:
    """Peaks of a 1-D waveform as a structured array, one row per peak.

    ``config`` holds scipy.signal.find_peaks arguments (height, threshold, distance, prominence,
    width, wlen, rel_height, plateau_size; lists become (min, max) tuples) and optionally
    ``invert: true`` to analyse ``-waveform`` (negative pulses; heights are then positive).
    Fields: ``position`` and every property find_peaks computes for this config (see ``PEAK_FIELDS``).
    """
    x = np.asarray(waveform)
    if x.ndim != 1:
        raise ValueError(f"find_pulse_peaks needs a 1-D waveform, got shape {x.shape}")
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    if config.get("invert"):
        x = -x
    peaks, props = signal.find_peaks(x, **_find_peaks_kwargs(config))
    out = np.empty(len(peaks), dtype=peaks_dtype(config))
    out["position"] = peaks
    for name in out.dtype.names[1:]:
        out[name] = props[name]
    return out


PHA_KEYS = (*FIND_PEAKS_KEYS, "channel", "invert", "all_peaks")


def _pha_problems(config: Mapping[str, Any], source, sinks) -> list[str]:
    """Why ``analyzers.pha`` cannot run with this config and these buffers (empty when it can).

    ``source`` is ``(name, dtype, data_length)`` or None, ``sinks`` a list of such triples.
    """
    source_name, source_dtype, data_length = source if source is not None else (None, None, None)
    problems = []
    if source_dtype is not None:
        channels = list(source_dtype.names or ())
        channel = config.get("channel") or (channels[0] if channels else None)
        if channel not in channels:
            problems.append(
                f"channel: '{channel}' is not a field of source '{source_name}' (fields: {', '.join(channels)})"
            )
    if not isinstance(config.get("all_peaks", False), bool):
        problems.append(f"all_peaks: must be true or false, got {config.get('all_peaks')!r}")
    try:
        find_pulse_peaks(np.zeros(max(3, data_length or 3)), config)  # bad find_peaks arguments show here
    except (TypeError, ValueError) as exc:
        problems.append(f"invalid find_peaks config: {exc}")
        return problems
    for name, dtype, length in sinks:
        sink_problems = sink_field_problems(dtype.names or (), config)
        if length != 1:
            sink_problems.append(f"data_length must be 1 (one event per peak), is {length}")
        problems.extend(f"sink '{name}': {p}" for p in sink_problems)
    return problems


def check_pha_config(config, sources=(), sinks=(), **_) -> list[str]:
    """Setup check of ``analyzers.pha`` (what the worker would refuse at its start)."""
    source = sources[0] if sources else None
    return _pha_problems(
        config,
        (source.name, source.dtype, source.data_length) if source is not None else None,
        [(s.name, s.dtype, s.data_length) for s in sinks],
    )


@setup_check(check_pha_config)
def pha(buffer_io: BufferIO) -> None:
    """mimoCoRB2 Function: Pulse Height Analysis using scipy.signal.find_peaks

    Analyzes pulse heights in a given channel of the input data using scipy.signal.find_peaks.
    As in mimoCoRB2, each waveform gives at most one event: its first peak (a waveform without
    a peak gives none). With ``all_peaks: true`` every peak found becomes an event. An event
    carries the metadata (counter, timestamp, deadtime) of the waveform it came from. Which peak
    properties are stored is chosen by the sink's field names; a field that the configuration
    cannot produce is reported before any data flows (also by ``mimocorb check``). With several
    sinks, each gets the same peaks with its own choice of fields.

    Type
    ----
    Processor

    Buffers
    -------
    sources
        1 source buffer containing the input data with multiple channels
    sinks
        1 (or more) with data_length = 1; possible field names:
        position (sample index of the peak, always available);
        peak_heights (needs height);
        left_thresholds, right_thresholds (need threshold);
        prominences, left_bases, right_bases (need prominence or width);
        widths, width_heights, left_ips, right_ips (need width);
        plateau_sizes, left_edges, right_edges (need plateau_size)
    observes
        0

    Configs
    -------
    channel : str, optional (default='first channel')
        Channel name to analyze. If not specified, the first channel in the input data will be used.
    height : float or [min, max], optional (default=None)
        Minimum height of peaks. If None, peak heights will not be calculated.
    threshold : float or [min, max], optional (default=None)
        Minimum vertical distance to the neighbouring samples. If None, thresholds will not be calculated.
    distance : int, optional (default=None)
        Minimum horizontal distance (in samples) between neighbouring peaks.
    prominence : float or [min, max], optional (default=None)
        Minimum prominence of peaks. If None (and width is None), prominences will not be calculated.
    width : float or [min, max], optional (default=None)
        Minimum width of peaks in samples. If None, widths will not be calculated.
    wlen : int, optional (default=None)
        Window length for the prominence calculation. If None, the entire signal is used.
    rel_height : float, optional (default=0.5)
        Relative height at which the peak width is measured (0.5: full width at half maximum).
    plateau_size : int or [min, max], optional (default=None)
        Minimum size of the flat top of a peak. If None, plateau sizes will not be calculated.
    invert : bool, optional (default=False)
        Analyze the negated waveform, for negative pulses (PMT anode signals); heights come out positive.
    all_peaks : bool, optional (default=False)
        Emit every peak of a waveform as an event, not only the first (mimoCoRB2 emits the first).

    Examples
    --------
    >>> # Buffers:  Heights: {slot_count: 256, data_length: 1,
    >>> #                     data_dtype: {position: int32, peak_heights: float64, widths: float64}}
    >>> # Workers:  pha: {function: analyzers.pha, sources: [Pulses], sinks: [Heights],
    >>> #                 config: {channel: IN1, height: 0.02, distance: 100, width: 2}}
    """
    processor = Processor(buffer_io)  # checks: exactly one source, at least one sink
    name = buffer_io.name
    config = buffer_io.config
    source = buffer_io.read[0].buffer
    channel = config.get("channel") or source.dtype.names[0]
    unknown = [k for k in config if k not in PHA_KEYS]
    if unknown:
        buffer_io.logger.warning("config keys %s are not used by analyzers.pha", ", ".join(map(str, unknown)))
    problems = _pha_problems(
        config,
        (source.name, source.dtype, source.data_length),
        [(w.buffer.name, w.buffer.dtype, w.buffer.data_length) for w in buffer_io.write],
    )
    if problems:
        raise ValueError(f"worker '{name}': " + "; ".join(problems))
    targets = [(writer, list(writer.buffer.dtype.names)) for writer in buffer_io.write]
    all_peaks = bool(config.get("all_peaks", False))

    with (
        processor.events() as events
    ):  # the peaks are written here, not through the one-result Processor call
        for meta, data in events:
            peaks = find_pulse_peaks(data[channel], config)
            for i in range(len(peaks) if all_peaks else min(1, len(peaks))):
                for writer, fields in targets:
                    widx = writer.acquire()
                    try:
                        out_meta, out_data = writer.slot(widx)
                        out_meta[:] = meta
                        for f in fields:
                            out_data[f] = peaks[f][i]
                    except BaseException:
                        writer.discard(widx)
                        raise
                    writer.commit(widx)
