"""scripts/qt_xcb_libs.py: which system libraries Qt's xcb plugin lacks, and the command that installs them."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "qt_xcb_libs.py"


@pytest.fixture(scope="module")
def xcb():
    spec = importlib.util.spec_from_file_location("qt_xcb_libs", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ldd output of PySide6 6.11's libqxcb.so on a Debian 12 container without the two libraries
LDD_OUTPUT = """\
\tlinux-vdso.so.1 (0x00007ffd6b5f2000)
\tlibQt6XcbQpa.so.6 => /venv/PySide6/Qt/plugins/platforms/../../lib/libQt6XcbQpa.so.6 (0x00007f2c)
\tlibxcb-cursor.so.0 => /lib/x86_64-linux-gnu/libxcb-cursor.so.0 (0x00007f2c1)
\tlibxcb-icccm.so.4 => not found
\tlibxcb-keysyms.so.1 => not found
\tlibxcb-icccm.so.4 => not found
\tlibxkbcommon-x11.so.0 => /lib/x86_64-linux-gnu/libxkbcommon-x11.so.0 (0x00007f2c2)
"""


def test_missing_libraries_are_read_from_ldd_once_each(xcb):
    assert xcb.missing_libraries(LDD_OUTPUT) == ["libxcb-icccm.so.4", "libxcb-keysyms.so.1"]
    assert xcb.missing_libraries("\tlibc.so.6 => /lib/libc.so.6 (0x1)\n") == []


@pytest.mark.parametrize(
    ("soname", "package"),
    [
        # names as Debian 12 / Ubuntu 24.04 ship them (apt-cache policy)
        ("libxcb-icccm.so.4", "libxcb-icccm4"),
        ("libxcb-keysyms.so.1", "libxcb-keysyms1"),
        ("libxcb-cursor.so.0", "libxcb-cursor0"),
        ("libxcb-render-util.so.0", "libxcb-render-util0"),
        ("libxkbcommon-x11.so.0", "libxkbcommon-x11-0"),
        ("libdbus-1.so.3", "libdbus-1-3"),
        ("libEGL.so.1", "libegl1"),
        ("libX11-xcb.so.1", "libx11-xcb1"),
        ("libglib-2.0.so.0", "libglib2.0-0"),
    ],
)
def test_package_names_follow_debian_library_naming(xcb, soname, package):
    assert xcb.package_for(soname) == package


def test_the_command_uses_sudo_unless_root(xcb):
    assert xcb.install_command(["libxcb-icccm4"], root=True)[:2] == ["apt-get", "install"]
    assert xcb.install_command(["libxcb-icccm4", "libxcb-keysyms1"], root=False) == [
        "sudo",
        "apt-get",
        "install",
        "-y",
        "--no-install-recommends",
        "libxcb-icccm4",
        "libxcb-keysyms1",
    ]


def test_a_user_without_root_gets_the_exact_command(xcb, monkeypatch, capsys):
    monkeypatch.setattr(xcb.sys, "platform", "linux")
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    monkeypatch.setattr(xcb, "xcb_plugin", lambda: Path("/fake/libqxcb.so"))
    monkeypatch.setattr(xcb, "ldd_missing", lambda plugin: xcb.missing_libraries(LDD_OUTPUT))
    monkeypatch.setattr(xcb.os, "geteuid", lambda: 1000)
    monkeypatch.setattr(xcb.shutil, "which", lambda name: f"/usr/bin/{name}")
    calls = []
    monkeypatch.setattr(xcb.subprocess, "run", lambda *a, **k: calls.append(a))
    assert xcb.main() == 1
    err = capsys.readouterr().err
    assert "libxcb-icccm.so.4, libxcb-keysyms.so.1" in err
    assert "sudo apt-get install -y --no-install-recommends libxcb-icccm4 libxcb-keysyms1" in err
    assert calls == []  # nothing is run without root


def test_root_installs_them_and_checks_again(xcb, monkeypatch):
    monkeypatch.setattr(xcb.sys, "platform", "linux")
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    monkeypatch.setattr(xcb, "xcb_plugin", lambda: Path("/fake/libqxcb.so"))
    missing = [xcb.missing_libraries(LDD_OUTPUT)]
    monkeypatch.setattr(xcb, "ldd_missing", lambda plugin: missing[0])
    monkeypatch.setattr(xcb.os, "geteuid", lambda: 0)
    monkeypatch.setattr(xcb.shutil, "which", lambda name: f"/usr/bin/{name}")
    commands = []

    def run(command, **kwargs):
        commands.append(command)
        missing[0] = []  # the install worked
        return subprocess.CompletedProcess(command, 0)

    monkeypatch.setattr(xcb.subprocess, "run", run)
    assert xcb.main() == 0
    assert commands == [
        ["apt-get", "install", "-y", "--no-install-recommends", "libxcb-icccm4", "libxcb-keysyms1"]
    ]


def test_offscreen_needs_no_xcb(xcb, monkeypatch):
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    monkeypatch.setattr(xcb, "xcb_plugin", lambda: pytest.fail("the plugin must not be looked at"))
    assert xcb.main() == 0


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ldd and the xcb plugin are Linux things")
def test_the_installed_plugin_is_found(xcb):
    plugin = xcb.xcb_plugin()
    assert plugin is not None and plugin.name == "libqxcb.so"
    assert isinstance(xcb.ldd_missing(plugin), list)
