"""Find, load and describe worker functions: user files, prebuilt functions, the mimoCoRB2 alias.

No Qt here: worker processes import this module to load their function.

- A worker with a ``file`` runs a function from that python file (path relative to the setup
  directory, absolute, or ``~/...``). The file is imported as a uniquely named module with its
  folder on ``sys.path`` while importing, so sibling imports work.
- A worker without ``file`` runs a prebuilt function addressed ``module.function``
  (``exporters.histogram``, ``importers.redpitaya.waveform``) from :mod:`mimocorb_gui.functions`.
- Worker files written for mimoCoRB2 (``import mimocorb2 as mi2``, ``from mimocorb2 import
  Importer``, ``from mimocorb2.worker_templates import Filter`` ...) load unchanged: when no real
  ``mimocorb2`` is importable, :func:`install_mimocorb2_alias` maps that package onto ours.

A user file's top-level code runs only when a function must really be called or inspected beyond
its source: listing a file's functions and reading their docstrings (the editor's palette and
property panel) parse it with :mod:`ast` and never execute it (:func:`file_functions`). A real
import (validation needs ``check_setup`` hooks and import errors) is cached per process on the
file's path and content, so editing a setup does not re-run a worker file; editing the file does.
"""

from __future__ import annotations

import ast
import hashlib
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import inspect
import logging
import os
import pkgutil
import re
import sys
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

__all__ = [
    "PREBUILT_PACKAGE",
    "DOC_PREFIX",
    "FunctionLoadError",
    "ConfigDoc",
    "FunctionDoc",
    "resolve_file",
    "load_module",
    "load_function",
    "available_functions",
    "module_functions",
    "file_functions",
    "prebuilt_modules",
    "prebuilt_functions",
    "function_doc",
    "parse_function_doc",
    "install_mimocorb2_alias",
]

log = logging.getLogger(__name__)

PREBUILT_PACKAGE = "mimocorb_gui.functions"
DOC_PREFIX = "mimoCoRB2 Function:"
_USER_MODULE_PREFIX = "mimocorb_user_"


class FunctionLoadError(Exception):
    """A worker function cannot be loaded; ``field`` says which setup key is at fault."""

    def __init__(
        self,
        message: str,
        *,
        field: str = "function",
        file: str | None = None,
        function: str | None = None,
        available: list[str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field  # 'file' or 'function'
        self.file = file
        self.function = function
        self.available = list(available or [])

    def __str__(self) -> str:
        return self.message


# --------------------------------------------------------------------------- user files


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
    functions: dict[str, str | None] = {}
    _collect_functions(tree.body, functions)
    _LISTINGS[str(path)] = (digest, functions)
    return dict(functions)


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


def _documented_functions(module: types.ModuleType) -> list[str]:
    return [n for n in module_functions(module) if _is_documented(getattr(module, n))]


def _is_documented(obj: Any) -> bool:
    doc = inspect.getdoc(obj) or ""
    return doc.lstrip().startswith(DOC_PREFIX)


# --------------------------------------------------------------------------- prebuilt functions


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


def _load_prebuilt(qualname: str, package: str | None = None) -> Callable[..., Any]:
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
        return _load_prebuilt(function, package)
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
        functions: dict[str, str | None] = {}
        _collect_functions(tree.body, functions)
        for name, doc in functions.items():
            if (doc or "").lstrip().startswith(DOC_PREFIX):
                result[f"{modname}.{name}"] = parse_function_doc(doc).summary
    return result


# --------------------------------------------------------------------------- docstrings


class ConfigDoc(NamedTuple):
    """One entry of a docstring's Configs section; ``default`` is None for required keys."""

    key: str
    type: str
    default: str | None
    description: str

    @property
    def optional(self) -> bool:
        return self.default is not None


@dataclass
class FunctionDoc:
    """A worker function's docstring parsed after the manual's mimoCoRB2 template."""

    qualname: str = ""
    summary: str = ""
    description: str = ""
    type: str = ""
    sources: str = ""
    sinks: str = ""
    observes: str = ""
    configs: list[ConfigDoc] = field(default_factory=list)
    examples: str = ""
    documented: bool = False  # the docstring starts with 'mimoCoRB2 Function:'
    text: str = ""

    def config(self, key: str) -> ConfigDoc | None:
        """The documented config entry ``key`` or None."""
        for entry in self.configs:
            if entry.key == key:
                return entry
        return None


_SECTIONS = {
    "type": "type",
    "buffers": "buffers",
    "configs": "configs",
    "config": "configs",
    "configuration": "configs",
    "examples": "examples",
    "example": "examples",
}
_UNDERLINE = re.compile(r"^\s*[-=~^]{2,}\s*$")
_CONFIG_ENTRY = re.compile(r"^(?P<key>[^\s:][^:]*?)\s*(?::\s*(?P<rest>.*))?$")
_OPTIONAL = re.compile(
    r"^(?P<type>.*?)[\s,]*\boptional\b\s*(?:\(\s*default\s*[=:]\s*(?P<default>.*?)\s*\))?\s*\.?$"
)
_ROLE_WORD = re.compile(r"\b(sources?|sinks?|observes?|observers?)\b", re.IGNORECASE)


def _join_paragraphs(lines: list[str]) -> str:
    paragraphs: list[list[str]] = [[]]
    for line in lines:
        if line.strip():
            paragraphs[-1].append(line.strip())
        elif paragraphs[-1]:
            paragraphs.append([])
    return "\n".join(" ".join(p) for p in paragraphs if p)


def _strip_blank(lines: list[str]) -> list[str]:
    while lines and not lines[0].strip():
        lines = lines[1:]
    while lines and not lines[-1].strip():
        lines = lines[:-1]
    return lines


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def parse_function_doc(doc: str | None, qualname: str = "") -> FunctionDoc:
    """Parse a docstring written after the manual's template (section 2.3)."""
    text = inspect.cleandoc(doc or "")
    lines = text.splitlines()
    result = FunctionDoc(qualname=qualname, text=text)
    if not lines:
        return result
    first = lines[0].strip()
    result.documented = first.startswith(DOC_PREFIX)
    result.summary = first[len(DOC_PREFIX) :].strip() if result.documented else first
    sections: dict[str, list[str]] = {"description": []}
    current = "description"
    i = 1
    while i < len(lines):
        line = lines[i]
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        if line.strip() and _indent(line) == 0 and _UNDERLINE.match(nxt):
            current = _SECTIONS.get(line.strip().rstrip(":").lower(), line.strip().lower())
            sections.setdefault(current, [])
            i += 2
            continue
        sections.setdefault(current, []).append(line)
        i += 1
    result.description = _join_paragraphs(sections.get("description", []))
    result.type = _join_paragraphs(sections.get("type", []))
    result.examples = "\n".join(_strip_blank(sections.get("examples", [])))
    _parse_buffers(_strip_blank(sections.get("buffers", [])), result)
    result.configs = _parse_configs(_strip_blank(sections.get("configs", [])))
    return result


def _parse_buffers(lines: list[str], result: FunctionDoc) -> None:
    base = min((_indent(x) for x in lines if x.strip()), default=0)
    roles: dict[str, list[str]] = {}
    role = None
    for line in lines:
        word = line.strip().rstrip(":").lower()
        if line.strip() and _indent(line) == base and word in ("sources", "sinks", "observes"):
            role = word
            roles.setdefault(role, [])
        elif role is not None:
            roles[role].append(line)
    if not roles:  # older style: "1 source", "0 or 1 sink", "0 observe"
        for line in lines:
            match = _ROLE_WORD.search(line)
            if match:
                word = match.group(1).lower()
                key = (
                    "observes"
                    if word.startswith("observ")
                    else ("sources" if word.startswith("source") else "sinks")
                )
                roles.setdefault(key, []).append(line)
    result.sources = _join_paragraphs(roles.get("sources", []))
    result.sinks = _join_paragraphs(roles.get("sinks", []))
    result.observes = _join_paragraphs(roles.get("observes", []))


def _parse_configs(lines: list[str]) -> list[ConfigDoc]:
    base = min((_indent(x) for x in lines if x.strip()), default=0)
    entries: list[tuple[str, str, str | None, list[str]]] = []
    for line in lines:
        if line.strip() and _indent(line) == base:
            match = _CONFIG_ENTRY.match(line.strip())
            if not match:
                continue
            key = match.group("key").strip().strip("`*")
            rest = (match.group("rest") or "").strip()
            default: str | None = None
            opt = _OPTIONAL.match(rest)
            if opt:
                rest = opt.group("type").strip().rstrip(",").strip()
                default = opt.group("default") if opt.group("default") is not None else "None"
            entries.append((key, rest, default, []))
        elif entries:
            entries[-1][3].append(line)
    return [ConfigDoc(key, typ, default, _join_paragraphs(desc)) for key, typ, default, desc in entries]


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


# --------------------------------------------------------------------------- mimoCoRB2 alias

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
