"""Oscilloscope measurements without Qt: trigger-level crossings, cursor differences, inverse units."""

from __future__ import annotations

import math

import numpy as np

__all__ = ["CursorReadout", "crosses_level", "cursor_readout", "inverse_unit"]

# a time unit -> the unit of 1/time
_INVERSE = {"s": "Hz", "ms": "kHz", "us": "MHz", "µs": "MHz", "μs": "MHz", "ns": "GHz", "ps": "THz",
            "samples": "1/sample", "sample": "1/sample"}  # fmt: skip


def inverse_unit(unit: str) -> str:
    """The unit of 1/x for a time unit x ('µs' -> 'MHz'); '1/<unit>' for others."""
    u = (unit or "").strip()
    if not u:
        return ""
    return _INVERSE.get(u, _INVERSE.get(u.lower(), f"1/{u}"))


def crosses_level(y: np.ndarray, level: float) -> bool:
    """True when the trace passes the level (one sample on each side, or touching it), either direction."""
    y = np.asarray(y, dtype=float)
    if len(y) < 2:
        return False
    d = y - level
    finite = np.isfinite(d)
    d = d[finite]
    return bool(len(d) >= 2 and d.min() <= 0.0 <= d.max() and d.min() < d.max())


class CursorReadout(tuple):
    """(dt, inverse_dt, dv) with a text for the dock."""

    __slots__ = ()

    def __new__(cls, dt: float, inverse_dt: float, dv: float, text: str):
        return super().__new__(cls, (dt, inverse_dt, dv, text))

    dt = property(lambda self: self[0])
    inverse_dt = property(lambda self: self[1])
    dv = property(lambda self: self[2])
    text = property(lambda self: self[3])


def cursor_readout(
    t1: float, t2: float, v1: float, v2: float, t_unit: str = "", v_unit: str = ""
) -> CursorReadout:
    """Δt = t2 − t1, 1/|Δt| and ΔV = v2 − v1 with their units (1/Δt is nan for Δt = 0)."""
    dt, dv = t2 - t1, v2 - v1
    inv = 1.0 / abs(dt) if dt != 0 else math.nan
    tu = f" {t_unit}" if t_unit else ""
    vu = f" {v_unit}" if v_unit else ""
    iu = f" {inverse_unit(t_unit)}" if t_unit else ""
    inv_text = f"{inv:.4g}{iu}" if math.isfinite(inv) else "–"
    text = f"Δt = {dt:.4g}{tu}   1/Δt = {inv_text}   ΔV = {dv:.4g}{vu}"
    return CursorReadout(dt, inv, dv, text)
