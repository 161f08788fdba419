"""The mimoCoRB2 alias: worker files written for mimoCoRB2 (``import mimocorb2 as mi2``, ``from
mimocorb2.worker_templates import Filter`` ...) import unchanged when no real ``mimocorb2`` is
importable — a meta path finder maps that package onto ours (the very module objects, no copies)."""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import types
from typing import Any

_API_NAMES = ("BufferIO", "Config", "Importer", "Exporter", "Filter", "Processor", "Observer", "IsAlive")
_SUBMODULE_TARGETS = {
    "mimocorb2.worker_templates": "mimocorb_gui.core.templates",
    "mimocorb2.mimo_worker": "mimocorb_gui.core.bufferio",
    "mimocorb2.functions": "mimocorb_gui.functions",
}


def _alias_target(fullname: str) -> str | None:
    if fullname in _SUBMODULE_TARGETS:
        return _SUBMODULE_TARGETS[fullname]
    if fullname.startswith("mimocorb2.functions."):
        return "mimocorb_gui.functions." + fullname[len("mimocorb2.functions.") :]
    return None


def _top_getattr(name: str) -> Any:
    if name in _API_NAMES:
        import mimocorb_gui

        return getattr(mimocorb_gui, name)
    sub = f"mimocorb2.{name}"
    if sub in _SUBMODULE_TARGETS:
        return importlib.import_module(sub)
    raise AttributeError(f"module 'mimocorb2' (alias of mimocorb_gui) has no attribute '{name}'")


class _TopLoader(importlib.abc.Loader):
    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        module = types.ModuleType(spec.name, "mimoCoRB2 compatibility alias of mimocorb_gui")
        return module

    def exec_module(self, module: types.ModuleType) -> None:
        module.__all__ = list(_API_NAMES)
        module.__version__ = "2-compat"
        module.__mimocorb_gui_alias__ = True
        module.__getattr__ = _top_getattr  # PEP 562: names resolve lazily on first use


class _AliasLoader(importlib.abc.Loader):
    """Makes ``mimocorb2.x`` the very module object ``mimocorb_gui.y`` (no second copy)."""

    def __init__(self, target: str) -> None:
        self.target = target
        self._original_spec: Any = None

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        module = importlib.import_module(self.target)
        self._original_spec = getattr(module, "__spec__", None)
        return module

    def exec_module(self, module: types.ModuleType) -> None:
        # the import system overwrote __spec__ with the alias spec: give the real module its own back
        if self._original_spec is not None:
            module.__spec__ = self._original_spec


class _Mimocorb2AliasFinder(importlib.abc.MetaPathFinder):
    def find_spec(
        self, fullname: str, path: Any = None, target: Any = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname == "mimocorb2":
            return importlib.util.spec_from_loader(fullname, _TopLoader(), is_package=True)
        real = _alias_target(fullname)
        if real is None:
            return None
        is_package = real == "mimocorb_gui.functions" or _target_is_package(real)
        return importlib.util.spec_from_loader(fullname, _AliasLoader(real), is_package=is_package)


def _target_is_package(name: str) -> bool:
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return False
    return spec is not None and spec.submodule_search_locations is not None


def _alias_installed() -> bool:
    return any(isinstance(f, _Mimocorb2AliasFinder) for f in sys.meta_path)


def install_mimocorb2_alias() -> bool:
    """Let worker files written for mimoCoRB2 import ``mimocorb2`` when no real one is installed.

    Returns True when the alias is active, False when a real ``mimocorb2`` package is importable
    (then it is left alone). Idempotent.
    """
    if _alias_installed():
        return True
    existing = sys.modules.get("mimocorb2")
    if existing is not None:
        return bool(getattr(existing, "__mimocorb_gui_alias__", False))
    try:
        real = importlib.util.find_spec("mimocorb2")
    except (ImportError, ValueError):
        real = None
    if real is not None:
        return False
    # first in line: 'mimocorb2.functions' shares the real package's __path__, and the path finder
    # would otherwise load a second copy of e.g. 'mimocorb2.functions.analyzers'
    sys.meta_path.insert(0, _Mimocorb2AliasFinder())
    return True
