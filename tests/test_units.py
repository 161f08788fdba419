"""core.units: the optional units key of a buffer."""

from mimocorb_gui.core.units import FieldUnit, check_units, parse_units


def test_units_parse_and_problems():
    fields = ["decay_time", "peak_heights", "panels_hit"]
    raw = {"decay_time": "µs", "peak_heights": [1000, "keV"]}
    assert parse_units(raw, fields) == {
        "decay_time": FieldUnit("µs"),
        "peak_heights": FieldUnit("keV", 1000.0),
    }
    assert check_units(raw, fields) == [] and check_units(None, fields) == [] and parse_units(None) == {}
    problems = check_units({"nope": "V", "panels_hit": [0, "x"], "decay_time": 3}, fields)
    assert (
        "units: 'nope' is not a field of the buffer (valid: decay_time, peak_heights, panels_hit)" in problems
    )
    assert any(p.startswith("units.panels_hit: expected a unit or [scale, unit]") for p in problems)
    assert any(p.startswith("units.decay_time:") for p in problems) and len(problems) == 3
    assert check_units(["µs"]) and str(FieldUnit("keV", 1000)) == "keV"
