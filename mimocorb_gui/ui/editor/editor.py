"""GraphEditor: the setup as a graph of buffers and workers, edited through undo commands.

Model / items / commands split after Orange's canvas: ``core.setup.Setup`` is the model (no
graphics), ``scene``/``items`` draw it and follow its change events, every edit here is a
``QUndoCommand`` (``commands``) made of a call to the model's editing API plus exact snapshots.
"""

from __future__ import annotations

import atexit
import functools
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QMimeData, QPointF, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence, QUndoStack
from PySide6.QtWidgets import (
    QApplication,
    QCompleter,
    QFileDialog,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QMessageBox,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from mimocorb_gui.core.setup import ROLES, Setup, SetupState
from mimocorb_gui.ui.editor.commands import EditCommand, EditorState, MoveCommand
from mimocorb_gui.ui.editor.layout import (
    NodeKey,
    Point,
    free_offset,
    layout_path,
    load_positions,
    save_positions,
)
from mimocorb_gui.ui.editor.palette import FunctionPalette, payload_of
from mimocorb_gui.ui.editor.problems import ProblemsView
from mimocorb_gui.ui.editor.properties import PropertyPanel
from mimocorb_gui.ui.editor.scene import EditorScene
from mimocorb_gui.ui.editor.view import EditorView

CLIPBOARD_MIME = "application/x-mimocorb-selection"
DEFAULT_BUFFER = {"slot_count": 32, "data_length": 1, "data_dtype": {"value": "float32"}}


def _clear_clipboard() -> None:
    app = QApplication.instance()
    if app is not None:
        app.clipboard().clear()


@functools.cache
def _release_clipboard_at_exit() -> None:
    """The clipboard (a Qt global) owns the QMimeData we made: let it go while Python still runs.

    Otherwise Qt's exit handlers delete it after the interpreter is gone and the process
    segfaults on the way out (shiboken's destroy without a thread state).
    """
    atexit.register(_clear_clipboard)


# shortcuts that work wherever the focus is in the window (a dock, a plot, the log), as the menus show
# them; the others act on the graph only (Delete in the log's filter must not delete nodes)
WINDOW_WIDE = frozenset({"save", "save_as", "undo", "redo", "find", "fit", "auto_layout", "add_buffer"})


class GraphEditor(QWidget):
    """The graph editor widget (the main window's central widget)."""

    modified = Signal(bool)  # unsaved changes (from QUndoStack.cleanChanged)
    problems_changed = Signal(list)  # list[core.setup.Problem] after live validation
    node_selected = Signal(str, str)  # kind ('buffer' | 'worker'), name
    saved = Signal(str)  # path written
    message = Signal(str)  # a short note for the status bar (e.g. why an edit was refused)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._setup: Setup | None = None
        self._problems: list = []
        self._problems_stale = False
        self._user_layout = False  # positions worth keeping in the side file
        self._run_stats = None
        self._editable = True
        self._restoring = False
        self._clipboard_fallback: str | None = None
        self.undo_stack = QUndoStack(self)
        self.scene = EditorScene(self)
        self.view = EditorView(self.scene, self)
        self.palette = FunctionPalette(self)
        self.properties = PropertyPanel(self)
        self.problems_view = ProblemsView(self)
        self._validate_timer = QTimer(self)
        self._validate_timer.setSingleShot(True)
        self._validate_timer.setInterval(120)
        self._validate_timer.timeout.connect(self.validate_now)
        self._build_ui()
        self.actions: dict[str, QAction] = {}
        self._build_actions()
        self._saved_text = ""  # the setup text as last loaded or saved: what "modified" compares with
        self._modified = False
        self.undo_stack.indexChanged.connect(lambda _i: self._check_modified())
        self.scene.connection_requested.connect(self.connect_nodes)
        self.scene.nodes_moved.connect(self._on_nodes_moved)
        self.scene.selectionChanged.connect(self._on_selection_changed)
        self.view.drop_requested.connect(self.drop_mime)
        self.palette.activated.connect(self._on_palette_activated)
        self.palette.from_file_button.clicked.connect(lambda: self.actions["add_worker_from_file"].trigger())
        self.problems_view.problem_activated.connect(self.select_problem)
        self._update_actions()

    # ------------------------------------------------------------------ layout of the widget

    def _build_ui(self) -> None:
        self.find_edit = QLineEdit(self)
        self.find_edit.setPlaceholderText("Find node…")
        self.find_edit.setClearButtonEnabled(True)
        self.find_edit.setMaximumWidth(220)
        self.find_edit.returnPressed.connect(lambda: self.find_node(self.find_edit.text()))
        self._completer = QCompleter([], self)
        self._completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self._completer.setFilterMode(Qt.MatchFlag.MatchContains)
        self._completer.activated.connect(self.find_node)
        self.find_edit.setCompleter(self._completer)
        self.status_label = QLabel(self)
        self.status_label.setTextInteractionFlags(Qt.TextInteractionFlag.NoTextInteraction)
        self.toolbar = QWidget(self)
        bar = QHBoxLayout(self.toolbar)
        bar.setContentsMargins(4, 2, 4, 2)
        bar.setSpacing(4)
        self._tool_buttons = QHBoxLayout()
        self._tool_buttons.setSpacing(2)
        bar.addLayout(self._tool_buttons)
        bar.addStretch(1)
        bar.addWidget(self.status_label)
        bar.addSpacing(8)
        bar.addWidget(self.find_edit)

        center = QWidget(self)
        cl = QVBoxLayout(center)
        cl.setContentsMargins(0, 0, 0, 0)
        cl.setSpacing(0)
        cl.addWidget(self.toolbar)
        cl.addWidget(self.view, 1)

        self.vsplit = QSplitter(Qt.Orientation.Vertical, self)
        self.vsplit.addWidget(center)
        self.vsplit.addWidget(self.problems_view)
        self.vsplit.setStretchFactor(0, 5)
        self.vsplit.setStretchFactor(1, 1)
        self.vsplit.setSizes([500, 110])

        self.hsplit = QSplitter(Qt.Orientation.Horizontal, self)
        self.hsplit.addWidget(self.palette)
        self.hsplit.addWidget(self.vsplit)
        self.hsplit.addWidget(self.properties)
        self.hsplit.setStretchFactor(0, 0)
        self.hsplit.setStretchFactor(1, 1)
        self.hsplit.setStretchFactor(2, 0)
        self.hsplit.setSizes([190, 800, 290])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.hsplit)

    def _build_actions(self) -> None:
        canvas_only = {"delete", "rename", "copy", "paste", "select_all"}  # not while typing in a table

        def add(name: str, text: str, slot: Callable[[], Any], shortcut=None, tip: str = "") -> QAction:
            action = QAction(text, self)
            if shortcut is not None:
                action.setShortcut(QKeySequence(shortcut))
                action.setShortcutContext(
                    Qt.ShortcutContext.WidgetShortcut
                    if name in canvas_only
                    else Qt.ShortcutContext.WindowShortcut
                    if name in WINDOW_WIDE
                    else Qt.ShortcutContext.WidgetWithChildrenShortcut
                )
            action.setToolTip(tip or text.replace("&", "").rstrip("…"))
            action.triggered.connect(lambda _checked=False: slot())
            (self.view if name in canvas_only else self).addAction(action)
            self.actions[name] = action
            return action

        undo = self.undo_stack.createUndoAction(self, "&Undo")
        undo.setShortcut(QKeySequence.StandardKey.Undo)
        redo = self.undo_stack.createRedoAction(self, "&Redo")
        redo.setShortcut(QKeySequence.StandardKey.Redo)
        for a in (undo, redo):  # from every dock too (a text field keeps its own Ctrl+Z)
            a.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            self.addAction(a)
        self.actions["undo"] = undo
        self.actions["redo"] = redo
        add(
            "delete",
            "&Delete",
            self.delete_selection,
            QKeySequence.StandardKey.Delete,
            "Delete the selected nodes and connections",
        )
        add("rename", "Re&name…", self.rename_selected, "F2", "Rename the selected node (references follow)")
        add("copy", "&Copy", self.copy_selection, QKeySequence.StandardKey.Copy)
        add("paste", "&Paste", self.paste, QKeySequence.StandardKey.Paste)
        add("select_all", "Select &All", self.select_all, QKeySequence.StandardKey.SelectAll)
        add("fit", "&Fit to View", self.view.fit, "Ctrl+0", "Show the whole graph")
        add("zoom_in", "Zoom &In", lambda: self.view.zoom_by(1.25), QKeySequence.StandardKey.ZoomIn)
        add("zoom_out", "Zoom &Out", lambda: self.view.zoom_by(0.8), QKeySequence.StandardKey.ZoomOut)
        add("find", "&Find Node…", self._focus_find, QKeySequence.StandardKey.Find, "Find a node by name")
        add(
            "auto_layout",
            "Auto &Layout",
            self.auto_layout,
            "Ctrl+L",
            "Arrange nodes left to right (importers left)",
        )
        add("add_buffer", "Add &Buffer", self.add_buffer_at_center, "Ctrl+B", "Add a ring buffer")
        add(
            "add_worker_from_file",
            "Add Worker from &File…",
            self.add_worker_from_file,
            None,
            "Add a worker running a function of your python file",
        )
        add("save", "&Save", self._save_action, QKeySequence.StandardKey.Save)
        add("save_as", "Save &As…", self._save_as_action, QKeySequence.StandardKey.SaveAs)
        for name in ("undo", "redo", "fit", "auto_layout", "add_buffer", "delete"):
            button = QToolButton(self.toolbar)
            button.setAutoRaise(True)
            if name in ("undo", "redo"):  # short labels; the step's name is in the tooltip
                stack = self.undo_stack
                button.setText("Undo" if name == "undo" else "Redo")
                button.clicked.connect(stack.undo if name == "undo" else stack.redo)
                (stack.canUndoChanged if name == "undo" else stack.canRedoChanged).connect(button.setEnabled)
                (stack.undoTextChanged if name == "undo" else stack.redoTextChanged).connect(
                    button.setToolTip
                )
                button.setEnabled(False)
            else:
                button.setDefaultAction(self.actions[name])
            self._tool_buttons.addWidget(button)

    # ------------------------------------------------------------------ the setup

    @property
    def setup(self) -> Setup | None:
        return self._setup

    def set_setup(self, setup: Setup | None) -> None:
        """Show ``setup`` (laid out left to right, or as the user left it); clears the undo history."""
        if self._setup is not None:
            self._setup.remove_listener(self._on_model_event)
        self._setup = setup
        self.undo_stack.clear()
        self._run_stats = None
        positions: dict[NodeKey, Point] = {}
        self._user_layout = False
        if setup is not None:
            saved = load_positions(layout_path(setup.path))
            if saved:
                self._user_layout = True
                positions = saved
            setup.add_listener(self._on_model_event)
            self.scene.set_setup(setup, positions)
            self._saved_text = setup.to_text()
        else:
            self.scene.set_setup(None)
            self._saved_text = ""
        self._modified = False
        self.undo_stack.setClean()
        self.properties.show_node(None)
        self.validate_now()
        self._refresh_completer()
        self.view.update_scene_rect()
        QTimer.singleShot(0, self.view.fit)
        self.view.fit()
        self._update_actions()
        self.modified.emit(False)

    def _check_modified(self) -> None:
        modified = self.is_modified()
        if modified != self._modified:
            self._modified = modified
            self.modified.emit(modified)

    def is_modified(self) -> bool:
        """The setup text differs from the file: node moves do not count (they go to the side file at once)."""
        return self._setup is not None and self._setup.to_text() != self._saved_text

    def _on_model_event(self, event: str, detail: dict[str, Any]) -> None:
        self._problems_stale = True
        self._validate_timer.start()
        self._refresh_completer()
        if not self._restoring:
            self.properties.refresh()

    # ------------------------------------------------------------------ undo plumbing

    def capture(self) -> EditorState:
        return EditorState(self._setup.to_state(), self.scene.positions())

    def restore(self, state: EditorState) -> None:
        """Put back an exact snapshot (the setup keeps its current path: Save As is not undone)."""
        self._restoring = True
        try:
            selected = self.scene.selected_keys()
            self._setup.from_state(SetupState(state.setup.text, self._setup.path))
            self.scene.set_positions(state.positions)
            self.scene.select([k for k in selected if k in self.scene.nodes])
        finally:
            self._restoring = False
        self.view.update_scene_rect()
        self.properties.refresh()
        self._update_actions()

    def move_nodes(self, positions: dict[NodeKey, Point]) -> None:
        """Move nodes (a drag, its undo or redo); the side file keeps the positions without asking."""
        self._user_layout = True
        self.scene.set_positions(positions)
        self.view.update_scene_rect()
        self._save_positions()

    def _save_positions(self) -> None:
        """Write node positions to the side file next to a setup that exists on disk (never the YAML)."""
        if self._setup is None or not Path(self._setup.path).is_file():
            return
        try:
            save_positions(layout_path(self._setup.path), self.scene.positions())
        except OSError as exc:
            self.message.emit(f"cannot save node positions: {exc}")

    def edit(self, text: str, change: Callable[[], Any]) -> bool:
        """Run ``change`` (calls of the Setup editing API) as one undoable step; False if refused."""
        if self._setup is None or not self._editable:
            return False
        before = self.capture()
        try:
            change()
        except (ValueError, KeyError, TypeError) as exc:
            if self._setup.to_text() != before.setup.text or self.scene.positions() != before.positions:
                self.restore(before)
            note = exc.args[0] if exc.args else str(exc)
            self.message.emit(f"{text}: {note}")
            return False
        after = self.capture()
        if after == before:
            return False
        self.undo_stack.push(EditCommand(self, text, before, after))
        self.view.update_scene_rect()
        self._update_actions()
        return True

    def _on_nodes_moved(self, moved: dict) -> None:
        self._user_layout = True
        self.undo_stack.push(MoveCommand(self, moved))

    # ------------------------------------------------------------------ editing API (each one undo step)

    def unique_name(self, base: str, kind: str) -> str:
        taken = set(self._setup.buffer_names + self._setup.worker_names) if self._setup else set()
        base = base or kind
        if base not in taken:
            return base
        i = 2
        while f"{base}_{i}" in taken:
            i += 1
        return f"{base}_{i}"

    def add_buffer(
        self, name: str | None = None, pos: QPointF | None = None, spec: dict | None = None
    ) -> str | None:
        spec = dict(spec or DEFAULT_BUFFER)
        name = name or self.unique_name("Buffer", "buffer")

        def change() -> None:
            self._setup.add_buffer(name, spec["slot_count"], spec["data_length"], spec["data_dtype"])
            self._place(("buffer", name), pos)

        return name if self.edit(f"Add buffer {name}", change) else None

    def add_worker(
        self,
        function: str,
        name: str | None = None,
        pos: QPointF | None = None,
        file: str | None = None,
        **fields: Any,
    ) -> str | None:
        name = name or self.unique_name(function.rpartition(".")[2] or "worker", "worker")

        def change() -> None:
            self._setup.add_worker(name, function, file=file, **fields)
            self._place(("worker", name), pos)

        return name if self.edit(f"Add worker {name}", change) else None

    def _place(self, key: NodeKey, pos: QPointF | None) -> None:
        """Put a new node at ``pos`` (its centre), or the nearest spot there where it covers no other node."""
        node = self.scene.nodes.get(key)
        if node is None or pos is None:
            return
        self._place_group([key], {key: (pos.x() - node.WIDTH / 2, pos.y() - node.HEIGHT / 2)}, (0.0, 0.0))

    def _place_group(self, keys: list[NodeKey], wanted: dict[NodeKey, Point], shift: Point) -> None:
        """Move new nodes to ``wanted`` + the nearest shift from ``shift`` that overlaps no other node,
        then scroll the view so they are seen."""
        nodes = {k: self.scene.nodes[k] for k in keys if k in self.scene.nodes and k in wanted}
        if not nodes:
            return
        group = [(wanted[k][0], wanted[k][1], n.WIDTH, n.HEIGHT) for k, n in nodes.items()]
        others = [
            (n.pos().x(), n.pos().y(), n.WIDTH, n.HEIGHT)
            for k, n in self.scene.nodes.items()
            if k not in nodes
        ]
        dx, dy = free_offset(group, others, shift)
        for k, n in nodes.items():
            n.setPos(QPointF(wanted[k][0] + dx, wanted[k][1] + dy))
        self._user_layout = True
        self.view.update_scene_rect()
        box = None
        for n in nodes.values():
            box = n.sceneBoundingRect() if box is None else box.united(n.sceneBoundingRect())
        self.view.ensureVisible(box, 24, 24)

    def drop_mime(self, mime: QMimeData, scene_pos: QPointF) -> str | None:
        """Add what a palette drag carries at ``scene_pos`` (what the view's drop handler does)."""
        payload = payload_of(mime)
        if payload is None:
            return None
        if payload["kind"] == "buffer":
            return self.add_buffer(pos=scene_pos)
        return self.add_worker(payload["function"], pos=scene_pos, file=payload.get("file"))

    def _on_palette_activated(self, payload: dict) -> None:
        center = self.view.mapToScene(self.view.viewport().rect().center())
        from mimocorb_gui.ui.editor.palette import node_mime

        self.drop_mime(node_mime(payload), center)

    def add_buffer_at_center(self) -> str | None:
        return self.add_buffer(pos=self.view.mapToScene(self.view.viewport().rect().center()))

    def connect_nodes(self, worker: str, buffer: str, role: str) -> bool:
        """Add ``buffer`` to ``worker``'s ``role`` list (what dragging from a port does)."""
        if self._setup is None or role not in ROLES:
            return False
        if buffer in getattr(self._setup.workers.get(worker), role, []):
            return False
        return self.edit(
            f"Connect {worker} {role} {buffer}", lambda: self._setup.connect(worker, buffer, role)
        )

    def disconnect_nodes(self, worker: str, buffer: str, role: str) -> bool:
        return self.edit(
            f"Disconnect {worker} {role} {buffer}", lambda: self._setup.disconnect(worker, buffer, role)
        )

    def rename_node(self, kind: str, old: str, new: str) -> bool:
        new = new.strip()
        if not new or new == old:
            return False
        if kind == "buffer":
            return self.edit(f"Rename buffer {old} to {new}", lambda: self._setup.rename_buffer(old, new))
        return self.edit(f"Rename worker {old} to {new}", lambda: self._setup.rename_worker(old, new))

    def remove_nodes(self, keys: list[NodeKey], edges: list[tuple[str, str, str]] = ()) -> bool:
        keys = [tuple(k) for k in keys]
        edges = [e for e in edges if ("worker", e[0]) not in keys and ("buffer", e[2]) not in keys]
        if not keys and not edges:
            return False

        def change() -> None:
            for worker, role, buffer in edges:
                self._setup.disconnect(worker, buffer, role)
            for kind, name in keys:
                if kind == "worker":
                    self._setup.remove_worker(name)
            for kind, name in keys:
                if kind == "buffer":
                    self._setup.remove_buffer(name)

        what = ", ".join(n for _, n in keys) or f"{len(edges)} connection{'s' if len(edges) != 1 else ''}"
        return self.edit(f"Delete {what}", change)

    def delete_selection(self) -> bool:
        return self.remove_nodes(self.scene.selected_keys(), [e.key for e in self.scene.selected_edges()])

    def _raw_field(self, section: str, name: str, key: str) -> Any:
        entry = self._setup.written_entry(section, name) if self._setup is not None else None
        return entry.get(key) if entry is not None else None

    @staticmethod
    def _same(old: Any, new: Any) -> bool:
        return type(old) is type(new) and old == new

    def set_buffer_field(self, name: str, key: str, value: Any) -> bool:
        """Set ``slot_count``, ``data_length`` or ``data_dtype``; setting the current value is no step."""
        if self._setup is not None and self._same(self._raw_field("Buffers", name, key), value):
            return False
        return self.edit(f"Set {name}.{key}", lambda: self._setup.set_buffer_field(name, key, value))

    def set_worker_field(self, name: str, key: str, value: Any) -> bool:
        """Set one worker key (None removes it); setting the current value is no step."""
        if self._setup is not None and self._same(self._raw_field("Workers", name, key), value):
            return False
        return self.edit(f"Set {name}.{key}", lambda: self._setup.set_worker_field(name, key, value))

    def set_setup_field(self, key: str, value: Any) -> bool:
        return self.edit(f"Set {key}", lambda: self._setup.set_field(key, value))

    def auto_layout(self) -> None:
        target = self.scene.auto_layout_positions()
        current = self.scene.positions()
        moved = {k: (current[k], xy) for k, xy in target.items() if k in current and current[k] != xy}
        if moved:
            self.undo_stack.push(MoveCommand(self, moved, "Auto layout"))
        self.view.fit()

    # ------------------------------------------------------------------ selection, find

    def selected_nodes(self) -> list[NodeKey]:
        return self.scene.selected_keys()

    def select_node(self, kind: str, name: str, center: bool = True) -> bool:
        node = self.scene.nodes.get((kind, name))
        if node is None:
            return False
        self.scene.select([(kind, name)])
        if center:
            self.view.center_on_item(node)
        return True

    def select_all(self) -> None:
        for node in self.scene.nodes.values():
            node.setSelected(True)

    def find_node(self, text: str) -> NodeKey | None:
        """Select and show the node named ``text`` (exact, then case-insensitive, then contains)."""
        text = (text or "").strip()
        if not text:
            return None
        keys = list(self.scene.nodes)
        for match in (
            lambda n: n == text,
            lambda n: n.lower() == text.lower(),
            lambda n: n.lower().startswith(text.lower()),
            lambda n: text.lower() in n.lower(),
        ):
            found = [k for k in keys if match(k[1])]
            if found:
                self.select_node(*found[0])
                return found[0]
        self.message.emit(f"no node named '{text}'")
        return None

    def _focus_find(self) -> None:
        self.find_edit.setFocus()
        self.find_edit.selectAll()

    def _refresh_completer(self) -> None:
        names = (self._setup.buffer_names + self._setup.worker_names) if self._setup else []
        self._completer.model().setStringList(names) if hasattr(
            self._completer.model(), "setStringList"
        ) else None

    def _on_selection_changed(self) -> None:
        keys = self.scene.selected_keys()
        if len(keys) == 1:
            self.properties.show_node(keys[0])
            self.node_selected.emit(*keys[0])
        else:
            self.properties.show_node(None)
        self._update_actions()

    def select_problem(self, problem) -> None:
        node = getattr(problem, "node", None)
        if node is not None:
            self.select_node(*node)
            edge_key = self.scene.edge_of_problem(problem)
            if edge_key in self.scene.edges:
                self.scene.edges[edge_key].setSelected(True)

    # ------------------------------------------------------------------ rename / copy / paste

    def rename_selected(self) -> bool:
        keys = self.scene.selected_keys()
        if len(keys) != 1:
            return False
        kind, old = keys[0]
        new = self.ask_text(f"Rename {kind}", f"New name for {kind} '{old}' (references follow):", old)
        if not new:
            return False
        return self.rename_node(kind, old, new)

    def selection_data(self, keys: list[NodeKey] | None = None) -> dict:
        """The selected nodes as plain data (what copy puts on the clipboard)."""
        keys = self.scene.selected_keys() if keys is None else keys
        buffers, workers, positions = {}, {}, {}

        for kind, name in keys:
            node = self.scene.nodes[(kind, name)]
            positions[f"{kind}:{name}"] = [node.pos().x(), node.pos().y()]
            if kind == "buffer":
                buffers[name] = self._setup.written_entry("Buffers", name)
            else:
                workers[name] = self._setup.written_entry("Workers", name)
        return {"buffers": buffers, "workers": workers, "positions": positions}

    def copy_selection(self) -> bool:
        data = self.selection_data()
        if not data["buffers"] and not data["workers"]:
            return False
        text = json.dumps(data)
        self._clipboard_fallback = text
        mime = QMimeData()
        mime.setData(CLIPBOARD_MIME, text.encode("utf-8"))
        mime.setText(text)
        QApplication.clipboard().setMimeData(mime)
        _release_clipboard_at_exit()
        self._update_actions()
        return True

    def _clipboard_text(self) -> str | None:
        mime = QApplication.clipboard().mimeData()
        if mime is not None and mime.hasFormat(CLIPBOARD_MIME):
            return bytes(mime.data(CLIPBOARD_MIME)).decode("utf-8")
        return self._clipboard_fallback

    def paste(self, offset: QPointF | None = None) -> list[NodeKey]:
        """Paste copied nodes under new names; connections among them follow the new names."""
        text = self._clipboard_text()
        if not text or self._setup is None:
            return []
        try:
            data = json.loads(text)
        except ValueError:
            return []
        buffers: dict = data.get("buffers", {})
        workers: dict = data.get("workers", {})
        positions = data.get("positions", {})
        taken = set(self._setup.buffer_names + self._setup.worker_names)
        renamed: dict[str, str] = {}
        for old in list(buffers) + list(workers):
            new = old
            i = 2
            base = f"{old}_copy" if old in taken else old
            new = base
            while new in taken:
                new = f"{base}_{i}"
                i += 1
            taken.add(new)
            renamed[old] = new
        pasted: list[NodeKey] = []

        def change() -> None:
            for old, raw in buffers.items():
                raw = raw if isinstance(raw, dict) else {}
                self._setup.add_buffer(
                    renamed[old],
                    raw.get("slot_count", DEFAULT_BUFFER["slot_count"]),
                    raw.get("data_length", DEFAULT_BUFFER["data_length"]),
                    raw.get("data_dtype") or DEFAULT_BUFFER["data_dtype"],
                )
                pasted.append(("buffer", renamed[old]))
            for old, raw in workers.items():
                raw = raw if isinstance(raw, dict) else {}
                roles = {}
                for role in ROLES:
                    names = raw.get(role) or []
                    roles[role] = [
                        renamed.get(b, b) if b in buffers else b for b in names if isinstance(b, str)
                    ]
                self._setup.add_worker(
                    renamed[old],
                    raw.get("function") or "",
                    file=raw.get("file") or None,
                    config=raw.get("config"),
                    number_of_processes=raw.get("number_of_processes", 1),
                    **roles,
                )
                pasted.append(("worker", renamed[old]))
            wanted: dict[NodeKey, Point] = {}
            for i, (kind, name) in enumerate(pasted):
                old = next(o for o, n in renamed.items() if n == name)
                xy = positions.get(f"{kind}:{old}")
                wanted[(kind, name)] = (float(xy[0]), float(xy[1])) if xy is not None else (200.0 * i, 0.0)
            # the copies keep their arrangement; they go near the view's centre (or ``offset`` from the
            # originals when given), where they cover no node
            xs = [x for x, _ in wanted.values()]
            ys = [y for _, y in wanted.values()]
            if offset is not None:
                start = (offset.x(), offset.y())
            else:
                centre = self.view.mapToScene(self.view.viewport().rect().center())
                start = (
                    centre.x() - (min(xs) + max(xs) + 160) / 2,
                    centre.y() - (min(ys) + max(ys) + 66) / 2,
                )
            self._place_group(pasted, wanted, start)

        if not self.edit(f"Paste {len(renamed)} node{'s' if len(renamed) != 1 else ''}", change):
            return []
        self.scene.select(pasted)
        return pasted

    # ------------------------------------------------------------------ worker from a user file

    def add_worker_from_file(self, path: str | None = None, function: str | None = None) -> str | None:
        """Add a worker running ``function`` of the python file ``path`` (asks when not given)."""
        if self._setup is None:
            return None
        from mimocorb_gui.core import loader

        if path is None:
            path = self.ask_open_file(
                "Worker from my file", str(self._setup.setup_dir), "Python files (*.py)"
            )
            if not path:
                return None
        file = self._relative(path)
        if function is None:
            try:
                names = loader.available_functions(file, self._setup.setup_dir)
            except Exception as exc:  # any import error of the user's file is shown
                self.message.emit(f"cannot load {file}: {exc}")
                self.ask_message("Worker from my file", f"Cannot load {file}:\n{exc}")
                return None
            if not names:
                self.ask_message("Worker from my file", f"{file} has no public functions.")
                return None
            function = (
                names[0]
                if len(names) == 1
                else self.ask_item("Worker from my file", f"Function of {file}:", names)
            )
            if not function:
                return None
        center = self.view.mapToScene(self.view.viewport().rect().center())
        return self.add_worker(function, pos=center, file=file)

    def _relative(self, path: str) -> str:
        p = Path(path).expanduser().absolute()
        try:
            rel = os.path.relpath(p, self._setup.setup_dir)
        except ValueError:  # another drive on Windows
            return str(p)
        return Path(rel).as_posix() if not rel.startswith("..") or rel.count("..") <= 2 else str(p)

    # ------------------------------------------------------------------ validation

    def validate_now(self) -> list:
        self._validate_timer.stop()
        self._problems_stale = False
        self._problems = self._setup.validate() if self._setup is not None else []
        self.scene.set_problems(self._problems)
        self.problems_view.set_problems(self._problems)
        self.status_label.setText(self.problems_view.summary())
        color = "#b71c1c" if self.has_errors() else ("#8a6d00" if self._problems else "#2e7d32")
        self.status_label.setStyleSheet(f"color: {color}")
        self.problems_changed.emit(list(self._problems))
        return self._problems

    def problems(self) -> list:
        """Validation problems of the setup as it is now (core ``Problem`` objects)."""
        if self._problems_stale:
            self.validate_now()
        return list(self._problems)

    def has_errors(self) -> bool:
        return any(p.severity == "error" for p in self.problems())

    # ------------------------------------------------------------------ saving

    def save(self, path: str | Path | None = None) -> Path:
        """Write the setup through ``Setup.save`` (and moved positions to the side file); marks clean."""
        if self._setup is None:
            raise RuntimeError("no setup to save")
        target = self._setup.save(path)
        side = layout_path(target)
        if self._user_layout or side.exists():
            save_positions(side, self.scene.positions())
        self._saved_text = self._setup.to_text()
        self.undo_stack.setClean()
        self._check_modified()
        self.saved.emit(str(target))
        self._update_actions()
        return target

    def _save_action(self) -> None:
        if self._setup is not None:
            self._try_save(None)

    def _save_as_action(self) -> None:
        if self._setup is None:
            return
        path = self.ask_save_file("Save setup as", str(self._setup.path), "Setup files (*.yaml *.yml)")
        if path:
            self._try_save(path)

    def _try_save(self, path) -> None:
        try:
            self.save(path)
        except OSError as exc:
            self.ask_message("Save", f"Cannot save: {exc}")

    def maybe_save(self) -> bool:
        """Before closing or opening another setup: True when it is fine to go on.

        Unsaved changes are offered to be saved (Save / Discard / Cancel).
        """
        if self._setup is None or not self.is_modified():
            return True
        answer = self.ask_save_discard_cancel(
            "Unsaved changes", f"Save the changes to {self._setup.path.name} before closing?"
        )
        if answer == "save":
            try:
                self.save()
            except OSError as exc:
                self.ask_message("Save", f"Cannot save: {exc}")
                return False
            return True
        return answer == "discard"

    # ------------------------------------------------------------------ during a run

    def set_run_stats(self, stats) -> None:
        """Show live numbers (rate, fill level, processes; failed workers red), or clear with None."""
        self._run_stats = stats
        self.scene.set_run_stats(stats)

    def set_editable(self, editable: bool) -> None:
        """Refuse edits (e.g. while a run uses the setup)."""
        self._editable = editable
        self.view.drops_enabled = editable
        self.palette.setEnabled(editable)
        self.properties.setEnabled(editable)
        for name in ("delete", "rename", "paste", "add_buffer", "add_worker_from_file"):
            self.actions[name].setEnabled(editable)
        self._update_actions()

    def _update_actions(self) -> None:
        if not hasattr(self, "actions") or not self.actions:
            return
        has = self._setup is not None
        keys = self.scene.selected_keys() if has else []
        edges = self.scene.selected_edges() if has else []
        ed = has and self._editable
        self.actions["delete"].setEnabled(ed and bool(keys or edges))
        self.actions["rename"].setEnabled(ed and len(keys) == 1)
        self.actions["copy"].setEnabled(has and bool(keys))
        self.actions["paste"].setEnabled(ed)
        for name in ("add_buffer", "add_worker_from_file", "auto_layout"):
            self.actions[name].setEnabled(ed)
        for name in ("save", "save_as", "fit", "find", "select_all"):
            self.actions[name].setEnabled(has)

    # ------------------------------------------------------------------ questions (tests replace these)

    def ask_text(self, title: str, label: str, default: str = "") -> str | None:
        text, ok = QInputDialog.getText(self, title, label, QLineEdit.EchoMode.Normal, default)
        return text if ok else None

    def ask_item(self, title: str, label: str, items: list[str]) -> str | None:
        item, ok = QInputDialog.getItem(self, title, label, items, 0, False)
        return item if ok else None

    def ask_open_file(self, title: str, directory: str, filters: str) -> str | None:
        path, _ = QFileDialog.getOpenFileName(self, title, directory, filters)
        return path or None

    def ask_save_file(self, title: str, directory: str, filters: str) -> str | None:
        path, _ = QFileDialog.getSaveFileName(self, title, directory, filters)
        return path or None

    def ask_save_discard_cancel(self, title: str, text: str) -> str:
        buttons = QMessageBox.StandardButton
        answer = QMessageBox.question(
            self, title, text, buttons.Save | buttons.Discard | buttons.Cancel, buttons.Save
        )
        return {buttons.Save: "save", buttons.Discard: "discard"}.get(answer, "cancel")

    def ask_message(self, title: str, text: str) -> None:
        QMessageBox.warning(self, title, text)
