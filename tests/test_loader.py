"""core/loader/: user files, prebuilt functions, docstrings, the mimoCoRB2 alias (no processes)."""

import importlib
import sys
import textwrap
from pathlib import Path

import pytest

from mimocorb_gui.core import loader
from mimocorb_gui.core.loader import FunctionLoadError

DATA = Path(__file__).parent / "data" / "setups"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


# ---------------------------------------------------------------- user files


def test_load_function_from_relative_file_with_sibling_import(tmp_path):
    write(tmp_path / "helpers.py", "def twice(x):\n    return 2 * x\n")
    write(
        tmp_path / "funcs.py",
        """
        from helpers import twice

        def work(buffer_io):
            return twice(buffer_io)
        """,
    )
    path_before = list(sys.path)
    func = loader.load_function("funcs.py", "work", tmp_path)
    assert func(21) == 42
    assert sys.path == path_before  # the folder was on sys.path only while importing
    assert func.__module__.startswith("mimocorb_user_funcs_")
    assert sys.modules[func.__module__].__file__ == str(tmp_path / "funcs.py")


def test_load_function_absolute_and_home_paths(tmp_path, monkeypatch):
    write(tmp_path / "home" / "lab" / "w.py", "def f(io):\n    return 'home'\n")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert loader.load_function("~/lab/w.py", "f", tmp_path / "elsewhere")(None) == "home"
    absolute = str(tmp_path / "home" / "lab" / "w.py")
    assert loader.load_function(absolute, "f", "/nonexistent")(None) == "home"


def test_same_stem_in_two_folders_gives_two_modules(tmp_path):
    write(tmp_path / "a" / "funcs.py", "def f(io):\n    return 'a'\n")
    write(tmp_path / "b" / "funcs.py", "def f(io):\n    return 'b'\n")
    fa = loader.load_function("a/funcs.py", "f", tmp_path)
    fb = loader.load_function("b/funcs.py", "f", tmp_path)
    assert (fa(None), fb(None)) == ("a", "b")
    assert fa.__module__ != fb.__module__


def test_missing_file_shows_resolved_path(tmp_path):
    with pytest.raises(FunctionLoadError) as info:
        loader.load_function("nope.py", "f", tmp_path)
    assert info.value.field == "file"
    assert str(info.value) == f"file 'nope.py' not found (looked for {tmp_path / 'nope.py'})"


def test_missing_function_lists_available_ones(tmp_path):
    write(
        tmp_path / "funcs.py",
        """
        from os.path import join  # imported: not listed

        def filter_pulses(io): ...
        def calculate(io): ...
        def _helper(): ...
        CONSTANT = 3
        """,
    )
    with pytest.raises(FunctionLoadError) as info:
        loader.load_function("funcs.py", "filtr", tmp_path)
    assert info.value.field == "function"
    assert str(info.value) == "function 'filtr' not found in funcs.py (available: filter_pulses, calculate)"
    assert info.value.available == ["filter_pulses", "calculate"]
    assert loader.available_functions("funcs.py", tmp_path) == ["filter_pulses", "calculate"]


def test_syntax_error_and_import_error_are_reported_with_the_file(tmp_path):
    write(tmp_path / "bad.py", "def f(io):\n    return (\n")
    with pytest.raises(FunctionLoadError) as info:
        loader.load_function("bad.py", "f", tmp_path)
    assert info.value.field == "file"
    assert "bad.py" in str(info.value) and "syntax error at line" in str(info.value)

    write(tmp_path / "boom.py", "import no_such_module_xyz\n")
    with pytest.raises(FunctionLoadError) as info:
        loader.load_function("boom.py", "f", tmp_path)
    assert "ModuleNotFoundError" in str(info.value) and "no_such_module_xyz" in str(info.value)
    assert not any(name.startswith("mimocorb_user_boom_") for name in sys.modules)


def test_non_python_file_is_refused(tmp_path):
    write(tmp_path / "config.yaml", "a: 1\n")
    with pytest.raises(FunctionLoadError, match="not a python file"):
        loader.load_function("config.yaml", "f", tmp_path)


def _counting_file(path, body="def f(io): ...\n"):
    write(path, "import builtins\nbuiltins._mimo_count = getattr(builtins, '_mimo_count', 0) + 1\n" + body)


def test_a_file_is_imported_again_only_when_its_content_changes(tmp_path):
    import builtins

    _counting_file(tmp_path / "count.py")
    builtins._mimo_count = 0
    try:
        cache: dict = {}
        loader.load_function("count.py", "f", tmp_path, cache=cache)
        loader.load_function("count.py", "f", tmp_path, cache=cache)
        loader.load_function("count.py", "f", tmp_path)  # a second validation pass: same file, no re-run
        assert builtins._mimo_count == 1
        _counting_file(tmp_path / "count.py", "def f(io):\n    return 2\n")  # the user edits the file
        assert loader.load_function("count.py", "f", tmp_path)(None) == 2
        assert builtins._mimo_count == 2
    finally:
        del builtins._mimo_count


def test_a_forked_child_runs_the_file_itself(tmp_path, monkeypatch):
    import builtins

    _counting_file(tmp_path / "count.py")
    builtins._mimo_count = 0
    try:
        loader.load_function("count.py", "f", tmp_path)
        # the cache entry belongs to another process
        monkeypatch.setattr(loader.files.os, "getpid", lambda: -1)
        loader.load_function("count.py", "f", tmp_path)
        assert builtins._mimo_count == 2
    finally:
        del builtins._mimo_count


def test_a_failed_import_is_not_cached(tmp_path):
    write(tmp_path / "uses.py", "import helper_for_uses\ndef f(io):\n    return helper_for_uses.X\n")
    with pytest.raises(FunctionLoadError, match="helper_for_uses"):
        loader.load_function("uses.py", "f", tmp_path)
    write(tmp_path / "helper_for_uses.py", "X = 7\n")  # the user adds the missing sibling module
    try:
        assert loader.load_function("uses.py", "f", tmp_path)(None) == 7
    finally:
        sys.modules.pop("helper_for_uses", None)


def test_listing_functions_and_docstrings_does_not_execute_the_file(tmp_path):
    import builtins

    _counting_file(
        tmp_path / "w.py",
        'def first(io):\n    """mimoCoRB2 Function: first one\n\n    Type\n    ----\n    Filter\n    """\n'
        "def _private(): ...\n"
        "if True:\n    def second(io): ...\n"
        "try:\n    import numpy\nexcept ImportError:\n    pass\nelse:\n    def third(io): ...\n"
        "from os.path import join\n",
    )
    builtins._mimo_count = 0
    try:
        assert loader.available_functions("w.py", tmp_path) == ["first", "second", "third"]
        doc = loader.function_doc("first", "w.py", tmp_path)
        assert doc.documented and doc.summary == "first one" and doc.type == "Filter"
        assert builtins._mimo_count == 0
        # the listing agrees with what an import defines
        module = loader.load_module("w.py", tmp_path)
        assert loader.module_functions(module) == ["first", "second", "third"]
        assert builtins._mimo_count == 1
    finally:
        del builtins._mimo_count


def test_a_function_made_at_run_time_is_found_by_importing(tmp_path):
    write(
        tmp_path / "made.py",
        'def _make():\n    def worker(io):\n        """made at run time"""\n    return worker\nmade = _make()\n',
    )
    assert loader.available_functions("made.py", tmp_path) == []  # not a def at top level
    assert loader.function_doc("made", "made.py", tmp_path).summary == "made at run time"


def test_listing_a_broken_file_names_the_line(tmp_path):
    write(tmp_path / "bad.py", "def f(:\n")
    with pytest.raises(FunctionLoadError, match="syntax error at line 1"):
        loader.available_functions("bad.py", tmp_path)
    with pytest.raises(FunctionLoadError, match="not found"):
        loader.available_functions("missing.py", tmp_path)


def test_load_function_accepts_a_worker_spec(tmp_path):
    from mimocorb_gui.core.setup import WorkerSpec

    write(tmp_path / "w.py", "def go(io):\n    return 'spec'\n")
    spec = WorkerSpec(name="w", file="w.py", function="go")
    assert loader.load_function(spec, tmp_path)(None) == "spec"


# ---------------------------------------------------------------- prebuilt functions


def documented(name: str, summary: str, template: str) -> str:
    """Source of a function documented with the manual's template."""
    return (
        f"def {name}(buffer_io):\n"
        f'    """mimoCoRB2 Function: {summary}\n\n    Longer text.\n\n    Type\n    ----\n    {template}\n    """\n\n\n'
    )


@pytest.fixture
def fake_prebuilt(tmp_path, monkeypatch):
    """A throw-away prebuilt package: exporters, a broken module, a nested importer, a private module."""
    root = tmp_path / "fakepkgs" / "fake_functions"
    write(root / "__init__.py", "")
    write(
        root / "exporters.py",
        documented("drain", "Drain buffer", "Exporter")
        + documented("histogram", "Export data as a histogram.", "Exporter")
        + 'def helper():\n    "not a mimoCoRB2 function"\n\n\n'
        + documented("_private", "hidden", "Exporter"),
    )
    write(root / "broken.py", "import no_such_dependency_abc\n")
    write(root / "importers" / "__init__.py", "")
    write(root / "importers" / "scope.py", documented("waveform", "Acquire waveforms.", "Importer"))
    write(root / "_internal.py", documented("secret", "no", "Importer"))
    monkeypatch.syspath_prepend(str(tmp_path / "fakepkgs"))
    monkeypatch.setattr(loader.prebuilt, "PREBUILT_PACKAGE", "fake_functions")
    yield "fake_functions"
    for name in [n for n in sys.modules if n == "fake_functions" or n.startswith("fake_functions.")]:
        del sys.modules[name]


def test_prebuilt_function_loads_from_the_package(fake_prebuilt):
    func = loader.load_function(None, "exporters.histogram", None)
    assert func is importlib.import_module("fake_functions.exporters").histogram
    assert loader.load_function("", "importers.scope.waveform", None).__name__ == "waveform"


def test_real_prebuilt_function_loads():
    func = loader.load_function(None, "analyzers.pha", Path("."))
    assert func is importlib.import_module("mimocorb_gui.functions.analyzers").pha


def test_prebuilt_errors_list_the_choices(fake_prebuilt):
    with pytest.raises(FunctionLoadError) as info:
        loader.load_function(None, "drain", None)
    assert "must be addressed as module.function" in str(info.value)
    assert "exporters" in str(info.value)

    with pytest.raises(FunctionLoadError) as info:
        loader.load_function(None, "exporter.drain", None)
    assert str(info.value) == (
        "prebuilt module 'exporter' not found (prebuilt modules: broken, exporters, importers, importers.scope)"
    )

    with pytest.raises(FunctionLoadError) as info:
        loader.load_function(None, "exporters.hist", None)
    assert str(info.value) == (
        "function 'hist' not found in prebuilt module 'exporters' (available: exporters.drain, exporters.histogram)"
    )

    with pytest.raises(FunctionLoadError) as info:
        loader.load_function(None, "broken.f", None)
    assert "cannot be imported" in str(info.value) and "no_such_dependency_abc" in str(info.value)


def test_prebuilt_listing_survives_broken_modules(fake_prebuilt):
    errors: dict = {}
    listed = loader.prebuilt_functions(errors=errors)
    assert listed == {
        "exporters.drain": "Drain buffer",
        "exporters.histogram": "Export data as a histogram.",
        "importers.scope.waveform": "Acquire waveforms.",
    }
    assert list(errors) == ["broken"]
    assert loader.available_functions(None) == list(listed)


def test_real_prebuilt_listing_has_summaries():
    listed = loader.prebuilt_functions()
    assert "analyzers.pha" in listed
    assert all(isinstance(v, str) and v for v in listed.values())


# ---------------------------------------------------------------- docstrings

TEMPLATE_DOC = """mimoCoRB2 Function: Export data as a histogram.

Saves histograms of the data in the source buffer to npy files.
They are updated regularly.

Type
----
Exporter

Buffers
-----
sources
    1 with `data_length = 1`
sinks
    Pass through data without modification to all sinks.
    Must share same dtype as source buffer.
observes
    0

Configs
-----
bins : dict
    Dictionary where keys are channel names and values are tuples
    of (min, max, number_of_bins).
update_interval : int, optional (default=1)
    Interval in seconds to save the histogram data to files.
filename : str, optional
    Name of the file.

Examples
-----
>>> import numpy as np
>>> np.load('chA.npy')
"""


def test_parse_function_doc_reads_the_manual_template():
    doc = loader.parse_function_doc(TEMPLATE_DOC, "exporters.histogram")
    assert doc.documented
    assert doc.qualname == "exporters.histogram"
    assert doc.summary == "Export data as a histogram."
    assert (
        doc.description
        == "Saves histograms of the data in the source buffer to npy files. They are updated regularly."
    )
    assert doc.type == "Exporter"
    assert doc.sources == "1 with `data_length = 1`"
    assert (
        doc.sinks
        == "Pass through data without modification to all sinks. Must share same dtype as source buffer."
    )
    assert doc.observes == "0"
    assert [tuple(c) for c in doc.configs] == [
        (
            "bins",
            "dict",
            None,
            "Dictionary where keys are channel names and values are tuples of (min, max, number_of_bins).",
        ),
        ("update_interval", "int", "1", "Interval in seconds to save the histogram data to files."),
        ("filename", "str", "None", "Name of the file."),
    ]
    assert not doc.configs[0].optional and doc.configs[1].optional
    assert doc.config("update_interval").default == "1"
    assert doc.examples.splitlines()[0] == ">>> import numpy as np"


def test_parse_function_doc_indented_docstring_and_older_buffer_style():
    def old(buffer_io):
        """mimoCoRB Exporter: drain data from a buffer

        Buffers
        -------
        1 source
        0 sink
        0 observe
        """

    doc = loader.parse_function_doc(old.__doc__)
    assert not doc.documented
    assert doc.summary == "mimoCoRB Exporter: drain data from a buffer"
    assert (doc.sources, doc.sinks, doc.observes) == ("1 source", "0 sink", "0 observe")
    assert loader.parse_function_doc(None).summary == ""


def test_function_doc_of_prebuilt_and_user_functions(tmp_path, fake_prebuilt):
    doc = loader.function_doc("importers.scope.waveform")
    assert (doc.summary, doc.type, doc.documented) == ("Acquire waveforms.", "Importer", True)
    lifetime = loader.function_doc("find_decays", "lifetime_filter.py", DATA / "muon_lifetime")
    assert lifetime.type == "Processor"
    assert [c.key for c in lifetime.configs] == ["channels", "min_height", "min_delay_samples"]


# ---------------------------------------------------------------- mimoCoRB2 compatibility


def test_mimocorb2_worker_file_loads_unchanged(tmp_path):
    import mimocorb_gui
    import mimocorb_gui.functions.analyzers as analyzers

    write(
        tmp_path / "old_style.py",
        """
        import mimocorb2 as mi2
        from mimocorb2 import Importer, BufferIO
        from mimocorb2.worker_templates import Filter
        from mimocorb2.mimo_worker import BufferIO as BufferIO2
        import mimocorb2.functions.analyzers as mi2_analyzers

        def worker(buffer_io: BufferIO):
            return mi2.Exporter
        """,
    )
    func = loader.load_function("old_style.py", "worker", tmp_path)
    module = sys.modules[func.__module__]
    assert module.mi2.Importer is mimocorb_gui.Importer
    assert module.Importer is mimocorb_gui.Importer
    assert module.Filter is mimocorb_gui.Filter
    assert module.BufferIO is mimocorb_gui.BufferIO and module.BufferIO2 is mimocorb_gui.BufferIO
    assert module.mi2_analyzers is analyzers  # the same module object, not a second copy
    assert analyzers.__spec__.name == "mimocorb_gui.functions.analyzers"
    assert func(None) is mimocorb_gui.Exporter


def test_the_distribution_ships_a_real_mimocorb2_package_so_no_alias_is_installed():
    # mimocorb2/ is a package of this distribution (issue 10): the alias stays a fallback only
    assert loader.install_mimocorb2_alias() is False
    assert loader.install_mimocorb2_alias() is False
    assert not [f for f in sys.meta_path if type(f).__name__ == "_Mimocorb2AliasFinder"]
    mi2 = importlib.import_module("mimocorb2")
    assert set(mi2.__all__) >= {
        "BufferIO",
        "Importer",
        "Exporter",
        "Filter",
        "Processor",
        "Observer",
        "IsAlive",
        "SetupError",
        "UfuncError",
        "Control",
    }
    assert mi2.Control is importlib.import_module("mimocorb2.control").Control
