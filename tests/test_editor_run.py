"""Build a setup in the editor from an empty canvas, save it, load it with core and run it headless."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPointF

from mimocorb_gui.core.run import Run
from mimocorb_gui.core.setup import Setup
from mimocorb_gui.ui.editor import GraphEditor
from tests.test_editor import drag_port, drop


@pytest.mark.timeout(90)
def test_build_from_palette_save_load_and_run_to_completion(qtbot, tmp_path, no_shm_leak):
    editor = GraphEditor()
    qtbot.addWidget(editor)
    editor.resize(1300, 760)
    editor.show()
    qtbot.waitExposed(editor)
    path = tmp_path / "built" / "setup.yaml"
    editor.set_setup(Setup.new(path))
    assert editor.scene.nodes == {}
    palette = editor.palette

    # drops from the palette, with the mime data a drag of its items carries
    drop(editor, palette.mime_for("simulators.gamma_pulses"), QPointF(0, 0))
    drop(editor, palette.mime_for("Buffer"), QPointF(260, 0))
    drop(editor, palette.mime_for("exporters.drain"), QPointF(520, 0))
    assert editor.setup.worker_names == ["gamma_pulses", "drain"]
    assert editor.setup.buffer_names == ["Buffer"]
    assert editor.has_errors()  # nothing is connected yet: the importer has no sink

    # connections by dragging from ports
    nodes = editor.scene.nodes
    drag_port(qtbot, editor, nodes[("worker", "gamma_pulses")].out_port, nodes[("buffer", "Buffer")])
    drag_port(qtbot, editor, nodes[("buffer", "Buffer")].out_port, nodes[("worker", "drain")])
    assert editor.setup.workers["gamma_pulses"].sinks == ["Buffer"]
    assert editor.setup.workers["drain"].sources == ["Buffer"]

    # properties: a waveform buffer, a finite importer
    props = editor.properties
    editor.select_node("buffer", "Buffer")
    props._refresh_now()
    props.data_length.setValue(256)
    props.dtype_table.item(0, 0).setText("IN1")
    editor.select_node("worker", "gamma_pulses")
    props._refresh_now()
    assert props.set_config_value("number_of_events", "25")
    assert props.set_config_value("rate", "0")
    assert props.set_config_value("seed", "3")
    assert not editor.has_errors(), editor.problems()
    assert editor.is_modified()

    editor.actions["save"].trigger()
    assert not editor.is_modified()
    setup = Setup.load(path)
    assert setup.buffers["Buffer"].data_length == 256 and list(setup.buffers["Buffer"].data_dtype) == ["IN1"]
    assert setup.workers["gamma_pulses"].config == {"number_of_events": 25, "rate": 0, "seed": 3}
    assert not setup.errors()

    with Run(setup, run_root=tmp_path / "runs") as run:
        run.start()
        assert run.wait(60), "run did not finish"
        assert run.state == "finished"
        stats = run.stats()
    assert stats.buffers["Buffer"].stats.events_written == 25
    assert stats.buffers["Buffer"].stats.events_read == 25

    # the live numbers of a real run on the graph
    editor.set_run_stats(stats)
    assert nodes[("buffer", "Buffer")].run["state"] == stats.buffers["Buffer"].stats.state
    assert nodes[("worker", "drain")].status_text() in ("finished", "stopped")
    assert not nodes[("worker", "drain")].failed
    editor.grab()
