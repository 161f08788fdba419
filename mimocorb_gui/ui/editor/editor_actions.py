"""The graph editor's named actions (shortcuts, toolbar buttons) and when each is enabled.

A mixin of :class:`~mimocorb_gui.ui.editor.editor.GraphEditor`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QToolButton

# shortcuts that work wherever the focus is in the window (a dock, a plot, the log), as the menus show
# them; the others act on the graph only (Delete in the log's filter must not delete nodes)
WINDOW_WIDE = frozenset({"save", "save_as", "undo", "redo", "find", "fit", "auto_layout", "add_buffer"})


class EditorActions:
    """``self.actions`` by name: undo/redo, delete, rename, copy/paste, fit, zoom, find, layout, save."""

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
