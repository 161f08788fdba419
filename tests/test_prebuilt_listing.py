"""The palette's list of prebuilt functions is read from the module files (ast), not imported."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from mimocorb_gui.core import loader


def test_listing_read_from_the_files_equals_the_listing_by_import():
    errors: dict[str, str] = {}
    read = loader.prebuilt_listing(errors=errors)
    imported = loader.prebuilt_functions()
    assert errors == {}
    assert read == imported
    assert "exporters.histogram" in read and "observers.oscilloscope" in read


def test_a_module_that_does_not_parse_is_skipped_and_named(tmp_path, monkeypatch):
    package = tmp_path / "mypkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "good.py").write_text(
        textwrap.dedent('''
            import this_module_does_not_exist  # never imported: the listing only reads the file

            def work(source_list=None, sink_list=None, observe_list=None, config_dict=None):
                """mimoCoRB2 Function: Work hard

                Does the work.
                """

            def helper():
                """Not a worker function."""
            ''')
    )
    (package / "broken.py").write_text("def oops(:\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    errors: dict[str, str] = {}
    assert loader.prebuilt_listing("mypkg", errors=errors) == {"good.work": "Work hard"}
    assert list(errors) == ["broken"] and "line 1" in errors["broken"]


def test_the_palette_imports_no_prebuilt_module():
    code = textwrap.dedent("""
        import os, sys
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
        from PySide6.QtWidgets import QApplication
        app = QApplication([])
        from mimocorb_gui.ui.editor.palette import FunctionPalette
        palette = FunctionPalette()
        assert "analyzers.pha" in palette.functions() and not palette.errors, palette.errors
        modules = [m for m, mod in sys.modules.items() if not hasattr(mod, "__path__")]  # packages are walked
        loaded = sorted(m for m in modules if m.startswith("mimocorb_gui.functions.") or m == "scipy.signal")
        print(loaded)
        """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
