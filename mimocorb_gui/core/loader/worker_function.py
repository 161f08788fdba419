"""The function a worker names (a prebuilt ``module.function`` or a function of its ``file``): load
it, list the choices for it, read its docstring."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mimocorb_gui.core.loader.docstrings import FunctionDoc, parse_function_doc
from mimocorb_gui.core.loader.errors import FunctionLoadError
from mimocorb_gui.core.loader.files import file_functions, load_module, module_functions
from mimocorb_gui.core.loader.prebuilt import load_prebuilt, prebuilt_functions


def load_function(
    file: Any,
    function: Any = None,
    setup_dir: str | Path | None = None,
    *,
    cache: dict[str, Any] | None = None,
    package: str | None = None,
) -> Callable[..., Any]:
    """The callable a worker runs.

    ``load_function(file, function, setup_dir)`` with ``file`` empty/None for a prebuilt
    ``module.function``; ``load_function(worker_spec, setup_dir)`` is accepted as well.
    Raises :class:`FunctionLoadError` (the file shown, available functions listed).
    """
    if hasattr(file, "function") and hasattr(file, "file"):  # a WorkerSpec
        spec = file
        if setup_dir is None and function is not None:
            setup_dir = function
        file, function = spec.file, spec.function
    if not isinstance(function, str) or not function.strip():
        raise FunctionLoadError(
            f"function name must be a non-empty string, found {function!r}", field="function"
        )
    function = function.strip()
    if not file:
        return load_prebuilt(function, package)
    module = load_module(file, setup_dir, cache=cache)
    obj = getattr(module, function, None) if function.isidentifier() else None
    if obj is None or not callable(obj):
        choices = module_functions(module)
        raise FunctionLoadError(
            f"function '{function}' not found in {Path(str(file)).name} (available: {', '.join(choices) or 'none'})",
            field="function",
            file=str(file),
            function=function,
            available=choices,
        )
    return obj


def available_functions(file: str | None, setup_dir: str | Path | None = None) -> list[str]:
    """Public top-level functions of a worker file (read, not executed); with no file, all prebuilt
    ``module.function`` names."""
    if not file:
        return list(prebuilt_functions())
    return list(file_functions(file, setup_dir))


def function_doc(
    qualname: str, file: str | None = None, setup_dir: str | Path | None = None, *, package: str | None = None
) -> FunctionDoc:
    """Parsed docstring of a prebuilt ``module.function`` (or of ``function`` in a user ``file``).

    A user file is read, not executed, when its function is a plain ``def`` (:func:`file_functions`).
    """
    if file and isinstance(qualname, str):
        listed = file_functions(file, setup_dir)
        if qualname.strip() in listed:
            return parse_function_doc(listed[qualname.strip()], qualname)
    func = load_function(file, qualname, setup_dir, package=package)
    return parse_function_doc(inspect.getdoc(func), qualname)
