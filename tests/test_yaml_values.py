"""core.yaml_values: config values typed in the property panel read as the setup file reads them (YAML 1.2)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mimocorb_gui.core.setup import Setup
from mimocorb_gui.core.yaml_values import format_value, parse_value


# YAML 1.2.2 spec, section 10.3.2 (core schema tag resolution) and example 2.2/2.19-2.21
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1e3", 1000.0),
        ("-1.5e-3", -0.0015),
        ("010", 10),  # 1.2 has no leading-zero octal; YAML 1.1 read 8
        ("0o14", 12),
        ("0xC", 12),
        ("on", "on"),  # 1.1 booleans are strings in 1.2
        ("yes", "yes"),
        ("true", True),
        ("False", False),
        (".inf", math.inf),
        ("null", None),
        ("~", None),
        ("[1, 2.5, x]", [1, 2.5, "x"]),
        ("{a: 1, b: [x]}", {"a": 1, "b": ["x"]}),
        ("'1e3'", "1e3"),
        ("hello world", "hello world"),
    ],
)
def test_values_read_as_yaml_1_2(text, expected):
    value = parse_value(text)
    assert value == expected
    kind = type(expected)
    if kind is bool or expected is None:
        assert value is expected
    else:
        assert isinstance(value, kind) and not isinstance(value, bool), type(value)


def test_a_value_reads_the_same_in_the_panel_and_in_the_setup_file():
    for text in ("1e3", "on", "010", "0x1F", "[1, on]", "2.5"):
        setup = Setup.from_text(f"Buffers: {{}}\nWorkers: {{}}\nOptions:\n  value: {text}\n")
        assert setup.document["Options"]["value"] == parse_value(text), text


def test_empty_and_unreadable_text():
    assert parse_value("") is None and parse_value("   ") is None
    assert parse_value("# just a comment") == "# just a comment"
    assert parse_value("[1, 2") == "[1, 2"  # YAML cannot read it: kept as typed


def test_the_typed_spelling_reaches_the_file(tmp_path):
    text = "Buffers: {}\nWorkers:\n  w:\n    function: exporters.drain\n    config:\n      a: 1\n"
    setup = Setup.from_text(text, tmp_path / "s.yaml")
    setup.set_worker_field("w", "config", {"a": parse_value("1e3"), "b": parse_value("on")})
    assert "a: 1e3" in setup.to_text() and "b: on" in setup.to_text()
    assert Setup.from_text(setup.to_text()).workers["w"].config == {"a": 1000.0, "b": "on"}


@pytest.mark.parametrize(
    "value", ["1e3", "yes", "", " padded", "it's", "multi\nline", "null", "[x]", 3, 2.5, True]
)
def test_format_then_parse_gives_the_value_back(value):
    back = parse_value(format_value(value))
    assert back == value and isinstance(back, type(value))


def test_strings_ruamel_writes_but_cannot_read_back_plain_are_double_quoted():
    # found by the property test below: ruamel (0.18.15 .. 0.19.1) writes {b: ?𘡣} and cannot read it
    value = {"b": "?\U00018863", "n": 3}
    assert format_value(value) == '{"b": "?\U00018863", "n": 3}'
    assert parse_value(format_value(value)) == value


def test_strings_that_read_as_other_things_are_quoted():
    assert format_value("1e3") == "'1e3'"
    assert format_value("true") == "'true'"
    assert format_value("on") == "on"  # a string in YAML 1.2: no quotes needed
    assert format_value(None) == "null"
    assert format_value({"k": [1, 2]}) == "{k: [1, 2]}"


scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(10**12), 10**12)
    | st.floats(allow_nan=False, width=64)
    | st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=12)
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text("abcxyz_", min_size=1, max_size=4), inner, max_size=3)
    ),
    max_leaves=8,
)


@given(values)
def test_any_value_survives_format_then_parse(value):
    text = format_value(value)
    back = parse_value(text)
    if value == "":
        assert back == "" or back is None
    else:
        assert back == value, text


@given(
    st.floats(allow_nan=False, allow_infinity=False), st.sampled_from(["{!r}", "{:.16e}", "{:.17g}", "{:e}"])
)
def test_a_typed_float_is_shown_and_written_as_the_same_number(value, spelling):
    """ruamel re-creates a read float's spelling from its width and cuts digits instead of rounding
    (``1.767197240362763e-196`` came back ``...762e-196``): the panel and the file show the number
    that was typed (Python's float() of the text is the reference)."""
    text = spelling.format(value)
    typed = parse_value(text)
    assert float(parse_value(format_value(typed))) == float(text)
    setup = Setup.from_text(
        f"Buffers: {{}}\nWorkers:\n  w:\n    function: exporters.drain\n    config: {{k: {text}}}\n"
    )
    setup.set_worker_field("w", "number_of_processes", 2)  # the document is dumped again
    reread = Setup.from_text(setup.to_text())
    assert float(reread.workers["w"].config["k"]) == float(text)
