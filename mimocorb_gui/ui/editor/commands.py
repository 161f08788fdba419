"""Undo commands: every edit of the setup (and every node move) is one QUndoCommand.

An edit runs the model's own editing API once (so the saved file changes minimally); undo and
redo restore exact snapshots (``Setup.to_state``/``from_state``) together with node positions,
so undo gives back the very text the setup had before.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from PySide6.QtGui import QUndoCommand

from mimocorb_gui.core.setup import SetupState
from mimocorb_gui.ui.editor.layout import NodeKey, Point


@dataclass(frozen=True)
class EditorState:
    """What one undo step restores: the setup text and the node positions."""

    setup: SetupState
    positions: dict[NodeKey, Point]


class Restorable(Protocol):
    def capture(self) -> EditorState: ...

    def restore(self, state: EditorState) -> None: ...


class EditCommand(QUndoCommand):
    """An edit already applied to the model; redo and undo restore the snapshots after and before."""

    def __init__(self, target: Restorable, text: str, before: EditorState, after: EditorState) -> None:
        super().__init__(text)
        self.target = target
        self.before = before
        self.after = after
        self._applied = True  # the edit was made through the model's API before the push

    def redo(self) -> None:
        if self._applied:
            self._applied = False
            return
        self.target.restore(self.after)

    def undo(self) -> None:
        self.target.restore(self.before)


class MoveCommand(QUndoCommand):
    """Nodes moved by the user (positions only; the setup text does not change)."""

    def __init__(self, target, moved: dict[NodeKey, tuple[Point, Point]], text: str = "Move") -> None:
        n = len(moved)
        super().__init__(f"{text} {n} node{'s' if n != 1 else ''}" if text == "Move" else text)
        self.target = target
        self.moved = dict(moved)

    def redo(self) -> None:
        self.target.move_nodes({k: new for k, (_old, new) in self.moved.items()})

    def undo(self) -> None:
        self.target.move_nodes({k: old for k, (old, _new) in self.moved.items()})

    def id(self) -> int:
        return -1  # each drag is its own step
