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


def test_setup_buffer_units_key_is_optional_checked_and_kept_in_the_run_copy(tmp_path):
    from mimocorb_gui.core.setup import Setup

    (tmp_path / "setup.yaml").write_text(
        "Buffers:\n"
        "  P:\n"
        "    slot_count: 8\n"
        "    data_length: 1\n"
        "    data_dtype: {decay_time: float64, h: float64}\n"
        "    units: {decay_time: µs, h: [1000, keV], nope: V}\n"
        "Workers:\n"
        "  src: {function: simulators.muon_pulses, sinks: [P]}\n",
        encoding="utf-8",
    )
    setup = Setup.load(tmp_path / "setup.yaml")
    assert setup.buffers["P"].units == {"decay_time": FieldUnit("µs"), "h": FieldUnit("keV", 1000.0)}
    found = [str(p) for p in setup.validate() if "units" in p.location]
    assert found == [
        "setup.yaml: Buffers.P.units: units: 'nope' is not a field of the buffer (valid: decay_time, h)"
    ]
    assert all(p.severity == "warning" for p in setup.validate() if "units" in p.location)
    assert setup.resolved_dict()["Buffers"]["P"]["units"] == {"decay_time": "µs", "h": [1000.0, "keV"]}


def test_every_shipped_setup_declares_units_and_validates(tmp_path):

    from mimocorb_gui.core.setup import Setup
    from mimocorb_gui.shipped import examples_dir

    root = examples_dir()
    expected = {"muon_lifetime": {"PulseParameters": {"decay_time": "µs", "decay_height": "V"}},
                "gamma_spectroscopy": {"PulseHeights": {"peak_heights": "keV"}, "Pulses": {"IN1": "V"}}}  # fmt: skip
    for name, buffers in expected.items():
        setup = Setup.load(root / name / "setup.yaml")
        assert not [p for p in setup.validate() if "units" in p.location], name
        for buffer, units in buffers.items():
            got = {f: u.unit for f, u in setup.buffers[buffer].units.items()}
            assert units.items() <= got.items(), (name, buffer, got)
