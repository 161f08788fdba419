"""Graph editor: shows setups, edits them through undo commands, validates live, saves round trip."""

from __future__ import annotations

import difflib
import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from mimocorb_gui.core.setup import Setup
from mimocorb_gui.shipped import examples_dir
from mimocorb_gui.ui.editor import GraphEditor
from mimocorb_gui.ui.editor.item_style import ERROR_COLOR, WARNING_COLOR
from mimocorb_gui.ui.editor.layout import layered_layout, layout_path

ROOT = Path(__file__).resolve().parent.parent
MUON_DIR = ROOT / "tests" / "data" / "setups" / "muon_lifetime"
SETUP_FILES = sorted(
    p
    for base in (examples_dir(), ROOT / "tests" / "data" / "setups")
    for p in base.glob("*/setup.yaml")
    if p.is_file()
)

# a hand-written setup full of comments, anchors, aliases, merge keys, quotes and flow styles
HANDWRITTEN = """\
# Hand-written setup: every YAML feature a student might use.
# (the editor must not touch any of this unless it is edited)

defaults: &defaults   # an anchor on a template
  slot_count: 16
  data_length: 8      # samples
shared_dtype: &dt {x: float32, 'y': "float64"}

Buffers:
  # raw data
  Raw:
    <<: *defaults
    data_dtype: *dt
  Copy: {slot_count: 16, data_length: 8, data_dtype: *dt}   # flow style
  Unread:
    slot_count: 4     # nobody reads this one (a warning)
    data_length: 1
    data_dtype:
      value: 'int32'

Workers:
  source:   # the importer
    function: simulators.gamma_pulses
    config: {rate: 0, number_of_events: 5}
    sinks: [Raw]
  copier:
    function: misc.copy
    sources: [Raw]
    sinks:
      - Copy     # first sink
    number_of_processes: 1
  drain:
    function: exporters.drain
    sources: [Copy]

target_directory: "runs"   # quoted on purpose
"""


def copy_setup(src: Path, tmp_path: Path) -> Path:
    """A private copy of a setup folder (the editor writes next to the setup)."""
    dst = tmp_path / src.parent.name
    shutil.copytree(src.parent, dst, ignore=shutil.ignore_patterns("runs", ".*.layout.json", "__pycache__"))
    return dst / src.name


@pytest.fixture
def editor(qtbot):
    widget = GraphEditor()
    qtbot.addWidget(widget)
    widget.resize(1300, 760)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


@pytest.fixture
def muon(tmp_path, editor):
    path = copy_setup(MUON_DIR / "setup.yaml", tmp_path)
    editor.set_setup(Setup.load(path))
    return editor


def drop(editor, mime, scene_pos: QPointF):
    """Deliver a palette drag's mime data to the view at ``scene_pos``, as Qt does on a drop."""
    vp = editor.view.viewport()
    editor.view.centerOn(scene_pos)
    pos = editor.view.mapFromScene(scene_pos)
    copy, left, none = Qt.DropAction.CopyAction, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    enter = QDragEnterEvent(pos, copy, mime, left, none)
    QApplication.sendEvent(vp, enter)
    assert enter.isAccepted()
    QApplication.sendEvent(vp, QDragMoveEvent(pos, copy, mime, left, none))
    event = QDropEvent(QPointF(pos), copy, mime, left, none)
    QApplication.sendEvent(vp, event)
    assert event.isAccepted()


def node_center_in_view(editor, item):
    return editor.view.mapFromScene(item.sceneBoundingRect().center())


def drag_port(qtbot, editor, port, target):
    """Drag with the mouse from ``port`` to the node ``target`` (what a user does to connect)."""
    vp = editor.view.viewport()
    editor.view.centerOn(port)
    start = editor.view.mapFromScene(port.scenePos())
    end = node_center_in_view(editor, target)
    QTest.mousePress(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)
    mid = (start + end) / 2
    QTest.mouseMove(vp, mid)
    QTest.mouseMove(vp, end)
    QTest.mouseRelease(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, end)


# =========================================================================== showing a setup


def test_muon_setup_shows_every_buffer_worker_and_connection(muon):
    setup = muon.setup
    assert set(muon.scene.nodes) == {("buffer", b) for b in setup.buffer_names} | {
        ("worker", w) for w in setup.worker_names
    }
    expected = {
        (w, r, b)
        for w, spec in setup.workers.items()
        for r in ("sources", "sinks", "observes")
        for b in getattr(spec, r)
    }
    assert set(muon.scene.edges) == expected
    assert not muon.has_errors() and muon.problems() == []
    assert muon.undo_stack.isClean()
    assert muon.scene.nodes[("worker", "source")].template == "Importer"


def test_layout_runs_left_to_right_importers_left_exporters_at_the_end_of_their_chain(qtbot, muon):
    muon.resize(
        2800, 900
    )  # room for the whole chain in one band (a narrower view wraps it: test_editor_wrap)
    qtbot.waitUntil(lambda: muon.scene.nodes[("worker", "save_heights")].pos().x() > 1000, timeout=3000)
    pos = {k: n.pos() for k, n in muon.scene.nodes.items()}
    x = {k: p.x() for k, p in pos.items()}
    assert x[("worker", "source")] == min(x.values())
    assert x[("worker", "save_heights")] == max(x.values())  # the end of the longest chain
    for w, role, b in muon.scene.edges:  # data flows to the right
        if role == "sinks":
            assert x[("buffer", b)] > x[("worker", w)]
        else:
            assert x[("buffer", b)] < x[("worker", w)]
    rects = [n.sceneBoundingRect() for n in muon.scene.nodes.values()]
    for i, a in enumerate(rects):  # no two nodes overlap
        assert not any(a.intersects(b) for b in rects[i + 1 :])


def test_layout_survives_cycles_and_unconnected_nodes(tmp_path):
    setup = Setup.from_text(
        "Buffers:\n  A: {slot_count: 4, data_length: 1, data_dtype: {v: f4}}\n"
        "  B: {slot_count: 4, data_length: 1, data_dtype: {v: f4}}\n"
        "  Lonely: {slot_count: 4, data_length: 1, data_dtype: {v: f4}}\n"
        "Workers:\n  w: {function: misc.copy, sources: [A], sinks: [B]}\n"
        "  back: {function: misc.copy, sources: [B], sinks: [A]}\n",
        tmp_path / "setup.yaml",
    )
    pos = layered_layout(setup)
    assert len(pos) == 5 and len(set(pos.values())) == 5


# =========================================================================== undo of every kind of edit


def _edits(editor, qtbot, monkeypatch, tmp_path):
    """(name, action) pairs covering every kind of edit, each done the way a user does it."""
    scene = editor.scene
    props = editor.properties

    def select(kind, name):
        editor.select_node(kind, name)
        props._refresh_now()  # the panel refreshes on the next event loop turn

    def drop_buffer():
        drop(editor, editor.palette.mime_for("Buffer"), QPointF(100, 400))

    def drop_worker():
        drop(editor, editor.palette.mime_for("exporters.drain"), QPointF(400, 400))

    def delete_buffer():
        select("buffer", "DecayTimes")
        editor.actions["delete"].trigger()

    def delete_worker():
        select("worker", "save_heights")
        editor.actions["delete"].trigger()

    def delete_edge():
        scene.clearSelection()
        scene.edges[("pulse_heights", "sinks", "PulseHeights")].setSelected(True)
        editor.actions["delete"].trigger()

    def rename(kind, old, new):
        def run():
            select(kind, old)
            monkeypatch.setattr(editor, "ask_text", lambda *a: new)
            editor.actions["rename"].trigger()

        return run

    def slot_count():
        select("buffer", "AcceptedPulses")
        props.slot_count.setValue(48)

    def dtype_field():
        select("buffer", "PulseHeights")
        props.dtype_table.item(0, 1).setText("int64")

    def add_field():
        select("buffer", "DecayTimes")
        props.add_field_button.click()

    def processes():
        select("worker", "lifetime_filter")
        props.processes.setValue(3)

    def function():
        select("worker", "save_heights")
        props.function_combo.setCurrentText("exporters.drain")
        props.function_combo.lineEdit().editingFinished.emit()

    def file():
        select("worker", "save_decays")
        props.file_edit.setText("pulse_tools.py")
        props.file_edit.editingFinished.emit()

    def config_set():
        select("worker", "lifetime_filter")
        assert props.set_config_value("min_delay_samples", "70")

    def config_remove():
        select("worker", "lifetime_filter")
        assert props.set_config_value("min_height", "")

    def config_new_key():
        select("worker", "source")
        last = props.config_table.rowCount() - 1
        props.config_table.item(last, 0).setText("number_of_events")

    def connect_port():
        drag_port(
            qtbot,
            editor,
            scene.nodes[("worker", "save_decays")].in_port,
            scene.nodes[("buffer", "PulseHeights")],
        )

    def target_directory():
        editor.scene.clearSelection()
        props._refresh_now()
        props.target_edit.setText("elsewhere")
        props.target_edit.editingFinished.emit()

    def paste():
        editor.scene.select([("worker", "pulse_heights"), ("buffer", "PulseHeights")])
        editor.actions["copy"].trigger()
        editor.actions["paste"].trigger()

    def from_file():
        monkeypatch.setattr(
            editor, "ask_open_file", lambda *a: str(editor.setup.setup_dir / "lifetime_filter.py")
        )
        monkeypatch.setattr(editor, "ask_item", lambda title, label, items: "print_decays")
        editor.actions["add_worker_from_file"].trigger()

    return [
        ("drop buffer", drop_buffer),
        ("drop worker", drop_worker),
        ("delete buffer", delete_buffer),
        ("delete worker", delete_worker),
        ("delete edge", delete_edge),
        ("rename buffer", rename("buffer", "RawPulses", "Waveforms")),
        ("rename worker", rename("worker", "lifetime_filter", "decay_finder")),
        ("slot_count", slot_count),
        ("dtype field", dtype_field),
        ("add dtype field", add_field),
        ("processes", processes),
        ("function", function),
        ("file", file),
        ("config set", config_set),
        ("config remove", config_remove),
        ("config new key", config_new_key),
        ("connect by port drag", connect_port),
        ("target_directory", target_directory),
        ("paste", paste),
        ("worker from file", from_file),
    ]


def test_undo_of_every_kind_of_edit_restores_the_exact_model(muon, qtbot, monkeypatch, tmp_path):
    setup = muon.setup
    for name, edit in _edits(muon, qtbot, monkeypatch, tmp_path):
        before = setup.to_text()
        nodes_before = set(muon.scene.nodes)
        depth = muon.undo_stack.index()
        edit()
        after = setup.to_text()
        assert after != before, f"{name}: nothing changed"
        assert muon.undo_stack.index() == depth + 1, f"{name}: not exactly one undo step"
        muon.actions["undo"].trigger()
        assert setup.to_text() == before, f"{name}: undo did not restore the model"
        assert set(muon.scene.nodes) == nodes_before, f"{name}: undo did not restore the graph"
        muon.actions["redo"].trigger()
        assert setup.to_text() == after, f"{name}: redo did not redo"
        muon.actions["undo"].trigger()
    assert muon.undo_stack.index() == 0
    assert setup.to_text() == (MUON_DIR / "setup.yaml").read_text()


def test_rename_makes_references_follow_and_keeps_the_node(muon, monkeypatch):
    node = muon.scene.nodes[("buffer", "AcceptedPulses")]
    pos = node.pos()
    muon.select_node("buffer", "AcceptedPulses")
    monkeypatch.setattr(muon, "ask_text", lambda *a: "Accepted")
    muon.actions["rename"].trigger()
    assert muon.setup.workers["lifetime_filter"].sinks == ["Accepted", "DecayTimes"]
    assert muon.setup.workers["pulse_heights"].sources == ["Accepted"]
    assert muon.scene.nodes[("buffer", "Accepted")] is node and node.pos() == pos
    assert ("lifetime_filter", "sinks", "Accepted") in muon.scene.edges
    assert not muon.has_errors()


def test_refused_edit_changes_nothing_and_tells_why(muon, qtbot):
    before = muon.setup.to_text()
    with qtbot.waitSignal(muon.message) as note:
        assert not muon.rename_node("buffer", "RawPulses", "DecayTimes")
    assert "already exists" in note.args[0]
    assert muon.setup.to_text() == before and muon.undo_stack.count() == 0


def test_moves_are_undoable_and_kept_in_a_side_file_not_in_the_setup(muon, qtbot):
    node = muon.scene.nodes[("worker", "pulse_heights")]
    old = node.pos()
    vp = muon.view.viewport()
    start = node_center_in_view(muon, node)
    end = start + QPointF(0, 120).toPoint()
    QTest.mousePress(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)
    QTest.mouseMove(vp, start + QPointF(0, 40).toPoint())
    QTest.mouseMove(vp, end)
    QTest.mouseRelease(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, end)
    moved = node.pos()
    side = layout_path(muon.setup.path)
    assert side.name == ".setup.layout.json"
    # a move does not change the YAML: nothing to ask about; the side file keeps it at once
    assert moved.y() > old.y() + 50 and not muon.is_modified()
    data = json.loads(side.read_text())
    assert data["nodes"]["worker:pulse_heights"] == [round(moved.x(), 1), round(moved.y(), 1)]
    assert side.stat().st_mode & 0o777 == muon.setup.path.stat().st_mode & 0o777  # not 0600
    muon.actions["undo"].trigger()
    assert node.pos() == old
    assert json.loads(side.read_text())["nodes"]["worker:pulse_heights"] == [
        round(old.x(), 1),
        round(old.y(), 1),
    ]
    muon.actions["redo"].trigger()
    assert node.pos() == moved
    text = muon.setup.path.read_text()
    muon.rename_node("worker", "pulse_heights", "heights")
    assert muon.is_modified()
    with qtbot.waitSignal(muon.modified) as modified:
        muon.actions["save"].trigger()
    assert modified.args == [False]
    assert "  heights:" in muon.setup.path.read_text() and "nodes" not in muon.setup.path.read_text()
    assert muon.setup.path.read_text() != text
    data = json.loads(side.read_text())
    assert data["nodes"]["worker:heights"] == [round(moved.x(), 1), round(moved.y(), 1)]
    again = GraphEditor()
    qtbot.addWidget(again)
    again.set_setup(Setup.load(muon.setup.path))
    assert again.scene.nodes[("worker", "heights")].pos() == moved


# =========================================================================== round trip


@pytest.mark.parametrize(
    "source",
    SETUP_FILES + ["handwritten"],
    ids=lambda p: p if isinstance(p, str) else p.parent.relative_to(ROOT).as_posix(),
)
def test_round_trip_saves_unchanged_then_changes_only_the_edited_part(source, tmp_path, editor):
    if source == "handwritten":
        path = tmp_path / "hand" / "setup.yaml"
        path.parent.mkdir()
        path.write_text(HANDWRITTEN)
    else:
        path = copy_setup(source, tmp_path)
    original = path.read_bytes()
    editor.set_setup(Setup.load(path))
    assert not editor.is_modified()
    editor.actions["save"].trigger()
    assert path.read_bytes() == original
    assert not layout_path(path).exists()  # nothing moved: no side file
    # one edit through the property panel: only that line changes
    name = editor.setup.buffer_names[-1]
    old = editor.setup.buffers[name].slot_count
    editor.select_node("buffer", name)
    editor.properties._refresh_now()
    editor.properties.slot_count.setValue(old + 7)
    assert editor.is_modified()
    editor.save()
    new_text = path.read_text()
    old_lines, new_lines = original.decode().splitlines(), new_text.splitlines()
    changed = [
        (tag, old_lines[i1:i2], new_lines[j1:j2])
        for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, old_lines, new_lines).get_opcodes()
        if tag != "equal"
    ]
    assert len(changed) == 1, changed
    _tag, removed, added = changed[0]
    if len(added) == 3:  # the buffer was an alias: it becomes {<<: *anchor, slot_count: new}
        assert removed[0].rstrip().endswith(added[1].split("*")[-1]) and "<<: *" in added[1], changed
    else:
        assert len(removed) <= 1 and len(added) <= 2, changed
    assert any(str(old + 7) in line for line in added)
    reloaded = Setup.load(path)
    assert reloaded.buffers[name].slot_count == old + 7
    before = Setup.from_text(original.decode(), path).resolved_dict()
    after = reloaded.resolved_dict()
    before["Buffers"][name]["slot_count"] = old + 7
    assert after == before


def test_save_as_writes_the_new_file_and_undo_keeps_the_new_path(muon, monkeypatch, tmp_path):
    muon.set_buffer_field("RawPulses", "slot_count", 100)
    target = tmp_path / "other" / "copy.yaml"
    target.parent.mkdir()
    monkeypatch.setattr(muon, "ask_save_file", lambda *a: str(target))
    muon.actions["save_as"].trigger()
    assert muon.setup.path == target and not muon.is_modified()
    assert Setup.load(target).buffers["RawPulses"].slot_count == 100
    muon.actions["undo"].trigger()
    assert muon.setup.path == target and muon.is_modified()
    muon.save()
    assert Setup.load(target).buffers["RawPulses"].slot_count == 64


# =========================================================================== live validation


def test_problems_are_live_marked_on_nodes_and_edges_and_select_their_node(muon, qtbot):
    with qtbot.waitSignal(muon.problems_changed, timeout=2000) as changed:
        muon.disconnect_nodes("pulse_heights", "PulseHeights", "sinks")
    problems = changed.args[0]
    assert any(p.severity == "error" and p.node == ("worker", "pulse_heights") for p in problems)
    assert muon.has_errors()
    worker = muon.scene.nodes[("worker", "pulse_heights")]
    assert worker.problem_color() == ERROR_COLOR and "needs at least 1 sinks" in worker.toolTip()
    assert muon.scene.nodes[("buffer", "PulseHeights")].problem_color() == WARNING_COLOR
    # clicking a problem selects its node
    row = [i for i, p in enumerate(sorted(muon.problems_view.problems, key=lambda p: p.severity != "error"))]
    muon.problems_view.activate_row(row[0])
    assert muon.selected_nodes() == [("worker", "pulse_heights")]
    with qtbot.waitSignal(muon.problems_changed, timeout=2000):
        muon.actions["undo"].trigger()
    assert not muon.has_errors() and worker.problem_color() is None
    # a problem about one connection marks that edge
    muon.connect_nodes("save_decays", "PulseHeights", "sources")
    muon.problems()
    edge = muon.scene.edges[("save_decays", "sources", "PulseHeights")]
    assert edge.problems and "read by worker" in edge.toolTip()


def test_port_drag_connects_with_the_role_the_port_means(muon, qtbot):
    scene = muon.scene
    muon.add_buffer("Extra", pos=QPointF(300, 500))
    # worker output port -> buffer: sinks
    drag_port(
        qtbot, muon, scene.nodes[("worker", "pulse_heights")].out_port, scene.nodes[("buffer", "Extra")]
    )
    assert "Extra" in muon.setup.workers["pulse_heights"].sinks
    # buffer output port -> worker: sources
    muon.add_worker("exporters.drain", name="drain", pos=QPointF(600, 500))
    drag_port(qtbot, muon, scene.nodes[("buffer", "Extra")].out_port, scene.nodes[("worker", "drain")])
    assert muon.setup.workers["drain"].sources == ["Extra"]
    # buffer -> observer worker: observes (dashed edge)
    muon.add_worker("observers.oscilloscope", name="scope", pos=QPointF(600, 650))
    drag_port(qtbot, muon, scene.nodes[("buffer", "RawPulses")].out_port, scene.nodes[("worker", "scope")])
    assert muon.setup.workers["scope"].observes == ["RawPulses"]
    assert scene.edges[("scope", "observes", "RawPulses")].role == "observes"
    # a drag to empty canvas or to a node of the same kind does nothing
    count = muon.undo_stack.count()
    drag_port(qtbot, muon, scene.nodes[("worker", "drain")].out_port, scene.nodes[("worker", "scope")])
    assert muon.undo_stack.count() == count
    # the only error: analyzers.pha's own check (issue 10) sees that the new sink's field is no peak property
    errors = [p for p in muon.problems() if p.is_error]
    assert [(p.location, p.message.split(" (")[0]) for p in errors] == [
        ("Workers.pulse_heights.config", "sink 'Extra': field 'value' is not a peak property")
    ], errors


# =========================================================================== view, find, copy, run numbers


def test_actions_by_name_find_fit_and_zoom(muon):
    for name in (
        "undo", "redo", "delete", "rename", "copy", "paste", "fit", "find", "add_buffer",
        "add_worker_from_file", "save", "save_as", "select_all", "auto_layout", "zoom_in", "zoom_out",
    ):  # fmt: skip
        assert name in muon.actions
    assert muon.find_node("accepted") == ("buffer", "AcceptedPulses")
    assert muon.selected_nodes() == [("buffer", "AcceptedPulses")]
    assert muon.find_node("nothing like this") is None
    zoom = muon.view.zoom()
    muon.actions["zoom_in"].trigger()
    assert muon.view.zoom() > zoom
    muon.actions["fit"].trigger()
    visible = muon.view.mapToScene(muon.view.viewport().rect()).boundingRect()
    assert all(visible.contains(n.sceneBoundingRect()) for n in muon.scene.nodes.values())
    muon.actions["select_all"].trigger()
    assert len(muon.selected_nodes()) == len(muon.scene.nodes)


def test_copy_paste_renames_and_rewires_inside_the_copy(muon):
    muon.scene.select([("worker", "pulse_heights"), ("buffer", "PulseHeights")])
    muon.actions["copy"].trigger()
    muon.actions["paste"].trigger()
    copy = muon.setup.workers["pulse_heights_copy"]
    assert copy.sinks == ["PulseHeights_copy"]  # inside the copy: follows the new name
    assert copy.sources == ["AcceptedPulses"]  # outside: still the original buffer
    assert copy.config == muon.setup.workers["pulse_heights"].config
    assert set(muon.selected_nodes()) == {("worker", "pulse_heights_copy"), ("buffer", "PulseHeights_copy")}


def test_node_selection_signal_and_property_panel(muon, qtbot):
    with qtbot.waitSignal(muon.node_selected) as sel:
        muon.select_node("worker", "lifetime_filter")
    assert sel.args == ["worker", "lifetime_filter"]
    props = muon.properties
    props._refresh_now()
    rows = {
        props.config_table.item(r, 0).text(): props.config_table.item(r, 1).text()
        for r in range(props.config_table.rowCount() - 1)
    }
    assert rows["min_height"] == "0.12"  # set in the setup (overrides filter.yaml)
    assert rows["min_delay_samples"] == "50"  # documented default
    assert rows["channels"] == "[chA, chB, chC]"  # from a config file
    assert (
        "configs/common.yaml" in props.config_files.text()
        and "configs/filter.yaml" in props.config_files.text()
    )


def test_run_numbers_on_nodes_and_failed_worker_red(muon):
    buf = SimpleNamespace(
        rate=1234.0, stats=SimpleNamespace(fill_level=0.5, state="running", events_written=10)
    )
    stats = SimpleNamespace(
        buffers={"RawPulses": buf},
        workers={
            "lifetime_filter": SimpleNamespace(
                alive=0, processes=2, failed=True, cpu_percent=0.0, state="failed", error="ValueError: boom"
            ),
            "source": SimpleNamespace(
                alive=1, processes=1, failed=False, cpu_percent=3.0, state="running", error=""
            ),
        },
    )
    muon.set_run_stats(stats)
    raw = muon.scene.nodes[("buffer", "RawPulses")]
    assert raw.run["rate"] == 1234.0 and raw.run["fill"] == 0.5
    assert "1.2 kHz" in raw.toolTip() or "1234" in raw.toolTip()
    failed = muon.scene.nodes[("worker", "lifetime_filter")]
    assert failed.failed and failed.problem_color() == ERROR_COLOR and "boom" in failed.toolTip()
    assert muon.scene.nodes[("worker", "source")].status_text() == "1/1 running"
    muon.grab()  # paints every item in run mode
    muon.set_run_stats(None)
    assert raw.run is None and not failed.failed


def test_modified_follows_the_undo_stack(muon, qtbot):
    with qtbot.waitSignal(muon.modified) as sig:
        assert not muon.set_buffer_field("RawPulses", "slot_count", 64)  # no change: no step
        muon.set_buffer_field("RawPulses", "slot_count", 65)
    assert sig.args == [True]
    with qtbot.waitSignal(muon.modified) as sig:
        muon.actions["undo"].trigger()
    assert sig.args == [False] and muon.undo_stack.count() == 1


def test_set_editable_false_refuses_edits(muon):
    muon.set_editable(False)
    assert muon.add_buffer("X") is None and "X" not in muon.setup.buffer_names
    assert not muon.actions["delete"].isEnabled()
    muon.set_editable(True)
    assert muon.add_buffer("X") == "X"


def test_documented_required_config_keys_are_warned_about(muon):
    muon.add_worker("data.clocked_importer", name="replay")
    warnings = [p for p in muon.problems() if p.node == ("worker", "replay") and "required by" in p.message]
    assert {p.message.split("'")[1] for p in warnings} == {"rate", "filename"}
    assert all(p.severity == "warning" for p in warnings)
    muon.select_node("worker", "replay")
    muon.properties._refresh_now()
    assert muon.properties.set_config_value("rate", "10")
    assert {p.message.split("'")[1] for p in muon.problems() if "required by" in p.message} == {"filename"}


def test_maybe_save_asks_and_saves_discards_or_cancels(muon, monkeypatch):
    assert muon.maybe_save()  # nothing changed: nothing to ask
    muon.set_buffer_field("RawPulses", "slot_count", 99)
    for answer, ok, saved in (("cancel", False, False), ("discard", True, False), ("save", True, True)):
        monkeypatch.setattr(muon, "ask_save_discard_cancel", lambda *a, answer=answer: answer)
        assert muon.maybe_save() is ok
        assert (Setup.load(muon.setup.path).buffers["RawPulses"].slot_count == 99) is saved
    assert not muon.is_modified()


def test_delete_key_deletes_on_the_canvas_but_not_while_in_the_property_panel(muon, qtbot):
    muon.select_node("buffer", "DecayTimes")
    muon.properties._refresh_now()
    table = muon.properties.dtype_table
    table.setFocus()
    table.setCurrentCell(0, 0)
    QTest.keyClick(table, Qt.Key.Key_Delete)
    assert "DecayTimes" in muon.setup.buffer_names
    muon.view.setFocus()
    QTest.keyClick(muon.view.viewport(), Qt.Key.Key_Delete)
    assert "DecayTimes" not in muon.setup.buffer_names
    assert muon.setup.workers["lifetime_filter"].sinks == ["AcceptedPulses"]  # references follow


def test_nodes_missing_from_the_side_file_are_placed_clear_of_the_saved_ones(muon, qtbot):
    muon.move_nodes({("worker", "source"): (0.0, 0.0)})
    muon._user_layout = True  # as after a drag
    muon.save()
    side = layout_path(muon.setup.path)
    data = json.loads(side.read_text())
    del data["nodes"]["worker:save_decays"]  # e.g. the worker was added by hand in the YAML
    side.write_text(json.dumps(data))
    again = GraphEditor()
    qtbot.addWidget(again)
    again.set_setup(Setup.load(muon.setup.path))
    nodes = again.scene.nodes
    assert nodes[("worker", "source")].pos() == QPointF(0, 0)
    new = nodes[("worker", "save_decays")].sceneBoundingRect()
    assert not any(
        new.intersects(n.sceneBoundingRect()) for k, n in nodes.items() if k != ("worker", "save_decays")
    )
