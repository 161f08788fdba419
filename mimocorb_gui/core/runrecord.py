"""What a run leaves in its directory besides the workers' files: ``stats.csv`` and ``data_flow.svg``.

No Qt and no display: the data-flow picture is SVG text written here. Both files have
mimoCoRB2's names and ``stats.csv`` its columns (its stats logger flattened
``Control.get_stats()`` with dots)::

    buffers.<buffer>.event_count        events written so far
    buffers.<buffer>.filled_slots       fill level, 0..1
    buffers.<buffer>.empty_slots        1 - fill level
    buffers.<buffer>.flush_event_received   the buffer was shut down (closed)
    buffers.<buffer>.rate               events/s since the previous row
    buffers.<buffer>.average_deadtime   fraction of the time since the previous row the writers
                                        spent waiting for a free slot (0..1)
    buffers.<buffer>.paused_count       events dropped while paused
    buffers.<buffer>.paused             the buffer is paused
    workers.<worker>.processes          processes alive
    workers.<worker>.cpu_percent        CPU use per alive process
    time_active                         seconds since the start
    total_processes_alive
    control.cpu_percent                 CPU use of the whole machine

A row is written every second for the first 10 s, then every 10 s up to a minute, every minute
up to 10 minutes, every 10 minutes up to an hour and then hourly (mimoCoRB2's schedule), and a
last row when the run has ended. ``Run`` calls :meth:`RunRecord.sample` from its monitor.
"""

from __future__ import annotations

import csv
import html
import logging
import time
from pathlib import Path
from typing import Any

import psutil

__all__ = ["STATS_FILE", "FLOW_FILE", "RunRecord", "data_flow_svg", "save_interval"]

STATS_FILE = "stats.csv"
FLOW_FILE = "data_flow.svg"
# (elapsed below, write every) seconds, then hourly: mimoCoRB2's control_stats_logger
_SCHEDULE = ((10, 1), (60, 10), (600, 60), (3600, 600))
_FINAL_INTERVAL = 3600

log = logging.getLogger(__name__)


def save_interval(elapsed: float) -> float:
    """Seconds between two rows of stats.csv at ``elapsed`` seconds into the run."""
    for below, every in _SCHEDULE:
        if elapsed < below:
            return every
    return _FINAL_INTERVAL


BUFFER_COLUMNS = (
    "event_count",
    "filled_slots",
    "empty_slots",
    "flush_event_received",
    "rate",
    "average_deadtime",
    "paused_count",
    "paused",
)
WORKER_COLUMNS = ("processes", "cpu_percent")


class RunRecord:
    """Writes ``data_flow.svg`` at once and ``stats.csv`` rows while the run goes."""

    def __init__(self, run) -> None:
        self.run = run
        self.run_dir = Path(run.run_dir)
        self.buffer_names = list(run.buffers)
        self.worker_names = list(run.workers)
        self._failed = False
        self._closed = False
        self._t0 = time.monotonic()
        self._last_row = None  # monotonic time of the previous row
        self._previous: dict[str, tuple[float, int, float]] = {}
        try:
            (self.run_dir / FLOW_FILE).write_text(
                data_flow_svg(run.setup, run.root_buffers), encoding="utf-8"
            )
        except Exception as exc:
            log.warning("data-flow picture not written: %s", exc)
        self._file = None
        try:
            self._file = open(self.run_dir / STATS_FILE, "w", newline="", encoding="utf-8")
            self._csv = csv.writer(self._file)
            self._csv.writerow(self.columns())
            self._file.flush()
            for name, rb in run.buffers.items():
                st = rb.stats()
                self._previous[name] = (self._t0, st.events_written, st.deadtime_total)
            psutil.cpu_percent()  # the first call only starts psutil's measurement
        except Exception as exc:
            log.warning("stats.csv not written: %s", exc)
            self._failed = True
            self.close()

    def columns(self) -> list[str]:
        cols = [f"buffers.{b}.{c}" for b in self.buffer_names for c in BUFFER_COLUMNS]
        cols += [f"workers.{w}.{c}" for w in self.worker_names for c in WORKER_COLUMNS]
        return [*cols, "time_active", "total_processes_alive", "control.cpu_percent"]

    def sample(self) -> None:
        """Called by the run's monitor about ten times a second: writes a row when one is due."""
        if self._closed or self._failed:
            return
        try:
            now = time.monotonic()
            final = self.run.finished()
            due = self._last_row is None or now - self._last_row >= save_interval(now - self._t0)
            if due or final:
                self._write_row(now)
            if final:
                self.close()
        except Exception as exc:
            self._failed = True
            log.warning("stats.csv: writing stopped: %s", exc)
            self.close()

    def _write_row(self, now: float) -> None:
        row: list[Any] = []
        for name in self.buffer_names:
            st = self.run.buffers[name].stats()
            t0, n0, d0 = self._previous[name]
            dt = now - t0
            rate = (st.events_written - n0) / dt if dt > 0 else 0.0
            dead = min(1.0, max(0.0, (st.deadtime_total - d0) / dt)) if dt > 0 else 0.0
            self._previous[name] = (now, st.events_written, st.deadtime_total)
            fill = st.fill_level
            row += [st.events_written, fill, 1.0 - fill, st.closed, rate, dead, st.dropped_paused, st.paused]
        alive_total = 0
        for name in self.worker_names:
            ws = self.run.workers[name].stats()
            alive_total += ws.alive
            row += [ws.alive, ws.cpu_percent]
        row += [now - self._t0, alive_total, psutil.cpu_percent()]
        self._csv.writerow(row)
        self._file.flush()
        self._last_row = now

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._file is not None:
            try:
                self._file.close()
            except OSError:
                pass


# --------------------------------------------------------------------------------------------
# the data-flow picture

_BOX_W, _BOX_H, _GAP_X, _GAP_Y, _MARGIN = 150, 40, 30, 60, 20


def _levels(workers: dict, buffers: list[str]) -> dict[tuple[str, str], int]:
    """Row of every node (('B', buffer) / ('W', worker)): importers on top, data flowing down."""
    level: dict[tuple[str, str], int] = {("B", b): 0 for b in buffers}
    level.update({("W", w): 0 for w in workers})
    for _ in range(2 * (len(workers) + len(buffers)) + 1):  # longest path; a cycle stops here
        changed = False
        for w, spec in workers.items():
            inputs = [level[("B", b)] + 1 for b in (*spec.sources, *spec.observes) if ("B", b) in level]
            want = max(inputs, default=0)
            if want > level[("W", w)]:
                level[("W", w)], changed = want, True
            for b in spec.sinks:
                if ("B", b) in level and level[("B", b)] < want + 1:
                    level[("B", b)], changed = want + 1, True
        if not changed:
            break
    return level


def data_flow_svg(setup, root_buffers=()) -> str:
    """SVG of the setup: buffers as ellipses (importers' buffers blue), workers as boxes,
    arrows for sources and sinks, dotted arrows for observes (mimoCoRB2's picture)."""
    workers = setup.workers
    buffers = list(setup.buffers)
    level = _levels(workers, buffers)
    rows: dict[int, list[tuple[str, str]]] = {}
    for node, lv in sorted(level.items(), key=lambda item: item[1]):
        rows.setdefault(lv, []).append(node)
    width = max(len(r) for r in rows.values()) * (_BOX_W + _GAP_X) - _GAP_X + 2 * _MARGIN if rows else 200
    height = (max(rows, default=0) + 1) * (_BOX_H + _GAP_Y) - _GAP_Y + 2 * _MARGIN
    pos: dict[tuple[str, str], tuple[float, float]] = {}
    for lv, nodes in rows.items():
        row_w = len(nodes) * (_BOX_W + _GAP_X) - _GAP_X
        x0 = (width - row_w) / 2
        for i, node in enumerate(nodes):
            pos[node] = (
                x0 + i * (_BOX_W + _GAP_X) + _BOX_W / 2,
                _MARGIN + lv * (_BOX_H + _GAP_Y) + _BOX_H / 2,
            )

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" font-family="sans-serif" font-size="13">',
        "<title>data flow</title>",
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" '
        'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="black"/></marker></defs>',
    ]
    half_h = _BOX_H / 2

    def edge(a: tuple[str, str], b: tuple[str, str], dotted: bool = False) -> None:
        if a not in pos or b not in pos:
            return
        (x1, y1), (x2, y2) = pos[a], pos[b]
        y1 += half_h if y2 > y1 else -half_h
        y2 += -half_h if y2 > pos[a][1] else half_h
        dash = ' stroke-dasharray="4,3"' if dotted else ""
        out.append(
            f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="black"{dash} '
            'marker-end="url(#arrow)"/>'
        )

    for w, spec in workers.items():
        for b in spec.sources:
            edge(("B", b), ("W", w))
        for b in spec.sinks:
            edge(("W", w), ("B", b))
        for b in spec.observes:
            edge(("B", b), ("W", w), dotted=True)
    for (kind, name), (x, y) in pos.items():
        label = html.escape(name)
        if kind == "B":
            color = "blue" if name in root_buffers else "black"
            out.append(
                f'<ellipse cx="{x:.1f}" cy="{y:.1f}" rx="{_BOX_W / 2:.0f}" ry="{half_h:.0f}" fill="white" '
                f'stroke="{color}"><title>buffer {label}</title></ellipse>'
            )
        else:
            out.append(
                f'<rect x="{x - _BOX_W / 2:.1f}" y="{y - half_h:.1f}" width="{_BOX_W}" height="{_BOX_H}" '
                f'fill="white" stroke="black"><title>worker {label}</title></rect>'
            )
        out.append(f'<text x="{x:.1f}" y="{y + 4:.1f}" text-anchor="middle">{label}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"
