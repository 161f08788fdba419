"""Graph editor: loads setups, edits through undo commands, validates live, saves through Setup.save."""

from __future__ import annotations

import pytest

pytest.importorskip("pytestqt")

from mimocorb_gui.core.setup import Setup  # noqa: E402
from mimocorb_gui.ui.editor import GraphEditor  # noqa: E402
from tests.conftest import ROOT  # noqa: E402

MUON = ROOT / "tests" / "data" / "setups" / "muon_lifetime" / "setup.yaml"


@pytest.fixture
def editor(qtbot):
    widget = GraphEditor()
    qtbot.addWidget(widget)
    widget.resize(1200, 700)
    return widget


def test_muon_setup_shows_every_buffer_worker_and_connection(editor):
    setup = Setup.load(MUON)
    editor.set_setup(setup)
    assert editor.setup is setup
    assert set(editor.scene.nodes) == {("buffer", b) for b in setup.buffer_names} | {
        ("worker", w) for w in setup.worker_names
    }
    n_edges = sum(len(w.sources) + len(w.sinks) + len(w.observes) for w in setup.workers.values())
    assert len(editor.scene.edges) == n_edges
    assert not editor.has_errors()
    assert editor.undo_stack.isClean()
