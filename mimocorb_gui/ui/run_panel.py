"""The run side of the main window: start and stop, measurement time, and the controller's signals
shown in the status bar, the banner and the editor."""

from __future__ import annotations

import logging
import time

from PySide6.QtCore import Qt, QTime, QUrl
from PySide6.QtGui import QDesktopServices, QGuiApplication
from PySide6.QtWidgets import (
    QMessageBox,
)

from mimocorb_gui.ui.banner import escape_html
from mimocorb_gui.ui.docks.catalog import dock_signature
from mimocorb_gui.ui.run_controller import SetupInvalid

log = logging.getLogger(__name__)


STATE_TEXT = {
    "ready": "ready",
    "running": "running",
    "paused": "paused",
    "stopping": "stopping…",
    "finished": "finished",
    "failed": "failed",
}
STATUS_REFRESH_S = 1.0  # status bar and the editor's live numbers


DEFAULT_STOP_AFTER = 600  # seconds shown in "Stop after" for a setup that has none of its own
RUN_TIME_TIP = (
    "Run time: counted from the first event written (worker processes take a while to begin), "
    "pauses excluded; the measurement time ('Stop after') counts the same way"
)


def _hms(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def open_url(url: QUrl) -> bool:
    """Ask the desktop to open ``url`` (a folder: the file manager); False if nothing can."""
    return QDesktopServices.openUrl(url)


class RunPanel:
    """Starts and stops runs and shows what the run controller reports.

    A mixin of :class:`~mimocorb_gui.ui.main_window.MainWindow` (``self.controller``, ``self.banner``, the
    status bar labels and the toolbar's time and notes fields).
    """

    def measurement_time(self) -> float | None:
        if not self.time_check.isChecked():
            return None
        t = self.time_edit.time()
        seconds = t.hour() * 3600 + t.minute() * 60 + t.second()
        return float(seconds) if seconds > 0 else None

    def set_measurement_time(self, seconds: float | None) -> None:
        if not seconds:
            self.time_check.setChecked(False)
            return
        s = int(seconds)
        self.time_edit.setTime(QTime(s // 3600, s // 60 % 60, s % 60))
        self.time_check.setChecked(True)

    # "Stop after" belongs to a setup (kept with its layout), the notes to one run ----------------
    def run_options(self) -> dict:
        t = self.time_edit.time()
        return {
            "stop_after": t.hour() * 3600 + t.minute() * 60 + t.second(),
            "stop_after_on": self.time_check.isChecked(),
        }

    def apply_run_options(self, values: dict) -> None:
        seconds = values.get("stop_after")
        if isinstance(seconds, int) and 0 < seconds < 24 * 3600:
            self.time_edit.setTime(QTime(seconds // 3600, seconds // 60 % 60, seconds % 60))
        if isinstance(values.get("stop_after_on"), bool):
            self.time_check.setChecked(values["stop_after_on"])

    def _reset_run_options(self) -> None:
        """A setup opened anew: no measurement time unless it saved one, no notes of another run."""
        self.time_check.setChecked(False)
        s = DEFAULT_STOP_AFTER
        self.time_edit.setTime(QTime(s // 3600, s // 60 % 60, s % 60))
        self._clear_notes()

    def _clear_notes(self) -> None:
        self.notes.blockSignals(True)
        self.notes.clear()
        self.notes.blockSignals(False)

    def start_run(self) -> bool:
        if self.setup is None:
            self.open_dialog()
            return False
        if self.controller.busy:
            return False
        if self.editor is not None:
            self._set_problems(self.editor.problems())
        else:
            self._set_problems(self.setup.validate())
        if self.has_errors():
            errors = [p for p in self.problems if p.severity == "error"]
            self.inform(
                "Cannot start",
                "The setup has errors; fix them first:\n\n" + "\n".join(str(p) for p in errors[:12]),
            )
            return False
        if dock_signature(self.setup) != self._dock_signature:  # the editor changed what is displayed
            self._save_layout()
            self._rebuild_docks()
            self._restore_layout()
        if "log" in self.docks:
            self.docks["log"].clear()
        self._error_entries = []
        if self.banner.kind.startswith("worker") or self.banner.kind == "setup-warning":
            self.banner.hide()
        try:
            self.controller.start(self.measurement_time(), self.notes.text())
        except SetupInvalid as exc:
            self._set_problems(exc.problems)
            self.inform("Cannot start", str(exc))
            return False
        except Exception as exc:  # e.g. the run directory cannot be created
            log.exception("start failed")
            self.inform("Cannot start", f"The run could not be started:\n{type(exc).__name__}: {exc}")
            return False
        for p in self.problems:
            if p.severity != "error":
                log.info("setup warning: %s", p)
        ms = 1000 * (self.controller.start_seconds or 0)
        self.statusBar().showMessage(f"Run started ({self.controller.start_method}, {ms:.0f} ms)", 6000)
        return True

    def stop_run(self) -> None:
        if self.controller.state == "stopping":
            self.ask_abort()
            return
        self.controller.stop("stop requested (Stop button)")

    # "Abort the run?" while it stops in order: the question goes away when the run ends meanwhile --
    def ask_abort(self) -> QMessageBox:
        """Ask whether to abort a run that is stopping in order (window-modal, the window keeps updating).

        The question belongs to that stopping run: if the run ends before it is answered, it closes and
        the status bar says how the run ended; an answer given to a run that has ended does nothing.
        """
        box = self.abort_question
        if box is not None:
            box.raise_()
            return box
        buttons = QMessageBox.StandardButton
        box = QMessageBox(
            QMessageBox.Icon.Question,
            "Abort the run?",
            "The run is stopping in order (workers finish their files). Abort now instead? "
            "Workers that have not ended are terminated; their files may be incomplete.",
            buttons.Abort | buttons.Cancel,
            self,
        )
        box.setDefaultButton(buttons.Cancel)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.finished.connect(lambda _result, box=box: self._abort_answered(box))
        self.abort_question = box
        box.open()
        return box

    def _abort_answered(self, box: QMessageBox) -> None:
        if box is not self.abort_question:
            return  # closed because the run ended: not an answer
        self.abort_question = None
        if box.standardButton(box.clickedButton()) != QMessageBox.StandardButton.Abort:
            return
        if self.controller.state == "stopping":
            self.controller.abort()
        else:
            self.statusBar().showMessage("The run had ended already; nothing was aborted", 8000)

    def _close_abort_question(self, state: str) -> None:
        """The run left 'stopping' (it ended in order, or failed): the question is moot."""
        box = self.abort_question
        if box is None or state == "stopping":
            return
        self.abort_question = None
        box.close()

    def open_run_dir(self) -> None:
        """Open the run directory in the file manager; without one, say so and show the path to copy."""
        d = self.controller.run_dir
        if d is None:
            return
        if open_url(QUrl.fromLocalFile(str(d))):
            self.statusBar().showMessage(f"Opened {d} in the file manager", 5000)
            return
        self.banner.show_message(
            "info",
            "<b>No file manager is set up to open folders on this computer.</b> "
            f"The run directory is:<br><code>{escape_html(str(d))}</code>",
            "Copy path",
            lambda: QGuiApplication.clipboard().setText(str(d)),
        )
        self.banner.kind = "run-dir"

    def _notes_edited(self) -> None:
        if self.controller.busy and self.controller.run_dir is not None:
            try:
                self.controller.set_notes(self.notes.text())
            except OSError as exc:
                self.statusBar().showMessage(f"Cannot save notes: {exc}", 6000)

    # controller signals ------------------------------------------------------------------------
    def _run_started(self, run_dir) -> None:
        if self.editor is not None:
            self.editor.set_run_stats(None)
            if hasattr(self.editor, "set_editable"):
                self.editor.set_editable(False)
        self._show_run_dir(run_dir)
        self._last_stats_shown = 0.0
        self._show_clock()
        self._tick()

    def _show_run_dir(self, run_dir) -> None:
        """The run directory as a link, shortened in the middle to leave the bar room; whole in the tooltip."""
        if run_dir is None:
            self.dir_label.setText("")
            return
        width = max(160, self.width() // 3)
        shown = self.dir_label.fontMetrics().elidedText(str(run_dir), Qt.TextElideMode.ElideMiddle, width)
        url = QUrl.fromLocalFile(str(run_dir)).toString()
        self.dir_label.setText(f"<a href='{escape_html(url)}'>{escape_html(shown)}</a>")
        self.dir_label.setToolTip(f"{run_dir}\nClick to open it in the file manager")

    def _show_clock(self, *_args) -> None:
        """The status bar's clock: start-up of the workers, then the run time from the first event."""
        c = self.controller
        begun, total = c.processes_begun()
        if c.busy and c.starting:  # until every process began (events may flow already)
            self.time_label.setText(f"starting {begun}/{total} workers…")
        elif c.busy and not c.first_event_seen:
            self.time_label.setText("waiting for the first event…")
        elif c.first_event_seen:
            self.time_label.setText(f"run time {_hms(c.live_time())}")
        elif c.run_dir is not None:  # ended before its first event
            self.time_label.setText("no event came")

    def _run_finished(self, state: str, run_dir) -> None:
        stats = self.controller.last_stats
        if self.editor is not None:
            self.editor.set_run_stats(
                stats
            )  # the final numbers stay (a failed worker stays red) until the next start
            if hasattr(self.editor, "set_editable"):
                self.editor.set_editable(True)
        events = stats.total_events if stats is not None else 0
        # short: the run directory is the link at the right of the bar (a long path ran into it)
        msg = f"Run {state}: {events:,} events in {_hms(self.controller.live_time())}"
        self.statusBar().showMessage(msg, 15000)
        if self.notes.text().strip() and run_dir is not None:  # notes belong to this run: saved, then cleared
            try:
                self.controller.set_notes(self.notes.text())
            except OSError as exc:
                self.statusBar().showMessage(f"Cannot save notes: {exc}", 15000)
            self._clear_notes()
        self._tick()
        self._show_clock()
        if self._closing:
            return
        if state == "failed":
            failed = [n for n, ws in stats.workers.items() if ws.failed] if stats else []
            cause = next((e for e in self._error_entries if e.worker != "run"), None)
            what = f" (worker {escape_html(', '.join(failed))})" if failed else ""
            if cause is not None:
                first = cause.message.splitlines()[0] if cause.message else ""
                what = f": worker '{escape_html(cause.worker)}': {escape_html(first[:240])}"
            self.banner.show_message(
                "error",
                f"<b>The run failed</b>{what}<br>It was stopped in order; the files written so far are complete "
                f"in {escape_html(str(run_dir))}",
                "Show in log",
                self.show_last_error,
            )
            self.banner.kind = "worker-failed"

    def _state_changed(self, state: str) -> None:
        self._close_abort_question(state)
        self._update_actions()
        self._update_title()
        self.state_label.setText(STATE_TEXT.get(state, state))
        colors = {"running": "#1b5e20", "paused": "#8a6d00", "stopping": "#8a6d00", "failed": "#b71c1c"}
        self.state_label.setStyleSheet(f"color: {colors.get(state, '#333')}; font-weight: bold;")

    def _stats_updated(self, stats) -> None:
        now = time.monotonic()
        if now - self._last_stats_shown < STATUS_REFRESH_S and self.controller.busy:
            return  # the graph and the status bar change at 1 Hz: enough to read, cheap to draw
        self._last_stats_shown = now
        if self.editor is not None and self.controller.busy:
            self.editor.set_run_stats(stats)
        self._show_stats(stats)

    def _show_stats(self, stats) -> None:
        if stats is None:
            return
        roots = [b for b in stats.buffers.values() if b.root]
        rate = sum(b.rate for b in roots)
        self.events_label.setText(f"{stats.total_events:,} events ({rate:,.1f}/s)")
        self._show_clock()

    def _tick(self) -> None:
        if self.controller.last_stats is not None:
            self._show_stats(self.controller.last_stats)

    def _countdown_changed(self, left: float) -> None:
        if left < 0:
            self.countdown.setText("")
        else:
            self.countdown.setText(f"⏱ {_hms(left + 0.999)} left" if left > 0 else "⏱ time reached")

    def _log_received(self, entries: list) -> None:
        if "log" in self.docks:
            self.docks["log"].add_entries(entries)
        if "workers" in self.docks:
            self.docks["workers"].add_log(entries)

    def _error_logged(self, entry) -> None:
        self._error_entries.append(entry)
        # the banner names the first error of a worker (the cause), not the run's summary of it
        primary = next((e for e in self._error_entries if e.worker != "run"), self._error_entries[0])
        first = primary.message.splitlines()[0] if primary.message else ""
        n = len(self._error_entries)
        self.statusBar().showMessage(f"Error in {primary.worker}: {first}", 20000)
        more = f" ({n} error messages so far)" if n > 1 else ""
        who = "the run" if primary.worker == "run" else f"worker '{escape_html(primary.worker)}'"
        self.banner.show_message(
            "error",
            f"<b>Error in {who}</b>{more}: {escape_html(first[:300])}",
            "Show in log",
            self.show_last_error,
        )
        self.banner.kind = "worker-error"
        log_dock = self.docks.get("log")
        if log_dock is not None:
            log_dock.show()
            log_dock.raise_()

    def show_last_error(self) -> None:
        d = self.docks.get("log")
        if d is None:
            return
        d.show()
        d.raise_()
        if not d.select_last_error():
            d.level_box.setCurrentIndex(0)
            d.worker_box.setCurrentIndex(0)
            d.search.clear()
            d.select_last_error()
