"""What a histogram dock reads of a run's histograms, from the run directory on this machine.

``HistogramFeed(run_dir, buffer).read()`` gives ``{channel: (edges, counts, total)}``: the
exporter's live histograms (core.livehist, memory-mapped) while it runs, else the
``Histograms_<buffer>/<channel>.npy`` files it saves every update_interval; None while nothing is
there yet. ``total`` counts every value histogrammed (bins, underflow, overflow, NaN).

A local ``Run.histograms(buffer)`` returns one; a served run's viewer gets the same ``read()`` /
``close()`` over the network (core.remote.histograms). No Qt here.
"""

from __future__ import annotations

import csv
import logging
from pathlib import Path
from typing import Any

import numpy as np

from mimocorb_gui.core.livehist import open_live_histograms

__all__ = ["HistogramData", "HistogramFeed"]

log = logging.getLogger(__name__)

# {channel: (bin edges, counts, total values histogrammed)}
HistogramData = dict[str, tuple[np.ndarray, np.ndarray, int]]


class HistogramFeed:
    """Where a dock gets counts: the exporter's live histograms, else its saved .npy files."""

    def __init__(self, run_dir: Path, buffer: str) -> None:
        self.run_dir = Path(run_dir)
        self.buffer = buffer
        self._live: dict | None = None
        self.kind = "none"
        self.error = ""

    def _open_live(self) -> dict | None:
        try:
            live = open_live_histograms(self.run_dir, self.buffer)
        except (FileNotFoundError, KeyError, ValueError, OSError) as exc:
            self.error = str(exc)
            return None
        return live or None

    def read(self) -> HistogramData | None:
        """{channel: (edges, counts copy, total entries)} or None when nothing is there yet."""
        if self._live is None:
            self._live = self._open_live()
        if self._live:
            out = {}
            try:
                for ch, h in self._live.items():
                    counts = np.array(_attr(h, "counts"), copy=True)
                    edges = np.asarray(_attr(h, "edges"), dtype=float)
                    total = getattr(h, "entries_seen", None)  # bins + underflow + overflow + NaN
                    total = int(total) if total is not None else int(counts.sum())
                    out[str(ch)] = (edges, counts, total)
                self.kind = "live"
                return out
            except (AttributeError, ValueError, TypeError, BufferError) as exc:
                self.error = f"live histogram unreadable: {exc}"
                self.close()
        files = self._read_files()
        if files:
            self.kind = "files"
        return files

    def _read_files(self) -> HistogramData | None:
        folder = self.run_dir / f"Histograms_{self.buffer}"
        info = folder / "info.csv"
        try:
            with open(info, newline="", encoding="utf-8") as fh:
                rows = list(csv.DictReader(fh))
        except (OSError, csv.Error):
            return None
        out = {}
        for row in rows:
            try:
                ch = row.get("Channel") or row.get("channel")
                lo = float(row.get("Min", row.get("min")))
                hi = float(row.get("Max", row.get("max")))
                n = int(float(row.get("NBins", row.get("nbins"))))
                counts = np.load(folder / f"{ch}.npy")
            except (OSError, TypeError, ValueError, EOFError):
                continue
            # NBins edges, NBins - 1 counts (mimoCoRB2's manual, 2.2.1); older runs wrote NBins counts
            edges = np.linspace(lo, hi, len(counts) + 1) if len(counts) != n - 1 else np.linspace(lo, hi, n)
            try:
                total = sum(int(float(row[k])) for k in ("Entries", "Underflow", "Overflow", "NaN"))
            except (KeyError, TypeError, ValueError):
                total = int(counts.sum())
            out[str(ch)] = (edges, counts, max(total, int(counts.sum())))
        return out or None

    def close(self) -> None:
        live, self._live = self._live, None
        for h in (live or {}).values():
            close = getattr(h, "close", None)
            if callable(close):
                try:
                    close()
                except Exception:
                    log.debug("closing live histogram failed", exc_info=True)


def _attr(obj: Any, name: str) -> Any:
    return obj.get(name) if isinstance(obj, dict) else getattr(obj, name)
