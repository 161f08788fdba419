"""ui.settings: one JSON file with recent setups and per-setup layouts; damage is never fatal."""

from __future__ import annotations

import json

from mimocorb_gui.ui.settings import MAX_RECENT, Settings, layout_key


def test_recent_files_round_trip(tmp_path):
    s = Settings(tmp_path / "settings.json")
    for i in range(MAX_RECENT + 3):
        s.add_recent(tmp_path / f"s{i}" / "setup.yaml")
    s.add_recent(tmp_path / "s5" / "setup.yaml")  # again: moves to the top
    again = Settings(tmp_path / "settings.json")
    assert len(again.recent) == MAX_RECENT
    assert again.recent[0].endswith("s5/setup.yaml")
    again.remove_recent(tmp_path / "s5" / "setup.yaml")
    assert not any(p.endswith("s5/setup.yaml") for p in Settings(tmp_path / "settings.json").recent)


def test_layouts_are_json_and_per_setup(tmp_path):
    s = Settings(tmp_path / "settings.json")
    a, b = layout_key(tmp_path / "muon" / "setup.yaml"), layout_key(tmp_path / "gamma" / "setup.yaml")
    assert a != b and a.startswith("muon-") and b.startswith("gamma-")
    s.set_layout(a, {"qt_state": "AAAA", "docks": {"log": {"visible": False}}})
    data = json.loads((tmp_path / "settings.json").read_text())
    assert data["layouts"][a]["docks"]["log"]["visible"] is False
    assert Settings(tmp_path / "settings.json").layout(b) is None
    s.remove_layout(a)
    assert Settings(tmp_path / "settings.json").layout(a) is None


def test_damaged_file_is_set_aside(tmp_path):
    path = tmp_path / "settings.json"
    path.write_text("{not json")
    s = Settings(path)
    assert s.recent == [] and s.layout("x") is None
    assert (tmp_path / "settings.damaged.json").exists()
    s.add_recent(tmp_path / "a.yaml")
    assert Settings(path).recent == [str(tmp_path / "a.yaml")]


def test_wrong_types_fall_back_to_defaults(tmp_path):
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"recent": "nope", "layouts": [], "window": 3}))
    s = Settings(path)
    assert s.recent == [] and s.data["layouts"] == {} and s.window() == {}


def test_config_dir_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("MIMOCORB_GUI_CONFIG_DIR", str(tmp_path / "cfg"))
    assert Settings().path == tmp_path / "cfg" / "settings.json"
