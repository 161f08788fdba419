"""`mimocorb install-desktop`: launcher, icon and setup-file association into a temporary prefix."""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from mimocorb_gui import desktop
from mimocorb_gui.cli import main as cli_main
from mimocorb_gui.shipped import resources_dir

ROOT = Path(__file__).resolve().parent.parent
RESOURCES = resources_dir()
MIME_NS = "{http://www.freedesktop.org/standards/shared-mime-info}"


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A private HOME and XDG dirs: nothing of the real user's desktop is touched."""
    home = tmp_path / "home"
    (home / ".config").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "prefix" / "share"))
    return home


@pytest.fixture
def no_xdg_mime(monkeypatch):
    """Hide xdg-mime so the association goes through our own mimeapps.list edit (deterministic)."""
    real = shutil.which
    monkeypatch.setattr(
        desktop.shutil, "which", lambda name, *a, **k: None if name == "xdg-mime" else real(name)
    )


def read_desktop_file(path: Path) -> dict[str, str]:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # keys are case-sensitive
    parser.read_string(path.read_text(encoding="utf-8"))
    assert parser.sections() == ["Desktop Entry"]
    return dict(parser["Desktop Entry"])


def exec_argv(value: str) -> list[str]:
    """Split an Exec value as the Desktop Entry spec says: string unescape, then its quoting rules."""
    value = value.replace("\\\\", "\x00").replace("\x00", "\\")  # string level: \\ -> \
    args, current, quoted, i, started = [], "", False, 0, False
    while i < len(value):
        c = value[i]
        if quoted and c == "\\" and i + 1 < len(value) and value[i + 1] in '"`$\\':
            current += value[i + 1]
            i += 2
            continue
        if c == '"':
            quoted, started = not quoted, True
        elif c == " " and not quoted:
            if started:
                args.append(current)
            current, started = "", False
        else:
            current, started = current + c, True
        i += 1
    assert not quoted, f"unbalanced quotes in {value!r}"
    if started:
        args.append(current)
    return [a.replace("%%", "%") for a in args]


def validate(path: Path) -> None:
    tool = shutil.which("desktop-file-validate")
    if tool:
        proc = subprocess.run([tool, str(path)], capture_output=True, text=True)
        errors = [ln for ln in (proc.stdout + proc.stderr).splitlines() if "error:" in ln]
        assert proc.returncode == 0 and not errors, proc.stdout + proc.stderr
    entry = read_desktop_file(path)
    for key in ("Type", "Name", "Exec", "Icon", "MimeType", "Categories"):
        assert entry.get(key), f"{path.name}: {key} missing"
    assert entry["Type"] == "Application"
    assert desktop.MIME_TYPE in entry["MimeType"].split(";")
    assert entry["Exec"].endswith(" gui %f")


# --------------------------------------------------------------------------- resources


def test_resources_match_the_generator():
    """resources/ holds exactly what desktop.py generates (regenerate: mimocorb install-desktop --write-resources resources)."""
    assert (RESOURCES / "mimocorb.svg").read_text(encoding="utf-8") == desktop.icon_svg()
    assert (RESOURCES / "mimocorb.desktop").read_text(encoding="utf-8") == desktop.desktop_entry()
    assert (RESOURCES / "mimocorb-setup.xml").read_text(encoding="utf-8") == desktop.mime_xml()
    validate(RESOURCES / "mimocorb.desktop")


def test_icon_pngs_have_their_sizes_and_are_not_empty():
    from PySide6.QtGui import QImage

    for size in desktop.PNG_SIZES:
        image = QImage(str(RESOURCES / "icons" / f"mimocorb-{size}.png"))
        assert (image.width(), image.height()) == (size, size)
        # opaque in the middle (background), transparent in the corner (rounded)
        assert image.pixelColor(size // 2, size // 2).alpha() == 255
        assert image.pixelColor(0, 0).alpha() < 64


def test_render_png_from_svg():
    from PySide6.QtGui import QImage

    data = desktop.render_png(desktop.icon_svg(), 48)
    image = QImage.fromData(data, "PNG")
    assert (image.width(), image.height()) == (48, 48)


def test_mime_xml_describes_setup_files():
    root = ET.fromstring(desktop.mime_xml())
    mt = root.find(f"{MIME_NS}mime-type")
    assert mt.get("type") == desktop.MIME_TYPE
    assert {g.get("pattern") for g in mt.findall(f"{MIME_NS}glob")} == {"*.mimocorb.yaml", "*.mimocorb.yml"}
    assert mt.find(f"{MIME_NS}sub-class-of").get("type") == "application/x-yaml"
    values = {m.get("value") for m in mt.iter(f"{MIME_NS}match")}
    assert values == {"Buffers:", "\\nBuffers:"}


@pytest.mark.parametrize(
    "command",
    [
        ["/opt/mimocorb/mimocorb"],
        ["/home/tutor/Lab PC/mimocorb/mimocorb"],
        ['/weird/$HOME/100%/it\'s "here"/mimo`corb`\\x'],
        ["/usr/bin/python3", "-m", "mimocorb_gui"],
    ],
)
def test_exec_line_quotes_every_path(command):
    entry = dict(ln.split("=", 1) for ln in desktop.desktop_entry(command).splitlines()[1:] if "=" in ln)
    assert exec_argv(entry["Exec"]) == [*command, "gui", "%f"]
    assert entry["TryExec"].replace("\\\\", "\\") == command[0]


# --------------------------------------------------------------------------- install / uninstall


def test_install_and_uninstall_in_a_prefix(tmp_path, home, no_xdg_mime):
    prefix = tmp_path / "prefix"
    mimeapps = home / ".config" / "mimeapps.list"
    before = "[Default Applications]\ntext/plain=org.gnome.TextEditor.desktop\n"
    mimeapps.write_text(before)
    messages: list[str] = []
    written = desktop.install(prefix, command=["/opt/mimocorb/mimocorb"], log=messages.append)

    paths = desktop.installed_paths(prefix)
    assert sorted(written) == sorted(paths.values())
    assert all(p.is_file() for p in written)
    share = prefix / "share"
    launcher = share / "applications" / "mimocorb.desktop"
    validate(launcher)
    entry = read_desktop_file(launcher)
    assert exec_argv(entry["Exec"]) == ["/opt/mimocorb/mimocorb", "gui", "%f"]
    assert entry["Icon"] == "mimocorb"
    assert (share / "icons/hicolor/scalable/apps/mimocorb.svg").read_text() == desktop.icon_svg()
    assert (share / "icons/hicolor/48x48/apps/mimocorb.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    ET.parse(share / "mime/packages/mimocorb-setup.xml")  # well-formed
    text = mimeapps.read_text()
    assert "text/plain=org.gnome.TextEditor.desktop" in text
    assert "application/x-mimocorb-setup=mimocorb.desktop" in text

    if shutil.which("update-mime-database"):  # the MIME database of the prefix knows the type now
        assert "*.mimocorb.yaml" in (share / "mime/globs2").read_text()
        assert (share / "mime/application/x-mimocorb-setup.xml").is_file()
        assert any("update-mime-database" in m for m in messages)
    else:
        assert any("skipped: update-mime-database" in m for m in messages)

    removed = desktop.uninstall(prefix, log=messages.append)
    assert sorted(removed) == sorted(paths.values())
    assert not any(p.exists() for p in paths.values())
    assert not (share / "mime/application/x-mimocorb-setup.xml").exists()
    assert mimeapps.read_text() == before


def test_install_is_idempotent_and_uninstall_of_nothing_is_fine(tmp_path, home, no_xdg_mime):
    prefix = tmp_path / "prefix"
    desktop.install(prefix, command=["/x/mimocorb"], log=lambda m: None)
    desktop.install(prefix, command=["/x/mimocorb"], log=lambda m: None)
    text = (home / ".config/mimeapps.list").read_text()
    assert text.count("application/x-mimocorb-setup=") == 2  # once per section, not twice
    desktop.uninstall(prefix, log=lambda m: None)
    assert not (home / ".config/mimeapps.list").exists()  # we created it, nothing else was in it
    assert desktop.uninstall(prefix, log=lambda m: None) == []


def test_no_default_leaves_mimeapps_alone(tmp_path, home, no_xdg_mime):
    desktop.install(tmp_path / "prefix", command=["/x/mimocorb"], set_default=False, log=lambda m: None)
    assert not (home / ".config/mimeapps.list").exists()


def test_missing_tools_are_skipped(tmp_path, home, monkeypatch):
    monkeypatch.setattr(desktop.shutil, "which", lambda name, *a, **k: None)
    messages: list[str] = []
    desktop.install(tmp_path / "prefix", command=["/x/mimocorb"], log=messages.append)
    for tool in ("update-mime-database", "update-desktop-database", "gtk-update-icon-cache", "xdg-mime"):
        assert any(m.strip().startswith(f"skipped: {tool}") for m in messages), messages
    assert (tmp_path / "prefix/share/applications/mimocorb.desktop").is_file()
    assert "application/x-mimocorb-setup=mimocorb.desktop" in (home / ".config/mimeapps.list").read_text()


def test_cli_install_desktop_points_at_this_environment(tmp_path, home, no_xdg_mime, capsys):
    prefix = tmp_path / "prefix"
    assert cli_main(["install-desktop", "--prefix", str(prefix)]) == 0
    entry = read_desktop_file(prefix / "share/applications/mimocorb.desktop")
    argv = exec_argv(entry["Exec"])
    assert argv[-2:] == ["gui", "%f"]
    assert argv[:-2] == desktop.launcher_command()
    # the launcher command really is this installation's mimocorb
    proc = subprocess.run([*argv[:-2], "--help"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "mimocorb" in proc.stdout
    assert "installing the mimoCoRB launcher" in capsys.readouterr().out
    assert cli_main(["install-desktop", "--prefix", str(prefix), "--uninstall"]) == 0
    assert not (prefix / "share/applications/mimocorb.desktop").exists()


def test_launcher_command_when_frozen(monkeypatch, tmp_path):
    exe = tmp_path / "mimocorb"
    exe.write_text("")
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", str(exe))
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path / "_internal"), raising=False)
    assert desktop.launcher_command() == [str(exe.resolve())]
