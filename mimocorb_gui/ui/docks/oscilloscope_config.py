"""The oscilloscope dock's settings from an ``observers.oscilloscope`` worker's config (the manual's keys).

Config keys: channels, ylim, t_scaling, y_scaling, trigger_level, update_interval, plus colors.
ylim and trigger_level are in the scaled (displayed) y units. No Qt here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mimocorb_gui.functions.observers import parse_oscilloscope_config

__all__ = ["ScopeConfig", "scope_config"]


@dataclass
class ScopeConfig:
    """Normalized oscilloscope settings."""

    channels: list[str]
    ylim: tuple[float, float] | None = None
    t_scaling: tuple[float, float, str] = (1.0, 0.0, "Samples")
    y_scaling: tuple[float, float, str] = (1.0, 0.0, "Value")
    trigger_level: float | None = None
    update_interval: float = 1.0
    colors: dict[str, str] = field(default_factory=dict)


def _get(obj: Any, key: str, default: Any = None) -> Any:
    if isinstance(obj, dict):
        return obj.get(key, default)
    return getattr(obj, key, default)


def _scaling(value: Any, default_unit: str) -> tuple[float, float, str]:
    if value is None:
        return (1.0, 0.0, default_unit)
    if hasattr(value, "factor"):  # functions.observers.Scaling
        return (float(value.factor), float(value.offset), str(value.unit or default_unit))
    if isinstance(value, dict):  # {scale/scaling, offset, unit}
        return (
            float(value.get("scaling", value.get("scale", 1.0))),
            float(value.get("offset", 0.0)),
            str(value.get("unit", default_unit)),
        )
    items = list(value)
    scale = float(items[0]) if len(items) > 0 else 1.0
    offset = float(items[1]) if len(items) > 1 else 0.0
    unit = str(items[2]) if len(items) > 2 else default_unit
    return (scale, offset, unit)


def scope_config(config: dict, dtype: np.dtype) -> ScopeConfig:
    """Normalize an oscilloscope worker's config with the worker's own parser (ValueError if invalid)."""
    parsed = parse_oscilloscope_config(dict(config), dtype)
    names = list(dtype.names or [])
    channels = list(_get(parsed, "channels") or names)
    ylim = _get(parsed, "ylim")
    colors = _get(parsed, "colors") or {}
    if isinstance(colors, (list, tuple)):
        colors = dict(zip(channels, colors, strict=False))
    colors = {str(k): str(v) for k, v in dict(colors).items()}
    trig = _get(parsed, "trigger_level")
    interval = _get(parsed, "update_interval")
    return ScopeConfig(
        channels=channels,
        ylim=(float(ylim[0]), float(ylim[1])) if ylim is not None else None,
        t_scaling=_scaling(_get(parsed, "t_scaling"), "Samples"),
        y_scaling=_scaling(_get(parsed, "y_scaling"), "Value"),
        trigger_level=float(trig) if trig is not None else None,
        update_interval=float(interval) if interval is not None else 1.0,
        colors=colors,
    )
