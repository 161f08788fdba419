"""Display workers: oscilloscope and histogram views of a buffer, and their config parsing.

Headless (``mimocorb run``) these workers only say once that they are display-only and wait,
without using CPU, until the observed buffer is closed or the run stops. In the GUI the same
workers become docks; the dock reads its settings with :func:`parse_oscilloscope_config` /
:func:`parse_histogram_config`, which check every key against the observed buffer's dtype and
return normalized values (colors as ``#rrggbb``), raising ValueError naming the key and the
valid choices. :func:`check_oscilloscope_config` / :func:`check_histogram_config` return the
problems as a list instead.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mimocorb_gui.core.bufferio import BufferIO
from mimocorb_gui.core.livehist import BinSpec, check_bins, parse_bins
from mimocorb_gui.core.templates import IsAlive, Observer, setup_check

__all__ = [
    "DEFAULT_COLORS",
    "HISTOGRAM_KEYS",
    "OSCILLOSCOPE_KEYS",
    "PLOT_TYPES",
    "HistogramDisplayConfig",
    "OscilloscopeConfig",
    "Scaling",
    "check_histogram_config",
    "check_oscilloscope_config",
    "histogram",
    "normalize_color",
    "oscilloscope",
    "parse_histogram_config",
    "parse_oscilloscope_config",
]

OSCILLOSCOPE_KEYS = (
    "ylim",
    "t_scaling",
    "y_scaling",
    "channels",
    "trigger_level",
    "update_interval",
    "colors",
)
# plot_type / histtype / filename: keys of mimoCoRB2's visualizers.histogram and visualizers.csv
HISTOGRAM_KEYS = (
    "bins",
    "channels",
    "update_interval",
    "colors",
    "plot_type",
    "log_y",
    "histtype",
    "filename",
)
PLOT_TYPES = ("step", "line", "bar")
_HISTTYPES = {"step": "step", "bar": "bar", "stepfilled": "bar"}  # matplotlib names (visualizers.csv)
IDLE_POLL = 0.25  # s between looks at the observed buffer while idling headless

# matplotlib's tab10: the colour of channel i when none is configured
DEFAULT_COLORS = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)


# --------------------------------------------------------------------------------------------
# value checks


def _is_number(value: Any) -> bool:
    return (
        isinstance(value, int | float | np.integer | np.floating)
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )


_LETTERS = {
    "b": "#0000ff",
    "g": "#008000",
    "r": "#ff0000",
    "c": "#00bfbf",
    "m": "#bf00bf",
    "y": "#bfbf00",
    "k": "#000000",
    "w": "#ffffff",
}
_HEX = re.compile(r"^#?([0-9a-fA-F]{3}|[0-9a-fA-F]{4}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})$")


def normalize_color(value: Any) -> str:
    """A colour as ``#rrggbb`` (or ``#rrggbbaa``): SVG/CSS names ('orange'), single letters
    ('r', 'k'), matplotlib's 'C0'..'C9', hex ('#f80', '#ff8800', 'ff8800cc') or [r, g, b(, a)] 0..255.
    Raises ValueError."""
    if isinstance(value, str):
        text = value.strip().lower().replace(" ", "")
        if text in _LETTERS:
            return _LETTERS[text]
        if re.fullmatch(r"c\d", text):
            return DEFAULT_COLORS[int(text[1])]
        if text in _SVG_COLORS:
            return "#" + _SVG_COLORS[text]
        m = _HEX.match(text)
        if m:
            digits = m.group(1)
            if len(digits) in (3, 4):
                digits = "".join(d * 2 for d in digits)
            return "#" + digits
    elif isinstance(value, list | tuple) and len(value) in (3, 4):
        if all(isinstance(v, int | np.integer) and not isinstance(v, bool) and 0 <= v <= 255 for v in value):
            return "#" + "".join(f"{int(v):02x}" for v in value)
    raise ValueError(
        f"{value!r} is not a colour (use a name such as 'orange', a letter r g b c m y k w, 'C0'..'C9', "
        "'#rrggbb' or [r, g, b] with 0..255)"
    )


@dataclass(frozen=True)
class Scaling:
    """Axis scaling: ``shown = value * factor + offset``, labelled ``unit``."""

    factor: float = 1.0
    offset: float = 0.0
    unit: str = ""

    def apply(self, values: Any) -> np.ndarray:
        return np.asarray(values, dtype=np.float64) * self.factor + self.offset


def _scaling(config: Mapping, key: str, default: Scaling, problems: list[str]) -> Scaling:
    value = config.get(key)
    if value is None:
        return default
    if isinstance(value, list | tuple) and len(value) in (2, 3):
        factor, offset = value[0], value[1]
        unit = value[2] if len(value) == 3 else default.unit
        if (
            _is_number(factor)
            and float(factor) != 0
            and _is_number(offset)
            and isinstance(unit, str | int | float)
        ):
            return Scaling(float(factor), float(offset), str(unit))
    problems.append(
        f"config '{key}' must be [scaling, offset, unit] with a non-zero scaling, e.g. "
        f"[{default.factor:g}, {default.offset:g}, '{default.unit}'] (default), got {value!r}"
    )
    return default


def _interval(config: Mapping, problems: list[str]) -> float:
    value = config.get("update_interval", 1.0)
    if value is None:
        return 1.0
    if not _is_number(value) or float(value) <= 0:
        problems.append(f"config 'update_interval' must be a number of seconds > 0, got {value!r}")
        return 1.0
    return float(value)


def _names(dtype: Any) -> tuple[str, ...] | None:
    if dtype is None:
        return None
    if isinstance(dtype, Mapping):
        return tuple(str(k) for k in dtype)
    names = np.dtype(dtype).names
    return tuple(names) if names else None


def _channels(config: Mapping, names: tuple[str, ...] | None, problems: list[str]) -> tuple[str, ...] | None:
    value = config.get("channels")
    if value is None:
        return None
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple) or not value or not all(isinstance(v, str) for v in value):
        choices = f" (fields: {', '.join(names)})" if names else ""
        problems.append(f"config 'channels' must be a list of field names{choices}, got {value!r}")
        return None
    result = []
    for ch in value:
        if names is not None and ch not in names:
            problems.append(
                f"config 'channels': '{ch}' is not a field of the buffer (fields: {', '.join(names)})"
            )
        elif ch not in result:
            result.append(ch)
    return tuple(result) if result else None


def _colors(config: Mapping, channels: Sequence[str], problems: list[str]) -> dict[str, str]:
    """Every channel's colour: the configured one (list in channel order, or {channel: colour}) or the default."""
    value = config.get("colors")
    given: dict[str, Any] = {}
    if value is None:
        pass
    elif isinstance(value, str):
        given = {channels[0]: value} if channels else {}
    elif isinstance(value, Mapping):
        for ch, c in value.items():
            if str(ch) not in channels:
                problems.append(
                    f"config 'colors': '{ch}' is not a shown channel (channels: {', '.join(channels) or 'none'})"
                )
            else:
                given[str(ch)] = c
    elif isinstance(value, list | tuple):
        if len(value) in (3, 4) and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            value = [value]  # one [r, g, b] colour
        given = dict(zip(channels, value, strict=False))
        if len(value) > len(channels):
            problems.append(
                f"config 'colors' has {len(value)} colours for {len(channels)} channels ({', '.join(channels)})"
            )
    else:
        problems.append(f"config 'colors' must be a list of colours or {{channel: colour}}, got {value!r}")
    result = {}
    for i, ch in enumerate(channels):
        if ch in given:
            try:
                result[ch] = normalize_color(given[ch])
                continue
            except ValueError as exc:
                problems.append(f"config 'colors' of '{ch}': {exc}")
        result[ch] = DEFAULT_COLORS[i % len(DEFAULT_COLORS)]
    return result


# --------------------------------------------------------------------------------------------
# oscilloscope


@dataclass(frozen=True)
class OscilloscopeConfig:
    """An oscilloscope display's settings, checked and normalized."""

    channels: tuple[str, ...]
    ylim: tuple[float, float] | None = None
    t_scaling: Scaling = Scaling(1.0, 0.0, "Samples")
    y_scaling: Scaling = Scaling(1.0, 0.0, "Value")
    trigger_level: float | None = None
    update_interval: float = 1.0
    colors: dict[str, str] = field(default_factory=dict)

    def time_axis(self, n_samples: int) -> np.ndarray:
        """x values of the samples: ``arange(n) * t_scaling.factor + t_scaling.offset``."""
        return self.t_scaling.apply(np.arange(n_samples))


def _oscilloscope(config: Mapping | None, dtype: Any) -> tuple[OscilloscopeConfig, list[str]]:
    config = config or {}
    problems: list[str] = []
    names = _names(dtype)
    ylim = config.get("ylim")
    if ylim is not None:
        if (
            isinstance(ylim, list | tuple)
            and len(ylim) == 2
            and all(_is_number(v) for v in ylim)
            and float(ylim[0]) < float(ylim[1])
        ):
            ylim = (float(ylim[0]), float(ylim[1]))
        else:
            problems.append(
                f"config 'ylim' must be [min, max] with min < max, or null to autoscale, got {ylim!r}"
            )
            ylim = None
    t_scaling = _scaling(config, "t_scaling", Scaling(1.0, 0.0, "Samples"), problems)
    y_scaling = _scaling(config, "y_scaling", Scaling(1.0, 0.0, "Value"), problems)
    channels = _channels(config, names, problems) or names or ()
    trigger = config.get("trigger_level")
    if trigger is not None and not _is_number(trigger):
        problems.append(
            f"config 'trigger_level' must be a number (in the units of the y axis) or null, got {trigger!r}"
        )
        trigger = None
    cfg = OscilloscopeConfig(
        channels=tuple(channels),
        ylim=ylim,
        t_scaling=t_scaling,
        y_scaling=y_scaling,
        trigger_level=None if trigger is None else float(trigger),
        update_interval=_interval(config, problems),
        colors=_colors(config, list(channels), problems),
    )
    return cfg, problems


def parse_oscilloscope_config(config: Mapping | None, dtype: Any = None) -> OscilloscopeConfig:
    """The oscilloscope settings of ``config`` for a buffer of ``dtype``; ValueError lists every bad key."""
    cfg, problems = _oscilloscope(config, dtype)
    if problems:
        raise ValueError("; ".join(problems))
    return cfg


def check_oscilloscope_config(config: Mapping | None, dtype: Any = None) -> list[str]:
    """Problems of an oscilloscope config (empty when it is fine)."""
    return _oscilloscope(config, dtype)[1]


# --------------------------------------------------------------------------------------------
# histogram display


@dataclass(frozen=True)
class HistogramDisplayConfig:
    """A histogram display's settings. ``bins`` None: show the histograms of the exporters.histogram
    worker of the same buffer (``core.livehist.open_live_histograms``)."""

    bins: dict[str, BinSpec] | None
    channels: tuple[str, ...] | None = None
    update_interval: float = 1.0
    plot_type: str = "step"
    log_y: bool = False
    colors: dict[str, str] = field(default_factory=dict)


def _histogram(config: Mapping | None, dtype: Any) -> tuple[HistogramDisplayConfig, list[str]]:
    config = config or {}
    problems: list[str] = []
    names = _names(dtype)
    bins = None
    if config.get("bins") is not None:
        errs = check_bins(config["bins"], dtype)
        problems.extend(f"config {e}" for e in errs)
        if not errs:
            bins = parse_bins(config["bins"], dtype)
    channels = _channels(config, names, problems)
    if channels is not None and bins is not None:
        missing = [ch for ch in channels if ch not in bins]
        if missing:
            problems.append(f"config 'channels': {', '.join(missing)} have no bins (bins: {', '.join(bins)})")
    plot_type = config.get("plot_type")
    if plot_type is None and config.get("histtype") is not None:
        plot_type = _HISTTYPES.get(str(config["histtype"]).lower(), config["histtype"])
    plot_type = "step" if plot_type is None else plot_type
    if not isinstance(plot_type, str) or plot_type.lower() not in PLOT_TYPES:
        problems.append(
            f"config 'plot_type' must be one of {', '.join(repr(p) for p in PLOT_TYPES)}, got {plot_type!r}"
        )
        plot_type = "step"
    log_y = config.get("log_y", False)
    if not isinstance(log_y, bool):
        problems.append(f"config 'log_y' must be true or false, got {log_y!r}")
        log_y = False
    shown = list(channels or (bins.keys() if bins else names or ()))
    cfg = HistogramDisplayConfig(
        bins=bins,
        channels=channels,
        update_interval=_interval(config, problems),
        plot_type=plot_type.lower(),
        log_y=log_y,
        colors=_colors(config, shown, problems),
    )
    return cfg, problems


def parse_histogram_config(config: Mapping | None, dtype: Any = None) -> HistogramDisplayConfig:
    """The histogram display settings of ``config`` for a buffer of ``dtype``; ValueError lists every bad key."""
    cfg, problems = _histogram(config, dtype)
    if problems:
        raise ValueError("; ".join(problems))
    return cfg


def check_histogram_config(config: Mapping | None, dtype: Any = None) -> list[str]:
    """Problems of a histogram display config (empty when it is fine)."""
    return _histogram(config, dtype)[1]


# --------------------------------------------------------------------------------------------
# the workers


def _display_only(buffer_io: BufferIO, function: str, known: Sequence[str], check) -> None:
    Observer(buffer_io)  # one observed buffer, no sources or sinks
    buffer = buffer_io.observe[0].buffer
    problems = check(buffer_io.config, buffer.dtype)
    if problems:
        raise ValueError(f"worker '{buffer_io.name}': " + "; ".join(problems))
    unknown = [str(k) for k in buffer_io.config if k not in known]
    if unknown:
        buffer_io.logger.debug("config keys %s are not used by %s", ", ".join(unknown), function)
    buffer_io.logger.info(
        "%s of buffer '%s' is display-only: it shows in the GUI; in a headless run it does nothing",
        function,
        buffer.name,
    )
    alive = IsAlive(buffer_io)
    while alive() and not buffer_io.stop_requested:
        time.sleep(IDLE_POLL)


def _observed_dtype(observes) -> Any:
    return observes[0].dtype if observes else None


@setup_check(lambda config, observes=(), **_: check_oscilloscope_config(config, _observed_dtype(observes)))
def oscilloscope(buffer_io: BufferIO) -> None:
    """mimoCoRB2 Function: Show an Oscilloscope plot of the buffer.

    Observes data from a buffer and shows it as an oscilloscope plot (a dock in the GUI, which
    samples the newest event without taking it from any reader). In a headless run it only logs
    that it is display-only and waits until the observed buffer is closed or the run stops.

    Type
    ----
    Observer

    Buffers
    -------
    sources
        0
    sinks
        0
    observes
        1

    Configs
    -------
    ylim : tuple of float, optional (default=None)
        (min, max) of the y-axis. If None, the y-axis will be autoscaled upon each update.
    t_scaling : tuple of float, optional (default=(1, 0, 'Samples'))
        (scaling, offset, unit) for the x-axis: x = sample index * scaling + offset.
    y_scaling : tuple of float, optional (default=(1, 0, 'Value'))
        (scaling, offset, unit) for the y-axis: y = value * scaling + offset.
    channels : list of str, optional (default=None)
        List of channel names to be plotted. If None, all available channels will be plotted.
    trigger_level : float, optional (default=None)
        If specified, a horizontal line will be drawn at this level (in y-axis units) to indicate the trigger level.
    update_interval : float, optional (default=1)
        Interval to update the plot in seconds.
    colors : list or dict, optional (default=None)
        Colours of the channels, in channel order or as {channel: colour}: names ('orange'),
        letters ('r'), 'C0'..'C9', '#rrggbb' or [r, g, b]. If None, matplotlib's default cycle.

    Examples
    --------
    >>> # Workers:
    >>> #   scope: {function: observers.oscilloscope, observes: [InputBuffer],
    >>> #           config: {t_scaling: [0.004, 0, 'µs'], y_scaling: [1000, 0, 'mV'], trigger_level: -50}}
    """
    _display_only(buffer_io, "observers.oscilloscope", OSCILLOSCOPE_KEYS, check_oscilloscope_config)


@setup_check(lambda config, observes=(), **_: check_histogram_config(config, _observed_dtype(observes)))
def histogram(buffer_io: BufferIO) -> None:
    """mimoCoRB2 Function: Show histograms of the fields of a buffer.

    A display (a dock in the GUI). Without bins it shows the live histograms of the
    exporters.histogram worker that reads the same buffer (exact counts, see core.livehist);
    with bins it histograms the events it samples from the buffer (a display only: events
    arriving faster than it looks are not all counted). In a headless run it only logs that it
    is display-only and waits until the observed buffer is closed or the run stops. Also
    available under mimoCoRB2's name visualizers.histogram.

    Type
    ----
    Observer

    Buffers
    -------
    sources
        0
    sinks
        0
    observes
        1 (the source buffer of the exporters.histogram worker, to show its histograms)

    Configs
    -------
    bins : dict, optional (default=None)
        {channel: [min, max, number_of_bins]} to histogram sampled events; None shows the exporter's histograms.
    channels : list of str, optional (default=None)
        Channels to show; None shows every histogram.
    update_interval : float, optional (default=1)
        Interval to update the plot in seconds.
    plot_type : str, optional (default='step')
        'step', 'line' or 'bar'.
    log_y : bool, optional (default=False)
        Logarithmic count axis.
    colors : list or dict, optional (default=None)
        Colours of the channels, as for observers.oscilloscope.

    Examples
    --------
    >>> # Workers:
    >>> #   histogram: {function: exporters.histogram, sources: [Heights], config: {bins: {peak_heights: [0, 1, 200]}}}
    >>> #   spectrum: {function: observers.histogram, observes: [Heights], config: {log_y: true}}
    """
    _display_only(buffer_io, "observers.histogram", HISTOGRAM_KEYS, check_histogram_config)


# SVG 1.1 / CSS colour keywords (what Qt's QColor accepts by name) -> rrggbb
_SVG_COLORS = dict(
    item.split(":")
    for item in """
    aliceblue:f0f8ff antiquewhite:faebd7 aqua:00ffff aquamarine:7fffd4 azure:f0ffff beige:f5f5dc
    bisque:ffe4c4 black:000000 blanchedalmond:ffebcd blue:0000ff blueviolet:8a2be2 brown:a52a2a
    burlywood:deb887 cadetblue:5f9ea0 chartreuse:7fff00 chocolate:d2691e coral:ff7f50
    cornflowerblue:6495ed cornsilk:fff8dc crimson:dc143c cyan:00ffff darkblue:00008b darkcyan:008b8b
    darkgoldenrod:b8860b darkgray:a9a9a9 darkgreen:006400 darkgrey:a9a9a9 darkkhaki:bdb76b
    darkmagenta:8b008b darkolivegreen:556b2f darkorange:ff8c00 darkorchid:9932cc darkred:8b0000
    darksalmon:e9967a darkseagreen:8fbc8f darkslateblue:483d8b darkslategray:2f4f4f darkslategrey:2f4f4f
    darkturquoise:00ced1 darkviolet:9400d3 deeppink:ff1493 deepskyblue:00bfff dimgray:696969
    dimgrey:696969 dodgerblue:1e90ff firebrick:b22222 floralwhite:fffaf0 forestgreen:228b22
    fuchsia:ff00ff gainsboro:dcdcdc ghostwhite:f8f8ff gold:ffd700 goldenrod:daa520 gray:808080
    green:008000 greenyellow:adff2f grey:808080 honeydew:f0fff0 hotpink:ff69b4 indianred:cd5c5c
    indigo:4b0082 ivory:fffff0 khaki:f0e68c lavender:e6e6fa lavenderblush:fff0f5 lawngreen:7cfc00
    lemonchiffon:fffacd lightblue:add8e6 lightcoral:f08080 lightcyan:e0ffff lightgoldenrodyellow:fafad2
    lightgray:d3d3d3 lightgreen:90ee90 lightgrey:d3d3d3 lightpink:ffb6c1 lightsalmon:ffa07a
    lightseagreen:20b2aa lightskyblue:87cefa lightslategray:778899 lightslategrey:778899
    lightsteelblue:b0c4de lightyellow:ffffe0 lime:00ff00 limegreen:32cd32 linen:faf0e6 magenta:ff00ff
    maroon:800000 mediumaquamarine:66cdaa mediumblue:0000cd mediumorchid:ba55d3 mediumpurple:9370db
    mediumseagreen:3cb371 mediumslateblue:7b68ee mediumspringgreen:00fa9a mediumturquoise:48d1cc
    mediumvioletred:c71585 midnightblue:191970 mintcream:f5fffa mistyrose:ffe4e1 moccasin:ffe4b5
    navajowhite:ffdead navy:000080 oldlace:fdf5e6 olive:808000 olivedrab:6b8e23 orange:ffa500
    orangered:ff4500 orchid:da70d6 palegoldenrod:eee8aa palegreen:98fb98 paleturquoise:afeeee
    palevioletred:db7093 papayawhip:ffefd5 peachpuff:ffdab9 peru:cd853f pink:ffc0cb plum:dda0dd
    powderblue:b0e0e6 purple:800080 red:ff0000 rosybrown:bc8f8f royalblue:4169e1 saddlebrown:8b4513
    salmon:fa8072 sandybrown:f4a460 seagreen:2e8b57 seashell:fff5ee sienna:a0522d silver:c0c0c0
    skyblue:87ceeb slateblue:6a5acd slategray:708090 slategrey:708090 snow:fffafa springgreen:00ff7f
    steelblue:4682b4 tan:d2b48c teal:008080 thistle:d8bfd8 tomato:ff6347 turquoise:40e0d0 violet:ee82ee
    wheat:f5deb3 white:ffffff whitesmoke:f5f5f5 yellow:ffff00 yellowgreen:9acd32
""".split()
)
