"""Left-to-right layered layout of a setup graph (wrapped into bands to suit the view's shape) and the
side file keeping the user's positions.

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


BAND_GAP = 70.0  # vertical gap between the bands of a wrapped layout


def extent(positions: dict[NodeKey, Point]) -> tuple[float, float, float, float]:
    """The box around the nodes at ``positions``: left, top, width, height."""
    if not positions:
        return 0.0, 0.0, 0.0, 0.0
    left = min(x for x, _ in positions.values())
    top = min(y for _, y in positions.values())
    right = max(x + NODE_WIDTH[k[0]] for k, (x, _) in positions.items())
    bottom = max(y + NODE_HEIGHT[k[0]] for k, (_, y) in positions.items())
    return left, top, right - left, bottom - top


def fit_scale(positions: dict[NodeKey, Point], area: tuple[float, float]) -> float:
    """How much the nodes must shrink (or may grow) to fit ``area`` (width, height)."""
    _, _, width, height = extent(positions)
    if width <= 0 or height <= 0:
        return 1.0
    return min(area[0] / width, area[1] / height)


def _bands(widths: list[float], count: int) -> list[list[int]]:
    """Consecutive columns cut into ``count`` bands of about equal width (indices of the columns)."""
    target = (sum(widths) + COLUMN_GAP * (len(widths) - 1)) / count
    bands: list[list[int]] = [[]]
    used = 0.0
    for i, w in enumerate(widths):
        left_after = len(widths) - i  # columns still to place, this one included
        if bands[-1] and len(bands) < count and (used + w > target or left_after <= count - len(bands)):
            bands.append([])
            used = 0.0
        bands[-1].append(i)
        used += w + COLUMN_GAP
    return bands


def wrap_to_area(positions: dict[NodeKey, Point], area: tuple[float, float]) -> dict[NodeKey, Point]:
    """A left-to-right layout wrapped like text into bands, one below the other, to suit ``area``.

    The columns of ``positions`` (nodes sharing an x) stay together and in order; a band is a run
    of consecutive columns moved to the left edge, below the band before it. The number of bands is
    the one that lets the graph be drawn largest in ``area`` (never larger than 1:1); a graph that
    fits as it is stays one band.
    """
    if not positions or area[0] <= 0 or area[1] <= 0:
        return dict(positions)
    xs = sorted({x for x, _ in positions.values()})
    column_of = {k: xs.index(x) for k, (x, _) in positions.items()}
    widths = [max(NODE_WIDTH[k[0]] for k, c in column_of.items() if c == i) for i in range(len(xs))]
    best, best_scale = dict(positions), min(1.0, fit_scale(positions, area))
    for count in range(2, len(xs) + 1):
        wrapped: dict[NodeKey, Point] = {}
        top = extent(positions)[1]
        for band in _bands(widths, count):
            members = {k: positions[k] for k, c in column_of.items() if c in band}
            left, band_top, _, height = extent(members)
            for k, (x, y) in members.items():
                wrapped[k] = (x - left + xs[0], y - band_top + top)
            top += height + BAND_GAP
        scale = min(1.0, fit_scale(wrapped, area))
        if scale > best_scale * 1.02:  # clearly larger; otherwise fewer bands read more easily
            best, best_scale = wrapped, scale
    return best


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


def _new_file_mode(path: Path) -> int:
    """The mode a file written in place of ``path`` gets: the old file's, else what the umask allows
    (a temporary file is created 0600; the side file is read by others like the setup next to it)."""
    try:
        return path.stat().st_mode & 0o777
    except OSError:
        mask = os.umask(0o022)
        os.umask(mask)
        return 0o666 & ~mask


def save_positions(path: str | Path, positions: dict[NodeKey, Point]) -> Path:
    """Write positions atomically to the side file (same permissions as any file the user creates)."""
    path = Path(path)
    data = {
        "version": LAYOUT_VERSION,
        "nodes": {_key_text(k): [round(x, 1), round(y, 1)] for k, (x, y) in sorted(positions.items())},
    }
    text = json.dumps(data, indent=1) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = _new_file_mode(path)
    fd, tmp = tempfile.mkstemp(prefix=f"{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


Rect = tuple[float, float, float, float]  # x, y, width, height


def _overlaps(a: Rect, b: Rect, gap: float) -> bool:
    return not (
        a[0] + a[2] + gap <= b[0]
        or b[0] + b[2] + gap <= a[0]
        or a[1] + a[3] + gap <= b[1]
        or b[1] + b[3] + gap <= a[1]
    )


def free_offset(group: list[Rect], others: list[Rect], start: Point, gap: float = 16.0) -> Point:
    """A shift for ``group`` (rectangles of nodes to place) near ``start`` where none of them overlaps
    ``others`` (keeping ``gap`` between nodes): the nearest free spot on a grid of node-sized steps
    around ``start`` (below and right first, the way a reader looks on)."""
    if not group:
        return start
    step_x = max(r[2] for r in group) + gap
    step_y = max(r[3] for r in group) + gap

    def free(dx: float, dy: float) -> bool:
        moved = [(x + dx, y + dy, w, h) for x, y, w, h in group]
        return not any(_overlaps(m, o, gap) for m in moved for o in others)

    candidates = [(i, j) for i in range(-6, 7) for j in range(-6, 7)]
    candidates.sort(key=lambda ij: (abs(ij[0]) + abs(ij[1]), ij[1] < 0, ij[0] < 0, abs(ij[1])))
    for i, j in candidates:
        dx, dy = start[0] + i * step_x, start[1] + j * step_y
        if free(dx, dy):
            return dx, dy
    bottom = max(o[1] + o[3] for o in others)  # crowded around start: below everything
    top = min(r[1] for r in group)
    return start[0], bottom + gap - top


LANE = 22.0  # how far a connection that runs back left goes out of its port before it turns


def line_break_route(a: Point, b: Point, obstacles: list[Rect]) -> list[Point]:
    """The corners of a connection from port ``a`` to port ``b`` left of it (a wrapped layout's line
    break): out to the right, down (or up) to a free horizontal lane, left along it, down to ``b``'s
    height, into ``b``. The lane crosses no node of ``obstacles``; of the free lanes between ``a`` and
    ``b`` the one nearest ``b`` is taken (the gap just above the band the connection goes to).
    """
    out_x, in_x = a[0] + LANE, b[0] - LANE
    x0, x1 = min(in_x, out_x), max(in_x, out_x)
    lo, hi = sorted((a[1], b[1]))
    spans = sorted((r[1], r[1] + r[3]) for r in obstacles if r[0] < x1 and r[0] + r[2] > x0)
    gaps: list[tuple[float, float]] = []
    edge = float("-inf")
    for top, bottom in spans:
        if top > edge:
            gaps.append((edge, top))
        edge = max(edge, bottom)
    gaps.append((edge, float("inf")))
    between, beside = [], []  # lanes between a's and b's heights; else just past them (back along a row)
    for g0, g1 in gaps:
        if g1 - g0 < 16:
            continue
        if g0 == float("-inf"):
            y = g1 - 18
        elif g1 == float("inf"):
            y = g0 + 18
        else:
            y = (g0 + g1) / 2
        if lo <= y <= hi:
            between.append(y)
        elif lo - 120 <= y <= hi + 120:
            beside.append(y)
    lanes = between or beside
    lane = min(lanes, key=lambda y: abs(y - b[1])) if lanes else (lo + hi) / 2
    return [a, (out_x, a[1]), (out_x, lane), (in_x, lane), (in_x, b[1]), b]
