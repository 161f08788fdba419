"""The model's public config views (Qt-free): what the property panel shows and how it edits configs."""

from __future__ import annotations

import textwrap

from mimocorb_gui.core.setup import Setup, to_plain

SETUP = """\
base_config: {run_label: lab1, rate: 5}
Buffers:
  Raw: {slot_count: 4, data_length: 8, data_dtype: {v: float32}}
Workers:
  only_file:
    function: exporters.drain
    config: scope.yaml
    sources: [Raw]
  mixed:
    function: exporters.drain
    config: [scope.yaml, {ylim: [0, 1], rate: 20}]   # the mapping wins over the file
    sources: [Raw]
  inline:
    function: exporters.drain
    config: {rate: 1e3, unit: µs}
    sources: [Raw]
  none:
    function: exporters.drain
    sources: [Raw]
"""


def _setup(tmp_path) -> Setup:
    (tmp_path / "scope.yaml").write_text("ylim: [-1, 1]\nchannels: [v]\n")
    path = tmp_path / "setup.yaml"
    path.write_text(textwrap.dedent(SETUP), encoding="utf-8")
    return Setup.load(path)


def test_merged_config_reads_files_and_mappings_in_order_and_reports_problems(tmp_path):
    setup = _setup(tmp_path)
    config, files = setup.merged_config(setup.document["Workers"]["mixed"]["config"], "Workers.mixed.config")
    assert config == {"ylim": [0, 1], "channels": ["v"], "rate": 20}
    assert files == [tmp_path / "scope.yaml"]
    problems: list = []
    assert setup.merged_config(["missing.yaml", 3], "here", problems) == ({}, [])
    assert [loc for loc, _ in problems] == ["here[0]", "here[1]"]
    assert "not found" in problems[0][1] and "int 3" in problems[1][1]
    assert setup.workers["mixed"].config == {"run_label": "lab1", **config}  # the view uses the same reader


def test_inline_config_is_what_the_setup_itself_says(tmp_path):
    setup = _setup(tmp_path)
    assert setup.inline_config("only_file") == {}
    assert setup.inline_config("mixed") == {"ylim": [0, 1], "rate": 20}
    inline = setup.inline_config("inline")
    assert inline == {"rate": 1000.0, "unit": "µs"} and type(inline["rate"]) is float  # plain python
    assert setup.inline_config("none") == {} and setup.inline_config("no_such_worker") == {}


def test_config_origins_name_the_file_the_setup_or_base_config(tmp_path):
    setup = _setup(tmp_path)
    assert setup.config_origins("mixed") == {
        "run_label": "base_config",
        "rate": "setup",
        "ylim": "setup",
        "channels": "scope.yaml",
    }
    assert setup.config_origins("only_file")["ylim"] == "scope.yaml"


def test_config_with_value_keeps_files_and_order(tmp_path):
    setup = _setup(tmp_path)
    assert setup.config_with_value("only_file", "rate", 7) == ["scope.yaml", {"rate": 7}]
    assert setup.config_with_value("only_file", "rate", None, present=False) == "scope.yaml"
    assert setup.config_with_value("mixed", "rate", 30) == ["scope.yaml", {"ylim": [0, 1], "rate": 30}]
    assert setup.config_with_value("mixed", "ylim", None, present=False) == ["scope.yaml", {"rate": 20}]
    assert setup.config_with_value("inline", "unit", "ns") == {"rate": 1000.0, "unit": "ns"}
    assert setup.config_with_value("none", "rate", 2) == {"rate": 2}
    assert setup.config_with_value("none", "rate", None, present=False) is None
    # written back through the editing API, the file keeps its comment and the other entries
    setup.set_worker_field("mixed", "config", setup.config_with_value("mixed", "rate", 30))
    text = setup.to_text()
    assert "config: [scope.yaml, {ylim: [0, 1], rate: 30}]   # the mapping wins over the file" in text


def test_written_entry_and_to_plain(tmp_path):
    setup = _setup(tmp_path)
    entry = setup.written_entry("Workers", "inline")
    assert entry == {
        "function": "exporters.drain",
        "config": {"rate": 1000.0, "unit": "µs"},
        "sources": ["Raw"],
    }
    assert type(entry) is dict and type(entry["sources"]) is list
    assert setup.written_entry("Buffers", "Raw")["data_dtype"] == {"v": "float32"}
    assert setup.written_entry("Workers", "nobody") is None
    assert to_plain(setup.document["Workers"]["inline"]["config"]) == {"rate": 1000.0, "unit": "µs"}
