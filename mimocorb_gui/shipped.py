"""Files shipped inside the package: the example setups and the desktop resources (icon, launcher,
MIME description). Every lookup of them goes through here.

They live in ``mimocorb_gui/setups/`` and ``mimocorb_gui/resources/`` and are package data, so a
source checkout, an installed wheel and the PyInstaller bundle (which collects them under
``_internal/mimocorb_gui/``) all find them the same way, through :mod:`importlib.resources`.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

__all__ = ["examples_dir", "example_setup", "example_setups", "resources_dir", "resource"]


def _package_dir(name: str) -> Path:
    # a file-system package (checkout, wheel, bundle) gives a real directory; this package is
    # never imported from a zip file (worker processes and the desktop files need real paths)
    return Path(str(files("mimocorb_gui").joinpath(name)))


def examples_dir() -> Path:
    """The folder of the example setups (``<example>/setup.yaml`` each)."""
    return _package_dir("setups")


def example_setup(name: str) -> Path:
    """``setup.yaml`` of the example ``name`` (e.g. ``simple``); FileNotFoundError naming the examples."""
    path = examples_dir() / name / "setup.yaml"
    if not path.is_file():
        names = ", ".join(p.parent.name for p in example_setups()) or "none"
        raise FileNotFoundError(f"no example setup '{name}' (examples: {names})")
    return path


def example_setups() -> list[Path]:
    """Every example's ``setup.yaml``, sorted by example name."""
    return sorted(examples_dir().glob("*/setup.yaml"))


def resources_dir() -> Path:
    """The folder of the icon (SVG and PNG sizes), the launcher template and the MIME description."""
    return _package_dir("resources")


def resource(name: str) -> Path:
    """One shipped resource file, e.g. ``mimocorb.svg``."""
    return resources_dir() / name
