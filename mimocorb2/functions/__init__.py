"""mimoCoRB2's prebuilt functions under their mimoCoRB2 names.

``mimocorb2.functions.<module>`` *is* ``mimocorb_gui.functions.<module>`` (the same module
object, never a second copy): ``from mimocorb2.functions import exporters`` and a setup's
``function: exporters.histogram`` reach the same function.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import types
from typing import Any

_PREFIX = __name__ + "."
_TARGET = "mimocorb_gui.functions."


class _SameModuleLoader(importlib.abc.Loader):
    def __init__(self, target: str) -> None:
        self.target = target
        self._spec: Any = None

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        module = importlib.import_module(self.target)
        self._spec = module.__spec__
        return module

    def exec_module(self, module: types.ModuleType) -> None:
        module.__spec__ = self._spec  # the import system put the alias spec there: give its own back


class _FunctionsFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname: str, path: Any = None, target: Any = None):
        if not fullname.startswith(_PREFIX):
            return None
        real = _TARGET + fullname[len(_PREFIX) :]
        try:
            real_spec = importlib.util.find_spec(real)
        except (ImportError, ValueError):
            return None
        if real_spec is None:
            return None
        return importlib.util.spec_from_loader(
            fullname, _SameModuleLoader(real), is_package=real_spec.submodule_search_locations is not None
        )


if not any(isinstance(f, _FunctionsFinder) for f in sys.meta_path):
    sys.meta_path.insert(0, _FunctionsFinder())


def __getattr__(name: str) -> types.ModuleType:
    try:
        return importlib.import_module(_PREFIX + name)
    except ModuleNotFoundError:
        raise AttributeError(f"module 'mimocorb2.functions' has no attribute {name!r}") from None
