"""Energy calibration of a channel: known lines marked on peaks → a linear or quadratic map to keV (no Qt).

A calibration is fitted to (channel value, energy) points by least squares (numpy.polyfit):
two points or more for ``linear``, three or more for ``quadratic``. It is stored as JSON: in
the GUI's settings per setup and channel, and as ``calibration.json`` in the run directory
(``{"<buffer>/<channel>": {...}}``), where a reopened run finds it again.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "CALIBRATION_FILE",
    "COMMON_LINES",
    "KINDS",
    "Calibration",
    "load_calibrations",
    "save_calibration",
]

CALIBRATION_FILE = "calibration.json"
KINDS = {"linear": 1, "quadratic": 2}

# gamma lines lab courses calibrate with (keV)
COMMON_LINES: tuple[tuple[str, float], ...] = (
    ("Am-241", 59.54),
    ("Ba-133", 356.0),
    ("Na-22 (annihilation)", 511.0),
    ("Cs-137", 661.66),
    ("Co-60", 1173.23),
    ("Na-22", 1274.5),
    ("Co-60", 1332.49),
)


@dataclass(frozen=True)
class Calibration:
    """energy = c0 + c1·x (+ c2·x²); ``points`` are the (x, energy, label) pairs it was made from."""

    coefficients: tuple[float, ...]  # c0, c1[, c2]
    kind: str = "linear"
    unit: str = "keV"
    points: tuple[tuple[float, float, str], ...] = field(default=())

    @classmethod
    def from_points(cls, points: Iterable[tuple], kind: str = "linear", unit: str = "keV") -> Calibration:
        """Fit ``kind`` through (x, energy[, label]) points."""
        if kind not in KINDS:
            raise ValueError(f"calibration kind '{kind}' unknown (valid: {', '.join(KINDS)})")
        pts = [(float(p[0]), float(p[1]), str(p[2]) if len(p) > 2 else "") for p in points]
        need = KINDS[kind] + 1
        xs = np.array([p[0] for p in pts])
        if len(pts) < need or len(np.unique(xs)) < need:
            raise ValueError(
                f"a {kind} calibration needs at least {need} peaks at different places, got {len(pts)}"
            )
        es = np.array([p[1] for p in pts])
        coeffs = np.polyfit(xs, es, KINDS[kind])[::-1]
        cal = cls(tuple(float(c) for c in coeffs), kind, unit, tuple(pts))
        if not cal.is_monotonic(min(xs), max(xs)):
            raise ValueError(
                "the marked peaks give a calibration whose energy does not rise with the channel"
            )
        return cal

    def __call__(self, x):
        """Energy of channel value(s) x."""
        x = np.asarray(x, dtype=float)
        e = np.zeros_like(x)
        for i, c in enumerate(self.coefficients):
            e = e + c * x**i
        return e if e.ndim else float(e)

    def slope(self, x) -> float:
        c = self.coefficients
        return c[1] + (2 * c[2] * np.asarray(x, dtype=float) if len(c) > 2 else 0.0)

    def inverse(self, energy) -> Any:
        """Channel value(s) of ``energy`` (the root on the rising branch for a quadratic)."""
        e = np.asarray(energy, dtype=float)
        c = self.coefficients
        if len(c) == 2 or c[2] == 0:
            x = (e - c[0]) / c[1]
        else:
            disc = np.sqrt(np.maximum(c[1] ** 2 - 4 * c[2] * (c[0] - e), 0.0))
            x = (-c[1] + disc) / (2 * c[2])
        return x if x.ndim else float(x)

    def is_monotonic(self, lo: float, hi: float) -> bool:
        xs = np.linspace(lo, hi, 64)
        return bool(np.all(self.slope(xs) > 0))

    def residuals(self) -> list[float]:
        return [float(e - self(x)) for x, e, _ in self.points]

    def describe(self, x_unit: str = "") -> str:
        c = self.coefficients
        text = f"E = {c[0]:.4g} + {c[1]:.5g}·x"
        if len(c) > 2:
            text += f" + {c[2]:.4g}·x²"
        return text + f" ({self.unit}, x in {x_unit})" if x_unit else text + f" ({self.unit})"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "unit": self.unit, "coefficients": list(self.coefficients),
                "points": [list(p) for p in self.points]}  # fmt: skip

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Calibration:
        try:
            coeffs = tuple(float(c) for c in d["coefficients"])
            kind = str(d.get("kind", "linear"))
            if kind not in KINDS or len(coeffs) != KINDS[kind] + 1 or not all(map(math.isfinite, coeffs)):
                raise ValueError
            pts = tuple(
                (float(p[0]), float(p[1]), str(p[2]) if len(p) > 2 else "") for p in d.get("points", ())
            )
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise ValueError(
                f"calibration: expected {{kind: linear|quadratic, coefficients: [c0, c1(, c2)]}}, got {dict(d)!r}"
            ) from exc
        return cls(coeffs, kind, str(d.get("unit", "keV")), pts)


def _key(buffer: str, channel: str) -> str:
    return f"{buffer}/{channel}"


def load_calibrations(run_dir: str | Path) -> dict[str, Calibration]:
    """``{"<buffer>/<channel>": Calibration}`` from a run directory's calibration.json ({} if none)."""
    path = Path(run_dir) / CALIBRATION_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: unreadable calibration file ({exc})") from exc
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping '<buffer>/<channel>': calibration")
    return {str(k): Calibration.from_dict(v) for k, v in data.items()}


def save_calibration(run_dir: str | Path, buffer: str, channel: str, cal: Calibration | None) -> Path:
    """Write (or with None remove) one channel's calibration in the run directory's calibration.json."""
    path = Path(run_dir) / CALIBRATION_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            data = {}
    except (FileNotFoundError, json.JSONDecodeError):
        data = {}
    if cal is None:
        data.pop(_key(buffer, channel), None)
    else:
        data[_key(buffer, channel)] = cal.to_dict()
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=2), encoding="utf-8")
    tmp.replace(path)
    return path
