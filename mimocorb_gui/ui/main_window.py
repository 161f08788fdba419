"""The main window: open a setup, run it, and watch it live in docks.

Central widget: the graph editor (``ui.editor.GraphEditor``) when it can be imported, otherwise a
read-only overview that says so. Around it: a run toolbar (Start/Pause/Resume/Stop, measurement time
with countdown, notes), monitor docks built from the setup (oscilloscopes, histograms, rates,
buffers, workers, log), a status bar (run time, events, run directory). Every user command is a
named QAction in ``window.actions`` so tests trigger them the way a user does.
"""

from __future__ import annotations

import base64
import logging
import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, QSize, Qt, QTime, QTimer, QUrl
from PySide6.QtGui import QAction, QCloseEvent, QDesktopServices, QFont, QIcon, QKeySequence
from PySide6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMessageBox,
    QProgressDialog,
    QPushButton,
    QStackedWidget,
    QStyle,
    QTimeEdit,
    QToolBar,
    QToolButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from mimocorb_gui.ui.docks.base import MonitorDock, configure_pyqtgraph
from mimocorb_gui.ui.docks.catalog import build_docks, dock_signature
from mimocorb_gui.ui.run_controller import IDLE_STATES, RunController, SetupInvalid
from mimocorb_gui.ui.settings import Settings, layout_key

__all__ = ["MainWindow", "editor_class"]

log = logging.getLogger(__name__)

APP_NAME = "mimoCoRB"
LAYOUT_VERSION = 1
SETUP_SUFFIXES = (".yaml", ".yml")
STATUS_REFRESH_S = 1.0  # status bar and the editor's live numbers
STATE_TEXT = {
    "ready": "ready",
    "running": "running",
    "paused": "paused",
    "stopping": "stopping…",
    "finished": "finished",
    "failed": "failed",
}

_EDITOR_ERROR = ""


def editor_class():
    """The GraphEditor class, or None (the reason is in ``editor_unavailable_reason()``)."""
    global _EDITOR_ERROR
    try:
        from mimocorb_gui.ui.editor import GraphEditor
    except Exception as exc:  # noqa: BLE001 - a broken editor must not keep the window from opening
        _EDITOR_ERROR = f"{type(exc).__name__}: {exc}"
        log.warning("graph editor unavailable: %s", _EDITOR_ERROR)
        return None
    return GraphEditor


def editor_unavailable_reason() -> str:
    return _EDITOR_ERROR


def _hms(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def _setup_file(path: str | Path) -> Path | None:
    """The setup file a dropped/opened path means (a folder means its setup.yaml), or None."""
    p = Path(path)
    if p.is_dir():
        for name in ("setup.yaml", "setup.yml"):
            if (p / name).is_file():
                return p / name
        return None
    return p if p.suffix.lower() in SETUP_SUFFIXES else None


# ----------------------------------------------------------------------------------------------
# central widgets


class WelcomePage(QWidget):
    """Shown with no setup open: how to open one, and the recent ones."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window_ = window
        outer = QVBoxLayout(self)
        outer.addStretch(1)
        box = QFrame(self)
        box.setMaximumWidth(620)
        box.setObjectName("welcome")
        box.setStyleSheet(
            "QFrame#welcome { border: 1px solid #d0d0d0; border-radius: 8px; background: #fafafa; }"
        )
        lay = QVBoxLayout(box)
        title = QLabel("<h2>mimoCoRB</h2>", box)
        lay.addWidget(title)
        text = QLabel(
            "Open a setup file to see its buffers and workers, start a run and watch it live.<br>"
            "<b>File ▸ Open…</b> (Ctrl+O), a recent setup below, or <b>drop a setup .yaml</b> onto this window.",
            box,
        )
        text.setWordWrap(True)
        lay.addWidget(text)
        open_btn = QPushButton("Open a setup…", box)
        open_btn.clicked.connect(lambda: window.actions["open"].trigger())
        lay.addWidget(open_btn, 0, Qt.AlignmentFlag.AlignLeft)
        lay.addWidget(QLabel("Recent setups:", box))
        self.recent = QListWidget(box)
        self.recent.setMaximumHeight(180)
        self.recent.itemActivated.connect(self._activated)
        lay.addWidget(self.recent)
        examples = sorted((Path(__file__).resolve().parents[2] / "setups").glob("*/setup.yaml"))
        self.examples = QListWidget(box)
        for path in examples:
            item = QListWidgetItem(f"{path.parent.name}  —  {path}")
            item.setData(Qt.ItemDataRole.UserRole, str(path))
            self.examples.addItem(item)
        self.examples.itemActivated.connect(self._activated)
        self.examples.setMaximumHeight(140)
        if examples:
            lay.addWidget(
                QLabel("Example setups (they run without hardware, except where their README says):", box)
            )
            lay.addWidget(self.examples)
        else:
            self.examples.hide()
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(box, 3)
        row.addStretch(1)
        outer.addLayout(row)
        outer.addStretch(2)

    def _activated(self, item: QListWidgetItem) -> None:
        path = item.data(Qt.ItemDataRole.UserRole)
        if path:
            self.window_.open_setup(path)

    def set_recent(self, paths: list[str]) -> None:
        self.recent.clear()
        for p in paths:
            item = QListWidgetItem(p)
            item.setData(Qt.ItemDataRole.UserRole, p)
            if not Path(p).exists():
                item.setForeground(Qt.GlobalColor.gray)
                item.setToolTip("file not found")
            self.recent.addItem(item)
        if not paths:
            self.recent.addItem("(none yet)")


class SetupOverview(QWidget):
    """Read-only view of a setup, used when the graph editor cannot be loaded. It says so plainly."""

    def __init__(self, reason: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        lay = QVBoxLayout(self)
        note = QLabel(
            "<b>The graph editor is not available</b> in this installation"
            + (f" ({reason})" if reason else "")
            + ". Below is a read-only overview of the setup; edit the YAML file in a text editor and "
            "use <b>File ▸ Reload</b> (Ctrl+R) to see your changes.",
            self,
        )
        note.setWordWrap(True)
        note.setStyleSheet("background: #fff3cd; border: 1px solid #e0c97a; padding: 6px;")
        lay.addWidget(note)
        self.tree = QTreeWidget(self)
        self.tree.setHeaderLabels(["Name", "Details"])
        self.tree.setAlternatingRowColors(True)
        lay.addWidget(self.tree, 3)
        lay.addWidget(QLabel("Problems found by validation:", self))
        self.problems = QListWidget(self)
        lay.addWidget(self.problems, 1)

    def set_setup(self, setup) -> None:
        self.tree.clear()
        if setup is None:
            return
        buffers = QTreeWidgetItem(self.tree, ["Buffers", f"{len(setup.buffers)}"])
        for name, b in setup.buffers.items():
            fields = ", ".join(f"{k}: {v}" for k, v in b.data_dtype.items())
            QTreeWidgetItem(buffers, [name, f"{b.slot_count} slots × {b.data_length} × {{{fields}}}"])
        workers = QTreeWidgetItem(self.tree, ["Workers", f"{len(setup.workers)}"])
        for name, w in setup.workers.items():
            func = f"{w.file}: {w.function}" if w.file else w.function
            flow = []
            if w.sources:
                flow.append(f"reads {', '.join(w.sources)}")
            if w.sinks:
                flow.append(f"writes {', '.join(w.sinks)}")
            if w.observes:
                flow.append(f"observes {', '.join(w.observes)}")
            procs = f" ×{w.number_of_processes}" if w.number_of_processes != 1 else ""
            QTreeWidgetItem(workers, [name, f"{func}{procs}; " + "; ".join(flow)])
        self.tree.expandAll()
        self.tree.resizeColumnToContents(0)

    def set_problems(self, problems: list) -> None:
        self.problems.clear()
        for p in problems:
            item = QListWidgetItem(f"{p.severity}: {p}")
            item.setForeground(Qt.GlobalColor.darkRed if p.severity == "error" else Qt.GlobalColor.darkYellow)
            self.problems.addItem(item)
        if not problems:
            self.problems.addItem("none")


class Banner(QFrame):
    """A notification strip above the central widget (setup errors, a worker that failed)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("banner")
        lay = QHBoxLayout(self)
        lay.setContentsMargins(8, 4, 4, 4)
        self.label = QLabel(self)
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        lay.addWidget(self.label, 1)
        self.button = QPushButton(self)
        self.button.hide()
        lay.addWidget(self.button)
        close = QToolButton(self)
        close.setText("✕")
        close.setToolTip("Dismiss")
        close.setAutoRaise(True)
        close.clicked.connect(self.hide)
        lay.addWidget(close)
        self._callback = None
        self.button.clicked.connect(lambda: self._callback() if self._callback else None)
        self.kind = ""
        self.hide()

    def show_message(self, kind: str, html: str, button: str = "", callback=None) -> None:
        self.kind = kind
        colors = {"error": ("#f8d7da", "#d9a3a9", "#721c24"), "warning": ("#fff3cd", "#e0c97a", "#5c4400")}
        bg, border, fg = colors.get(kind, ("#d1ecf1", "#9fcdd6", "#0c5460"))
        self.setStyleSheet(
            f"QFrame#banner {{ background: {bg}; border: 1px solid {border}; }} QLabel {{ color: {fg}; }}"
        )
        self.label.setText(html)
        self._callback = callback
        self.button.setText(button)
        self.button.setVisible(bool(button))
        self.show()


# ----------------------------------------------------------------------------------------------


class MainWindow(QMainWindow):
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
        self._error_entries: list = []
        self._closing = False
        self._last_stats_shown = 0.0
        self.actions: dict[str, QAction] = {}
        self.setAcceptDrops(True)
        self.setDockOptions(
            QMainWindow.DockOption.AnimatedDocks
            | QMainWindow.DockOption.AllowTabbedDocks
            | QMainWindow.DockOption.AllowNestedDocks
        )
        self.setCorner(Qt.Corner.BottomRightCorner, Qt.DockWidgetArea.RightDockWidgetArea)
        self.setCorner(Qt.Corner.TopRightCorner, Qt.DockWidgetArea.RightDockWidgetArea)
        icon = Path(__file__).resolve().parents[2] / "resources" / "mimocorb.svg"
        if icon.is_file():
            self.setWindowIcon(QIcon(str(icon)))

        editor_cls = editor_class() if use_editor else None
        self.editor = None
        self.overview = None
        self.welcome = WelcomePage(self)
        self.stack = QStackedWidget(self)
        self.stack.addWidget(self.welcome)
        if editor_cls is not None:
            try:
                self.editor = editor_cls(self)
            except Exception as exc:  # noqa: BLE001
                global _EDITOR_ERROR
                _EDITOR_ERROR = f"{type(exc).__name__}: {exc}"
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
            reason = editor_unavailable_reason() if use_editor else "disabled"
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

    # ------------------------------------------------------------------ actions, menus, bars

    def _action(self, name: str, text: str, slot, shortcut=None, tip: str = "", checkable=False) -> QAction:
        act = QAction(text, self)
        if shortcut:
            act.setShortcut(QKeySequence(shortcut))
            act.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        if tip:
            act.setToolTip(tip + (f" ({act.shortcut().toString()})" if shortcut else ""))
            act.setStatusTip(tip)
        act.setCheckable(checkable)
        act.triggered.connect(lambda _checked=False: slot())
        self.addAction(act)
        self.actions[name] = act
        return act

    def _build_actions(self) -> None:
        a = self._action
        a("open", "&Open Setup…", self.open_dialog, QKeySequence.StandardKey.Open, "Open a setup file")
        a("reload", "&Reload Setup", self.reload_setup, "Ctrl+R", "Read the setup file again")
        a(
            "connect_run",
            "&Connect to Run…",
            self.connect_run,
            None,
            "Watch (with its key: control) a headless run served by 'mimocorb run --serve'",
        )
        a(
            "quit",
            "&Quit",
            self.close,
            QKeySequence.StandardKey.Quit,
            "Quit (a run is stopped in order first)",
        )
        a("start", "Start", self.start_run, "F5", "Start a run of this setup")
        a("pause", "Pause", self.controller.pause, "F6", "Pause: importers' events are dropped (counted)")
        a("resume", "Resume", self.controller.resume, "F6", "Resume taking events")
        a(
            "stop",
            "Stop",
            self.stop_run,
            "Shift+F5",
            "Stop in order: importers end, the pipeline drains, files complete",
        )
        sp = QStyle.StandardPixmap
        for name, pixmap in (
            ("open", sp.SP_DialogOpenButton),
            ("start", sp.SP_MediaPlay),
            ("pause", sp.SP_MediaPause),
            ("resume", sp.SP_MediaSeekForward),
            ("stop", sp.SP_MediaStop),
        ):
            self.actions[name].setIcon(self.style().standardIcon(pixmap))
        a(
            "open_run_dir",
            "Open Run &Directory",
            self.open_run_dir,
            None,
            "Open the run directory in the file manager",
        )
        a(
            "reset_layout",
            "&Reset Layout",
            self.reset_layout,
            None,
            "Put every dock back in its default place",
        )
        a(
            "show_log",
            "Show &Log",
            self.show_log,
            "Ctrl+L" if self.editor is None else None,
            "Show the log dock",
        )
        a("about", "&About", self.about)

    def _build_toolbar(self) -> None:
        tb = QToolBar("Run", self)
        tb.setObjectName("toolbar:run")
        tb.setIconSize(QSize(16, 16))
        tb.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, tb)
        self.run_toolbar = tb
        tb.addAction(self.actions["open"])
        tb.addSeparator()
        for name in ("start", "pause", "resume", "stop"):
            tb.addAction(self.actions[name])
            btn = tb.widgetForAction(self.actions[name])
            if btn is not None:
                btn.setObjectName(f"button:{name}")
                f = btn.font()
                f.setBold(name == "start")
                btn.setFont(f)
        tb.addSeparator()
        self.time_check = QCheckBox("Stop after", tb)
        self.time_check.setToolTip(
            "Measurement time: stop in order when it has run this long (pauses do not count)"
        )
        tb.addWidget(self.time_check)
        self.time_edit = QTimeEdit(tb)
        self.time_edit.setDisplayFormat("HH:mm:ss")
        self.time_edit.setTime(QTime(0, 10, 0))
        self.time_edit.setToolTip("Measurement time hh:mm:ss")
        self.time_edit.setEnabled(False)
        self.time_check.toggled.connect(self.time_edit.setEnabled)
        tb.addWidget(self.time_edit)
        self.countdown = QLabel("", tb)
        self.countdown.setMinimumWidth(110)
        self.countdown.setToolTip("Measurement time left")
        f = QFont(self.countdown.font())
        f.setBold(True)
        self.countdown.setFont(f)
        tb.addWidget(self.countdown)
        tb.addSeparator()
        tb.addWidget(QLabel(" Notes: ", tb))
        self.notes = QLineEdit(tb)
        self.notes.setPlaceholderText("notes for this run (saved as notes.txt in the run directory)")
        self.notes.setMinimumWidth(220)
        self.notes.setMaximumWidth(520)
        self.notes.setToolTip(
            "Saved into the run directory at Start and whenever you press Enter or leave the field"
        )
        self.notes.editingFinished.connect(self._notes_edited)
        tb.addWidget(self.notes)

    def _build_menus(self) -> None:
        mb = self.menuBar()
        m = mb.addMenu("&File")
        m.addAction(self.actions["open"])
        self.recent_menu = m.addMenu("Open &Recent")
        self._fill_recent_menu()
        m.addAction(self.actions["reload"])
        m.addAction(self.actions["connect_run"])
        if self.editor is not None:
            m.addSeparator()
            for name in ("save", "save_as"):
                if name in self.editor.actions:
                    m.addAction(self.editor.actions[name])
                    self.actions[name] = self.editor.actions[name]
        m.addSeparator()
        m.addAction(self.actions["open_run_dir"])
        m.addSeparator()
        m.addAction(self.actions["quit"])
        if self.editor is not None:
            e = mb.addMenu("&Edit")
            for name, act in self.editor.actions.items():
                if name in ("save", "save_as"):
                    continue
                e.addAction(act)
                if name in ("redo", "paste", "select_all", "find", "zoom_out"):
                    e.addSeparator()
        r = mb.addMenu("&Run")
        for name in ("start", "pause", "resume", "stop"):
            r.addAction(self.actions[name])
        self.view_menu = mb.addMenu("&View")
        h = mb.addMenu("&Help")
        h.addAction(self.actions["about"])
        self._fill_view_menu()

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        for i, path in enumerate(self.settings.recent):
            act = self.recent_menu.addAction(f"&{i + 1} {path}" if i < 9 else path)
            act.triggered.connect(lambda _c=False, p=path: self.open_setup(p))
            self.actions[f"recent:{i}"] = act
        self.recent_menu.setEnabled(bool(self.settings.recent))

    def _fill_view_menu(self) -> None:
        self.view_menu.clear()
        for name in [k for k in self.actions if k.startswith("view:")]:
            del self.actions[name]
        for dock in self.docks.values():
            act = dock.toggleViewAction()
            self.view_menu.addAction(act)
            self.actions[f"view:{dock.dock_id}"] = act
        if self.docks:
            self.view_menu.addSeparator()
        self.view_menu.addAction(self.actions["show_log"])
        self.view_menu.addAction(self.actions["reset_layout"])

    def _build_statusbar(self) -> None:
        sb = self.statusBar()
        self.state_label = QLabel("", sb)
        self.time_label = QLabel("", sb)
        self.events_label = QLabel("", sb)
        self.dir_label = QLabel("", sb)
        self.dir_label.setTextFormat(Qt.TextFormat.RichText)
        self.dir_label.setToolTip("Click to open the run directory in the file manager")
        self.dir_label.linkActivated.connect(lambda _link: self.open_run_dir())
        self.state_label.setMinimumWidth(80)
        self.time_label.setMinimumWidth(130)
        self.events_label.setMinimumWidth(230)  # fixed widths: changing numbers do not relayout the bar
        for w in (self.state_label, self.time_label, self.events_label):
            sb.addPermanentWidget(w)
        sb.addPermanentWidget(self.dir_label)

    def _connect_controller(self) -> None:
        c = self.controller
        c.state_changed.connect(self._state_changed)
        c.stats_updated.connect(self._stats_updated)
        c.log_received.connect(self._log_received)
        c.error_logged.connect(self._error_logged)
        c.run_started.connect(self._run_started)
        c.run_finished.connect(self._run_finished)
        c.countdown_changed.connect(self._countdown_changed)

    # ------------------------------------------------------------------ opening setups

    def open_dialog(self) -> None:
        start = str(self.setup.setup_dir) if self.setup is not None else str(Path.cwd())
        path, _ = QFileDialog.getOpenFileName(
            self, "Open setup", start, "Setup files (*.yaml *.yml);;All files (*)"
        )
        if path:
            self.open_setup(path)

    def reload_setup(self) -> None:
        if self.setup is not None:
            self.open_setup(self.setup.path, reload=True)

    def open_setup(self, path: str | Path, reload: bool = False) -> bool:
        """Load a setup file and show it; False (with a message) if that is not possible now."""
        from mimocorb_gui.core.setup import Setup, SetupError

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
            setup = Setup.load(target)
        except SetupError as exc:
            self.inform("Open setup", f"Cannot open the setup:\n{exc}")
            if not Path(target).exists():
                self.settings.remove_recent(target)
                self._fill_recent_menu()
            return False
        self._save_layout()
        self.setup = setup
        self.controller.set_setup(setup)
        if self.editor is not None:
            self.editor.set_setup(setup)
            self.editor.set_run_stats(None)
            self.stack.setCurrentWidget(self.editor)
        else:
            self.overview.set_setup(setup)
            self.stack.setCurrentWidget(self.overview)
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
        self.dir_label.setText("")
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
        except Exception as exc:  # noqa: BLE001 - no answer, refused keys, a malformed setup: say so
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

    def dragEnterEvent(self, event) -> None:  # noqa: N802
        if self._dropped_setup(event.mimeData()) is not None:
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:  # noqa: N802
        if self._dropped_setup(event.mimeData()) is not None:
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event) -> None:  # noqa: N802
        target = self._dropped_setup(event.mimeData())
        if target is None:
            event.ignore()
            return
        event.acceptProposedAction()
        QTimer.singleShot(0, lambda: self.open_setup(target))  # not inside the drag's event handling

    # ------------------------------------------------------------------ docks and layout

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
        self._fill_view_menu()

    def _arrange_default(self) -> None:
        """The graph across the top; below it side by side: oscilloscopes, histograms, and a column
        with the log (workers and buffers as tabs) over the rates. A setup's graph is wide and flat,
        so it gets the whole width; the plots get the height they need to be read."""
        d = self.docks
        scopes = [x for k, x in d.items() if k.startswith("oscilloscope:")]
        hists = [x for k, x in d.items() if k.startswith("histogram:")]
        for x in d.values():
            x.setFloating(False)
            x.show()
        bottom = Qt.DockWidgetArea.BottomDockWidgetArea
        horizontal, vertical = Qt.Orientation.Horizontal, Qt.Orientation.Vertical
        columns = [g[0] for g in (scopes, hists) if g]
        log_dock = d.get("log")
        if log_dock is not None:
            columns.append(log_dock)
        if not columns:
            return
        self.addDockWidget(bottom, columns[0])
        for left, right in zip(columns, columns[1:], strict=False):
            self.splitDockWidget(left, right, horizontal)
        for group in (scopes, hists):
            for x in group[1:]:
                self.tabifyDockWidget(group[0], x)
            if group:
                group[0].raise_()
        if log_dock is not None:
            if "rates" in d:
                self.splitDockWidget(log_dock, d["rates"], vertical)
            for key in ("workers", "buffers"):
                if key in d:
                    self.tabifyDockWidget(log_dock, d[key])
            log_dock.raise_()
        w, h = max(self.width(), 1000), max(self.height(), 700)
        plots = [x for x in columns if x is not log_dock]
        share = [0.37] * len(plots) + ([0.26 if plots else 1.0] if log_dock is not None else [])
        self.resizeDocks(columns, [int(w * f) for f in share], horizontal)
        self.resizeDocks([columns[0]], [int(h * 0.58)], vertical)
        if log_dock is not None and "rates" in d:
            self.resizeDocks([log_dock, d["rates"]], [int(h * 0.3), int(h * 0.28)], vertical)

    def _fit_editor_later(self) -> None:
        """Fit the graph once the docks have taken their space (the editor fitted a larger view)."""
        if self.editor is not None and "fit" in self.editor.actions:
            QTimer.singleShot(0, self.editor.actions["fit"].trigger)

    def reset_layout(self) -> None:
        for d in self.docks.values():
            self.removeDockWidget(d)
        self._arrange_default()
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
            "saved": time.strftime("%Y-%m-%d %H:%M:%S"),
        }

    def restore_layout_state(self, state: dict[str, Any]) -> bool:
        """Apply a saved layout; docks that no longer exist are skipped, new docks keep their default place."""
        if not isinstance(state, dict):
            return False
        ok = False
        blob = state.get("qt_state")
        if isinstance(blob, str):
            try:
                ok = self.restoreState(QByteArray(base64.b64decode(blob.encode("ascii"))), LAYOUT_VERSION)
            except (ValueError, TypeError):
                ok = False
        saved_docks = state.get("docks") if isinstance(state.get("docks"), dict) else {}
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
                except Exception:  # noqa: BLE001 - an old settings entry must not stop the window
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
        if not ok:
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

    # ------------------------------------------------------------------ problems

    def _set_problems(self, problems: list) -> None:
        self.problems = list(problems or [])
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
                    f"{_html(str(errors[0]))}{more}",
                    "Show all",
                    self.show_problems,
                )
                self.banner.kind = "setup-error"
            elif warnings and not self.controller.busy:
                self.banner.show_message(
                    "warning",
                    f"{len(warnings)} warning(s): {_html(str(warnings[0]))}",
                    "Show all",
                    self.show_problems,
                )
                self.banner.kind = "setup-warning"
            elif self.banner.kind in ("setup-error", "setup-warning"):
                self.banner.hide()
        self._update_actions()

    def show_problems(self) -> None:
        text = "\n".join(f"{p.severity}: {p}" for p in self.problems) or "No problems."
        self.inform("Problems in the setup", text)

    def has_errors(self) -> bool:
        return any(p.severity == "error" for p in self.problems)

    # ------------------------------------------------------------------ running

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
        except Exception as exc:  # noqa: BLE001 - e.g. the run directory cannot be created
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
            answer = self.ask(
                "Abort the run?",
                "The run is stopping in order (workers finish their files). Abort now instead? "
                "Workers that have not ended are terminated; their files may be incomplete.",
                QMessageBox.StandardButton.Abort | QMessageBox.StandardButton.Cancel,
                QMessageBox.StandardButton.Cancel,
            )
            if answer == QMessageBox.StandardButton.Abort:
                self.controller.abort()
            return
        self.controller.stop("stop requested (Stop button)")

    def open_run_dir(self) -> None:
        d = self.controller.run_dir
        if d is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(d)))

    def _notes_edited(self) -> None:
        if self.controller.run_dir is not None:
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
        self.dir_label.setText(f"<a href='{QUrl.fromLocalFile(str(run_dir)).toString()}'>{run_dir}</a>")
        self._last_stats_shown = 0.0
        self._tick()

    def _run_finished(self, state: str, run_dir) -> None:
        stats = self.controller.last_stats
        if self.editor is not None:
            self.editor.set_run_stats(
                stats
            )  # the final numbers stay (a failed worker stays red) until the next start
            if hasattr(self.editor, "set_editable"):
                self.editor.set_editable(True)
        events = stats.total_events if stats is not None else 0
        msg = f"Run {state}: {events:,} events in {_hms(stats.time if stats else 0)}; files in {run_dir}"
        self.statusBar().showMessage(msg, 15000)
        self._tick()
        if self._closing:
            return
        if state == "failed":
            failed = [n for n, ws in stats.workers.items() if ws.failed] if stats else []
            cause = next((e for e in self._error_entries if e.worker != "run"), None)
            what = f" (worker {_html(', '.join(failed))})" if failed else ""
            if cause is not None:
                first = cause.message.splitlines()[0] if cause.message else ""
                what = f": worker '{_html(cause.worker)}': {_html(first[:240])}"
            self.banner.show_message(
                "error",
                f"<b>The run failed</b>{what}<br>It was stopped in order; the files written so far are complete "
                f"in {_html(str(run_dir))}",
                "Show in log",
                self.show_last_error,
            )
            self.banner.kind = "worker-failed"

    def _state_changed(self, state: str) -> None:
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
        self.time_label.setText(f"run time {_hms(stats.time)}")

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
        who = "the run" if primary.worker == "run" else f"worker '{_html(primary.worker)}'"
        self.banner.show_message(
            "error",
            f"<b>Error in {who}</b>{more}: {_html(first[:300])}",
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

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        if self.controller.busy:
            answer = self.ask(
                "Quit during a run?",
                "A run is in progress. Stop it in order (files are completed) and quit?",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
                QMessageBox.StandardButton.Cancel,
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
        if not self._may_discard_changes("quitting"):
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


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
