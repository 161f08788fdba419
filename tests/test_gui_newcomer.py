"""What got in a newcomer's way (issue 15), each as a user meets it: docks that cut text, a log out of
order, a start that looked instant, shortcuts that did nothing from a dock, state leaking between setups.

Offscreen Qt. Commands go through the named actions and key events (QTest), not method calls.
"""

from __future__ import annotations

import logging

import pytest

from mimocorb_gui.core.run import LogEntry
from mimocorb_gui.ui.docks.buffers import BuffersDock
from mimocorb_gui.ui.docks.log import LogDock
from mimocorb_gui.ui.docks.workers import WorkersDock

pytestmark = pytest.mark.timeout(120)


# ---------------------------------------------------------------------------------------------- log


def test_log_shows_lines_in_time_order_though_they_arrive_late(qtbot):
    dock = LogDock(["source"])
    qtbot.addWidget(dock)
    dock.level_box.setCurrentIndex(0)
    dock.add_entries([LogEntry(10.0, "run", "INFO", logging.INFO, "run started")])
    dock.add_entries([LogEntry(12.0, "run", "INFO", logging.INFO, "stop requested")])
    # a worker's lines come through a queue: they arrive after the run's own later line
    dock.add_entries(
        [
            LogEntry(11.5, "source", "INFO", logging.INFO, "second"),
            LogEntry(11.0, "source", "DEBUG", logging.DEBUG, "first"),
            LogEntry(13.0, "run", "INFO", logging.INFO, "run finished"),
        ]
    )
    assert dock.visible_messages() == ["run started", "first", "second", "stop requested", "run finished"]
    times = [dock.proxy.index(r, 0).data() for r in range(dock.proxy.rowCount())]
    assert times == sorted(times)


def test_debug_lines_hidden_by_default(qtbot):
    dock = LogDock(["source"])
    qtbot.addWidget(dock)
    dock.add_entries(
        [
            LogEntry(1.0, "source", "DEBUG", logging.DEBUG, "config keys ['x'] are not used"),
            LogEntry(2.0, "source", "INFO", logging.INFO, "running"),
        ]
    )
    assert dock.visible_messages() == ["running"]
    assert dock.settings() == {"level": logging.INFO}


def test_traceback_gets_room_in_the_detail_pane(qtbot):
    dock = LogDock(["analysis"])
    qtbot.addWidget(dock)
    dock.resize(420, 420)
    dock.show()
    qtbot.waitExposed(dock)
    tb = "ZeroDivisionError: x\nTraceback (most recent call last):\n" + "".join(
        f'  File "f.py", line {i}, in g\n    y = 1 / 0\n' for i in range(6)
    )
    dock.add_entries([LogEntry(1.0, "analysis", "ERROR", logging.ERROR, tb)])
    before = dock.detail.height()
    assert dock.select_last_error()
    line = dock.detail.fontMetrics().lineSpacing()
    assert dock.detail.height() >= 10 * line > before  # not three lines any more
    assert dock.view.height() >= 2 * line  # the table keeps some rows


# ------------------------------------------------------------------------------------ tables


class _Spec:
    def __init__(self, slot_count=1024, function="exporters.histogram", file="", n=1):
        self.slot_count = slot_count
        self.data_length = 1
        self.data_dtype = {"x": "float32"}
        self.function = function
        self.file = file
        self.number_of_processes = n


def _texts_fit(view) -> list[str]:
    """Cells whose text is wider than their column (what Qt draws as '104,9…')."""
    fm = view.fontMetrics()
    model = view.model()
    cut = []
    for row in range(model.rowCount()):
        for col in range(model.columnCount() - 1):  # the last column stretches
            text = model.data(model.index(row, col))
            if text and fm.horizontalAdvance(str(text)) + 6 > view.columnWidth(col):
                cut.append(f"{col}: {text}")
    return cut


def test_buffer_and_worker_columns_hold_long_run_numbers(qtbot):
    from types import SimpleNamespace as NS

    buffers = BuffersDock({"PulseParameters": _Spec()})
    qtbot.addWidget(buffers)
    buffers.resize(500, 200)
    buffers.show()
    stats = NS(
        filled=1000, slot_count=1024, events_written=104_987_654, events_read=104_987_000,
        dropped_paused=12_345_678, dropped_aborted=0, paused=False, closed=False, aborted=False,
        fill_level=0.97,
    )  # fmt: skip
    buffers.model.set_stats(
        {"PulseParameters": NS(stats=stats, rate=12_345.6, deadtime_fraction=1.0, root=True)}
    )
    assert _texts_fit(buffers.view) == []

    workers = WorkersDock({"lifetime_filter": _Spec(function="find_decays", file="lifetime_filter.py", n=10)})
    qtbot.addWidget(workers)
    workers.show()
    ws = NS(alive=10, processes=10, cpu_percent=100.0, state="not started", error="", failed=False)
    workers.model.set_stats({"lifetime_filter": ws})
    assert _texts_fit(workers.view) == []
    assert workers.view.columnWidth(4) >= workers.view.fontMetrics().horizontalAdvance("not started")


# ------------------------------------------------------------------------------------ editor


@pytest.fixture
def muon_editor(qtbot, tmp_path):
    import shutil
    from pathlib import Path

    from mimocorb_gui.core.setup import Setup
    from mimocorb_gui.ui.editor import GraphEditor

    src = Path(__file__).resolve().parent / "data" / "setups" / "muon_lifetime"
    dst = tmp_path / "muon"
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("runs", ".*.layout.json", "__pycache__"))
    editor = GraphEditor()
    qtbot.addWidget(editor)
    editor.resize(1300, 760)
    editor.show()
    qtbot.waitExposed(editor)
    editor.set_setup(Setup.load(dst / "setup.yaml"))
    return editor


def _overlapping(editor) -> list[tuple]:
    nodes = list(editor.scene.nodes.items())
    pairs = []
    for i, (ka, a) in enumerate(nodes):
        for kb, b in nodes[i + 1 :]:
            if a.sceneBoundingRect().adjusted(4, 4, -4, -4).intersects(b.sceneBoundingRect()):
                pairs.append((ka, kb))
    return pairs


def _in_view(editor, key) -> bool:
    view = editor.view
    shown = view.mapToScene(view.viewport().rect()).boundingRect()
    return shown.contains(editor.scene.nodes[key].sceneBoundingRect())


def test_pasted_nodes_land_clear_of_others_and_in_view(muon_editor):
    from PySide6.QtCore import QPointF

    e = muon_editor
    assert _overlapping(e) == []
    e.view.centerOn(QPointF(0, 0))
    e.scene.select([("worker", "pulse_heights"), ("buffer", "PulseHeights")])
    e.actions["copy"].trigger()
    e.actions["paste"].trigger()
    e.actions["paste"].trigger()  # twice: the second copy must not cover the first either
    pasted = [k for k in e.scene.nodes if k[1].startswith(("pulse_heights_copy", "PulseHeights_copy"))]
    assert len(pasted) == 4
    assert _overlapping(e) == []
    assert all(_in_view(e, k) for k in e.scene.selected_keys())


def test_worker_from_my_file_lands_clear_of_others_and_in_view(muon_editor, monkeypatch):
    e = muon_editor
    node = e.scene.nodes[("worker", "lifetime_filter")]
    e.view.centerOn(node)  # the spot in the middle of the view is taken
    monkeypatch.setattr(e, "ask_open_file", lambda *a: str(e.setup.setup_dir / "lifetime_filter.py"))
    monkeypatch.setattr(e, "ask_item", lambda title, label, items: "print_decays")
    e.actions["add_worker_from_file"].trigger()
    assert ("worker", "print_decays") in e.scene.nodes
    assert _overlapping(e) == []
    assert _in_view(e, ("worker", "print_decays"))
    assert "number_of_processes" not in e.setup.to_text().split("print_decays:")[1]
    assert "sinks: []" not in e.setup.to_text()


def test_a_connection_is_hit_a_few_pixels_off_its_line(muon_editor):
    from PySide6.QtCore import QPoint, Qt
    from PySide6.QtTest import QTest

    e = muon_editor
    e.actions["fit"].trigger()
    edge = e.scene.edges[("lifetime_filter", "sinks", "AcceptedPulses")]
    path = edge.path()
    mid = path.pointAtPercent(0.5)
    angle = path.angleAtPercent(0.5)
    import math

    normal = (math.sin(math.radians(angle)), math.cos(math.radians(angle)))  # scene y points down
    at = e.view.mapFromScene(mid) + QPoint(round(5 * normal[0]), round(5 * normal[1]))  # 5 px beside it
    e.scene.clearSelection()
    QTest.mouseClick(e.view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, at)
    assert edge.isSelected()


def test_missing_connections_are_errors_for_prebuilt_and_own_functions(tmp_path):
    import shutil
    from pathlib import Path

    from mimocorb_gui.core.setup import Setup

    root = Path(__file__).resolve().parent.parent
    shutil.copy(root / "setups" / "simple" / "functions.py", tmp_path)
    (tmp_path / "setup.yaml").write_text(
        "Buffers:\n"
        "  a: {slot_count: 4, data_length: 500, data_dtype: {IN1: float32}}\n"
        "Workers:\n"
        "  src: {function: simulators.gamma_pulses, sinks: [a]}\n"
        "  mine: {file: functions.py, function: threshold_filter}\n"
        "  theirs: {function: misc.copy}\n"
        "  drain: {function: exporters.drain, sources: [a]}\n"
    )
    problems = Setup.load(tmp_path / "setup.yaml").validate()
    severity = {p.location.split(".")[1]: p.severity for p in problems if p.location.endswith(".sources")}
    assert severity == {"mine": "error", "theirs": "error"}


# -------------------------------------------------------------------------------- user guide


def test_user_guide_shows_the_readme_for_users_and_the_setups_readmes(qtbot):
    from pathlib import Path

    from PySide6.QtCore import QUrl

    from mimocorb_gui.ui.user_guide import UserGuide, user_sections

    root = Path(__file__).resolve().parent.parent
    readme = (root / "README.md").read_text(encoding="utf-8")
    guide = UserGuide()
    qtbot.addWidget(guide)
    guide.show()
    titles = [guide.contents.item(i).text().strip() for i in range(guide.contents.count())]
    assert "The graph editor" in titles and "The main window" in titles
    assert "Development" not in titles and "Performance" not in titles
    assert "## Development" in readme and "## Development" not in user_sections(readme)
    assert "## Performance" not in guide.markdown
    assert "Start" in guide.text()
    assert guide.scroll_to("The graph editor")
    assert guide.browser.verticalScrollBar().value() > 0
    # the link to an example setup's README (as a click on it delivers it) opens it here; Back returns
    simple = root / "setups" / "simple" / "README.md"
    assert simple.name in guide.markdown or "simple" in guide.markdown
    guide.browser.anchorClicked.emit(QUrl.fromLocalFile(str(simple)))
    first_line = simple.read_text(encoding="utf-8").splitlines()[0].lstrip("# ").strip()
    assert guide.text().startswith(first_line)
    assert guide.back_button.isEnabled()
    guide.back_button.click()
    assert "The graph editor" in guide.text() and not guide.back_button.isEnabled()


def test_user_guide_leaves_out_developer_sections_but_not_code_blocks():
    from mimocorb_gui.ui.user_guide import user_sections

    text = "# T\nintro\n## Using it\n```\n## not a heading\n```\nuse\n## Development\nmake\n### Sub\nx\n## Red Pitaya\nrp\n"
    assert (
        user_sections(text) == "# T\nintro\n## Using it\n```\n## not a heading\n```\nuse\n## Red Pitaya\nrp\n"
    )
