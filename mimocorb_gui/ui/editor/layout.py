"""Left-to-right layered layout of a setup graph and the side file keeping the user's positions.

No Qt here: positions are plain ``(x, y)`` tuples of a node's top-left corner, keyed by
``(kind, name)`` with kind ``'buffer'`` or ``'worker'``.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

NodeKey = tuple[str, str]
Point = tuple[float, float]

COLUMN_GAP = 46.0  # horizontal gap between layers
ROW_GAP = 30.0  # vertical gap between nodes of one layer
NODE_WIDTH = {"buffer": 150.0, "worker": 156.0}
NODE_HEIGHT = {"buffer": 66.0, "worker": 66.0}
LAYOUT_VERSION = 1


def layout_path(setup_path: str | Path) -> Path:
    """The side file next to the setup: ``.<setup-stem>.layout.json``."""
    setup_path = Path(setup_path)
    return setup_path.with_name(f".{setup_path.stem}.layout.json")


def graph_edges(setup) -> list[tuple[NodeKey, NodeKey]]:
    """Directed edges in data-flow direction: source/observed buffer -> worker -> sink buffer."""
    buffers = set(setup.buffer_names)
    edges = []
    for name, worker in setup.workers.items():
        w = ("worker", name)
        for b in worker.sources + worker.observes:
            if b in buffers:
                edges.append((("buffer", b), w))
        for b in worker.sinks:
            if b in buffers:
                edges.append((w, ("buffer", b)))
    return edges


def layers(setup) -> dict[NodeKey, int]:
    """Longest-path layering: importers in layer 0, everything right of what feeds it.

    Exporters end their chain, so they sit right of their source; they are not all pushed to the
    last column, which would draw long edges across the graph (through other nodes).
    """
    nodes = [("buffer", b) for b in setup.buffer_names] + [("worker", w) for w in setup.worker_names]
    edges = graph_edges(setup)
    layer = dict.fromkeys(nodes, 0)
    for _ in range(len(nodes)):  # bounded: a cycle cannot push layers forever
        changed = False
        for u, v in edges:
            if layer[v] < layer[u] + 1:
                layer[v] = layer[u] + 1
                changed = True
        if not changed:
            break
    # buffers nobody writes sit just before their first reader
    writers = {v for u, v in edges if u[0] == "worker"}
    for key in nodes:
        if key[0] == "buffer" and key not in writers:
            readers = [layer[v] for u, v in edges if u == key]
            if readers:
                layer[key] = max(0, min(readers) - 1)
    return layer


def layered_layout(setup) -> dict[NodeKey, Point]:
    """Top-left positions for every node: columns by layer, rows ordered to reduce crossings."""
    layer = layers(setup)
    edges = graph_edges(setup)
    preds: dict[NodeKey, list[NodeKey]] = {k: [] for k in layer}
    succs: dict[NodeKey, list[NodeKey]] = {k: [] for k in layer}
    for u, v in edges:
        preds[v].append(u)
        succs[u].append(v)
    columns: dict[int, list[NodeKey]] = {}
    for key in layer:  # file order first: buffers, then workers
        columns.setdefault(layer[key], []).append(key)
    order = sorted(columns)
    # barycenter sweeps (down and up) on row indices
    index = {k: i for col in columns.values() for i, k in enumerate(col)}
    for sweep in range(4):
        seq = order if sweep % 2 == 0 else list(reversed(order))
        for c in seq:
            col = columns[c]
            nbrs = preds if sweep % 2 == 0 else succs

            def bary(k: NodeKey, nbrs=nbrs) -> float:
                ns = [index[n] for n in nbrs[k] if layer[n] != layer[k]]
                return sum(ns) / len(ns) if ns else index[k]

            col.sort(key=lambda k: (bary(k), index[k]))
            for i, k in enumerate(col):
                index[k] = i
    # x: columns as wide as their widest node
    xs: dict[int, float] = {}
    x = 0.0
    for c in order:
        xs[c] = x
        x += max(NODE_WIDTH[k[0]] for k in columns[c]) + COLUMN_GAP
    # y: each column pulled towards its neighbours on the left, then roots towards their right side
    pos: dict[NodeKey, Point] = {}

    def stack(col: list[NodeKey], wanted: list[float]) -> None:
        placed: list[float] = []
        for i, (k, want) in enumerate(zip(col, wanted, strict=True)):
            top = want
            if placed:
                top = max(top, placed[-1] + NODE_HEIGHT[col[i - 1][0]] + ROW_GAP)
            placed.append(top)
            pos[k] = (xs[layer[k]], top)

    for c in order:
        col = columns[c]
        wanted, y = [], 0.0
        for k in col:
            ns = [pos[n][1] for n in preds[k] if n in pos and layer[n] < layer[k]]
            wanted.append(sum(ns) / len(ns) if ns else y)
            y = wanted[-1] + NODE_HEIGHT[k[0]] + ROW_GAP
        stack(col, wanted)
    for c in reversed(order):
        col = columns[c]
        if any(preds[k] for k in col):
            continue
        wanted = []
        for k in col:
            ns = [pos[n][1] for n in succs[k] if layer[n] > layer[k]]
            wanted.append(sum(ns) / len(ns) if ns else pos[k][1])
        col.sort(key=lambda k, w=dict(zip(col, wanted, strict=True)): w[k])
        stack(col, sorted(wanted))
    return pos


def _key_text(key: NodeKey) -> str:
    return f"{key[0]}:{key[1]}"


def load_positions(path: str | Path) -> dict[NodeKey, Point]:
    """Positions saved in a side file; an unreadable file gives no positions."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        nodes = data.get("nodes", {})
        result = {}
        for text, xy in nodes.items():
            kind, _, name = str(text).partition(":")
            if kind in ("buffer", "worker") and name and len(xy) == 2:
                result[(kind, name)] = (float(xy[0]), float(xy[1]))
        return result
    except (OSError, ValueError, TypeError, AttributeError):
        return {}


def save_positions(path: str | Path, positions: dict[NodeKey, Point]) -> Path:
    """Write positions atomically to the side file."""
    path = Path(path)
    data = {
        "version": LAYOUT_VERSION,
        "nodes": {_key_text(k): [round(x, 1), round(y, 1)] for k, (x, y) in sorted(positions.items())},
    }
    text = json.dumps(data, indent=1) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f"{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path
