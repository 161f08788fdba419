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
    shutil.copy(root / "mimocorb_gui" / "setups" / "simple" / "functions.py", tmp_path)
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
    simple = root / "mimocorb_gui" / "setups" / "simple" / "README.md"
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


# ------------------------------------------------------------------------------ main window

SMALL = """\
# issue-15 test setup: simulated gamma pulses -> pulse heights -> histogram; a scope watches
Buffers:
  raw: {slot_count: 8, data_length: 200, data_dtype: {IN1: float32}}
  heights: {slot_count: 64, data_length: 1, data_dtype: {position: int32, peak_heights: float32}}
Workers:
  source:
    function: simulators.gamma_pulses
    config: {rate: 200, seed: 3}
    sinks: [raw]
  pha:
    function: analyzers.pha
    sources: [raw]
    sinks: [heights]
    config: {channel: IN1, height: 0.05}
  spectrum:
    function: exporters.histogram
    sources: [heights]
    config: {bins: {peak_heights: [0, 2000, 50]}, update_interval: 0.2}
  scope:
    function: observers.oscilloscope
    observes: [raw]
    config: {trigger_level: 100, update_interval: 0.1}
target_directory: runs
"""

WAIT_MS = 40000  # a loaded 2-core machine starts spawned processes slowly


def _write(folder, text=SMALL):
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "setup.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def window(qtbot, tmp_path, no_shm_leak):
    from mimocorb_gui.ui.main_window import MainWindow
    from mimocorb_gui.ui.settings import Settings

    w = MainWindow(settings=Settings(tmp_path / "config" / "settings.json"))
    w.controller.run_root = tmp_path / "runs"
    w.messages = []
    w.inform = lambda title, text: w.messages.append((title, text))
    w.ask = lambda title, text, buttons, default: default
    qtbot.addWidget(w)
    w.resize(1400, 900)
    w.show()
    qtbot.waitExposed(w)
    w.activateWindow()
    qtbot.waitUntil(lambda: w.isActiveWindow(), timeout=5000)
    yield w
    if w.controller.busy:
        w.controller.stop_and_wait(10.0)
    w.controller.shutdown()


def _state(qtbot, w, *states, timeout=WAIT_MS):
    qtbot.waitUntil(lambda: w.controller.state in states, timeout=timeout)


def _key(widget, key, modifier=None):
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    QTest.keyClick(widget, key, modifier or Qt.KeyboardModifier.NoModifier)


def test_1_save_and_undo_keys_work_from_every_dock(qtbot, window, tmp_path):
    from PySide6.QtCore import Qt

    w = window
    path = _write(tmp_path / "keys")
    assert w.open_setup(path)
    original = path.read_text()
    assert w.editor.rename_node("worker", "pha", "heights_from_pulses")  # an edit in the graph
    assert w.is_modified()
    ctrl = Qt.KeyboardModifier.ControlModifier
    # Ctrl+S typed in the log's filter field
    log = w.docks["log"]
    log.search.setFocus()
    qtbot.waitUntil(log.search.hasFocus, timeout=3000)
    _key(log.search, Qt.Key.Key_S, ctrl)
    assert not w.is_modified() and "heights_from_pulses:" in path.read_text()
    # Ctrl+Z with the focus on a plot (the histogram)
    plot = w.docks["histogram:spectrum"].plot_widget
    plot.setFocus()
    qtbot.waitUntil(plot.hasFocus, timeout=3000)
    _key(plot, Qt.Key.Key_Z, ctrl)
    assert "pha" in w.setup.worker_names and w.is_modified()
    # ... and from a dock floating over the window
    log.setFloating(True)
    log.activateWindow()
    log.view.setFocus()
    qtbot.waitUntil(lambda: log.view.hasFocus(), timeout=3000)
    _key(log.view, Qt.Key.Key_S, ctrl)
    assert path.read_text() == original and not w.is_modified()


def test_2_stop_after_and_notes_belong_to_their_setup_and_run(qtbot, window, tmp_path, monkeypatch):
    from PySide6.QtCore import QPoint, Qt, QTime
    from PySide6.QtTest import QTest

    w = window
    a, b = _write(tmp_path / "a"), _write(tmp_path / "b")
    assert w.open_setup(b) and w.open_setup(a)  # recent: a, b
    QTest.mouseClick(w.time_check, Qt.MouseButton.LeftButton, pos=QPoint(6, w.time_check.height() // 2))
    assert w.time_check.isChecked()
    w.time_edit.setTime(QTime(0, 0, 15))
    assert w.measurement_time() == 15.0
    QTest.keyClicks(w.notes, "setup a: HV 1.2 kV")
    # the other setup from File ▸ Open Recent: no measurement time, no notes of setup a
    recent_b = next(
        act for name, act in w.actions.items() if name.startswith("recent:") and str(b) in act.text()
    )
    recent_b.trigger()
    assert w.setup.path == b
    assert not w.time_check.isChecked() and w.measurement_time() is None and w.notes.text() == ""
    _key(w, Qt.Key.Key_F5)
    _state(qtbot, w, "running")
    run_b = w.controller.run_dir
    _key(w, Qt.Key.Key_F5, Qt.KeyboardModifier.ShiftModifier)
    _state(qtbot, w, "finished")
    assert not (run_b / "notes.txt").exists()  # setup a's notes did not go into setup b's run
    # back to setup a: its own "Stop after" again
    recent_a = next(
        act for name, act in w.actions.items() if name.startswith("recent:") and str(a) in act.text()
    )
    recent_a.trigger()
    assert w.setup.path == a and w.time_check.isChecked() and w.measurement_time() == 15.0
    # notes go with one run: saved (a text file, newline at the end) and cleared when it ends
    w.time_check.click()
    QTest.keyClicks(w.notes, "first run")
    _key(w, Qt.Key.Key_F5)
    _state(qtbot, w, "running")
    first = w.controller.run_dir
    _key(w, Qt.Key.Key_F5, Qt.KeyboardModifier.ShiftModifier)
    _state(qtbot, w, "finished")
    assert (first / "notes.txt").read_text() == "first run\n"
    assert w.notes.text() == ""
    # the run directory's link without a file manager: the path is shown to copy
    import mimocorb_gui.ui.run_panel as run_panel

    monkeypatch.setattr(run_panel, "open_url", lambda url: False)
    w.actions["open_run_dir"].trigger()
    assert w.banner.isVisible() and str(first) in w.banner.label.text()
    w.banner.button.click()
    from PySide6.QtGui import QGuiApplication

    assert QGuiApplication.clipboard().text() == str(first)
    run_log = (first / "run.log").read_bytes()
    assert run_log.endswith(b"\n")


def test_3_reset_layout_docks_a_floating_dock_again(qtbot, window, tmp_path):
    from PySide6.QtCore import QPoint, Qt
    from PySide6.QtTest import QTest

    w = window
    assert w.open_setup(_write(tmp_path / "layout"))
    log = w.docks["log"]
    default_area = w.dockWidgetArea(log)
    default_tabs = {d.objectName() for d in w.tabifiedDockWidgets(log)}
    assert {"workers", "buffers"} <= default_tabs
    # double-click on the dock's title bar floats it, as a user does
    QTest.mouseDClick(log, Qt.MouseButton.LeftButton, pos=QPoint(log.width() // 2, 6))
    qtbot.waitUntil(log.isFloating, timeout=3000)
    w.docks["rates"].close()
    w.actions["reset_layout"].trigger()
    assert not log.isFloating() and not log.isHidden()
    assert w.dockWidgetArea(log) == default_area
    assert not w.docks["rates"].isHidden()
    assert {d.objectName() for d in w.tabifiedDockWidgets(log)} == default_tabs


def test_5_start_says_how_many_workers_began_and_the_clock_starts_at_the_first_event(qtbot, window, tmp_path):
    import time

    from PySide6.QtCore import Qt

    w = window
    assert w.open_setup(_write(tmp_path / "startup"))
    shown = []
    sample = lambda: shown.append(w.time_label.text()) or False  # noqa: E731
    t0 = time.monotonic()
    _key(w, Qt.Key.Key_F5)
    sample()
    assert shown[0].startswith("starting ") and shown[0].endswith(" workers…")
    begun, total = w.controller.processes_begun()
    assert total == 4 and shown[0] == f"starting {begun}/4 workers…"
    qtbot.waitUntil(lambda: sample() or w.time_label.text().startswith("run time"), timeout=WAIT_MS)
    first_event_after = time.monotonic() - t0
    assert w.controller.processes_begun() == (4, 4)
    assert w.controller.first_event_seen
    assert all(t.startswith(("starting ", "waiting for the first event", "run time")) for t in shown)
    # the clock counts from the first event, not from Start (spawning took a while)
    assert w.controller.live_time() < time.monotonic() - t0
    assert w.controller.run.elapsed() - w.controller.live_time() > 0.2
    assert "first event" in w.time_label.toolTip()
    _key(w, Qt.Key.Key_F5, Qt.KeyboardModifier.ShiftModifier)
    _state(qtbot, w, "finished")
    assert w.time_label.text().startswith("run time")
    assert first_event_after > 0


def test_6_docks_follow_a_fix_in_the_editor_and_a_failed_run(qtbot, window, tmp_path):
    from PySide6.QtCore import Qt

    w = window
    bad = SMALL.replace("config: {trigger_level: 100, update_interval: 0.1}", "config: {trigger_level: high}")
    assert w.open_setup(_write(tmp_path / "fix", bad))
    assert "cannot show" in w.docks["oscilloscope:scope"].empty.label.text()
    assert w.editor.set_worker_field("scope", "config", {"trigger_level": 100})  # fixed in the editor
    qtbot.waitUntil(lambda: "Start the run" in w.docks["oscilloscope:scope"].empty.label.text(), timeout=5000)
    assert "config error" not in w.docks["oscilloscope:scope"].status.text()
    # a run that fails before the histogram had entries says so, not "Waiting for the first entries"
    (tmp_path / "fix" / "broken.py").write_text(
        "def analyse(buffer_io):\n    raise RuntimeError('the analysis is broken')\n"
    )
    assert w.editor.set_worker_field("pha", "file", "broken.py")
    assert w.editor.set_worker_field("pha", "function", "analyse")
    _key(w, Qt.Key.Key_F5)
    _state(qtbot, w, "failed", timeout=WAIT_MS + 20000)
    hist = w.docks["histogram:spectrum"]
    qtbot.waitUntil(lambda: "failed without entries" in hist.empty.label.text(), timeout=5000)
    assert hist.empty.visible
    assert w.time_label.text() in ("no event came",) or w.time_label.text().startswith("run time")


def test_8_file_new_from_nothing_or_from_an_example(qtbot, window, tmp_path):
    from pathlib import Path

    from PySide6.QtCore import Qt

    from mimocorb_gui.ui.new_setup import example_setups

    w = window
    w.ask_new_setup = lambda start: (None, tmp_path / "mine")
    _key(w, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    assert w.setup is not None and w.setup.path == tmp_path / "mine" / "setup.yaml"
    assert w.setup.worker_names == [] and not w.messages
    assert w.editor.add_buffer("raw")
    w.actions["save"].trigger()
    assert "raw:" in (tmp_path / "mine" / "setup.yaml").read_text()
    # an example as the template: copied with its own files, none of its runs
    simple = next(p for p in example_setups() if p.name == "simple")
    w.ask_new_setup = lambda start: (simple, tmp_path / "from_simple")
    w.actions["new"].trigger()
    assert w.setup.path == tmp_path / "from_simple" / "setup.yaml"
    assert set(w.setup.worker_names) == set(
        __import__("mimocorb_gui.core.setup", fromlist=["Setup"]).Setup.load(simple).worker_names
    )
    assert (tmp_path / "from_simple" / "functions.py").is_file() and not w.has_errors()
    assert not (tmp_path / "from_simple" / "runs").exists()
    # never over an existing setup
    w.actions["new"].trigger()
    assert w.messages and "exists already" in w.messages[-1][1]
    # an empty setup.yaml someone made by hand opens as a new setup
    empty = tmp_path / "by_hand" / "setup.yaml"
    empty.parent.mkdir()
    empty.write_text("# my first setup\n")
    assert w.open_setup(empty) and Path(w.setup.path) == empty
    assert w.setup.worker_names == [] and w.setup.to_text().startswith("# my first setup\n")
    assert w.editor.add_buffer("raw")
    w.actions["save"].trigger()
    assert "raw:" in empty.read_text() and empty.read_text().startswith("# my first setup")


def test_scope_axis_before_the_first_event_shows_zero_and_the_trigger(qtbot):
    import numpy as np

    from mimocorb_gui.ui.docks.oscilloscope import OscilloscopeDock

    dock = OscilloscopeDock("scope", "Pulses", {"trigger_level": 20}, np.dtype([("IN1", "f4")]), 600)
    qtbot.addWidget(dock)
    lo, hi = dock.plot.viewRange()[1]
    assert lo <= 0 and hi >= 20 and hi - lo < 100  # the gamma setup showed 19.6 .. 20.4 keV
