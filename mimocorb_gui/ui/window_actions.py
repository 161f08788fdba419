"""The main window's named actions, run toolbar, menus and status bar (built once, by ``MainWindow``)."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, QTime
from PySide6.QtGui import QAction, QFont, QKeySequence
from PySide6.QtWidgets import (
    QCheckBox,
    QLabel,
    QLineEdit,
    QStyle,
    QTimeEdit,
    QToolBar,
)


class WindowActions:
    """Builds ``window.actions`` (every user command, by name), the toolbar, the menus and the status bar.

    A mixin of :class:`~mimocorb_gui.ui.main_window.MainWindow`: it uses the window's slots and state.
    """

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
