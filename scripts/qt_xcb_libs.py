"""Check that Qt's xcb platform plugin can load; install its missing system libraries or say how.

``make run`` calls this before starting the GUI. On a fresh Linux desktop Qt may stop with "Could
not load the Qt platform plugin xcb" and name ``libxcb-cursor0`` although the libraries really
missing are others (``libxcb-icccm4``, ``libxcb-keysyms1``). So ask the dynamic linker: ``ldd`` of
the xcb plugin lists every library it would load, transitively, and marks the missing ones
``not found``. Missing libraries are mapped to Debian/Ubuntu package names; as root with apt-get
they are installed, otherwise the exact command is printed and the exit status is 1.

Exit status: 0 nothing missing (or not applicable: not Linux, another Qt platform chosen, no ldd),
1 libraries missing and not installed, 2 apt-get failed.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

# sonames whose Debian package name does not follow the library packaging policy's rule
_PACKAGE_EXCEPTIONS = {
    "libglib-2.0.so.0": "libglib2.0-0",
    "libgthread-2.0.so.0": "libglib2.0-0",
    "libgobject-2.0.so.0": "libglib2.0-0",
    "libGLX.so.0": "libglx0",
    "libOpenGL.so.0": "libopengl0",
    "libfreetype.so.6": "libfreetype6",
    "libz.so.1": "zlib1g",
}
_NOT_FOUND = re.compile(r"^\s*(\S+)\s*=>\s*not found", re.MULTILINE)


def package_for(soname: str) -> str:
    """The Debian package that ships ``soname`` (``libxcb-icccm.so.4`` -> ``libxcb-icccm4``).

    Debian's library packaging policy names a package after the soname: the library name, a hyphen
    if that name ends in a digit, then the major version, all lower case.
    """
    if soname in _PACKAGE_EXCEPTIONS:
        return _PACKAGE_EXCEPTIONS[soname]
    match = re.fullmatch(r"(lib.+?)\.so\.(\d+)(?:\.\d+)*", soname)
    if match is None:
        return soname
    name, major = match.group(1).lower(), match.group(2)
    return f"{name}-{major}" if name[-1].isdigit() else f"{name}{major}"


def missing_libraries(ldd_output: str) -> list[str]:
    """Sonames that ``ldd`` reports as ``not found``, each once, in the order listed."""
    return list(dict.fromkeys(_NOT_FOUND.findall(ldd_output)))


def xcb_plugin() -> Path | None:
    """Path of PySide6's ``libqxcb.so`` (found without importing Qt), or None."""
    spec = importlib.util.find_spec("PySide6")
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        for candidate in (Path(folder) / "Qt" / "plugins" / "platforms" / "libqxcb.so",):
            if candidate.is_file():
                return candidate
    return None


def ldd_missing(plugin: Path) -> list[str]:
    """Missing sonames of ``plugin`` according to ``ldd``."""
    result = subprocess.run(["ldd", str(plugin)], capture_output=True, text=True, check=False)
    return missing_libraries(result.stdout + result.stderr)


def install_command(packages: list[str], *, root: bool) -> list[str]:
    """The apt-get command line that installs ``packages`` (with sudo unless ``root``)."""
    command = ["apt-get", "install", "-y", "--no-install-recommends", *packages]
    return command if root else ["sudo", *command]


def main() -> int:
    if not sys.platform.startswith("linux"):
        return 0
    platform = os.environ.get("QT_QPA_PLATFORM", "")
    if platform and not platform.startswith("xcb"):
        return 0  # offscreen, wayland, ...: the xcb plugin is not loaded
    plugin = xcb_plugin()
    if plugin is None or shutil.which("ldd") is None:
        return 0
    missing = ldd_missing(plugin)
    if not missing:
        return 0
    packages = list(dict.fromkeys(package_for(s) for s in missing))
    print(f"Qt's xcb platform plugin cannot load; missing libraries: {', '.join(missing)}", file=sys.stderr)
    root = hasattr(os, "geteuid") and os.geteuid() == 0
    if shutil.which("apt-get") is None:
        print(
            "Install the packages that provide them with your distribution's package manager "
            f"(on Debian/Ubuntu: {' '.join(packages)}).",
            file=sys.stderr,
        )
        return 1
    if not root:
        print(f"Install them with:\n    {' '.join(install_command(packages, root=False))}", file=sys.stderr)
        return 1
    command = install_command(packages, root=True)
    print("running: " + " ".join(command), file=sys.stderr)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    if subprocess.run(command, env=env, check=False).returncode != 0:
        # a fresh container has empty package lists: update them once and try again
        subprocess.run(["apt-get", "update"], env=env, check=False)
        if subprocess.run(command, env=env, check=False).returncode != 0:
            print("apt-get could not install them; run the command above by hand.", file=sys.stderr)
            return 2
    still = ldd_missing(plugin)
    if still:
        print(f"still missing after apt-get: {', '.join(still)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
