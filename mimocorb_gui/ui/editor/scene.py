"""The editor scene: one item per buffer and worker of the setup, one edge per connection.

The scene reads the model and follows its change events (``Setup.add_listener``); it never edits
it. User gestures that would edit (a port dragged onto a node, nodes moved) are reported by
signals; the editor turns them into undo commands.
"""

from __future__ import annotations

import re
from typing import Any

from PySide6.QtCore import QPointF, QRectF, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QGraphicsScene

from mimocorb_gui.core.setup import ROLES, Setup
from mimocorb_gui.ui.editor.edges import Edge, PendingEdge
from mimocorb_gui.ui.editor.layout import NodeKey, Point, layered_layout
from mimocorb_gui.ui.editor.nodes import BufferNode, NodeItem, Port, WorkerNode

_ROLE_LOCATION = re.compile(r"^Workers\.(?P<worker>.+)\.(?P<role>sources|sinks|observes)\[(?P<index>\d+)\]$")


class EditorScene(QGraphicsScene):
    """Items mirroring a :class:`Setup`."""

    connection_requested = Signal(str, str, str)  # worker, buffer, role
    nodes_moved = Signal(object)  # {(kind, name): (old_xy, new_xy)}

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setup: Setup | None = None
        self.nodes: dict[NodeKey, NodeItem] = {}
        self.edges: dict[tuple[str, str, str], Edge] = {}
        self.templates: dict[str, str] = {}  # worker -> template named in its function's docstring
        self._pending: PendingEdge | None = None
        self._pending_port: Port | None = None
        self._press_positions: dict[NodeKey, Point] | None = None
        self._docs: dict[tuple, object] = {}
        self.setBackgroundBrush(QColor("#f4f6f8"))
        self.setItemIndexMethod(QGraphicsScene.ItemIndexMethod.NoIndex)

    # ------------------------------------------------------------------ model -> items

    def set_setup(self, setup: Setup | None, positions: dict[NodeKey, Point] | None = None) -> None:
        if self.setup is not None:
            self.setup.remove_listener(self._on_model_event)
        self.clear_items()
        self._docs.clear()
        self.setup = setup
        if setup is None:
            return
        setup.add_listener(self._on_model_event)
        self.sync(positions or {})

    def clear_items(self) -> None:
        for edge in list(self.edges.values()):
            edge.detach()
            self.removeItem(edge)
        for node in list(self.nodes.values()):
            self.removeItem(node)
        self.edges.clear()
        self.nodes.clear()

    def _on_model_event(self, event: str, detail: dict[str, Any]) -> None:
        if event in ("buffer_renamed", "worker_renamed"):
            kind = "buffer" if event == "buffer_renamed" else "worker"
            item = self.nodes.pop((kind, detail["old"]), None)
            if item is not None:
                item.rename(detail["new"])
                self.nodes[(kind, detail["new"])] = item
            if kind == "worker" and detail["old"] in self.templates:
                self.templates[detail["new"]] = self.templates.pop(detail["old"])
            for key in [k for k in self.edges if detail["old"] in (k[0], k[2])]:
                edge = self.edges.pop(key)
                self.edges[edge.key] = edge
                edge.refresh_tooltip()
        self.sync()

    def sync(self, positions: dict[NodeKey, Point] | None = None) -> None:
        """Create, update and remove items so they match the model."""
        setup = self.setup
        if setup is None:
            return
        positions = dict(positions or {})
        buffers = setup.buffers
        workers = setup.workers
        wanted = [("buffer", b) for b in buffers] + [("worker", w) for w in workers]
        for key in [k for k in self.nodes if k not in wanted]:
            node = self.nodes.pop(key)
            for edge in list(node.edges):
                self._remove_edge(edge)
            self.removeItem(node)
        new_keys = [k for k in wanted if k not in self.nodes]
        for key in new_keys:
            node = BufferNode(key[1]) if key[0] == "buffer" else WorkerNode(key[1])
            self.addItem(node)
            self.nodes[key] = node
        missing = [k for k in new_keys if k not in positions]
        if missing:
            positions.update(self._place(missing, positions))
        for key, xy in positions.items():
            if key in self.nodes:
                self.nodes[key].setPos(QPointF(*xy))
        for name, spec in buffers.items():
            self.nodes[("buffer", name)].set_spec(spec.slot_count, spec.data_length, spec.data_dtype)
        for name, spec in workers.items():
            self.nodes[("worker", name)].set_spec(
                spec.function, spec.file, self.template_of(name, spec), spec.number_of_processes
            )
        wanted_edges = set()
        for name, spec in workers.items():
            for role in ROLES:
                for b in getattr(spec, role):
                    if ("buffer", b) in self.nodes:
                        wanted_edges.add((name, role, b))
        for key in [k for k in self.edges if k not in wanted_edges]:
            self._remove_edge(self.edges[key])
        for key in sorted(wanted_edges - set(self.edges)):
            worker, role, buffer = key
            edge = Edge(self.nodes[("worker", worker)], self.nodes[("buffer", buffer)], role)
            self.addItem(edge)
            self.edges[key] = edge
        for edge in self.edges.values():
            edge.update_path()

    def _remove_edge(self, edge: Edge) -> None:
        edge.detach()
        self.edges.pop(edge.key, None)
        if edge.scene() is self:
            self.removeItem(edge)

    def function_doc(self, spec):
        """The parsed docstring of a worker's function (cached), or None when it cannot be loaded."""
        if not spec.function or self.setup is None:
            return None
        key = (str(self.setup.setup_dir), spec.file, spec.function)
        if key not in self._docs:
            try:
                from mimocorb_gui.core import loader

                self._docs[key] = loader.function_doc(spec.function, spec.file, self.setup.setup_dir)
            except Exception:  # a broken function is reported by validation
                return None  # not cached: the file may be written in a moment
        return self._docs[key]

    def template_of(self, name: str, spec) -> str:
        """The template named in the worker's function docstring ('' when unknown)."""
        doc = self.function_doc(spec)
        template = doc.type.split()[0].strip(".,:") if doc is not None and doc.type else ""
        self.templates[name] = ((spec.file, spec.function), template)
        return template

    def _place(self, keys: list[NodeKey], given: dict[NodeKey, Point]) -> dict[NodeKey, Point]:
        """Positions for new nodes: the layered layout when nothing is placed yet, else below the rest.

        ``given`` are positions about to be applied to other nodes (e.g. from the side file).
        """
        rects = []
        for key, node in self.nodes.items():
            if key in keys:
                continue
            x, y = given.get(key, (node.pos().x(), node.pos().y()))
            rects.append(node.boundingRect().translated(x, y))
        if not rects:
            auto = layered_layout(self.setup)
            return {k: auto.get(k, (0.0, 0.0)) for k in keys}
        rect = QRectF(rects[0])
        for r in rects[1:]:
            rect = rect.united(r)
        result = {}
        x = rect.left()
        for k in keys:
            result[k] = (x, rect.bottom() + 40)
            x += 200
        return result

    # ------------------------------------------------------------------ positions

    def positions(self) -> dict[NodeKey, Point]:
        return {k: (n.pos().x(), n.pos().y()) for k, n in self.nodes.items()}

    def set_positions(self, positions: dict[NodeKey, Point]) -> None:
        for key, xy in positions.items():
            node = self.nodes.get(key)
            if node is not None:
                node.setPos(QPointF(*xy))

    # ------------------------------------------------------------------ problems

    def set_problems(self, problems: list) -> None:
        """Mark nodes and edges with problems (message on hover)."""
        by_node: dict[NodeKey, list] = {}
        by_edge: dict[tuple[str, str, str], list] = {}
        for p in problems:
            edge_key = self.edge_of_problem(p)
            if edge_key is not None and edge_key in self.edges:
                by_edge.setdefault(edge_key, []).append(p)
                continue
            if p.node is not None and tuple(p.node) in self.nodes:
                by_node.setdefault(tuple(p.node), []).append(p)
        for key, node in self.nodes.items():
            node.set_problems(
                by_node.get(key, [])
                + [p for k, ps in by_edge.items() for p in ps if self._edge_touches(k, key)]
            )
        for key, edge in self.edges.items():
            edge.set_problems(by_edge.get(key, []))

    @staticmethod
    def _edge_touches(edge_key: tuple[str, str, str], node_key: NodeKey) -> bool:
        return node_key == ("worker", edge_key[0])

    def edge_of_problem(self, problem) -> tuple[str, str, str] | None:
        match = _ROLE_LOCATION.match(problem.location)
        if not match or self.setup is None:
            return None
        worker = (
            self.setup.document.get("Workers", {}).get(match["worker"])
            if hasattr(self.setup.document.get("Workers", {}), "get")
            else None
        )
        if not hasattr(worker, "get"):
            return None
        listed = worker.get(match["role"])
        index = int(match["index"])
        if not isinstance(listed, list) or index >= len(listed):
            return None
        return (match["worker"], match["role"], str(listed[index]))

    # ------------------------------------------------------------------ run numbers

    def set_run_stats(self, stats) -> None:
        for key, node in self.nodes.items():
            if stats is None:
                node.set_run(None)
                continue
            if key[0] == "buffer":
                b = getattr(stats, "buffers", {}).get(key[1])
                if b is None:
                    node.set_run(None)
                    continue
                inner = getattr(b, "stats", b)
                node.set_run(
                    {
                        "rate": getattr(b, "rate", None),
                        "fill": getattr(inner, "fill_level", 0.0),
                        "state": getattr(inner, "state", ""),
                        "written": getattr(inner, "events_written", None),
                    }
                )
            else:
                w = getattr(stats, "workers", {}).get(key[1])
                if w is None:
                    node.set_run(None)
                    continue
                node.set_run(
                    {
                        "alive": getattr(w, "alive", 0),
                        "processes": getattr(w, "processes", 1),
                        "failed": bool(getattr(w, "failed", False)),
                        "state": getattr(w, "state", ""),
                        "error": getattr(w, "error", ""),
                    }
                )

    # ------------------------------------------------------------------ connecting by dragging a port

    def start_connection(self, port: Port, pos: QPointF) -> None:
        self._pending_port = port
        self._pending = PendingEdge(port.scenePos())
        self.addItem(self._pending)

    def move_connection(self, pos: QPointF) -> None:
        if self._pending is not None:
            self._pending.set_end(pos)

    def finish_connection(self, pos: QPointF) -> None:
        port = self._pending_port
        if self._pending is not None:
            self.removeItem(self._pending)
        self._pending = None
        self._pending_port = None
        if port is None:
            return
        target = self.node_at(pos)
        if target is None:
            return
        request = self.connection_for(port, target)
        if request is not None:
            self.connection_requested.emit(*request)

    def node_at(self, pos: QPointF) -> NodeItem | None:
        for item in self.items(pos):
            while item is not None and not isinstance(item, NodeItem):
                item = item.parentItem()
            if isinstance(item, NodeItem):
                return item
        return None

    def connection_for(self, port: Port, target: NodeItem) -> tuple[str, str, str] | None:
        """(worker, buffer, role) made by dropping a drag from ``port`` on ``target``; None if none."""
        source = port.node
        if source.kind == target.kind:
            return None
        if source.kind == "worker":
            role = {"in": "sources", "out": "sinks", "observe": "observes"}[port.side]
            return (source.name, target.name, role)
        if port.side == "in":
            return (target.name, source.name, "sinks")
        role = "observes" if self.templates.get(target.name, (None, ""))[1] == "Observer" else "sources"
        return (target.name, source.name, role)

    # ------------------------------------------------------------------ moves

    def mousePressEvent(self, event) -> None:
        self._press_positions = self.positions()
        super().mousePressEvent(event)

    def mouseReleaseEvent(self, event) -> None:
        super().mouseReleaseEvent(event)
        before = self._press_positions
        self._press_positions = None
        if before is None:
            return
        after = self.positions()
        moved = {k: (before[k], after[k]) for k in after if k in before and before[k] != after[k]}
        if moved:
            self.nodes_moved.emit(moved)

    def selected_keys(self) -> list[NodeKey]:
        return [n.key for n in self.selectedItems() if isinstance(n, NodeItem)]

    def selected_edges(self) -> list[Edge]:
        return [e for e in self.selectedItems() if isinstance(e, Edge)]

    def select(self, keys: list[NodeKey]) -> None:
        self.clearSelection()
        for key in keys:
            node = self.nodes.get(tuple(key))
            if node is not None:
                node.setSelected(True)
