"""Copy and paste of graph nodes: the selection as plain data on the clipboard, pasted under new
names near the view's centre where it covers no node.

A mixin of :class:`~mimocorb_gui.ui.editor.editor.GraphEditor`.
"""

from __future__ import annotations

import atexit
import functools
import json

from PySide6.QtCore import QMimeData, QPointF
from PySide6.QtWidgets import QApplication

from mimocorb_gui.core.setup import ROLES
from mimocorb_gui.ui.editor.editing import DEFAULT_BUFFER
from mimocorb_gui.ui.editor.layout import NodeKey, Point

CLIPBOARD_MIME = "application/x-mimocorb-selection"


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


class NodeClipboard:
    """Copy (``copy_selection``) and paste (``paste``) of nodes with their connections among them."""

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
