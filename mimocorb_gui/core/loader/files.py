"""Worker functions from the user's python files: where a file is, importing it (as a uniquely named
module with its folder on ``sys.path`` while importing, cached per process on path and content),
and listing its functions and docstrings with :mod:`ast` without executing it."""

from __future__ import annotations

import ast
import hashlib
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import inspect
import os
import re
import sys
import types
from pathlib import Path
from typing import Any

from mimocorb_gui.core.loader.alias import install_mimocorb2_alias
from mimocorb_gui.core.loader.errors import FunctionLoadError

_USER_MODULE_PREFIX = "mimocorb_user_"


def resolve_file(file: str | Path, setup_dir: str | Path | None) -> Path:
    """Absolute path of a worker or config file: absolute, ``~/...`` or relative to ``setup_dir``."""
    path = Path(str(file)).expanduser()
    if not path.is_absolute():
        path = Path(setup_dir if setup_dir is not None else Path.cwd()) / path
    return path.resolve()


def _module_name(path: Path) -> str:
    stem = re.sub(r"\W", "_", path.stem) or "module"
    digest = hashlib.sha1(str(path).encode("utf-8")).hexdigest()[:10]
    return f"{_USER_MODULE_PREFIX}{stem}_{digest}"


def load_module(
    file: str | Path, setup_dir: str | Path | None = None, *, cache: dict[str, Any] | None = None
) -> types.ModuleType:
    """Import a python file as a uniquely named module; imported again only when its content changed.

    Successful imports are cached per process on the resolved path and the file's bytes, so repeated validations of one setup run the file's top-level code once.
    ``cache`` (a plain dict owned by the caller, e.g. one validation pass) additionally pins what
    one pass saw, so a file rewritten during the pass is not imported twice in it.
    """
    path = resolve_file(file, setup_dir)
    key = str(path)
    if cache is not None and key in cache:
        cached = cache[key]
        if isinstance(cached, FunctionLoadError):
            raise cached
        return cached
    try:
        module = _cached_import(str(file), path)
    except FunctionLoadError as exc:
        if cache is not None:
            cache[key] = exc
        raise
    if cache is not None:
        cache[key] = module
    return module


# resolved path -> (pid, content digest, module); entries of a parent process (inherited through
# fork) are not used: a worker process runs its file's top-level code itself. Failed imports are not
# kept: the cause may be a sibling module the user fixes without touching this file.
_IMPORTS: dict[str, tuple[int, str, types.ModuleType]] = {}


def _cached_import(file: str, path: Path) -> types.ModuleType:
    try:
        digest = hashlib.sha1(path.read_bytes()).hexdigest() if path.is_file() else None
    except OSError:
        digest = None
    entry = _IMPORTS.get(str(path))
    if digest is not None and entry is not None and entry[:2] == (os.getpid(), digest):
        return entry[2]
    module = _import_file(file, path)
    if digest is not None:
        _IMPORTS[str(path)] = (os.getpid(), digest, module)
    return module


def _check_python_file(file: str, path: Path) -> None:
    if not path.is_file():
        reason = "is a directory" if path.is_dir() else "not found"
        raise FunctionLoadError(f"file '{file}' {reason} (looked for {path})", field="file", file=file)
    if path.suffix != ".py":
        raise FunctionLoadError(
            f"file '{file}' is not a python file (expected a .py file, got {path.name})",
            field="file",
            file=file,
        )


def _import_file(file: str, path: Path) -> types.ModuleType:
    _check_python_file(file, path)
    install_mimocorb2_alias()
    name = _module_name(path)
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:  # pragma: no cover - .py files always get a spec
        raise FunctionLoadError(f"cannot import '{file}' ({path})", field="file", file=file)
    module = importlib.util.module_from_spec(spec)
    folder = str(path.parent)
    sys.path.insert(0, folder)
    previous = sys.modules.get(name)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        _restore_module(name, previous)
        raise FunctionLoadError(
            f"cannot import '{file}': syntax error at line {exc.lineno}: {exc.msg} ({path})",
            field="file",
            file=file,
        ) from exc
    except (Exception, SystemExit) as exc:
        _restore_module(name, previous)
        raise FunctionLoadError(
            f"cannot import '{file}': {type(exc).__name__}: {exc} ({path})", field="file", file=file
        ) from exc
    finally:
        if sys.path and sys.path[0] == folder:
            del sys.path[0]
        elif folder in sys.path:
            sys.path.remove(folder)
    return module


def _restore_module(name: str, previous: types.ModuleType | None) -> None:
    if previous is None:
        sys.modules.pop(name, None)
    else:
        sys.modules[name] = previous


def module_functions(module: types.ModuleType) -> list[str]:
    """Public top-level functions defined in ``module`` itself (not imported), in definition order."""
    names = []
    for name, obj in vars(module).items():
        if name.startswith("_") or not inspect.isfunction(obj):
            continue
        if getattr(obj, "__module__", None) != module.__name__:
            continue
        names.append(name)
    return names


# resolved path -> (content digest, {function name: docstring})
_LISTINGS: dict[str, tuple[str, dict[str, str | None]]] = {}


def file_functions(file: str | Path, setup_dir: str | Path | None = None) -> dict[str, str | None]:
    """``{name: docstring}`` of a worker file's public top-level functions, without executing it.

    The file is parsed with :mod:`ast` (cached on its content): ``def`` statements at top level or
    inside top-level ``if``/``try`` blocks, in definition order. Functions made at run time
    (``f = make_worker()``) are not seen; :func:`load_function` imports the file for those.
    """
    path = resolve_file(file, setup_dir)
    _check_python_file(str(file), path)
    source = path.read_bytes()
    digest = hashlib.sha1(source).hexdigest()
    cached = _LISTINGS.get(str(path))
    if cached is not None and cached[0] == digest:
        return dict(cached[1])
    try:
        tree = ast.parse(source, filename=str(path))
    except SyntaxError as exc:
        raise FunctionLoadError(
            f"cannot import '{file}': syntax error at line {exc.lineno}: {exc.msg} ({path})",
            field="file",
            file=str(file),
        ) from exc
    functions = tree_functions(tree)
    _LISTINGS[str(path)] = (digest, functions)
    return dict(functions)


def tree_functions(tree: ast.Module) -> dict[str, str | None]:
    """``{name: docstring}`` of the public functions a parsed module defines at top level."""
    functions: dict[str, str | None] = {}
    _collect_functions(tree.body, functions)
    return functions


def _collect_functions(body: list[ast.stmt], into: dict[str, str | None]) -> None:
    for node in body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            if not node.name.startswith("_"):
                into.pop(node.name, None)  # a later definition wins, in its own place
                into[node.name] = ast.get_docstring(node, clean=True)
        elif isinstance(node, ast.If):
            _collect_functions(node.body, into)
            _collect_functions(node.orelse, into)
        elif isinstance(node, ast.Try):
            _collect_functions(node.body, into)
            for handler in node.handlers:
                _collect_functions(handler.body, into)
            _collect_functions(node.orelse, into)
            _collect_functions(node.finalbody, into)
