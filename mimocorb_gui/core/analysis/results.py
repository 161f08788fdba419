"""Fit and region results as files and as text: CSV/JSON in the run directory, a clipboard table (no Qt)."""

from __future__ import annotations

import csv
import io
import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["format_value", "results_text", "write_results"]


def format_value(value: float, error: float, unit: str = "") -> str:
    """``value ± error unit`` with the error on two significant digits and the value to match."""
    u = f" {unit}" if unit else ""
    if not math.isfinite(value):
        return f"nan{u}"
    if not (math.isfinite(error) and error > 0):
        return f"{value:.5g}{u}"
    digits = max(0, 1 - int(math.floor(math.log10(error))))
    if digits > 8 or abs(value) >= 1e7:
        return f"{value:.4g} ± {error:.2g}{u}"
    return f"{value:.{digits}f} ± {error:.{digits}f}{u}"


def results_text(rows: Sequence[Mapping[str, Any]]) -> str:
    """Rows of results as tab-separated text (a header line first), for the clipboard or a spreadsheet."""
    if not rows:
        return ""
    keys: list[str] = []
    for r in rows:
        keys += [k for k in r if k not in keys]
    out = io.StringIO()
    w = csv.writer(out, delimiter="\t", lineterminator="\n")
    w.writerow(keys)
    for r in rows:
        w.writerow([_cell(r.get(k, "")) for k in keys])
    return out.getvalue()


def _cell(v: Any) -> str:
    if isinstance(v, float):
        return "nan" if math.isnan(v) else repr(v)
    return str(v)


def write_results(directory: str | Path, stem: str, rows: Sequence[Mapping[str, Any]],
                  meta: Mapping[str, Any] | None = None) -> tuple[Path, Path]:  # fmt: skip
    """``<stem>.csv`` (one row per result) and ``<stem>.json`` ({meta, results}) in ``directory``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    csv_path, json_path = directory / f"{stem}.csv", directory / f"{stem}.json"
    _atomic(csv_path, results_text(rows).replace("\t", ","))
    doc = {"meta": dict(meta or {}), "results": [dict(r) for r in rows]}
    _atomic(json_path, json.dumps(doc, indent=2, default=_json_default, allow_nan=True))
    return csv_path, json_path


def _json_default(v: Any) -> Any:
    try:
        return float(v)
    except (TypeError, ValueError):
        return str(v)


def _atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
