"""The main window: open a setup, run it, and watch it live in docks.

Central widget: the graph editor (``ui.editor.GraphEditor``) when it can be imported, otherwise a
read-only overview that says so. Around it: a run toolbar (Start/Pause/Resume/Stop, measurement time
with countdown, notes), monitor docks built from the setup (oscilloscopes, histograms, rates,
buffers, workers, log), a status bar (run time, events, run directory). Every user command is a
named QAction in ``window.actions`` so tests trigger them the way a user does.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QIcon, QKeySequence
from PySide6.QtWidgets import (
    QFileDialog,
    QMainWindow,
    QMessageBox,
    QProgressDialog,
    QVBoxLayout,
    QWidget,
)

from mimocorb_gui.shipped import resource
from mimocorb_gui.ui.banner import Banner, escape_html
from mimocorb_gui.ui.dock_layout import DockLayout
from mimocorb_gui.ui.docks.base import MonitorDock, configure_pyqtgraph
from mimocorb_gui.ui.docks.catalog import dock_signature
from mimocorb_gui.ui.overview import SetupOverview
from mimocorb_gui.ui.page_stack import PageStack
from mimocorb_gui.ui.quit_signals import save_unsaved_copy
from mimocorb_gui.ui.run_controller import IDLE_STATES, RunController
from mimocorb_gui.ui.run_panel import STATE_TEXT, RunPanel
from mimocorb_gui.ui.settings import Settings
from mimocorb_gui.ui.welcome import WelcomePage
from mimocorb_gui.ui.window_actions import WindowActions

__all__ = ["MainWindow", "editor_class"]

log = logging.getLogger(__name__)

APP_NAME = "mimoCoRB"
SETUP_SUFFIXES = (".yaml", ".yml")


class EditorLoader:
    """Imports the graph editor and remembers why it could not (shown by the read-only overview)."""

    def __init__(self) -> None:
        self.error = ""

    def editor_class(self):
        """The GraphEditor class, or None (the reason is then in ``self.error``)."""
        try:
            from mimocorb_gui.ui.editor import GraphEditor
        except Exception as exc:  # a broken editor must not keep the window from opening
            self.error = f"{type(exc).__name__}: {exc}"
            log.warning("graph editor unavailable: %s", self.error)
            return None
        return GraphEditor


def editor_class():
    """The GraphEditor class, or None (``EditorLoader.error`` says why)."""
    return EditorLoader().editor_class()


def _setup_file(path: str | Path) -> Path | None:
    """The setup file a dropped/opened path means (a folder means its setup.yaml), or None."""
    p = Path(path)
    if p.is_dir():
        for name in ("setup.yaml", "setup.yml"):
            if (p / name).is_file():
                return p / name
        return None
    return p if p.suffix.lower() in SETUP_SUFFIXES else None


class MainWindow(WindowActions, DockLayout, RunPanel, QMainWindow):
    """The application window. Its jobs are split by module: ``window_actions`` (actions, toolbar, menus,
    status bar), ``dock_layout`` (docks and their saved layout), ``run_panel`` (start/stop and the run
    controller's signals); opening setups, problems, titles and closing are here."""

    def __init__(
        self,
        settings: Settings | None = None,
        start_method: str | None = None,
        use_editor: bool = True,
    ) -> None:
        super().__init__()
        configure_pyqtgraph()
        self.settings = settings if settings is not None else Settings()
        self.controller = RunController(self, start_method=start_method)
        self.setup = None
        self.problems: list = []
        self.docks: dict[str, MonitorDock] = {}
        self._dock_signature = ""
        self._opening_setup = False  # open_setup() is replacing the setup (see _refresh_docks_after_edit)
        self._error_entries: list = []
        self._closing = False
        self._last_stats_shown = 0.0
        self.abort_question: QMessageBox | None = None  # shown while a stopping run may be aborted
        self.quit_without_questions = False  # set by ui.quit_signals: close stops the run, keeps edits
        self.actions: dict[str, QAction] = {}
        self.setAcceptDrops(True)
        self.setDockOptions(
            QMainWindow.DockOption.AnimatedDocks
            | QMainWindow.DockOption.AllowTabbedDocks
            | QMainWindow.DockOption.AllowNestedDocks
        )
        self.setCorner(Qt.Corner.BottomRightCorner, Qt.DockWidgetArea.RightDockWidgetArea)
        self.setCorner(Qt.Corner.TopRightCorner, Qt.DockWidgetArea.RightDockWidgetArea)
        icon = resource("mimocorb.svg")
        if icon.is_file():
            self.setWindowIcon(QIcon(str(icon)))

        self.editor_loader = EditorLoader()
        editor_cls = self.editor_loader.editor_class() if use_editor else None
        self.editor = None
        self.overview = None
        self.welcome = WelcomePage(self)
        self.stack = PageStack(self)
        self.stack.addWidget(self.welcome)
        if editor_cls is not None:
            try:
                self.editor = editor_cls(self)
            except Exception as exc:  # no answer, refused keys, a malformed setup: say so
                self.editor_loader.error = f"{type(exc).__name__}: {exc}"
                log.exception("graph editor failed to start")
                self.editor = None
        if self.editor is not None:
            self.stack.addWidget(self.editor)
            self.editor.modified.connect(lambda _m: self._update_title())
            self.editor.problems_changed.connect(self._set_problems)
            self.editor.node_selected.connect(self._node_selected)
            if hasattr(self.editor, "saved"):
                self.editor.saved.connect(self._editor_saved)
            if hasattr(self.editor, "message"):
                self.editor.message.connect(lambda text: self.statusBar().showMessage(text, 6000))
        else:
            reason = self.editor_loader.error if use_editor else "disabled"
            self.overview = SetupOverview(reason, self)
            self.stack.addWidget(self.overview)
        central = QWidget(self)
        lay = QVBoxLayout(central)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        self.banner = Banner(central)
        lay.addWidget(self.banner)
        lay.addWidget(self.stack, 1)
        self.setCentralWidget(central)

        self._build_actions()
        self._build_toolbar()
        self._build_menus()
        self._build_statusbar()
        self._connect_controller()
        self.welcome.set_recent(self.settings.recent)
        self._restore_window_geometry()
        self._update_actions()
        self._update_title()

    def _connect_controller(self) -> None:
        c = self.controller
        c.state_changed.connect(self._state_changed)
        c.stats_updated.connect(self._stats_updated)
        c.log_received.connect(self._log_received)
        c.error_logged.connect(self._error_logged)
        c.run_started.connect(self._run_started)
        c.run_finished.connect(self._run_finished)
        c.countdown_changed.connect(self._countdown_changed)
        c.startup_changed.connect(self._show_clock)
        c.first_event.connect(self._show_clock)

    # ------------------------------------------------------------------ opening setups

    def open_dialog(self) -> None:
        start = str(self.setup.setup_dir) if self.setup is not None else str(Path.cwd())
        path, _ = QFileDialog.getOpenFileName(
            self, "Open setup", start, "Setup files (*.yaml *.yml);;All files (*)"
        )
        if path:
            self.open_setup(path)

    def new_setup(self) -> bool:
        """File ▸ New: a new folder with an empty setup or a copy of an example, opened at once."""
        from mimocorb_gui.ui.new_setup import create_setup

        if self.controller.busy:
            self.inform("New setup", "A run is in progress. Stop it before starting a new setup.")
            return False
        start = self.setup.setup_dir.parent if self.setup is not None else Path.home()
        choice = self.ask_new_setup(start)
        if choice is None:
            return False
        template, folder = choice
        if not str(folder).strip():
            return False
        try:
            path = create_setup(folder, template)
        except OSError as exc:
            self.inform("New setup", f"Cannot create the setup:\n{exc}")
            return False
        return self.open_setup(path)

    def ask_new_setup(self, start_dir: Path):
        """(template folder or None, new folder), or None when cancelled (tests replace this)."""
        from mimocorb_gui.ui.new_setup import NewSetupDialog

        dialog = NewSetupDialog(start_dir, self)
        if dialog.exec() != NewSetupDialog.DialogCode.Accepted:
            return None
        return dialog.choice()

    def show_user_guide(self) -> None:
        from mimocorb_gui.ui.user_guide import UserGuide

        guide = getattr(self, "user_guide", None)
        if guide is None:
            guide = self.user_guide = UserGuide(self)
        guide.show()
        guide.raise_()
        guide.activateWindow()

    def reload_setup(self) -> None:
        if self.setup is not None:
            self.open_setup(self.setup.path, reload=True)

    def open_setup(self, path: str | Path, reload: bool = False) -> bool:
        """Load a setup file and show it; False (with a message) if that is not possible now."""
        from mimocorb_gui.core.setup import SetupError
        from mimocorb_gui.ui.new_setup import load_for_editing

        target = _setup_file(path)
        if target is None:
            self.inform("Open setup", f"{path} is not a setup file (.yaml) or a folder holding setup.yaml.")
            return False
        if self.controller.busy:
            self.inform("Open setup", "A run is in progress. Stop it before opening another setup.")
            return False
        if not self._may_discard_changes("opening another setup" if not reload else "reloading"):
            return False
        try:
            setup = load_for_editing(target)  # an empty setup.yaml opens as a new setup
        except SetupError as exc:
            self.inform("Open setup", f"Cannot open the setup:\n{exc}")
            if not Path(target).exists():
                self.settings.remove_recent(target)
                self._fill_recent_menu()
            return False
        self._save_layout()
        other = self.setup is None or Path(self.setup.path) != Path(setup.path)
        self.setup = setup
        self.controller.set_setup(setup)
        if other:  # "Stop after" and the notes belong to the setup they were set for
            self._reset_run_options()
        # the editor reports the new setup as an edit: that must not save the old docks' layout
        # (and the options just reset) under the new setup's name
        self._opening_setup = True
        try:
            if self.editor is not None:
                self.editor.set_setup(setup)
                self.editor.set_run_stats(None)
                self.stack.setCurrentWidget(self.editor)
            else:
                self.overview.set_setup(setup)
                self.stack.setCurrentWidget(self.overview)
        finally:
            self._opening_setup = False
        self.banner.hide()
        self._rebuild_docks()
        self._restore_layout()
        self._fit_editor_later()
        self._set_problems(self.editor.problems() if self.editor is not None else setup.validate())
        self.settings.add_recent(setup.path)
        self._fill_recent_menu()
        self.welcome.set_recent(self.settings.recent)
        self.time_label.setText("")
        self.events_label.setText("")
        self._show_run_dir(None)
        self._update_actions()
        self._update_title()
        self.statusBar().showMessage(f"Opened {setup.path}", 5000)
        return True

    def ask_connection(self) -> tuple[str, str] | None:
        """Address and key file of a served run, from the Connect to Run dialog (tests replace this)."""
        from mimocorb_gui.ui.connect_run import ConnectDialog

        dialog = ConnectDialog(self)
        return dialog.values() if dialog.exec() == ConnectDialog.DialogCode.Accepted else None

    def connect_run(self) -> bool:
        """File ▸ Connect to Run…: show a served run in the same docks as a local one."""
        from mimocorb_gui.core.setup import Setup
        from mimocorb_gui.ui.connect_run import connect_remote_run

        if self.controller.busy:
            self.inform("Connect to Run", "A run is in progress here. Stop it before connecting to another.")
            return False
        if not self._may_discard_changes("connecting to a run"):
            return False
        answer = self.ask_connection()
        if answer is None:
            return False
        try:
            remote = connect_remote_run(*answer)
            setup = Setup.from_text(remote.setup_text, Path.cwd() / f"{remote.setup_name}.yaml")
        except Exception as exc:
            self.inform("Connect to Run", f"Cannot connect:\n{exc}")
            return False
        self._save_layout()
        self.setup = setup
        self.controller.set_setup(setup)
        if self.editor is not None:
            self.editor.set_setup(setup)
            self.stack.setCurrentWidget(self.editor)
        else:
            self.overview.set_setup(setup)
            self.stack.setCurrentWidget(self.overview)
        self._rebuild_docks()
        self._restore_layout()
        self._error_entries = []
        self.controller.watch(remote)
        self._update_title()
        self.statusBar().showMessage(
            f"Connected to {remote.address} (run directory there: {remote.run_dir})", 8000
        )
        return True

    def _may_discard_changes(self, doing: str) -> bool:
        if not self.is_modified():
            return True
        answer = self.ask(
            "Unsaved changes",
            f"The setup '{self.setup.name}' has unsaved changes. Save them before {doing}?",
            QMessageBox.StandardButton.Save
            | QMessageBox.StandardButton.Discard
            | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Save,
        )
        if answer == QMessageBox.StandardButton.Cancel:
            return False
        if answer == QMessageBox.StandardButton.Save:
            try:
                if self.editor is not None:
                    self.editor.save()
                else:
                    self.setup.save()
            except OSError as exc:
                self.inform("Save", f"Cannot save: {exc}")
                return False
        return True

    def is_modified(self) -> bool:
        if self.setup is None:
            return False
        if self.editor is not None and hasattr(self.editor, "is_modified"):
            return bool(self.editor.is_modified())
        return bool(getattr(self.setup, "modified", False))

    def _editor_saved(self, path: str) -> None:
        self.settings.add_recent(path)
        self._fill_recent_menu()
        self._update_title()

    # drag and drop --------------------------------------------------------------------------
    def _dropped_setup(self, mime) -> Path | None:
        if mime is None or not mime.hasUrls():
            return None
        for url in mime.urls():
            if url.isLocalFile():
                target = _setup_file(url.toLocalFile())
                if target is not None:
                    return target
        return None

    def dragEnterEvent(self, event) -> None:
        if self._dropped_setup(event.mimeData()) is not None:
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:
        if self._dropped_setup(event.mimeData()) is not None:
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event) -> None:
        target = self._dropped_setup(event.mimeData())
        if target is None:
            event.ignore()
            return
        event.acceptProposedAction()
        QTimer.singleShot(0, lambda: self.open_setup(target))  # not inside the drag's event handling

    # ------------------------------------------------------------------ problems

    def _set_problems(self, problems: list) -> None:
        self.problems = list(problems or [])
        self._refresh_docks_after_edit()
        if self.overview is not None:
            self.overview.set_problems(self.problems)
        errors = [p for p in self.problems if p.severity == "error"]
        warnings = [p for p in self.problems if p.severity != "error"]
        if self.banner.kind in ("setup-error", "setup-warning") or not self.banner.isVisible():
            if errors:
                more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
                self.banner.show_message(
                    "error",
                    f"<b>The setup has {len(errors)} error(s); Start is blocked until they are fixed.</b><br>"
                    f"{escape_html(str(errors[0]))}{more}",
                    "Show all",
                    self.show_problems,
                )
                self.banner.kind = "setup-error"
            elif warnings and not self.controller.busy:
                self.banner.show_message(
                    "warning",
                    f"{len(warnings)} warning(s): {escape_html(str(warnings[0]))}",
                    "Show all",
                    self.show_problems,
                )
                self.banner.kind = "setup-warning"
            elif self.banner.kind in ("setup-error", "setup-warning"):
                self.banner.hide()
        self._update_actions()

    def _refresh_docks_after_edit(self) -> None:
        """The editor changed what a dock shows (a scope's buffer, its config): rebuild the docks now,
        while no run is in progress, so none keeps a message about the setup as it was."""
        if self.setup is None or self.controller.busy or not self.docks or self._opening_setup:
            return
        if dock_signature(self.setup) == self._dock_signature:
            return
        self._save_layout()
        self._rebuild_docks()
        self._restore_layout()

    def show_problems(self) -> None:
        text = "\n".join(f"{p.severity}: {p}" for p in self.problems) or "No problems."
        self.inform("Problems in the setup", text)

    def has_errors(self) -> bool:
        return any(p.severity == "error" for p in self.problems)

    # ------------------------------------------------------------------ state display

    def _update_actions(self) -> None:
        state = self.controller.state
        idle = state in IDLE_STATES
        have = self.setup is not None
        a = self.actions
        a["start"].setEnabled(have and idle and not self.has_errors())
        a["start"].setToolTip(
            "Start a run of this setup (F5)"
            if not self.has_errors()
            else "The setup has errors (see the banner); Start is blocked"
        )
        a["pause"].setEnabled(state == "running")
        a["resume"].setEnabled(state == "paused")
        a["stop"].setEnabled(state in ("running", "paused", "stopping"))
        a["stop"].setText("Abort" if state == "stopping" else "Stop")
        a["open"].setEnabled(idle)
        a["reload"].setEnabled(idle and have)
        a["open_run_dir"].setEnabled(self.controller.run_dir is not None)
        self.time_check.setEnabled(idle)
        self.time_edit.setEnabled(idle and self.time_check.isChecked())
        if idle and self.controller.duration is None:
            self.countdown.setText("")
        # F6 is pause and resume: only one of them is enabled at a time; the other's shortcut is off
        a["pause"].setShortcut(QKeySequence("F6") if state != "paused" else QKeySequence())
        a["resume"].setShortcut(QKeySequence("F6") if state == "paused" else QKeySequence())

    def _update_title(self) -> None:
        if self.setup is None:
            self.setWindowTitle(APP_NAME)
            return
        star = "*" if self.is_modified() else ""
        state = STATE_TEXT.get(self.controller.state, self.controller.state)
        self.setWindowTitle(f"{self.setup.name}{star} — {state} — {APP_NAME}")

    # ------------------------------------------------------------------ dialogs (tests replace these)

    def ask(self, title: str, text: str, buttons, default):
        return QMessageBox.question(self, title, text, buttons, default)

    def inform(self, title: str, text: str) -> None:
        QMessageBox.warning(self, title, text)

    def about(self) -> None:
        from importlib.metadata import PackageNotFoundError, version

        try:
            ver = version("mimocorb-gui")
        except PackageNotFoundError:
            ver = "development"
        QMessageBox.about(
            self,
            f"About {APP_NAME}",
            f"<h3>{APP_NAME} {ver}</h3><p>Data acquisition with shared-memory ring buffers for physics lab "
            "courses; setups compatible with mimoCoRB2.</p>",
        )

    # ------------------------------------------------------------------ closing

    def closeEvent(self, event: QCloseEvent) -> None:
        unattended = self.quit_without_questions  # told to end (SIGTERM, Ctrl+C): nobody to ask
        if self.controller.busy:
            answer = (
                QMessageBox.StandardButton.Yes
                if unattended
                else self.ask(
                    "Quit during a run?",
                    "A run is in progress. Stop it in order (files are completed) and quit?",
                    QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
                    QMessageBox.StandardButton.Cancel,
                )
            )
            if answer != QMessageBox.StandardButton.Yes:
                event.ignore()
                return
            self._closing = True
            progress = QProgressDialog("Stopping the run in order…", "", 0, 0, self)
            progress.setCancelButton(None)
            progress.setWindowTitle("Stopping")
            progress.setMinimumDuration(300)
            progress.setWindowModality(Qt.WindowModality.WindowModal)
            in_order = self.controller.stop_and_wait(
                15.0,
                lambda left: progress.setLabelText(f"Stopping the run in order… ({left:.0f} s before abort)"),
            )
            progress.close()
            if not in_order:
                log.warning("the run did not stop in order within 15 s and was aborted")
        if unattended and self.is_modified():
            kept = save_unsaved_copy(self.setup.path, self.setup.to_text())
            log.warning("unsaved edits of %s kept in %s", self.setup.path.name, kept)
        elif not self._may_discard_changes("quitting"):
            self._closing = False
            event.ignore()
            return
        self._closing = True
        self._save_layout()
        self._save_window_geometry()
        self.controller.shutdown()
        for dock in self.docks.values():
            dock.detach()
        event.accept()
