"""A long pipeline in the editor stays readable on a small screen: the automatic layout wraps it into
bands to suit the view's shape, an automatic fit never shrinks text below ~9 px (scrollbars instead),
and positions the user saved are kept exactly.

The layout part is Qt-free (``ui.editor.layout``); the view part runs the main window offscreen at
1366×768, a common lab monitor.
"""

from __future__ import annotations

import json
import shutil

import pytest

from mimocorb_gui.core.setup import Setup
from mimocorb_gui.shipped import examples_dir
from mimocorb_gui.ui.editor.layout import (
    NODE_HEIGHT,
    NODE_WIDTH,
    extent,
    fit_scale,
    graph_edges,
    layered_layout,
    layout_path,
    line_break_route,
    wrap_to_area,
)

BUFFER = "{slot_count: 4, data_length: 1, data_dtype: {v: f4}}"


def chain(tmp_path, stages: int) -> Setup:
    """importer -> B0 -> copy1 -> B1 -> ... -> drain: 2 * stages + 1 columns in a row."""
    lines = ["Buffers:"] + [f"  B{i}: {BUFFER}" for i in range(stages)] + ["Workers:"]
    lines.append("  source: {function: simulators.gamma_pulses, sinks: [B0]}")
    for i in range(1, stages):
        lines.append(f"  copy{i}: {{function: misc.copy, sources: [B{i - 1}], sinks: [B{i}]}}")
    lines.append(f"  drain: {{function: exporters.drain, sources: [B{stages - 1}]}}")
    return Setup.from_text("\n".join(lines) + "\n", tmp_path / "setup.yaml")


def rect(key, xy):
    return (xy[0], xy[1], NODE_WIDTH[key[0]], NODE_HEIGHT[key[0]])


def overlapping(positions) -> list:
    items = [rect(k, xy) for k, xy in positions.items()]
    return [
        (a, b)
        for i, a in enumerate(items)
        for b in items[i + 1 :]
        if a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]
    ]


def reads_like_text(setup, positions) -> bool:
    """Every connection goes right within its band, or down to a later band (a line break)."""
    for u, v in graph_edges(setup):
        (xu, yu), (xv, yv) = positions[u], positions[v]
        right = xv > xu and abs(yv - yu) < 2 * max(NODE_HEIGHT.values()) + 200
        if not (right or yv >= yu + NODE_HEIGHT[u[0]]):
            return False
    return True


def test_a_long_chain_wraps_into_bands_that_fit_the_view_better(tmp_path):
    setup = chain(tmp_path, 8)  # 17 columns: about 3400 x 66 in one row
    row = layered_layout(setup)
    area = (1000.0, 600.0)  # a landscape view
    wrapped = wrap_to_area(row, area)
    assert fit_scale(row, area) < 0.35  # one row would be drawn at a third: unreadable
    assert fit_scale(wrapped, area) > 2 * fit_scale(row, area)
    left, top, width, height = extent(wrapped)
    assert width <= area[0] * 1.3 and height > 2 * NODE_HEIGHT["buffer"]  # several bands
    assert overlapping(wrapped) == []
    assert reads_like_text(setup, wrapped)
    # columns stay whole: nodes of one column in the row layout share their x after wrapping
    for x in {xy[0] for xy in row.values()}:
        assert len({wrapped[k][0] for k, xy in row.items() if xy[0] == x}) == 1
    # the start of the data flow is top left
    assert wrapped[("worker", "source")] == (left, min(y for k, (x, y) in wrapped.items() if x == left))


def test_a_graph_that_fits_its_view_stays_one_row(tmp_path):
    setup = chain(tmp_path, 2)
    row = layered_layout(setup)
    assert wrap_to_area(row, (2000.0, 800.0)) == row


@pytest.mark.parametrize(
    "setup_file", sorted(p for p in examples_dir().glob("*/*.yaml") if "Workers" in p.read_text()), ids=str
)
def test_every_shipped_setup_wraps_without_overlaps_at_1366x768(setup_file):
    setup = Setup.load(setup_file)
    row = layered_layout(setup)
    area = (950.0, 420.0)  # about what the editor's view shows at the readable zoom on 1366x768
    wrapped = wrap_to_area(row, area)
    assert overlapping(wrapped) == []
    assert reads_like_text(setup, wrapped)
    assert fit_scale(wrapped, area) >= min(1.0, fit_scale(row, area))
    if fit_scale(row, area) < 0.7:  # the long ones (muon: 9 columns) are wrapped to be drawn larger
        assert fit_scale(wrapped, area) > 1.3 * fit_scale(row, area)


# ---------------------------------------------------------------- in the window (offscreen Qt)


def text_px(view) -> float:
    """Screen pixels of the nodes' smallest text at the view's zoom."""
    from mimocorb_gui.ui.editor.item_style import SMALLEST_TEXT_PT

    return SMALLEST_TEXT_PT * view.logicalDpiY() / 72.0 * view.zoom()


@pytest.fixture
def small_window(qtbot, tmp_path):
    from mimocorb_gui.ui.main_window import MainWindow
    from mimocorb_gui.ui.settings import Settings

    w = MainWindow(settings=Settings(tmp_path / "config" / "settings.json"))
    w.ask = lambda title, text, buttons, default: default
    w.inform = lambda title, text: None
    qtbot.addWidget(w)
    w.resize(1366, 768 - 60)  # the screen less a panel and the title bar
    w.show()
    qtbot.waitExposed(w)
    yield w
    w.controller.shutdown()


def muon_copy(tmp_path):
    dst = tmp_path / "muon_lifetime"
    shutil.copytree(
        examples_dir() / "muon_lifetime", dst, ignore=shutil.ignore_patterns("runs", ".*.layout.json")
    )
    return dst / "setup.yaml"


def test_muon_graph_is_readable_on_a_1366x768_screen(qtbot, small_window, tmp_path):
    w = small_window
    assert w.open_setup(muon_copy(tmp_path))
    view = w.editor.view
    qtbot.waitUntil(lambda: view.fitted and text_px(view) >= 8.95, timeout=3000)
    shown = view.mapToScene(view.viewport().rect()).boundingRect()
    source = w.editor.scene.nodes[("worker", "detector")].sceneBoundingRect()
    assert shown.contains(source)  # the reader starts where the data starts
    wrapped = {k: n.pos() for k, n in w.editor.scene.nodes.items()}
    assert len({round(p.y()) for p in wrapped.values()}) > 3  # not one long row
    # Fit to View (Ctrl+0) still shows the whole graph, smaller
    w.editor.actions["fit"].trigger()
    shown = view.mapToScene(view.viewport().rect()).boundingRect()
    assert all(shown.contains(n.sceneBoundingRect()) for n in w.editor.scene.nodes.values())
    assert not layout_path(w.setup.path).exists()  # nothing placed by hand: no side file


def test_saved_positions_are_kept_exactly_and_shown_readable_with_scrollbars(qtbot, small_window, tmp_path):
    w = small_window
    path = muon_copy(tmp_path)
    setup = Setup.load(path)
    nodes = [("buffer", b) for b in setup.buffer_names] + [("worker", n) for n in setup.worker_names]
    saved = {f"{k}:{n}": [300.0 * i, 40.0 * (i % 2)] for i, (k, n) in enumerate(nodes)}  # one long row
    layout_path(path).write_text(json.dumps({"version": 1, "nodes": saved}), encoding="utf-8")
    assert w.open_setup(path)
    view = w.editor.view
    qtbot.waitUntil(lambda: view.fitted and text_px(view) >= 8.95, timeout=3000)
    assert view.horizontalScrollBar().isVisible()  # the rest of the row is a scroll away
    w.resize(1200, 700)
    qtbot.wait(50)
    w.showMaximized()
    qtbot.wait(100)
    positions = {f"{k}:{n}": [p[0], p[1]] for (k, n), p in w.editor.scene.positions().items()}
    assert positions == saved  # the user's arrangement, untouched by resizing
    assert text_px(view) >= 8.95


def test_a_line_break_connection_runs_along_a_lane_that_crosses_no_node(tmp_path):
    setup = chain(tmp_path, 8)
    wrapped = wrap_to_area(layered_layout(setup), (1000.0, 600.0))
    rects = [rect(k, xy) for k, xy in wrapped.items()]
    breaks = 0
    for u, v in graph_edges(setup):
        a = (wrapped[u][0] + NODE_WIDTH[u[0]], wrapped[u][1] + NODE_HEIGHT[u[0]] / 2)  # out port
        b = (wrapped[v][0], wrapped[v][1] + NODE_HEIGHT[v[0]] / 2)  # in port
        if b[0] >= a[0]:
            continue
        breaks += 1
        corners = line_break_route(a, b, rects)
        assert corners[0] == a and corners[-1] == b
        (x0, lane), (x1, lane_end) = corners[2], corners[3]
        assert lane == lane_end and x1 < b[0] < a[0] < x0  # out right of a, in left of b
        assert not any(r[1] <= lane <= r[1] + r[3] and r[0] < x0 and r[0] + r[2] > x1 for r in rects)
        assert a[1] < lane < b[1]  # between the two bands
        for (xa, ya), (xb, yb) in zip(corners, corners[1:], strict=False):
            assert xa == xb or ya == yb  # straight runs, turned at right angles
    assert breaks >= 1


@pytest.mark.parametrize(
    "name", ["simple", "muon_lifetime", "gamma_spectroscopy", "replay", "redpitaya_demo"]
)
def test_the_window_fits_a_1366x768_screen_with_every_example(qtbot, small_window, tmp_path, name):
    """Nothing cut off: the window can be as small as the screen less a title bar and a panel (the
    docks' tool rows side by side were 1473-1690 px; the welcome page's height counted while hidden)."""
    w = small_window
    dst = tmp_path / name
    shutil.copytree(examples_dir() / name, dst, ignore=shutil.ignore_patterns("runs", ".*.layout.json"))
    assert w.open_setup(dst / "setup.yaml")
    qtbot.wait(50)
    need = w.minimumSizeHint()
    assert need.width() <= 1366 and need.height() <= 768 - 24 - 32, (
        need.width(),
        need.height(),
    )  # title bar, panel
