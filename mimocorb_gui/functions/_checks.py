"""Config checks shared by the prebuilt functions: a value of the right kind, or a message naming the key."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from mimocorb_gui.core.bufferio import BufferIO

__all__ = ["check_choice", "check_number", "flag_problem", "number_problem"]


def number_problem(
    key: str,
    value: Any,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    above: float | None = None,
    integer: bool = False,
    allow_none: bool = False,
) -> str | None:
    """Why config ``key``'s ``value`` is not a number in range (None when it is)."""
    if value is None and allow_none:
        return None
    what = "an integer" if integer else "a number"
    bounds = []
    if minimum is not None:
        bounds.append(f">= {minimum}")
    if above is not None:
        bounds.append(f"> {above}")
    if maximum is not None:
        bounds.append(f"<= {maximum}")
    if bounds:
        what += " " + " and ".join(bounds)
    if allow_none:
        what += " (or null)"
    ok = isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool)
    if ok and integer:
        ok = float(value).is_integer()
    if ok:
        v = float(value)
        ok = math.isfinite(v) and not (
            (minimum is not None and v < minimum)
            or (above is not None and v <= above)
            or (maximum is not None and v > maximum)
        )
    return None if ok else f"config '{key}' must be {what}, got {value!r}"


def flag_problem(key: str, value: Any) -> str | None:
    """Why config ``key``'s ``value`` is not true or false (None when it is)."""
    return None if isinstance(value, bool) else f"config '{key}' must be true or false, got {value!r}"


def check_number(
    io: BufferIO,
    key: str,
    default: Any,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    above: float | None = None,
    integer: bool = False,
    allow_none: bool = False,
) -> Any:
    """``io.get(key, default)`` checked to be a number in range; a clear ValueError otherwise."""
    value = io.get(key, default)
    problem = number_problem(
        key, value, minimum=minimum, maximum=maximum, above=above, integer=integer, allow_none=allow_none
    )
    if problem:
        raise ValueError(f"worker '{io.name}': {problem}")
    if value is None:
        return None
    return int(value) if integer else float(value)


def check_choice(io: BufferIO, key: str, default: str, choices: Sequence[str]) -> str:
    """``io.get(key, default)`` checked to be one of ``choices`` (case-insensitive)."""
    value = io.get(key, default)
    norm = str(value).lower() if isinstance(value, str) else None
    lowered = {c.lower(): c for c in choices}
    if norm not in lowered:
        raise ValueError(
            f"worker '{io.name}': config '{key}' must be one of {', '.join(repr(c) for c in choices)}, got {value!r}"
        )
    return lowered[norm]
