"""core/setup.py: loading, validation (one test per problem), round trip, editing, undo, views."""

import difflib
import json
import shutil
import textwrap
from pathlib import Path

import numpy as np
import pytest

from mimocorb_gui.core.setup import Problem, Setup, SetupError, SetupState

DATA = Path(__file__).parent / "data" / "setups"
EXAMPLE = DATA / "muon_lifetime"


def make(tmp_path: Path, text: str, files: dict[str, str] | None = None, name: str = "setup.yaml") -> Setup:
    for rel, content in (files or {}).items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(content))
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return Setup.load(path)


def found(setup: Setup, check_functions: bool = True) -> dict[str, Problem]:
    """{location: problem} of every problem."""
    return {p.location: p for p in setup.validate(check_functions)}


def changed_lines(before: str, after: str) -> tuple[list[str], list[str]]:
    """(removed lines, added lines) between two texts."""
    removed, added = [], []
    for line in difflib.ndiff(before.splitlines(), after.splitlines()):
        if line.startswith("- "):
            removed.append(line[2:])
        elif line.startswith("+ "):
            added.append(line[2:])
    return removed, added


# A small valid setup used as a base for the validation tests (prebuilt functions only).
BASE = """\
Buffers:
  InputBuffer:
    slot_count: 8
    data_length: 100
    data_dtype: {ch1: float32, ch2: float32}
  AcceptedPulses:
    slot_count: 8
    data_length: 1
    data_dtype: {position: int32, peak_heights: float32}
Workers:
  source:
    function: simulators.gamma_pulses
    sinks: [InputBuffer]
  filter:
    function: analyzers.pha
    sources: [InputBuffer]
    sinks: [AcceptedPulses]
    config: {height: 0.1}
  save:
    function: data.export
    sources: [AcceptedPulses]
"""


def test_base_setup_is_valid(tmp_path):
    assert make(tmp_path, BASE).validate() == []


# ====================================================================== loading


def test_load_missing_file(tmp_path):
    with pytest.raises(SetupError, match="setup file not found") as info:
        Setup.load(tmp_path / "nope.yaml")
    assert str(tmp_path / "nope.yaml") in str(info.value)


def test_load_unparseable_yaml_is_located(tmp_path):
    (tmp_path / "setup.yaml").write_text("Buffers:\n  a: [1, 2\nWorkers: {}\n")
    with pytest.raises(SetupError) as info:
        Setup.load(tmp_path / "setup.yaml")
    assert str(info.value).startswith("setup.yaml:3:")
    assert info.value.line == 3


def test_load_duplicate_key_is_located(tmp_path):
    (tmp_path / "setup.yaml").write_text(
        "Buffers: {}\nWorkers:\n  w: {function: a.b}\n  w: {function: c.d}\n"
    )
    with pytest.raises(SetupError, match=r"^setup\.yaml:4:\d+: .*duplicate key"):
        Setup.load(tmp_path / "setup.yaml")


@pytest.mark.parametrize(
    ("text", "what"), [("- a\n- b\n", "found a list"), ("", "empty"), ("42\n", "found int 42")]
)
def test_load_non_mapping_top_level(tmp_path, text, what):
    (tmp_path / "setup.yaml").write_text(text)
    with pytest.raises(SetupError, match=what):
        Setup.load(tmp_path / "setup.yaml")


def test_load_directory_uses_its_setup_yaml():
    setup = Setup.load(EXAMPLE)
    assert setup.path == EXAMPLE / "setup.yaml"
    assert setup.name == "muon_lifetime"


# ====================================================================== validation: one test per problem


def test_exact_message_of_an_unknown_sink(tmp_path):
    setup = make(tmp_path, BASE.replace("sinks: [AcceptedPulses]", "sinks: [AcceptedPulses, Accepted]"))
    problem = found(setup)["Workers.filter.sinks[1]"]
    assert str(problem) == (
        "setup.yaml: Workers.filter.sinks[1]: buffer 'Accepted' is not defined (buffers: InputBuffer, AcceptedPulses)"
    )
    assert problem.severity == "error"
    assert problem.node == ("worker", "filter")
    assert problem.line == 17
    assert problem in setup.errors()


@pytest.mark.parametrize("role", ["sources", "observes"])
def test_unknown_source_or_observed_buffer(tmp_path, role):
    setup = make(tmp_path, BASE + f"  look:\n    function: data.export\n    {role}: [Nope]\n")
    assert found(setup)[f"Workers.look.{role}[0]"].message.startswith(
        "buffer 'Nope' is not defined (buffers: "
    )


@pytest.mark.parametrize("section", ["Buffers", "Workers"])
def test_missing_section(tmp_path, section):
    text = BASE.split("Workers:")[0] if section == "Workers" else "Workers:" + BASE.split("Workers:")[1]
    problem = found(make(tmp_path, text))[section]
    assert problem.message.startswith(f"section '{section}' is missing (top-level keys: ")


def test_section_not_a_mapping(tmp_path):
    problem = found(make(tmp_path, "Buffers: [a, b]\nWorkers: {}\n"))["Buffers"]
    assert problem.message == "must be a mapping of buffer names to buffer settings, found a list"


def test_buffer_not_a_mapping(tmp_path):
    setup = make(
        tmp_path,
        BASE.replace(
            "  AcceptedPulses:\n    slot_count: 8\n", "  AcceptedPulses: 8\n  X:\n    slot_count: 8\n"
        ),
    )
    assert (
        "must be a mapping with slot_count, data_length, data_dtype"
        in found(setup)["Buffers.AcceptedPulses"].message
    )


def test_missing_user_function_file_shows_resolved_path(tmp_path):
    setup = make(tmp_path, BASE.replace("function: data.export", "file: sub/mine.py\n    function: save"))
    problem = found(setup)["Workers.save.file"]
    assert problem.message == f"file 'sub/mine.py' not found (looked for {tmp_path / 'sub' / 'mine.py'})"
    assert problem.node == ("worker", "save")


def test_function_not_in_user_file_lists_the_available_ones(tmp_path):
    setup = make(
        tmp_path,
        BASE.replace("function: data.export", "file: mine.py\n    function: safe"),
        {"mine.py": "def save(io): ...\ndef other(io): ...\n"},
    )
    assert (
        found(setup)["Workers.save.function"].message
        == "function 'safe' not found in mine.py (available: save, other)"
    )


def test_user_file_that_fails_to_import(tmp_path):
    setup = make(
        tmp_path,
        BASE.replace("function: data.export", "file: mine.py\n    function: save"),
        {"mine.py": "raise RuntimeError('needs hardware')\n"},
    )
    assert "RuntimeError: needs hardware" in found(setup)["Workers.save.file"].message
    assert "Workers.save.file" not in found(setup, check_functions=False)  # nothing imported then


def test_unknown_prebuilt_module_lists_modules(tmp_path):
    problem = found(make(tmp_path, BASE.replace("data.export", "dat.export")))["Workers.save.function"]
    assert problem.message.startswith("prebuilt module 'dat' not found (prebuilt modules: ")
    assert "data" in problem.message and "analyzers" in problem.message


def test_unknown_prebuilt_function_lists_functions_of_the_module(tmp_path):
    problem = found(make(tmp_path, BASE.replace("data.export", "data.exprot")))["Workers.save.function"]
    assert problem.message.startswith(
        "function 'exprot' not found in prebuilt module 'data' (available: data.export"
    )


def test_prebuilt_function_without_module(tmp_path):
    problem = found(make(tmp_path, BASE.replace("data.export", "export")))["Workers.save.function"]
    assert "must be addressed as module.function, e.g. exporters.drain" in problem.message


def test_missing_function_key(tmp_path):
    problem = found(make(tmp_path, BASE.replace("    function: data.export\n", "")))["Workers.save.function"]
    assert problem.message.startswith("is missing (the function to run")


@pytest.mark.parametrize(
    ("dtype", "expected"),
    [
        (
            "flaot32",
            "bad dtype 'flaot32' (valid examples: 'float32', 'float64', 'int16', 'int32', 'int64', 'uint8', "
            "'uint16', 'bool', 'S10'); did you mean 'float32'?",
        ),
        ("5", "bad dtype 5: write the dtype as a string (valid examples: "),
        ("O", "bad dtype 'O': python objects cannot live in shared memory"),
        ("S", "bad dtype 'S': give a size, e.g. 'S10'"),
    ],
)
def test_bad_dtype(tmp_path, dtype, expected):
    setup = make(tmp_path, BASE.replace("{ch1: float32, ch2: float32}", f"{{ch1: float32, ch2: {dtype}}}"))
    problem = found(setup)["Buffers.InputBuffer.data_dtype.ch2"]
    assert problem.message.startswith(expected)
    assert problem.node == ("buffer", "InputBuffer")


def test_string_dtypes_are_valid(tmp_path):
    setup = make(
        tmp_path, BASE.replace("{ch1: float32, ch2: float32}", "{ch1: 'S10', ch2: '<f8', ch3: uint16}")
    )
    assert setup.validate() == []
    assert setup.buffers["InputBuffer"].dtype == np.dtype([("ch1", "S10"), ("ch2", "<f8"), ("ch3", "u2")])


@pytest.mark.parametrize("value", ["{}", "float32", "[float32]"])
def test_data_dtype_not_a_field_mapping(tmp_path, value):
    setup = make(tmp_path, BASE.replace("{ch1: float32, ch2: float32}", value))
    assert found(setup)["Buffers.InputBuffer.data_dtype"].message.startswith(
        "must map field names to numpy dtypes, e.g. {ch1: float32, ch2: float32}"
    )


@pytest.mark.parametrize(
    ("key", "value", "found_text"),
    [
        ("slot_count", "0", "found 0"),
        ("slot_count", "-3", "found -3"),
        ("slot_count", "2.5", "found 2.5"),
        ("slot_count", "many", "found str 'many'"),
        ("slot_count", "true", "found boolean True"),
        ("data_length", "0", "found 0"),
    ],
)
def test_buffer_sizes_must_be_positive_integers(tmp_path, key, value, found_text):
    setup = make(
        tmp_path,
        BASE.replace(
            f"    {key}: 100\n" if key == "data_length" else "    slot_count: 8\n    data_length: 100",
            f"    {key}: {value}\n"
            if key == "data_length"
            else f"    slot_count: {value}\n    data_length: 100",
            1,
        ),
    )
    problem = found(setup)[f"Buffers.InputBuffer.{key}"]
    assert problem.message.startswith(f"must be a positive integer, e.g. {key}: ")
    assert found_text in problem.message


def test_number_of_processes_must_be_a_positive_integer(tmp_path):
    setup = make(
        tmp_path,
        BASE.replace("    config: {height: 0.1}", "    config: {height: 0.1}\n    number_of_processes: 0"),
    )
    assert found(setup)["Workers.filter.number_of_processes"].message == (
        "must be a positive integer, e.g. number_of_processes: 1 (found 0)"
    )


def test_missing_buffer_key(tmp_path):
    setup = make(tmp_path, BASE.replace("    slot_count: 8\n    data_length: 1\n", "    data_length: 1\n"))
    assert found(setup)["Buffers.AcceptedPulses"].message.startswith("'slot_count' is missing (required: ")


def test_slot_count_below_the_processes_using_the_buffer(tmp_path):
    text = BASE.replace("    slot_count: 8\n    data_length: 100", "    slot_count: 3\n    data_length: 100")
    text = text.replace("    config: {height: 0.1}", "    config: {height: 0.1}\n    number_of_processes: 3")
    problem = found(make(tmp_path, text))["Buffers.InputBuffer.slot_count"]
    assert problem.severity == "error"
    assert problem.message.startswith("slot_count 3 is below the 4 processes using buffer 'InputBuffer' ")
    assert "writers: source\u00d71; readers: filter\u00d73" in problem.message


def test_buffer_nobody_writes_or_reads(tmp_path):
    text = BASE.replace(
        "Workers:", "  Lonely: {slot_count: 2, data_length: 1, data_dtype: {x: int8}}\nWorkers:"
    )
    problems = [p for p in make(tmp_path, text).validate() if p.location == "Buffers.Lonely"]
    assert [p.severity for p in problems] == ["warning", "warning"]
    assert problems[0].message == "no worker writes to buffer 'Lonely' (add it to a worker's sinks)"
    assert problems[1].message.startswith("no worker reads buffer 'Lonely' (add it to a worker's sources")


def test_two_workers_reading_one_buffer(tmp_path):
    setup = make(tmp_path, BASE + "  save2:\n    function: data.export\n    sources: [AcceptedPulses]\n")
    problem = found(setup)["Workers.save2.sources[0]"]
    assert problem.severity == "warning"
    assert "also read by worker 'save': events are split between them" in problem.message
    assert "misc.copy" in problem.message


def test_unknown_keys_suggest_the_closest(tmp_path):
    text = BASE.replace("    data_length: 1\n", "    data_length: 1\n    slot_cout: 4\n", 1)
    text = text.replace("    sinks: [InputBuffer]", "    sinks: [InputBuffer]\n    source: []")
    text += (
        "target_dir: runs\nOptions: {debug_workers: true}\nx-notes: free\n.hidden: 1\ntemplate: &t {a: 1}\n"
    )
    problems = found(make(tmp_path, text))
    assert (
        problems["Buffers.AcceptedPulses.slot_cout"].message
        == "unknown key 'slot_cout' (did you mean 'slot_count'?)"
    )
    assert problems["Workers.source.source"].message == "unknown key 'source' (did you mean 'sources'?)"
    assert problems["target_dir"].message.startswith(
        "unknown top-level key 'target_dir' (did you mean 'target_directory'?)"
    )
    assert all(p.severity == "warning" for p in problems.values())
    assert {"Options", "x-notes", ".hidden", "template"}.isdisjoint(problems)


def test_missing_and_bad_config_files(tmp_path):
    text = BASE.replace("config: {height: 0.1}", "config: [good.yaml, nope.yaml, list.yaml, broken.yaml, 3]")
    files = {"good.yaml": "height: 0.1\n", "list.yaml": "- 1\n", "broken.yaml": "a: [1\n"}
    problems = found(make(tmp_path, text, files))
    assert problems["Workers.filter.config[1]"].message == (
        f"config file 'nope.yaml' not found (looked for {tmp_path / 'nope.yaml'})"
    )
    assert (
        problems["Workers.filter.config[2]"].message
        == "config file 'list.yaml' must hold a mapping of config keys, found a list"
    )
    assert problems["Workers.filter.config[3]"].message.startswith("cannot read config file 'broken.yaml'")
    assert (
        problems["Workers.filter.config[4]"].message
        == "config entries must be file names or mappings, found int 3"
    )
    assert "Workers.filter.config[0]" not in problems


def test_single_config_file_and_base_config_locations(tmp_path):
    text = BASE.replace("config: {height: 0.1}", "config: nope.yaml") + "base_config: [gone.yaml]\n"
    problems = found(make(tmp_path, text))
    assert problems["Workers.filter.config"].message.startswith("config file 'nope.yaml' not found")
    assert problems["base_config[0]"].message.startswith("config file 'gone.yaml' not found")


def test_config_of_the_wrong_type(tmp_path):
    problems = found(make(tmp_path, BASE.replace("config: {height: 0.1}", "config: 7")))
    assert problems["Workers.filter.config"].message == (
        "must be a mapping, a config file name or a list of them, found int 7"
    )


def test_target_directory_must_be_a_string(tmp_path):
    problem = found(make(tmp_path, BASE + "target_directory: [a, b]\n"))["target_directory"]
    assert problem.message.startswith(
        "must be a string path (absolute, relative to the setup file, or ~/...), found a list"
    )


def test_role_list_must_be_a_list(tmp_path):
    problem = found(make(tmp_path, BASE.replace("sinks: [InputBuffer]", "sinks: InputBuffer")))[
        "Workers.source.sinks"
    ]
    assert (
        problem.message
        == "must be a list of buffer names, e.g. sinks: [InputBuffer] (found str 'InputBuffer')"
    )


def test_buffer_listed_twice_and_read_and_written(tmp_path):
    text = BASE.replace(
        "sources: [InputBuffer]\n    sinks: [AcceptedPulses]",
        "sources: [InputBuffer]\n    sinks: [AcceptedPulses, AcceptedPulses, InputBuffer]",
    )
    problems = found(make(tmp_path, text))
    assert problems["Workers.filter.sinks[1]"].message == "buffer 'AcceptedPulses' is listed twice in sinks"
    assert "reads and writes the same buffer 'InputBuffer'" in problems["Workers.filter.sinks[2]"].message


def test_template_rules_from_the_docstring_type(tmp_path):
    text = BASE.replace(
        "    sinks: [InputBuffer]\n", "    sinks: [InputBuffer]\n    sources: [AcceptedPulses]\n", 1
    )
    problem = found(make(tmp_path, text))["Workers.source.sources"]
    assert problem.severity == "error"
    assert problem.message.startswith("simulators.gamma_pulses is an Importer and takes no sources, has 1")


def test_exporter_sink_must_match_its_source(tmp_path):
    text = BASE.replace(
        "    function: data.export\n    sources: [AcceptedPulses]\n",
        "    function: data.export\n    sources: [AcceptedPulses]\n    sinks: [Copy]\n",
    )
    text = text.replace(
        "Workers:", "  Copy: {slot_count: 8, data_length: 1, data_dtype: {x: float64}}\nWorkers:"
    )
    text += "  drain:\n    function: data.export\n    sources: [Copy]\n"
    problem = found(make(tmp_path, text))["Workers.save.sinks[0]"]
    assert problem.message == (
        "Exporter passes events through unchanged: sink 'Copy' needs the data_dtype of source 'AcceptedPulses' "
        "({position: int32, peak_heights: float32}), has {x: float64}"
    )


def test_empty_workers_is_a_warning(tmp_path):
    problems = found(make(tmp_path, "Buffers: {}\nWorkers: {}\n"))
    assert problems["Workers"].severity == "warning"


def test_realistic_example_is_valid():
    setup = Setup.load(EXAMPLE / "setup.yaml")
    assert setup.validate() == []


# ====================================================================== views


def test_views_of_the_example():
    setup = Setup.load(EXAMPLE / "setup.yaml")
    assert list(setup.buffers) == ["RawPulses", "AcceptedPulses", "DecayTimes", "PulseHeights"]
    accepted = setup.buffers["AcceptedPulses"]  # a merge key with one override
    assert (accepted.slot_count, accepted.data_length) == (32, 4250)
    assert accepted.dtype.names == ("chA", "chB", "chC", "chD")
    assert setup.buffers["RawPulses"].slot_count == 64  # an alias
    assert setup.buffers["PulseHeights"].data_dtype == {"position": "int32", "peak_heights": "float32"}
    assert setup.buffers["PulseHeights"].dtype == np.dtype([("position", "<i4"), ("peak_heights", "<f4")])

    source = setup.workers["source"]
    assert (source.file, source.number_of_processes, source.sources, source.observes) == (None, 1, [], [])
    assert source.is_prebuilt and source.file_path is None
    lifetime = setup.workers["lifetime_filter"]
    assert lifetime.file_path == EXAMPLE / "lifetime_filter.py"
    assert lifetime.sinks == ["AcceptedPulses", "DecayTimes"]


def test_config_merging_order(tmp_path):
    setup = make(
        tmp_path,
        """\
        base_config: [base.yaml, {level: base-dict}]
        Buffers: {}
        Workers:
          w:
            function: data.export
            config: [one.yaml, {b: dict, c: dict}, sub/two.yaml]
          plain:
            function: data.export
            config: one.yaml
          none:
            function: data.export
        """,
        {
            "base.yaml": "level: base-file\nkeep: base\na: base\n",
            "one.yaml": "a: one\nb: one\n",
            "sub/two.yaml": "c: two\n",
        },
    )
    w = setup.workers["w"]
    assert w.config == {"level": "base-dict", "keep": "base", "a": "one", "b": "dict", "c": "two"}
    assert list(w.config) == ["level", "keep", "a", "b", "c"]
    assert w.config_files == [tmp_path / "base.yaml", tmp_path / "one.yaml", tmp_path / "sub" / "two.yaml"]
    assert setup.workers["plain"].config == {"level": "base-dict", "keep": "base", "a": "one", "b": "one"}
    assert setup.workers["none"].config == {"level": "base-dict", "keep": "base", "a": "base"}
    assert setup.base_config == {"level": "base-dict", "keep": "base", "a": "base"}


def test_example_config_merge():
    config = Setup.load(EXAMPLE / "setup.yaml").workers["lifetime_filter"].config
    # base_config (debug false) < common.yaml < filter.yaml < inline dict
    assert config == {
        "debug": True,
        "channels": ["chA", "chB", "chC"],
        "min_height": 0.12,
        "min_delay_samples": 50,
    }
    assert type(config["min_height"]) is float and type(config["debug"]) is bool


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, "{dir}/runs"),
        ("/abs/runs", "/abs/runs"),
        ("data/runs", "{dir}/data/runs"),
        ("../runs", "{parent}/runs"),
        ("~/mimo", "{home}/mimo"),
    ],
)
def test_target_directory_resolution(tmp_path, monkeypatch, value, expected):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    folder = tmp_path / "exp"
    text = "Buffers: {}\nWorkers: {}\n" + (f"target_directory: {value}\n" if value else "")
    setup = make(folder, text)
    want = expected.format(dir=folder, parent=tmp_path, home=tmp_path / "home")
    assert setup.target_directory == Path(want)


def test_name_is_the_stem_or_the_folder_for_setup_yaml(tmp_path):
    assert make(tmp_path / "spectro", "Buffers: {}\nWorkers: {}\n").name == "spectro"
    assert make(tmp_path, "Buffers: {}\nWorkers: {}\n", name="gamma.yaml").name == "gamma"
    assert Setup.from_text("Buffers: {}\nWorkers: {}\n", tmp_path / "x.yml").setup_dir == tmp_path


def test_resolved_dict_is_plain_and_absolute():
    setup = Setup.load(EXAMPLE / "setup.yaml")
    resolved = setup.resolved_dict()
    assert json.loads(json.dumps(resolved)) == resolved  # plain types only
    assert resolved["Workers"]["lifetime_filter"]["file"] == str(EXAMPLE / "lifetime_filter.py")
    assert resolved["Workers"]["source"]["file"] == ""
    assert resolved["Workers"]["lifetime_filter"]["config"]["min_height"] == 0.12
    assert resolved["Buffers"]["AcceptedPulses"]["slot_count"] == 32
    assert resolved["target_directory"] == str(EXAMPLE / "runs" / "muon")
    reloaded = Setup.from_text(json.dumps(resolved), EXAMPLE / "copy.yaml")  # JSON is YAML
    assert reloaded.validate() == []


# ====================================================================== round trip

HAND_WRITTEN = """\
# Hand-written setup: comments, anchors, aliases, a merge key, odd spacing.
osc_template: &osc  # comment after an anchor
  slot_count: 128
  data_length: 4250
  data_dtype:
    chA: 'f4'     # single quoted
    chB: "float32"

worker_defaults: &wdef
  number_of_processes: 1
  config: [common.yaml]

Buffers:
  InputBuffer: *osc
  AcceptedPulses:
    <<: *osc
    slot_count: 64   # fewer slots
  # parameters after the filter
  Params:
    slot_count: 32
    data_length: 1
    data_dtype: {decay_time: int32, h: float32}

Workers:
  input:
    <<: *wdef
    function: simulators.muon_pulses
    sinks: [InputBuffer]   # the raw data

  # the filter stage
  filter:
    file: filters.py
    function: calculate_decay_time
    number_of_processes: 2
    sources:
      - InputBuffer
    sinks:
      - AcceptedPulses
      - Params
    config:
      - common.yaml
      - min_height: 0.2   # volts
  save:
    function: data.export
    sources: [AcceptedPulses]
  hist:
    function: data.export
    sources: [Params]

target_directory: ~/runs/muon  # where runs go
"""


@pytest.fixture
def hand(tmp_path) -> Setup:
    (tmp_path / "setup.yaml").write_text(HAND_WRITTEN)
    return Setup.load(tmp_path / "setup.yaml")


def test_save_without_edit_is_byte_identical(tmp_path):
    for source in (EXAMPLE / "setup.yaml",):
        copy = tmp_path / "copy.yaml"
        shutil.copy(source, copy)
        Setup.load(copy).save()
        assert copy.read_bytes() == source.read_bytes()


def test_hand_written_text_round_trips(hand, tmp_path):
    assert hand.to_text() == HAND_WRITTEN
    out = hand.save(tmp_path / "again.yaml")
    assert out.read_text() == HAND_WRITTEN
    assert not hand.modified


def test_crlf_and_bom_are_kept(tmp_path):
    path = tmp_path / "setup.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + HAND_WRITTEN.replace("\n", "\r\n").encode())
    setup = Setup.load(path)
    setup.set_buffer_field("Params", "slot_count", 16)
    setup.save()
    data = path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    assert data.count(b"\r\n") == HAND_WRITTEN.count("\n") and b"\r\r" not in data
    assert b"    slot_count: 16\r\n" in data


def test_set_slot_count_changes_one_line(hand):
    hand.set_buffer_field("Params", "slot_count", 16)
    assert changed_lines(HAND_WRITTEN, hand.to_text()) == (["    slot_count: 32"], ["    slot_count: 16"])
    assert hand.modified


def test_set_value_to_the_same_is_no_change(hand):
    hand.set_buffer_field("Params", "slot_count", 32)
    hand.set_worker_field("filter", "config", ["common.yaml", {"min_height": 0.2}])
    assert hand.to_text() == HAND_WRITTEN
    assert not hand.modified


def test_rename_buffer_changes_only_its_name_and_references(hand):
    hand.rename_buffer("AcceptedPulses", "Accepted")
    removed, added = changed_lines(HAND_WRITTEN, hand.to_text())
    assert removed == ["  AcceptedPulses:", "      - AcceptedPulses", "    sources: [AcceptedPulses]"]
    assert added == ["  Accepted:", "      - Accepted", "    sources: [Accepted]"]
    assert list(hand.buffers) == ["InputBuffer", "Accepted", "Params"]  # key order kept
    assert hand.workers["filter"].sinks == ["Accepted", "Params"]


def test_rename_worker_keeps_its_comment_and_position(hand):
    hand.rename_worker("filter", "lifetime")
    assert changed_lines(HAND_WRITTEN, hand.to_text()) == (["  filter:"], ["  lifetime:"])
    assert list(hand.workers) == ["input", "lifetime", "save", "hist"]


def test_editing_an_aliased_buffer_overrides_only_it(hand):
    hand.set_buffer_field("InputBuffer", "slot_count", 256)
    removed, added = changed_lines(HAND_WRITTEN, hand.to_text())
    assert removed == ["  InputBuffer: *osc"]
    assert added == ["  InputBuffer:", "    <<: *osc", "    slot_count: 256"]
    assert hand.buffers["InputBuffer"].slot_count == 256
    assert hand.buffers["AcceptedPulses"].slot_count == 64
    assert hand.document["osc_template"]["slot_count"] == 128  # the template is untouched


def test_editing_an_inherited_worker_key(hand):
    hand.set_worker_field("input", "number_of_processes", 2)
    removed, added = changed_lines(HAND_WRITTEN, hand.to_text())
    assert (removed, added) == ([], ["    number_of_processes: 2"])
    assert hand.workers["input"].number_of_processes == 2
    assert hand.document["worker_defaults"]["number_of_processes"] == 1


def test_connect_and_disconnect_touch_only_the_list(hand):
    hand.connect("save", "Params", "sources")
    hand.connect("filter", "Params", "observes")
    removed, added = changed_lines(HAND_WRITTEN, hand.to_text())
    assert removed == ["    sources: [AcceptedPulses]"]
    assert added == ["    observes: [Params]", "    sources: [AcceptedPulses, Params]"]
    hand.disconnect("filter", "Params", "sinks")
    removed2, _ = changed_lines(HAND_WRITTEN, hand.to_text())
    assert "      - Params" in removed2
    assert hand.workers["filter"].sinks == ["AcceptedPulses"]
    hand.connect("filter", "Params", "sinks")  # block list: appended as a block item
    assert "      - Params\n    config:" in hand.to_text()
    hand.connect("filter", "Params", "sinks")  # already there: no-op
    assert hand.workers["filter"].sinks == ["AcceptedPulses", "Params"]


def test_connect_into_an_inherited_list_copies_it(tmp_path):
    setup = make(
        tmp_path,
        """\
        common: &common
          sources: [A]
        Buffers:
          A: {slot_count: 4, data_length: 1, data_dtype: {x: int8}}
          B: {slot_count: 4, data_length: 1, data_dtype: {x: int8}}
        Workers:
          w1:
            <<: *common
            function: data.export
          w2:
            <<: *common
            function: data.export
        """,
    )
    setup.connect("w1", "B", "sources")
    assert setup.workers["w1"].sources == ["A", "B"]
    assert setup.workers["w2"].sources == ["A"]
    assert setup.document["common"]["sources"] == ["A"]


def test_add_buffer_goes_before_the_blank_line_and_next_comment(hand):
    hand.add_buffer("New", 8, 1, {"x": "float64", "label": np.dtype("S10")})
    text = hand.to_text()
    assert "    data_dtype: {decay_time: int32, h: float32}\n  New:\n" in text
    assert "      label: S10\n\nWorkers:\n" in text
    removed, added = changed_lines(HAND_WRITTEN, text)
    assert removed == []
    assert added == [
        "  New:",
        "    slot_count: 8",
        "    data_length: 1",
        "    data_dtype:",
        "      x: float64",
        "      label: S10",
    ]


def test_add_worker_appends_to_the_section(hand):
    hand.add_worker("drain", "data.export", sources=["Params"], config={"bins": {"h": [0, 1, 10]}})
    text = hand.to_text()
    assert text.endswith(
        "  drain:\n    function: data.export\n    config:\n      bins:\n        h: [0, 1, 10]\n"
        "    sources: [Params]\n\n"  # the manual's defaults (1 process, no sinks) are left out
        "target_directory: ~/runs/muon  # where runs go\n"
    )
    assert hand.workers["drain"].config == {"bins": {"h": [0, 1, 10]}}


def test_remove_worker_takes_its_leading_comment_only(hand):
    hand.remove_worker("filter")
    removed, added = changed_lines(HAND_WRITTEN, hand.to_text())
    assert added == []
    assert removed[0] == "  # the filter stage" and removed[1] == "  filter:"
    assert "  save:" not in removed
    hand.remove_worker("input")
    assert "Workers:\n  save:\n" in hand.to_text()
    assert "worker_defaults: &wdef\n" in hand.to_text()  # the anchor stays without its alias


def test_remove_buffer_removes_references(hand):
    hand.remove_buffer("Params")
    text = hand.to_text()
    assert "Params" not in text
    assert "  # parameters after the filter" not in text  # its leading comment went with it
    assert hand.workers["hist"].sources == []
    assert hand.workers["filter"].sinks == ["AcceptedPulses"]
    Setup.from_text(text)  # still valid YAML


def test_set_worker_config_edits_in_place(hand):
    hand.set_worker_field("filter", "config", ["common.yaml", {"min_height": 0.3}])
    assert changed_lines(HAND_WRITTEN, hand.to_text()) == (
        ["      - min_height: 0.2   # volts"],
        ["      - min_height: 0.3   # volts"],
    )
    hand.set_worker_field("save", "config", {"filename": "pulses"})
    hand.set_worker_field("save", "file", "mine.py")
    text = hand.to_text()
    # new keys go to their place in the manual's order: file, function, config, ..., sources
    assert (
        "  save:\n    file: mine.py\n    function: data.export\n    config:\n      filename: pulses\n    sources: [AcceptedPulses]\n"
        in text
    )
    hand.set_worker_field("save", "file", None)
    hand.set_worker_field("save", "config", None)
    assert "  save:\n    function: data.export\n    sources: [AcceptedPulses]\n  hist:" in hand.to_text()


def test_set_top_level_field(hand):
    hand.set_field("target_directory", "/data/runs")
    assert changed_lines(HAND_WRITTEN, hand.to_text()) == (
        ["target_directory: ~/runs/muon  # where runs go"],
        ["target_directory: /data/runs   # where runs go"],
    )
    assert hand.target_directory == Path("/data/runs")


def test_undo_snapshots_restore_the_exact_text(hand):
    states = [hand.to_state()]
    edits = [
        lambda: hand.set_buffer_field("Params", "slot_count", 16),
        lambda: hand.rename_buffer("AcceptedPulses", "Accepted"),
        lambda: hand.remove_worker("filter"),
        lambda: hand.add_buffer("New", 8, 1, {"x": "float64"}),
        lambda: hand.connect("save", "New", "sources"),
        lambda: hand.set_buffer_field("InputBuffer", "data_dtype", {"chA": "int16"}),
    ]
    texts = [hand.to_text()]
    for edit in edits:
        edit()
        states.append(hand.to_state())
        texts.append(hand.to_text())
    assert len(set(texts)) == len(texts)
    for state, text in reversed(list(zip(states, texts, strict=True))):
        hand.from_state(state)
        assert hand.to_text() == text
    assert hand.to_text() == HAND_WRITTEN
    assert not hand.modified
    assert isinstance(states[0], SetupState)


def test_edits_survive_save_and_reload(hand, tmp_path):
    hand.add_buffer("New", 8, 1, {"x": "float64"})
    hand.add_worker("drain", "data.export", sources=["New"])
    hand.connect("input", "New", "sinks")
    path = hand.save(tmp_path / "edited.yaml")
    again = Setup.load(path)
    assert again.resolved_dict() == hand.resolved_dict()
    assert again.to_text() == hand.to_text()


def test_listeners_hear_every_edit(hand):
    events = []
    hand.add_listener(lambda event, detail: events.append((event, detail)))
    hand.rename_buffer("Params", "P")
    hand.connect("save", "P", "sources")
    hand.from_state(hand.to_state())
    assert events == [
        ("buffer_renamed", {"old": "Params", "new": "P"}),
        ("connected", {"worker": "save", "buffer": "P", "role": "sources"}),
        ("reset", {}),
    ]


def test_editing_errors(hand):
    with pytest.raises(ValueError, match="already exists"):
        hand.add_buffer("Params", 1, 1, {"x": "int8"})
    with pytest.raises(KeyError, match="buffer 'Nope' is not defined"):
        hand.connect("save", "Nope", "sources")
    with pytest.raises(ValueError, match="role must be one of sources, sinks, observes"):
        hand.connect("save", "Params", "source")
    with pytest.raises(ValueError, match="already exists"):
        hand.rename_worker("save", "hist")
    with pytest.raises(ValueError, match="non-empty string"):
        hand.add_worker(" ", "data.export")
    assert hand.to_text() == HAND_WRITTEN


def test_new_setup_is_filled_by_the_editor(tmp_path):
    setup = Setup.new(tmp_path / "gamma" / "setup.yaml")
    assert setup.name == "gamma"
    assert setup.buffers == {} and setup.workers == {}
    setup.add_buffer("Waveforms", 16, 500, {"ch1": "float32"})
    setup.add_buffer("Peaks", 16, 1, {"position": "int32", "peak_heights": "float32"})
    setup.add_worker("source", "simulators.gamma_pulses", sinks=["Waveforms"])
    setup.add_worker("pha", "analyzers.pha", config={"height": 0.05})
    setup.connect("pha", "Waveforms", "sources")
    setup.connect("pha", "Peaks", "sinks")
    setup.add_worker("save", "data.export", sources=["Peaks"])
    assert setup.validate() == []
    path = setup.save()
    assert path == tmp_path / "gamma" / "setup.yaml"
    text = path.read_text()
    assert text.startswith("# mimoCoRB setup\nBuffers:\n  Waveforms:\n")
    assert "\n\nWorkers:\n  source:\n" in text
    assert Setup.load(path).validate() == []
