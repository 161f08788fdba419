"""Application settings in one JSON file: recent setups and the window layout of each setup.

Never pickle: layouts hold Qt's dock arrangement as base64 text plus a readable entry per dock
(visible, floating, area) and each dock's own settings (log scale, persistence, ...). Restoring
tolerates docks that no longer exist (their entries are ignored) and new docks (they keep their
default place). The file lives in ``$MIMOCORB_GUI_CONFIG_DIR`` if set (tests, screenshots),
otherwise in Qt's per-user application config location.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

from PySide6.QtCore import QStandardPaths

__all__ = ["Settings", "default_settings_path", "layout_key"]

log = logging.getLogger(__name__)

MAX_RECENT = 10
FORMAT_VERSION = 1


def default_settings_path() -> Path:
    env = os.environ.get("MIMOCORB_GUI_CONFIG_DIR")
    if env:
        return Path(env).expanduser() / "settings.json"
    base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.GenericConfigLocation)
    return Path(base or Path.home() / ".config") / "mimocorb-gui" / "settings.json"


def layout_key(setup_path: str | Path | None) -> str:
    """The key under which a setup's layout is stored: its name plus a hash of its absolute path."""
    if setup_path is None:
        return "(no setup)"
    path = Path(setup_path).expanduser().absolute()
    digest = hashlib.sha1(str(path).encode("utf-8")).hexdigest()[:10]
    name = path.parent.name if path.stem.lower() == "setup" else path.stem
    return f"{name}-{digest}"


class Settings:
    """Load, change and save the settings JSON; a damaged file is set aside, never fatal."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else default_settings_path()
        self.data: dict[str, Any] = {"version": FORMAT_VERSION, "recent": [], "layouts": {}, "window": {}}
        self.load()

    def load(self) -> None:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return
        except OSError as exc:
            log.warning("cannot read settings %s: %s", self.path, exc)
            return
        try:
            data = json.loads(text)
            if not isinstance(data, dict):
                raise ValueError("not a JSON object")
        except ValueError as exc:
            log.warning("settings %s are damaged (%s); starting with defaults", self.path, exc)
            try:
                self.path.replace(self.path.with_suffix(".damaged.json"))
            except OSError:
                pass
            return
        for key in ("recent", "layouts", "window"):
            default = self.data[key]
            value = data.get(key, default)
            self.data[key] = value if isinstance(value, type(default)) else default

    def save(self) -> None:
        """Write atomically (temporary file + rename), so a crash never leaves half a file."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".settings-", suffix=".json", dir=self.path.parent)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(self.data, fh, indent=1, sort_keys=True)
            os.replace(tmp, self.path)
        except OSError as exc:
            log.warning("cannot save settings %s: %s", self.path, exc)

    # ----- recent files -----------------------------------------------------------------------
    @property
    def recent(self) -> list[str]:
        return [p for p in self.data["recent"] if isinstance(p, str)]

    def add_recent(self, path: str | Path) -> None:
        text = str(Path(path).expanduser().absolute())
        items = [p for p in self.recent if p != text]
        self.data["recent"] = [text, *items][:MAX_RECENT]
        self.save()

    def remove_recent(self, path: str | Path) -> None:
        text = str(Path(path).expanduser().absolute())
        self.data["recent"] = [p for p in self.recent if p != text]
        self.save()

    # ----- layouts ----------------------------------------------------------------------------
    def layout(self, key: str) -> dict[str, Any] | None:
        value = self.data["layouts"].get(key)
        return value if isinstance(value, dict) else None

    def set_layout(self, key: str, layout: dict[str, Any]) -> None:
        json.dumps(layout)  # fail here, not when saving, if something is not JSON
        self.data["layouts"][key] = layout
        self.save()

    def remove_layout(self, key: str) -> None:
        self.data["layouts"].pop(key, None)
        self.save()

    # ----- window -------------------------------------------------------------------------------
    def window(self) -> dict[str, Any]:
        return self.data["window"]

    def set_window(self, values: dict[str, Any]) -> None:
        self.data["window"].update(values)
        self.save()
