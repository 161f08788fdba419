"""Oscilloscope dock: the newest event of a buffer as traces, for every ``observers.oscilloscope`` worker.

Data come from a non-blocking observer handle (a copy of the newest committed event; it never takes
a slot), read on a QTimer every ``update_interval`` seconds and drawn only when a new event was
written. Config keys are the manual's: channels, ylim, t_scaling, y_scaling, trigger_level,
update_interval, plus colors. ylim and trigger_level are in the scaled (displayed) y units.
"""

from __future__ import annotations

import collections
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QElapsedTimer, Qt, QTimer
from PySide6.QtGui import QAction, QColor, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from mimocorb_gui.ui.docks.base import EmptyState, MonitorDock, axis_label, fast_plot_item
from mimocorb_gui.ui.docks.oscilloscope_config import ScopeConfig, scope_config
from mimocorb_gui.ui.docks.oscilloscope_cursors import ScopeCursors
from mimocorb_gui.ui.docks.oscilloscope_recording import RecordingPlayback
from mimocorb_gui.ui.docks.oscilloscope_save import TraceSaving
from mimocorb_gui.ui.docks.oscilloscope_tools import REFRESH_CHOICES, ScopeTools
from mimocorb_gui.ui.docks.scope_trace import ScopeTrace

__all__ = ["OscilloscopeDock", "ScopeConfig", "scope_config"]

log = logging.getLogger(__name__)

# A dark screen like a bench oscilloscope: bright trace colours (setups written for scopes use
# them, e.g. gold/cyan/magenta/green) read well on it. Channels without a configured colour:
SCOPE_COLORS = ["#ffd43b", "#3bc9db", "#f783ac", "#8ce99a", "#ff922b", "#b197fc", "#ffffff", "#a9e34b"]
SCOPE_BACKGROUND = "#11161c"
SCOPE_AXIS = "#aab4be"
MAX_PERSISTENCE = 20


def _swatch(color: str) -> QIcon:
    """The trace colour as it looks on the scope: a short line on the dark screen."""
    pix = QPixmap(22, 12)
    pix.fill(QColor(SCOPE_BACKGROUND))
    p = QPainter(pix)
    p.fillRect(2, 5, 18, 3, QColor(color))
    p.end()
    return QIcon(pix)


class OscilloscopeDock(ScopeTools, RecordingPlayback, TraceSaving, MonitorDock):
    """Traces of the newest event of one buffer, with the controls of a bench oscilloscope."""

    def __init__(
        self,
        worker: str,
        buffer: str,
        config: dict,
        dtype: np.dtype | None,
        data_length: int,
        parent: QWidget | None = None,
        units: dict[str, Any] | None = None,
        setup_name: str = "",
    ) -> None:
        super().__init__(f"oscilloscope:{worker}", f"Oscilloscope: {worker} ({buffer})", parent)
        self.worker = worker
        self.setup_name = setup_name
        self.buffer = buffer
        self.data_length = int(data_length or 0)
        self.config_error = ""
        try:
            if dtype is None:
                raise ValueError(f"buffer '{buffer}' has no valid data_dtype")
            self.cfg = scope_config(config, dtype)
        except (ValueError, TypeError, KeyError, IndexError) as exc:
            self.config_error = str(exc)
            self.cfg = ScopeConfig(channels=list(dtype.names or []) if dtype is not None else [])
        self._observer = None
        self._running = False
        self._have_trace = False
        self.frames = 0  # traces drawn since the run started
        self.last_counter = -1
        self._fps_clock = QElapsedTimer()
        self._fps_frames = 0
        self.fps = 0.0
        self._last_data: dict[str, np.ndarray] = {}
        self._history: dict[str, collections.deque] = {}
        self._ghosts: dict[str, list[ScopeTrace]] = {}
        self._ranging = False

        t_scale, t_off, t_unit = self.cfg.t_scaling
        self._t = (np.arange(self.data_length, dtype=np.float64) * t_scale + t_off).astype(np.float64)
        self._ys, self._yo, self._y_unit = self.cfg.y_scaling
        if self._y_unit == "Value" and self._ys == 1.0 and self._yo == 0.0:  # no y_scaling in the config
            declared = {(getattr(u, "scale", 1.0), str(getattr(u, "unit", u))) for c, u in (units or {}).items()
                        if c in self.cfg.channels}  # fmt: skip
            if len(declared) == 1 and len([c for c in self.cfg.channels if c in (units or {})]) == len(
                self.cfg.channels
            ):
                ((self._ys, self._y_unit),) = declared  # the buffer's unit of all shown channels
        self._t_unit = t_unit

        body = QWidget(self)
        layout = QVBoxLayout(body)
        layout.setContentsMargins(4, 2, 4, 2)
        layout.setSpacing(2)
        bar = QHBoxLayout()
        bar.setSpacing(4)
        layout.addLayout(bar)

        self._build_plot(body, layout)
        self._build_toolbar(body, bar, config)
        self._build_status_row(body, layout)
        self._build_overlays()
        self._build_cursors(body)

        self.setWidget(body)
        self.empty = EmptyState(self.plot_widget)
        if self.config_error:
            self.empty.show(f"Oscilloscope '{worker}' cannot show buffer '{buffer}':\n{self.config_error}")
        else:
            self.empty.show(f"Start the run to see traces of buffer '{buffer}'.")

        self.timer = QTimer(self)
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)  # 33 ms means 30 frames/s, not 27
        self.timer.timeout.connect(self.update_frame)
        self.set_refresh(None)
        self._update_status()

    def _build_plot(self, body: QWidget, layout: QVBoxLayout) -> None:
        """The scope plot: dark background, axes in the configured units, the time range; the recording bar."""
        self.plot_widget = pg.PlotWidget(parent=body)
        # the view paints its whole area: Qt need not paint the widgets behind it first
        self.plot_widget.viewport().setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.plot: pg.PlotItem = self.plot_widget.getPlotItem()
        fast_plot_item(self.plot, minor_grid=False)
        self.plot_widget.setBackground(SCOPE_BACKGROUND)
        for name in ("left", "bottom"):
            axis = self.plot.getAxis(name)
            axis.setPen(SCOPE_AXIS)
            axis.setTextPen(SCOPE_AXIS)
        self.plot.showGrid(x=True, y=True, alpha=0.3)
        self.plot.setLabel("bottom", axis_label("Time", self._t_unit))
        self.plot.setLabel("left", axis_label("Signal", self._y_unit))
        self.plot.setMenuEnabled(True)
        if len(self._t) > 1:
            self.plot.setXRange(float(self._t[0]), float(self._t[-1]), padding=0.01)
        layout.addWidget(self._build_recording_bar(body))
        layout.addWidget(self.plot_widget, 1)

    def _build_toolbar(self, body: QWidget, bar: QHBoxLayout, config: dict) -> None:
        """Freeze, Auto Y, Fit, Single, Cursors, Refresh, persistence, and a curve with its show/hide box per channel."""
        self.actions["freeze"] = act = QAction("Freeze", self)
        act.setCheckable(True)
        act.setToolTip("Freeze the display on the current trace (acquisition goes on)")
        act.toggled.connect(self._freeze_toggled)
        bar.addWidget(self._button(act))
        self.actions["autoscale"] = act = QAction("Auto Y", self)
        act.setCheckable(True)
        act.setChecked(self.cfg.ylim is None)
        act.setToolTip("Follow the signal with the y axis (off: keep ylim or your zoom)")
        act.toggled.connect(self._autoscale_toggled)
        bar.addWidget(self._button(act))
        self.actions["fit_view"] = act = QAction("Fit", self)
        act.setToolTip("Scale both axes to the current trace once")
        act.triggered.connect(self.fit_view)
        bar.addWidget(self._button(act))
        self.actions["single"] = act = QAction("Single", self)
        act.setCheckable(True)
        act.setToolTip("Single shot: show the next event that crosses the trigger line, then hold")
        act.toggled.connect(self._single_toggled)
        bar.addWidget(self._button(act))
        self.actions["cursors"] = act = QAction("Cursors", self)
        act.setCheckable(True)
        act.setToolTip("Two time and two level cursors to drag: Δt, 1/Δt, ΔV")
        bar.addWidget(self._button(act))
        bar.addWidget(self._refresh_button())
        self.actions["save"] = act = QAction("Save", self)
        act.setToolTip("The traces shown as CSV, the plot as PNG and SVG, into the run directory")
        act.triggered.connect(lambda: self.save())
        bar.addWidget(self._button(act))

        bar.addWidget(QLabel("Persistence:"))
        self.persistence = QSpinBox(body)
        self.persistence.setRange(0, MAX_PERSISTENCE)
        self.persistence.setSuffix(" traces")
        self.persistence.setToolTip("Also draw the last N traces, fading (0: off)")
        self.persistence.valueChanged.connect(self._persistence_changed)
        bar.addWidget(self.persistence)

        bar.addSpacing(8)
        self.channel_buttons: dict[str, QCheckBox] = {}
        self.curves: dict[str, ScopeTrace] = {}
        for i, ch in enumerate(self.cfg.channels):
            color = (self.cfg.colors.get(ch) if config.get("colors") else None) or SCOPE_COLORS[
                i % len(SCOPE_COLORS)
            ]
            curve = ScopeTrace(pg.mkPen(color, width=1))
            curve.setZValue(10)
            self.plot.addItem(curve)
            self.curves[ch] = curve
            btn = QCheckBox(ch, body)
            btn.setChecked(True)
            btn.setIcon(_swatch(color))
            btn.setToolTip(f"Show or hide channel {ch}")
            btn.toggled.connect(lambda on, c=ch: self.set_channel_visible(c, on))
            self.channel_buttons[ch] = btn
            act = QAction(f"Show {ch}", self)
            act.setCheckable(True)
            act.setChecked(True)
            act.toggled.connect(btn.setChecked)
            btn.toggled.connect(act.setChecked)
            self.actions[f"channel:{ch}"] = act
            bar.addWidget(btn)
        bar.addStretch(1)

    def _build_status_row(self, body: QWidget, layout: QVBoxLayout) -> None:
        """The line under the plot: status on the left, cursor readout on the right."""
        below = self.status_row = QHBoxLayout()
        layout.addLayout(below)
        self.status = QLabel("", body)
        self.status.setStyleSheet("color: #555;")
        below.addWidget(self.status)
        below.addStretch(1)
        self.readout = QLabel("", body)
        self.readout.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.readout.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.readout.setToolTip("Cursor position (move the mouse over the plot)")
        below.addWidget(self.readout)

    def _build_overlays(self) -> None:
        """The trigger level line, our own y ranging, and the mouse crosshair."""
        if self.cfg.trigger_level is not None:
            self.trigger_line = pg.InfiniteLine(
                pos=self.cfg.trigger_level,
                angle=0,
                pen=pg.mkPen("#e9ecef", width=1, style=Qt.PenStyle.DashLine),
                label=f"trigger {self.cfg.trigger_level:g}",
                labelOpts={"position": 0.04, "color": "#e9ecef", "anchors": [(0, 1), (0, 1)]},
            )
            self.plot.addItem(self.trigger_line)
        else:
            self.trigger_line = None
        # The y axis follows the data by our own rule (Auto Y), not pyqtgraph's autorange: that one
        # re-ranges inside the paint and so paints every frame twice, with new ticks each time.
        self.plot.enableAutoRange(x=False, y=False)
        if self.cfg.ylim is not None:
            self.plot.setYRange(*self.cfg.ylim, padding=0)
        elif self.cfg.trigger_level:  # before the first event: zero and the trigger, not ±0.4 around it
            t = self.cfg.trigger_level
            self.plot.setYRange(min(0.0, 1.5 * t), max(0.0, 1.5 * t), padding=0.05)
        self.plot.getViewBox().sigRangeChangedManually.connect(self._zoomed_by_user)

        # cursor readout: crosshair + text
        self._vline = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen("#5c6670", width=1))
        self._hline = pg.InfiniteLine(angle=0, movable=False, pen=pg.mkPen("#5c6670", width=1))
        for line in (self._vline, self._hline):
            line.setVisible(False)
            line.setZValue(5)
            self.plot.addItem(line, ignoreBounds=True)
        self._mouse_proxy = pg.SignalProxy(
            self.plot.scene().sigMouseMoved, rateLimit=30, slot=self._mouse_moved
        )

    def _build_cursors(self, body: QWidget) -> None:
        """The two measurement cursor pairs and their readout in the status row."""
        self.cursors = ScopeCursors(self.plot, self._t_unit if self._t_unit.lower() not in ("samples", "sample")
                                    else "samples", self._y_unit if self._y_unit != "Value" else "")  # fmt: skip
        self.cursors.changed.connect(self._cursors_moved)
        self.actions["cursors"].toggled.connect(self.cursors.show)
        self.cursor_label = QLabel("", body)
        self.cursor_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.cursor_label.setStyleSheet("color: #1864ab;")
        self.cursor_label.setContentsMargins(24, 0, 0, 0)
        self.status_row.insertWidget(1, self.cursor_label)

    @staticmethod
    def _button(action: QAction) -> QToolButton:
        btn = QToolButton()
        btn.setDefaultAction(action)
        btn.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        return btn

    # ----- run hooks --------------------------------------------------------------------------
    def run_started(self, run_dir) -> None:
        self.close_recording()  # a live run replaces a recording on view
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self._observer = None
        self._running = True
        self._have_trace = False
        self.frames = 0
        self.last_counter = -1
        self._fps_frames = 0
        self._fps_clock.start()
        for hist in self._history.values():
            hist.clear()
        if not self.config_error:
            self.empty.show(f"Waiting for the first event in buffer '{self.buffer}'…")
            self.timer.start()
        self._update_status()

    def run_finishing(self) -> None:
        self.timer.stop()
        self._observer = None  # shared memory is released next

    def run_finished(self, state: str, run_dir) -> None:
        self._running = False
        self._observer = None
        self.timer.stop()
        if not self.config_error and not self._have_trace:
            self.empty.show(
                f"The run {state} before an event reached buffer '{self.buffer}'. Start a new run to see traces."
            )
        self._update_status(state)

    # ----- drawing ----------------------------------------------------------------------------
    def update_frame(self) -> bool:
        """Draw the newest event if there is a new one; True when a trace was drawn."""
        if not self._running or self.actions["freeze"].isChecked() or self.hidden_in_window():
            return False  # frozen, or hidden (closed, a tab behind another): no copy, no drawing
        obs = self._observer
        if obs is None:
            if self.controller is None:
                return False
            obs = self._observer = self.controller.observer(self.buffer)
            if obs is None:
                return False
        try:
            if obs.new_events() <= 0:
                self._tick_fps()
                return False
            meta, data = obs.get()
        except (AttributeError, ValueError, BufferError):  # the run is being released
            self._observer = None
            return False
        if data is None:
            return False
        if self.actions["single"].isChecked():
            if not self._single_wants(data):
                return False
            self.show_event(meta, data)
            self.actions["single"].setChecked(False)
            self.actions["freeze"].setChecked(True)  # hold the shot
            return True
        self.show_event(meta, data)
        return True

    def show_event(self, meta, data: np.ndarray) -> None:
        """Draw one event (structured array of data_length elements)."""
        n = len(data)
        if n != len(self._t):
            t_scale, t_off, _ = self.cfg.t_scaling
            self._t = np.arange(n, dtype=np.float64) * t_scale + t_off
        persist = self.persistence.value()
        for ch, curve in self.curves.items():
            y = data[ch]
            if self._ys != 1.0 or self._yo != 0.0 or y.dtype != np.float64:
                y = y.astype(np.float64) * self._ys + self._yo
            else:
                y = y.copy()
            if persist and ch in self._last_data:
                self._history.setdefault(ch, collections.deque(maxlen=MAX_PERSISTENCE)).append(
                    self._last_data[ch]
                )
                self._draw_ghosts(ch)
            self._last_data[ch] = y
            curve.setData(self._t, y)
        if self.actions["autoscale"].isChecked():
            self._follow_y()
        if meta is not None:
            try:
                self.last_counter = int(meta["counter"][0])
            except (KeyError, IndexError, ValueError, TypeError):
                pass
        if not self._have_trace:
            self._have_trace = True
            self.empty.hide()
        self.frames += 1
        self._fps_frames += 1
        self._tick_fps()

    def _tick_fps(self) -> None:
        if not self._fps_clock.isValid():
            self._fps_clock.start()
            return
        ms = self._fps_clock.elapsed()
        if ms >= 1000:
            self.fps = self._fps_frames * 1000.0 / ms
            self._fps_frames = 0
            self._fps_clock.restart()
            self._update_status()

    def _draw_ghosts(self, ch: str) -> None:
        n = self.persistence.value()
        items = self._ghosts.setdefault(ch, [])
        color = QColor(self.curves[ch].opts["pen"].color())
        while len(items) < n:
            item = ScopeTrace()
            item.setZValue(1)
            self.plot.addItem(item)
            items.append(item)
        history = list(self._history.get(ch, []))[-n:]
        for i, item in enumerate(items):
            if i < n and i < len(history):
                age = len(history) - i  # 1 = the previous trace
                c = QColor(color)
                c.setAlphaF(max(0.06, 0.55 * (1.0 - (age - 1) / max(n, 1))))
                item.setPen(pg.mkPen(c, width=1))
                item.setData(self._t, history[i])
                item.setVisible(self.channel_buttons[ch].isChecked())
            else:
                item.setData([], [])

    def _persistence_changed(self, n: int) -> None:
        for ch, items in self._ghosts.items():
            for item in items[n:]:
                self.plot.removeItem(item)
            del items[n:]
            if n:
                self._draw_ghosts(ch)
        if n == 0:
            for hist in self._history.values():
                hist.clear()

    # ----- controls ---------------------------------------------------------------------------
    def set_channel_visible(self, channel: str, visible: bool) -> None:
        if channel in self.curves:
            self.curves[channel].setVisible(visible)
            for item in self._ghosts.get(channel, []):
                item.setVisible(visible)
            if self.channel_buttons[channel].isChecked() != visible:
                self.channel_buttons[channel].setChecked(visible)

    def _freeze_toggled(self, frozen: bool) -> None:
        self.actions["freeze"].setText("Run" if frozen else "Freeze")
        self._update_status()

    def _mouse_moved(self, event) -> None:
        pos = event[0]
        vb = self.plot.getViewBox()
        if not self.plot.sceneBoundingRect().contains(pos) or not vb.sceneBoundingRect().contains(pos):
            self._vline.setVisible(False)
            self._hline.setVisible(False)
            self.readout.setText("")
            return
        p = vb.mapSceneToView(pos)
        self._vline.setPos(p.x())
        self._hline.setPos(p.y())
        self._vline.setVisible(True)
        self._hline.setVisible(True)
        self.readout.setText(self.readout_text(p.x(), p.y()))

    def readout_text(self, x: float, y: float) -> str:
        t_unit = self._t_unit if self._t_unit.lower() not in ("samples", "sample") else "samples"
        return (
            f"t = {x:.4g} {t_unit}   y = {y:.4g} {self._y_unit if self._y_unit != 'Value' else ''}".rstrip()
        )

    def _update_status(self, final_state: str | None = None) -> None:
        parts = []
        if self.config_error:
            parts.append("config error")
        elif final_state:
            parts.append(f"run {final_state}; last trace shown" if self._have_trace else f"run {final_state}")
        elif self._running:
            if self.actions["single"].isChecked():
                parts.append("single shot armed: waiting for a trigger")
            else:
                parts.append("frozen" if self.actions["freeze"].isChecked() else f"{self.fps:.1f} frames/s")
        else:
            parts.append("no run")
        if self.last_counter >= 0:
            parts.append(f"event #{self.last_counter}")
        parts.append(f"updates every {self.timer.interval() / 1000:g} s")
        self.status.setText(" · ".join(parts))

    # ----- settings ---------------------------------------------------------------------------
    def settings(self) -> dict[str, Any]:
        return {
            "hidden_channels": [c for c, b in self.channel_buttons.items() if not b.isChecked()],
            "persistence": self.persistence.value(),
            "autoscale": self.actions["autoscale"].isChecked(),
            "refresh": self.refresh_override,
        }

    def apply_settings(self, values: dict[str, Any]) -> None:
        hidden = values.get("hidden_channels")
        if isinstance(hidden, list):
            for ch, btn in self.channel_buttons.items():
                btn.setChecked(ch not in hidden)
        p = values.get("persistence")
        if isinstance(p, int) and 0 <= p <= MAX_PERSISTENCE:
            self.persistence.setValue(p)
        a = values.get("autoscale")
        if isinstance(a, bool):
            self.actions["autoscale"].setChecked(a)
        r = values.get("refresh")
        if r is None or (isinstance(r, (int, float)) and r in REFRESH_CHOICES):
            self.set_refresh(r)
