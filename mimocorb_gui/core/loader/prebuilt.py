"""The prebuilt worker functions of :mod:`mimocorb_gui.functions`, addressed ``module.function``
(``exporters.histogram``, ``importers.redpitaya.waveform``): listing the modules and the documented
functions in them, and importing one (a missing or broken module named with the choices)."""

from __future__ import annotations

import ast
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import inspect
import logging
import pkgutil
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mimocorb_gui.core.loader.alias import install_mimocorb2_alias
from mimocorb_gui.core.loader.docstrings import DOC_PREFIX, parse_function_doc
from mimocorb_gui.core.loader.errors import FunctionLoadError
from mimocorb_gui.core.loader.files import module_functions, tree_functions

log = logging.getLogger(__name__)

PREBUILT_PACKAGE = "mimocorb_gui.functions"


def _documented_functions(module: types.ModuleType) -> list[str]:
    return [n for n in module_functions(module) if _is_documented(getattr(module, n))]


def _is_documented(obj: Any) -> bool:
    doc = inspect.getdoc(obj) or ""
    return doc.lstrip().startswith(DOC_PREFIX)


def _package(package: str | None) -> str:
    return package or PREBUILT_PACKAGE


def prebuilt_modules(package: str | None = None) -> list[str]:
    """Names of the prebuilt modules relative to the package (``exporters``, ``importers.redpitaya``)."""
    package = _package(package)
    try:
        pkg = importlib.import_module(package)
    except Exception as exc:  # listing must not crash
        log.warning("cannot import prebuilt function package %s: %s", package, exc)
        return []
    names = []
    errors: list[str] = []
    for info in pkgutil.walk_packages(
        getattr(pkg, "__path__", []), prefix=package + ".", onerror=errors.append
    ):
        rel = info.name[len(package) + 1 :]
        if any(part.startswith("_") for part in rel.split(".")):
            continue
        names.append(rel)
    return sorted(names)


def _import_prebuilt(modname: str, package: str) -> types.ModuleType:
    full = f"{package}.{modname}"
    install_mimocorb2_alias()
    try:
        return importlib.import_module(full)
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if missing and (full == missing or full.startswith(missing + ".")) and missing.startswith(package):
            modules = prebuilt_modules(package)
            raise FunctionLoadError(
                f"prebuilt module '{modname}' not found (prebuilt modules: {', '.join(modules) or 'none'})",
                field="function",
                available=modules,
            ) from exc
        raise FunctionLoadError(
            f"prebuilt module '{modname}' cannot be imported: {type(exc).__name__}: {exc}", field="function"
        ) from exc
    except Exception as exc:
        raise FunctionLoadError(
            f"prebuilt module '{modname}' cannot be imported: {type(exc).__name__}: {exc}", field="function"
        ) from exc


def load_prebuilt(qualname: str, package: str | None = None) -> Callable[..., Any]:
    package = _package(package)
    if not isinstance(qualname, str) or "." not in qualname.strip(".") or qualname.startswith("."):
        modules = prebuilt_modules(package)
        raise FunctionLoadError(
            f"prebuilt function '{qualname}' must be addressed as module.function, e.g. exporters.drain "
            f"(prebuilt modules: {', '.join(modules) or 'none'}); or set 'file' to a python file",
            field="function",
            function=str(qualname),
            available=modules,
        )
    modname, func = qualname.rsplit(".", 1)
    module = _import_prebuilt(modname, package)
    obj = getattr(module, func, None)
    if func.startswith("_") or obj is None or not callable(obj):
        choices = _documented_functions(module) or module_functions(module)
        listed = ", ".join(f"{modname}.{n}" for n in choices) or "none"
        raise FunctionLoadError(
            f"function '{func}' not found in prebuilt module '{modname}' (available: {listed})",
            field="function",
            function=qualname,
            available=[f"{modname}.{n}" for n in choices],
        )
    return obj


def prebuilt_functions(package: str | None = None, errors: dict[str, str] | None = None) -> dict[str, str]:
    """``{'module.function': one-line summary}`` of every prebuilt function documented with
    ``mimoCoRB2 Function:``. Modules that fail to import are skipped (reported in ``errors``)."""
    package = _package(package)
    result: dict[str, str] = {}
    for modname in prebuilt_modules(package):
        try:
            module = _import_prebuilt(modname, package)
        except FunctionLoadError as exc:
            log.warning("skipping prebuilt module %s: %s", modname, exc)
            if errors is not None:
                errors[modname] = str(exc)
            continue
        for name in _documented_functions(module):
            result[f"{modname}.{name}"] = parse_function_doc(inspect.getdoc(getattr(module, name))).summary
    return result


def prebuilt_listing(package: str | None = None, errors: dict[str, str] | None = None) -> dict[str, str]:
    """What :func:`prebuilt_functions` lists, read from the module files with :mod:`ast`, importing none.

    The palette shows it at start-up: importing every prebuilt module (scipy, the Red Pitaya and
    PicoScope layers) cost seconds before the window appeared; a module is imported when a setup
    uses one of its functions. A module whose file cannot be found or parsed is skipped (``errors``).
    """
    package = _package(package)
    result: dict[str, str] = {}
    for modname in prebuilt_modules(package):
        try:
            spec = importlib.util.find_spec(f"{package}.{modname}")
            origin = Path(spec.origin) if spec is not None and spec.origin else None
            if origin is None or origin.suffix != ".py":
                raise FunctionLoadError(f"prebuilt module '{modname}' has no Python source to read")
            tree = ast.parse(origin.read_bytes(), filename=str(origin))
        except (FunctionLoadError, ImportError, OSError, SyntaxError, ValueError) as exc:
            log.warning("skipping prebuilt module %s: %s", modname, exc)
            if errors is not None:
                errors[modname] = str(exc)
            continue
        for name, doc in tree_functions(tree).items():
            if (doc or "").lstrip().startswith(DOC_PREFIX):
                result[f"{modname}.{name}"] = parse_function_doc(doc).summary
    return result
