"""Where the monitor docks go: built from the setup, the default arrangement, and the saved layout
(per setup, as JSON through ``ui.settings``; never pickle) with the window geometry."""

from __future__ import annotations

import base64
import logging
import time
from typing import Any

from PySide6.QtCore import QByteArray, Qt, QTimer

from mimocorb_gui.ui.docks.catalog import build_docks, dock_signature
from mimocorb_gui.ui.settings import layout_key

log = logging.getLogger(__name__)


LAYOUT_VERSION = 1


class DockLayout:
    """Builds the docks of a setup, arranges them by default, saves and restores their layout.

    A mixin of :class:`~mimocorb_gui.ui.main_window.MainWindow` (its docks, setup and settings).
    """

    def _rebuild_docks(self) -> None:
        for dock in list(self.docks.values()):
            dock.detach()
            self.removeDockWidget(dock)
            dock.hide()
            dock.setParent(None)
            dock.deleteLater()
        self.docks = {}
        if self.setup is None:
            self._fill_view_menu()
            return
        for dock in build_docks(self.setup, self):
            dock.attach(self.controller)
            self.docks[dock.dock_id] = dock
        self._dock_signature = dock_signature(self.setup)
        self._arrange_default()
        self._default_layout = self.saveState(LAYOUT_VERSION)  # what View ▸ Reset Layout goes back to
        self._fill_view_menu()

    def _arrange_default(self) -> None:
        """The graph across the top; below it side by side: oscilloscopes, histograms, and a column
        with the log (workers and buffers as tabs) over the rates. A setup's graph is wide and flat,
        so it gets the whole width; the plots get the height they need to be read.

        On a narrow screen (1366 px) the plots and the log column do not fit side by side: the log
        column then goes right of the graph, and the plots share the bottom row alone; if even they
        do not fit side by side, they are tabs there (one shown at a time, none cut off)."""
        d = self.docks
        scopes = [x for k, x in d.items() if k.startswith("oscilloscope:")]
        hists = [x for k, x in d.items() if k.startswith("histogram:")]
        for x in d.values():
            x.setFloating(False)
            x.show()
        bottom = Qt.DockWidgetArea.BottomDockWidgetArea
        horizontal, vertical = Qt.Orientation.Horizontal, Qt.Orientation.Vertical
        plots = [g[0] for g in (scopes, hists) if g]
        log_dock = d.get("log")
        self._narrow_layout = log_dock is not None and bool(plots) and self._too_narrow([*plots, log_dock])
        self.setCorner(
            Qt.Corner.BottomRightCorner,
            bottom if self._narrow_layout else Qt.DockWidgetArea.RightDockWidgetArea,
        )
        # plots whose tool rows need more than the screen's width side by side share one place as tabs
        self._plots_tabbed = self._narrow_layout and len(plots) > 1 and self._too_narrow(plots)
        if self._plots_tabbed:
            scopes, hists = scopes + hists, []
            plots = plots[:1]
        columns = plots + ([log_dock] if log_dock is not None and not self._narrow_layout else [])
        if columns:
            self.addDockWidget(bottom, columns[0])
            for left, right in zip(columns, columns[1:], strict=False):
                self.splitDockWidget(left, right, horizontal)
        if self._narrow_layout:
            self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, log_dock)
        for group in (scopes, hists):
            for x in group[1:]:
                self.tabifyDockWidget(group[0], x)
            if group:
                group[0].raise_()
        # beside the graph, or on a short screen (768 px), there is height for one dock: rates become a tab
        self._rates_tabbed = self._narrow_layout or self._too_short()
        if log_dock is not None:
            if "rates" in d and not self._rates_tabbed:
                self.splitDockWidget(log_dock, d["rates"], vertical)
            for key in ("workers", "buffers", *(("rates",) if self._rates_tabbed else ())):
                if key in d:
                    self.tabifyDockWidget(log_dock, d[key])
            log_dock.raise_()
        if self.editor is not None and hasattr(self.editor, "hsplit"):
            QTimer.singleShot(0, self._editor_side_panels)  # once the docks have taken their width
        self._default_sizes()

    def _editor_side_panels(self) -> None:
        """The graph needs the width more than the palette and property panel on a narrow screen."""
        split = getattr(self.editor, "hsplit", None)
        if split is None:
            return
        total = sum(split.sizes())
        side = (150, 220) if getattr(self, "_narrow_layout", False) else (190, 290)
        if total > sum(side) + 200:
            split.setSizes([side[0], total - sum(side), side[1]])

    def _too_narrow(self, row: list) -> bool:
        """The docks of one row need more width than the window can have on this screen."""
        need = sum(x.minimumSizeHint().width() for x in row) + 10 * len(row)
        screen = self.screen()
        avail = screen.availableGeometry().width() if screen is not None else 10**6
        return need > min(avail, max(self.width(), 1000))

    def _too_short(self) -> bool:
        """Log and rates stacked would leave each too few lines (a 768 px screen)."""
        screen = self.screen()
        avail = screen.availableGeometry().height() if screen is not None else 10**6
        return min(avail, max(self.height(), 700)) < 850

    def _default_sizes(self) -> None:
        d = self.docks
        horizontal, vertical = Qt.Orientation.Horizontal, Qt.Orientation.Vertical
        plots = [
            next((x for k, x in d.items() if k.startswith(prefix)), None)
            for prefix in ("oscilloscope:", "histogram:")
        ]
        plots = [x for x in plots if x is not None]
        log_dock = d.get("log")
        w, h = max(self.width(), 1000), max(self.height(), 700)
        if getattr(self, "_narrow_layout", False):
            if plots:
                self.resizeDocks(plots, [w // len(plots)] * len(plots), horizontal)
                self.resizeDocks([plots[0]], [int(h * 0.5)], vertical)
            self.resizeDocks([log_dock], [max(log_dock.minimumSizeHint().width(), int(w * 0.28))], horizontal)
        else:
            columns = plots + ([log_dock] if log_dock is not None else [])
            if not columns:
                return
            share = [0.37] * len(plots) + ([0.26 if plots else 1.0] if log_dock is not None else [])
            self.resizeDocks(columns, [int(w * f) for f in share], horizontal)
            self.resizeDocks([columns[0]], [int(h * 0.58)], vertical)
        if log_dock is not None and "rates" in d and not getattr(self, "_rates_tabbed", False):
            self.resizeDocks([log_dock, d["rates"]], [int(h * 0.3), int(h * 0.28)], vertical)

    def _fit_editor_later(self) -> None:
        """Fit the graph once the docks have taken their space (the editor fitted a larger view)."""
        if self.editor is not None:  # wrapped anew for the view's shape (unless placed by hand), readable
            QTimer.singleShot(0, self.editor.fit_when_shown)

    def reset_layout(self) -> None:
        """Every dock back in its default place: floating ones docked again, closed ones shown."""
        for d in self.docks.values():
            d.setFloating(False)
            d.show()
        default = getattr(self, "_default_layout", None)
        if default is None or not self.restoreState(default, LAYOUT_VERSION):
            for d in self.docks.values():
                self.removeDockWidget(d)
            self._arrange_default()
        for d in self.docks.values():
            d.setFloating(False)
            d.show()
        self._default_sizes()
        self._fit_editor_later()
        if self.setup is not None:
            self.settings.remove_layout(layout_key(self.setup.path))

    def layout_state(self) -> dict[str, Any]:
        """The window's dock layout as JSON-able data (never pickle)."""
        docks = {}
        for dock_id, d in self.docks.items():
            docks[dock_id] = {
                "visible": not d.isHidden(),
                "floating": d.isFloating(),
                "area": self.dockWidgetArea(d).name
                if hasattr(self.dockWidgetArea(d), "name")
                else str(self.dockWidgetArea(d)),
                "settings": d.settings(),
            }
        return {
            "version": LAYOUT_VERSION,
            "qt_state": base64.b64encode(bytes(self.saveState(LAYOUT_VERSION))).decode("ascii"),
            "docks": docks,
            "run": self.run_options(),
            "saved": time.strftime("%Y-%m-%d %H:%M:%S"),
        }

    def restore_layout_state(self, state: dict[str, Any]) -> bool:
        """Apply a saved layout; docks that no longer exist are skipped, new docks keep their default place."""
        if not isinstance(state, dict):
            return False
        ok = False
        blob = state.get("qt_state")
        saved_docks = state.get("docks") if isinstance(state.get("docks"), dict) else {}
        if set(saved_docks) != set(self.docks):
            # docks came or went since: Qt's saved geometry would squeeze a new dock into a sliver
            # of its neighbour; the default arrangement holds, the docks' own settings are applied
            blob = None
        if isinstance(blob, str):
            try:
                ok = self.restoreState(QByteArray(base64.b64decode(blob.encode("ascii"))), LAYOUT_VERSION)
            except (ValueError, TypeError):
                ok = False
        if isinstance(state.get("run"), dict):
            self.apply_run_options(state["run"])
        for dock_id, dock in self.docks.items():
            entry = saved_docks.get(dock_id)
            if not isinstance(entry, dict):
                dock.show()  # new since the layout was saved: keep its default place, visible
                continue
            if isinstance(entry.get("visible"), bool):
                dock.setVisible(entry["visible"])
            if isinstance(entry.get("settings"), dict):
                try:
                    dock.apply_settings(entry["settings"])
                except Exception:  # an old settings entry must not stop the window
                    log.warning("ignoring saved settings of dock %s", dock_id, exc_info=True)
        return ok

    def _save_layout(self) -> None:
        if self.setup is None or not self.docks:
            return
        self.settings.set_layout(layout_key(self.setup.path), self.layout_state())

    def _restore_layout(self) -> None:
        if self.setup is None:
            return
        state = self.settings.layout(layout_key(self.setup.path))
        if state:
            self.restore_layout_state(state)

    def _restore_window_geometry(self) -> None:
        geo = self.settings.window().get("geometry")
        ok = False
        if isinstance(geo, str):
            try:
                ok = self.restoreGeometry(QByteArray(base64.b64decode(geo.encode("ascii"))))
            except (ValueError, TypeError):
                ok = False
        screen = self.screen()
        if screen is not None:
            avail = screen.availableGeometry()
            if not ok:
                self.resize(min(1500, avail.width()), min(950, avail.height()))
            elif self.width() > avail.width() or self.height() > avail.height():  # saved on a larger screen
                self.resize(min(self.width(), avail.width()), min(self.height(), avail.height()))
        elif not ok:
            self.resize(1500, 950)

    def _save_window_geometry(self) -> None:
        self.settings.set_window({"geometry": base64.b64encode(bytes(self.saveGeometry())).decode("ascii")})

    def show_log(self) -> None:
        d = self.docks.get("log")
        if d is not None:
            d.show()
            d.raise_()

    def _node_selected(self, kind: str, name: str) -> None:
        """Selecting an oscilloscope/histogram worker in the editor brings its dock to the front."""
        if kind != "worker":
            return
        for prefix in ("oscilloscope:", "histogram:"):
            d = self.docks.get(prefix + name)
            if d is not None and not d.isHidden():
                d.raise_()
