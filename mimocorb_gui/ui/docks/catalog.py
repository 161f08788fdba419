"""Which monitor docks a setup gets: one per oscilloscope worker, one per histogrammed buffer, and the fixed ones."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QWidget

from mimocorb_gui.core.livehist import histogram_workers
from mimocorb_gui.ui.docks.base import MonitorDock

__all__ = ["DockPlan", "build_docks", "dock_plans", "dock_signature", "function_key"]

log = logging.getLogger(__name__)

OSCILLOSCOPE_FUNCTIONS = {"observers.oscilloscope"}
HISTOGRAM_EXPORTERS = {"exporters.histogram", "importers.redpitaya.spectrum"}  # workers that write the counts


def function_key(function: str) -> str:
    """'observers.oscilloscope' from 'mimocorb2.functions.observers.oscilloscope' and the like."""
    name = (function or "").strip()
    for prefix in ("mimocorb_gui.functions.", "mimocorb2.functions.", "mimocorb2."):
        if name.startswith(prefix):
            name = name[len(prefix) :]
    return name


@dataclass
class DockPlan:
    kind: str  # 'oscilloscope' | 'histogram' | 'rates' | 'buffers' | 'workers' | 'log'
    dock_id: str
    args: dict[str, Any] = field(default_factory=dict)


def _histogram_workers(setup) -> list[tuple[str, str, Any, bool]]:
    """(worker, buffer, bins, is_exporter) for every histogram worker, in file order."""
    specs = setup.workers
    out = []
    for hw in histogram_workers(setup):
        spec = specs.get(hw.worker)
        is_exporter = spec is not None and function_key(spec.function) in HISTOGRAM_EXPORTERS
        out.append((hw.worker, hw.buffer, hw.bins, is_exporter))
    return out


def buffer_units(spec) -> dict:
    """``{field: core.units.FieldUnit}`` a buffer spec declares (its optional ``units`` key)."""
    units = getattr(spec, "units", None) if spec is not None else None
    return dict(units) if isinstance(units, dict) else {}


def setup_name(setup) -> str:
    """A setup's name for captions: its folder for a ``setup.yaml``, else its file name."""
    path = getattr(setup, "path", None)
    if path is None:
        return ""
    path = Path(path)
    return path.parent.name if path.stem.lower() == "setup" else path.stem


def dock_plans(setup) -> list[DockPlan]:
    """The docks for a setup, oscilloscopes first, then histograms, then rates/buffers/workers/log."""
    plans: list[DockPlan] = []
    if setup is None:
        return plans
    buffers = setup.buffers
    for name, w in setup.workers.items():
        if w.file or function_key(w.function) not in OSCILLOSCOPE_FUNCTIONS:
            continue
        buffer = (w.observes or w.sources or [""])[0]
        spec = buffers.get(buffer)
        plans.append(
            DockPlan(
                "oscilloscope",
                f"oscilloscope:{name}",
                {
                    "worker": name,
                    "buffer": buffer,
                    "config": dict(w.config),
                    "dtype": spec.dtype if spec is not None else None,
                    "data_length": spec.data_length
                    if spec is not None and isinstance(spec.data_length, int)
                    else 0,
                    "units": buffer_units(spec),
                    "setup_name": setup_name(setup),
                },
            )
        )
    hist = _histogram_workers(setup)
    exported = {buf for _, buf, _, is_exp in hist if is_exp}
    seen: set[str] = set()
    for worker, buffer, bins, is_exporter in hist:
        if buffer in seen or (not is_exporter and buffer in exported):
            continue  # one dock per histogrammed buffer: displays share the exporter's counts
        seen.add(buffer)
        if not bins:  # a display without bins: take the exporter's, if the buffer has one
            bins = next((b for _, buf, b, _ in hist if buf == buffer and b), None)
        note = (
            ""
            if is_exporter
            else f"Counts come from an exporters.histogram worker of '{buffer}'; this setup has none, "
            "so the dock shows Histograms_" + buffer + " files if some other process writes them."
        )
        # display workers of this buffer (observers.histogram ...) say how to show it: log_y, channels
        hints = [
            setup.workers[w].config
            for w, buf, _b, is_exp in hist
            if buf == buffer
            and not is_exp
            and w in setup.workers
            and isinstance(setup.workers[w].config, dict)
        ]
        log_y = any(h.get("log_y") is True for h in hints)
        channels = next((h.get("channels") for h in hints if h.get("channels")), None)
        channel = (
            channels if isinstance(channels, str) else (channels[0] if isinstance(channels, list) else None)
        )
        plans.append(
            DockPlan(
                "histogram",
                f"histogram:{worker}",
                {
                    "worker": worker,
                    "buffer": buffer,
                    "bins": bins,
                    "note": note,
                    "log_y": log_y,
                    "channel": str(channel) if channel else None,
                    "units": buffer_units(buffers.get(buffer)),
                    "setup_name": setup_name(setup),
                },
            )
        )
    plans.append(DockPlan("rates", "rates", {"buffers": list(buffers)}))
    plans.append(DockPlan("buffers", "buffers", {"specs": buffers}))
    plans.append(DockPlan("workers", "workers", {"specs": setup.workers}))
    plans.append(DockPlan("log", "log", {"workers": list(setup.workers)}))
    return plans


def dock_signature(setup) -> str:
    """Changes when the docks a setup needs change (then they are rebuilt before a run)."""

    def plain(value: Any) -> Any:
        if isinstance(value, dict):
            return {str(k): plain(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [plain(v) for v in value]
        if isinstance(value, (str, int, float, bool)) or value is None:
            return value
        if hasattr(value, "n_bins"):
            return [value.min, value.max, value.n_bins]
        if hasattr(value, "slot_count"):
            return [value.slot_count, value.data_length, str(value.dtype)]
        if hasattr(value, "function"):
            return [value.function, value.file, value.sources, value.sinks, value.observes]
        return str(value)

    return json.dumps(
        [[p.kind, p.dock_id, plain(p.args)] for p in dock_plans(setup)], sort_keys=True, default=str
    )


def build_docks(setup, parent: QWidget | None = None) -> list[MonitorDock]:
    """Create the docks of :func:`dock_plans` (not yet added to a window)."""
    from mimocorb_gui.ui.docks.buffers import BuffersDock
    from mimocorb_gui.ui.docks.histogram import HistogramDock
    from mimocorb_gui.ui.docks.log import LogDock
    from mimocorb_gui.ui.docks.oscilloscope import OscilloscopeDock
    from mimocorb_gui.ui.docks.rates import RatesDock
    from mimocorb_gui.ui.docks.workers import WorkersDock

    classes = {
        "oscilloscope": OscilloscopeDock,
        "histogram": HistogramDock,
        "rates": RatesDock,
        "buffers": BuffersDock,
        "workers": WorkersDock,
        "log": LogDock,
    }
    docks = []
    for plan in dock_plans(setup):
        docks.append(classes[plan.kind](parent=parent, **plan.args))
    return docks
