"""The graph editor's editing API: each call is one undo step on the setup (add, connect, rename,
delete, set a key, lay out), and where new nodes go so they cover no other node and are seen.

A mixin of :class:`~mimocorb_gui.ui.editor.editor.GraphEditor` (``self._setup``, ``self.scene``,
``self.view``, ``self.edit`` and the ``ask_*`` questions).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from PySide6.QtCore import QMimeData, QPointF

from mimocorb_gui.core.setup import ROLES
from mimocorb_gui.ui.editor.commands import MoveCommand
from mimocorb_gui.ui.editor.layout import NodeKey, Point, free_offset
from mimocorb_gui.ui.editor.palette import payload_of

DEFAULT_BUFFER = {"slot_count": 32, "data_length": 1, "data_dtype": {"value": "float32"}}


class GraphEditing:
    """Adds, connects, renames, deletes and sets keys through ``edit`` (one undo step each)."""

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
        target = self.automatic_positions()
        current = self.scene.positions()
        moved = {k: (current[k], xy) for k, xy in target.items() if k in current and current[k] != xy}
        if moved:
            self.undo_stack.push(MoveCommand(self, moved, "Auto layout"))
        self.view.fit(readable=True)

    def rename_selected(self) -> bool:
        keys = self.scene.selected_keys()
        if len(keys) != 1:
            return False
        kind, old = keys[0]
        new = self.ask_text(f"Rename {kind}", f"New name for {kind} '{old}' (references follow):", old)
        if not new:
            return False
        return self.rename_node(kind, old, new)

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
