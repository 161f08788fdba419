"""Units of buffer fields: the optional ``units`` key of a buffer in the setup (no Qt).

::

    Buffers:
      PulseParameters:
        slot_count: 128
        data_length: 1
        data_dtype: {decay_time: float64, decay_height: float64, panels_hit: int32}
        units: {decay_time: µs, decay_height: V}          # unit only: values are in that unit
      PulseHeights:
        ...
        units: {peak_heights: [1000, keV]}                # [scale, unit]: shown = value × scale

A field without an entry has no unit (axes show its name only). The key is optional: setups
without it, and mimoCoRB2 setups, are valid as before. Every axis and readout of the GUI that
shows a field uses its unit, and its scale where one is given (histograms scale their bin edges).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["UNITS_KEY", "FieldUnit", "check_units", "parse_units"]

UNITS_KEY = "units"


@dataclass(frozen=True)
class FieldUnit:
    unit: str
    scale: float = 1.0

    def __str__(self) -> str:
        return self.unit


def _entry(field: str, value: Any) -> tuple[FieldUnit | None, str]:
    example = f"e.g. {field}: µs or {field}: [1000, keV]"
    if isinstance(value, str) and value.strip():
        return FieldUnit(value.strip()), ""
    if isinstance(value, (list, tuple)) and len(value) == 2:
        scale, unit = value
        ok = (
            isinstance(scale, (int, float))
            and not isinstance(scale, bool)
            and math.isfinite(scale)
            and scale != 0
        )
        if ok and isinstance(unit, str) and unit.strip():
            return FieldUnit(unit.strip(), float(scale)), ""
    return None, f"units.{field}: expected a unit or [scale, unit] ({example}), got {value!r}"


def _parse(raw: Any, fields: list[str] | None) -> tuple[dict[str, FieldUnit], list[str]]:
    if raw is None:
        return {}, []
    if not isinstance(raw, Mapping):
        return {}, [f"units: expected a mapping field: unit (e.g. {{decay_time: µs}}), got {raw!r}"]
    result, problems = {}, []
    for field, value in raw.items():
        field = str(field)
        if fields is not None and field not in fields:
            problems.append(f"units: '{field}' is not a field of the buffer (valid: {', '.join(fields)})")
            continue
        parsed, problem = _entry(field, value)
        if problem:
            problems.append(problem)
        else:
            result[field] = parsed
    return result, problems


def parse_units(raw: Any, fields: list[str] | None = None) -> dict[str, FieldUnit]:
    """``{field: FieldUnit}`` of a buffer's ``units`` entry; entries with problems are left out."""
    return _parse(raw, fields)[0]


def check_units(raw: Any, fields: list[str] | None = None) -> list[str]:
    """Problems of a buffer's ``units`` entry (empty when it is fine or absent)."""
    return _parse(raw, fields)[1]
