"""GraphEditor: the setup as a graph of buffers and workers, edited through undo commands.

Model / items / commands split after Orange's canvas: ``core.setup.Setup`` is the model (no
graphics), ``scene`` with ``nodes``/``edges`` draws it and follows its change events, every edit is
a ``QUndoCommand`` (``commands``) made of a call to the model's editing API plus exact snapshots.
This module holds the widget, the setup it shows, undo plumbing, validation and saving; the
editing API is in ``editing``, copy and paste in ``clipboard``, the named actions in
``editor_actions``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QAction, QUndoStack
from PySide6.QtWidgets import (
    QCompleter,
    QFileDialog,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QMessageBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from mimocorb_gui.core.setup import Setup, SetupState
from mimocorb_gui.ui.editor.clipboard import NodeClipboard
from mimocorb_gui.ui.editor.commands import EditCommand, EditorState, MoveCommand
from mimocorb_gui.ui.editor.editing import GraphEditing
from mimocorb_gui.ui.editor.editor_actions import EditorActions
from mimocorb_gui.ui.editor.layout import (
    NodeKey,
    Point,
    layered_layout,
    layout_path,
    load_positions,
    save_positions,
    wrap_to_area,
)
from mimocorb_gui.ui.editor.palette import FunctionPalette
from mimocorb_gui.ui.editor.problems import ProblemsView
from mimocorb_gui.ui.editor.properties import PropertyPanel
from mimocorb_gui.ui.editor.scene import EditorScene
from mimocorb_gui.ui.editor.view import EditorView


class GraphEditor(EditorActions, GraphEditing, NodeClipboard, QWidget):
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
        self._laid_out_for: tuple[float, float] | None = None  # the view area an automatic layout suits
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
        self.view.resized.connect(self._follow_view_size)
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
            if saved:  # the user's arrangement, exactly (nodes missing from it go below the rest)
                self._user_layout = True
                positions = saved
            else:  # laid out afresh, wrapped to the view's shape (again when the view changes size)
                positions = self.automatic_positions(setup)
                self._laid_out_for = self.view.layout_area()
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
        QTimer.singleShot(0, self.fit_when_shown)
        self.view.fit(readable=True)
        self._update_actions()
        self.modified.emit(False)

    def automatic_positions(self, setup: Setup | None = None) -> dict[NodeKey, Point]:
        """The layered layout of ``setup`` (the shown one by default) wrapped into bands for this view."""
        setup = setup if setup is not None else self._setup
        if setup is None:
            return {}
        return wrap_to_area(layered_layout(setup), self.view.layout_area())

    def fit_when_shown(self) -> None:
        """Once the window is laid out (the view has its real size): wrap an automatic layout anew for
        the view's shape and fit it, readable (the main window calls this after placing its docks)."""
        self._follow_view_size()
        self.view.fit(readable=True)

    def _follow_view_size(self) -> None:
        """A graph laid out automatically (nobody placed a node) wraps anew when the view's shape changes."""
        if self._setup is None or self._user_layout or self._restoring:
            return
        area = self.view.layout_area()
        if area == self._laid_out_for:
            return
        self._laid_out_for = area
        target = self.automatic_positions()
        if target and target != self.scene.positions():
            self.scene.set_positions(target)
            self.view.update_scene_rect()

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
