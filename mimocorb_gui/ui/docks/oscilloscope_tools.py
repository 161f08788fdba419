"""Tools of the oscilloscope dock: the display refresh rate, single shot, cursor readout, Auto Y and Fit.
A mixin of OscilloscopeDock (the cursors themselves are oscilloscope_cursors)."""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QAction, QActionGroup
from PySide6.QtWidgets import QMenu, QToolButton

from mimocorb_gui.core.analysis.scope import crosses_level

__all__ = ["MIN_INTERVAL", "REFRESH_CHOICES", "ScopeTools"]

MIN_INTERVAL = 0.01  # s; the fastest the display polls
REFRESH_CHOICES = (0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0)  # s; display refresh the user can pick


class ScopeTools:
    """Methods of OscilloscopeDock for refresh, single shot and the cursor readout."""

    def _refresh_button(self) -> QToolButton:
        """'Refresh' menu: the setup's update_interval or a display rate chosen here (display only)."""
        btn = QToolButton()
        btn.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        btn.setMinimumWidth(110)
        btn.setToolTip(
            "How often the display takes the newest event (the setup's update_interval by default)"
        )
        menu = QMenu(btn)
        group = QActionGroup(self)
        for value in (None, *REFRESH_CHOICES):
            text = f"setup ({self.cfg.update_interval:g} s)" if value is None else f"{value:g} s"
            act = QAction(text, self)
            act.setCheckable(True)
            act.setChecked(value is None)
            act.triggered.connect(lambda _c=False, v=value: self.set_refresh(v))
            group.addAction(act)
            menu.addAction(act)
            self.actions[f"refresh:{'setup' if value is None else f'{value:g}'}"] = act
        btn.setMenu(menu)
        self._refresh_btn = btn
        return btn

    def set_refresh(self, seconds: float | None) -> None:
        """Poll the buffer every ``seconds`` (None: the setup's update_interval); display only."""
        self.refresh_override = seconds
        interval = self.cfg.update_interval if seconds is None else float(seconds)
        self.timer.setInterval(max(int(MIN_INTERVAL * 1000), int(round(interval * 1000))))
        key = f"refresh:{'setup' if seconds is None else f'{seconds:g}'}"
        if key in self.actions and not self.actions[key].isChecked():
            self.actions[key].setChecked(True)
        if hasattr(self, "_refresh_btn"):
            self._refresh_btn.setText(f"Refresh {interval:g} s")
        if hasattr(self, "status"):
            self._update_status()

    def _single_toggled(self, armed: bool) -> None:
        """Arm: the next event crossing the trigger line is shown and held (Freeze); disarm: go on."""
        if armed:
            self.actions["freeze"].setChecked(False)
        self._update_status()

    def _single_wants(self, data: np.ndarray) -> bool:
        """While armed: does this event cross the trigger line (any shown channel)? No line: any event."""
        level = self.cfg.trigger_level
        if level is None:
            return True
        for ch in self.curves:
            if self.channel_buttons[ch].isChecked():
                y = data[ch].astype(np.float64) * self._ys + self._yo
                if crosses_level(y, level):
                    return True
        return False

    def _cursors_moved(self) -> None:
        self.cursor_label.setText(self.cursors.readout().text if self.cursors.visible else "")

    def _follow_y(self) -> None:
        """Re-range y only when the shown traces leave the range or use less than 40 % of it."""
        shown = [y for ch, y in self._last_data.items() if self.channel_buttons[ch].isChecked() and len(y)]
        n_ghosts = self.persistence.value()
        if n_ghosts:  # the persistence traces are on the screen too: keep them inside
            for ch, hist in self._history.items():
                if self.channel_buttons[ch].isChecked():
                    shown += [y for y in list(hist)[-n_ghosts:] if len(y)]
        if not shown:
            return
        lo = min(float(np.nanmin(y)) for y in shown)
        hi = max(float(np.nanmax(y)) for y in shown)
        if not (np.isfinite(lo) and np.isfinite(hi)):
            return
        span = hi - lo or max(abs(hi), 1e-12)
        a, b = self.plot.getViewBox().viewRange()[1]
        if lo < a or hi > b or span < 0.4 * (b - a):
            self._ranging = True
            try:
                self.plot.setYRange(lo - 0.08 * span, hi + 0.08 * span, padding=0)
            finally:
                self._ranging = False

    def _zoomed_by_user(self, *_args) -> None:
        if not self._ranging and self.actions["autoscale"].isChecked():
            self.actions["autoscale"].setChecked(False)  # the user's zoom wins

    def _autoscale_toggled(self, on: bool) -> None:
        if on:
            self._follow_y()
        elif self.cfg.ylim is not None:
            self.plot.setYRange(*self.cfg.ylim, padding=0)

    def fit_view(self) -> None:
        self.plot.autoRange()
        self.plot.enableAutoRange(x=False, y=False)
