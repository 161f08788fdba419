"""Validation of what is written: the top level, each buffer and each worker — keys, types and
values (sizes, dtypes, units, config files), and the buffer names a worker lists.

Each function takes the running :class:`~mimocorb_gui.core.setup.validation._Validator` and adds
its problems; ``check_worker`` also records who uses which buffer for the graph checks.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from ruamel.yaml.comments import CommentedSeq

from mimocorb_gui.core import loader, setuplimits
from mimocorb_gui.core.setup import limits
from mimocorb_gui.core.setup.specs import (
    BUFFER_KEYS,
    BUFFERS,
    DTYPE_EXAMPLES,
    OPTIONAL_BUFFER_KEYS,
    ROLES,
    TOP_KEYS,
    WORKER_KEYS,
    WORKERS,
    _describe,
    _is_int,
    to_plain,
)
from mimocorb_gui.core.setup.validate_functions import check_function
from mimocorb_gui.core.setup.yamledit import _anchor_of, _line_of
from mimocorb_gui.core.units import check_units

if TYPE_CHECKING:
    from mimocorb_gui.core.setup.validation import _Validator

__all__ = ["check_buffer", "check_config", "check_top_level", "check_worker"]


def _closest(word: str, choices: Iterable[str]) -> str | None:
    choices = [str(c) for c in choices]
    for choice in choices:
        if choice.lower() == str(word).lower():
            return choice
    found = difflib.get_close_matches(str(word), choices, n=1, cutoff=0.6)
    return found[0] if found else None


def _dtype_names() -> list[str]:
    names = {k for k in np.sctypeDict if isinstance(k, str)}
    names.update(DTYPE_EXAMPLES)
    return sorted(names)


def check_top_level(v: _Validator) -> None:
    keys = [str(k) for k in v.doc]
    for section, what in ((BUFFERS, "buffer"), (WORKERS, "worker")):
        if section not in v.doc:
            v.error(section, f"section '{section}' is missing (top-level keys: {', '.join(keys) or 'none'})")
            continue
        value = v.doc[section]
        if value is None:
            continue  # an empty section ('Buffers:' with nothing under it)
        if not isinstance(value, Mapping):
            v.error(
                section,
                f"must be a mapping of {what} names to {what} settings, found {_describe(value)}",
                line=_line_of(v.doc, section),
            )
    if isinstance(v.doc.get(WORKERS), Mapping) and not v.doc[WORKERS]:
        v.warning(WORKERS, "no workers defined: nothing will run")
    for key in v.doc:
        skey = str(key)
        if skey in TOP_KEYS:
            continue
        if skey.startswith((".", "_", "x-")) or _anchor_of(v.doc[key]):
            continue  # templates holding YAML anchors
        hint = _closest(skey, TOP_KEYS)
        msg = f"unknown top-level key '{skey}'"
        msg += f" (did you mean '{hint}'?)" if hint else f" (valid keys: {', '.join(TOP_KEYS)})"
        msg += "; templates for YAML anchors may use any key if they carry an &anchor"
        v.warning(skey, msg, line=_line_of(v.doc, key))
    if "target_directory" in v.doc:
        value = v.doc["target_directory"]
        if value is not None and not isinstance(value, str):
            v.error(
                "target_directory",
                f"must be a string path (absolute, relative to the setup file, or ~/...), found {_describe(value)}",
                line=_line_of(v.doc, "target_directory"),
            )
        elif isinstance(value, str) and value.strip():
            check_target_directory(v, value)


def check_target_directory(v: _Validator, value: str) -> None:
    """A run directory must be possible there (nothing is created by the check)."""
    raw = os.path.expandvars(value.strip())
    path = raw if "\0" in raw else os.path.abspath(v.setup.setup_dir / Path(raw).expanduser())
    problem = setuplimits.target_directory_problem(path)
    if problem:
        v.error("target_directory", f"'{value}' {problem}", line=_line_of(v.doc, "target_directory"))


def check_unknown_keys(
    v: _Validator, raw: Mapping[str, Any], valid: tuple[str, ...], where: str, node: tuple[str, str]
) -> None:
    for key in raw:
        skey = str(key)
        if skey in valid:
            continue
        hint = _closest(skey, valid)
        msg = f"unknown key '{skey}'"
        msg += f" (did you mean '{hint}'?)" if hint else f" (valid keys: {', '.join(valid)})"
        v.warning(f"{where}.{skey}", msg, node=node, line=_line_of(raw, key))


# ---- buffers


def positive_int(
    v: _Validator,
    raw: Mapping[str, Any],
    key: str,
    where: str,
    node: tuple[str, str],
    example: int,
    maximum: int = setuplimits.MAX_SIZE_VALUE,
) -> int | None:
    if key not in raw:
        return None
    value = raw[key]
    if _is_int(value) and 0 < value <= maximum:
        return int(value)
    if _is_int(value) and value > maximum:
        v.error(
            f"{where}.{key}",
            f"{key} {int(value)} is too large (at most {maximum})",
            node=node,
            line=_line_of(raw, key),
        )
        return None
    if _is_int(value) or isinstance(value, float):
        found = f"found {to_plain(value)!r}"
    else:
        found = f"found {_describe(value)}"
    v.error(
        f"{where}.{key}",
        f"must be a positive integer, e.g. {key}: {example} ({found})",
        node=node,
        line=_line_of(raw, key),
    )
    return None


def check_buffer(v: _Validator, name: Any, raw: Any, section: Mapping[str, Any]) -> int | None:
    where = f"{BUFFERS}.{name}"
    node = ("buffer", str(name))
    limits.check_name(v, name, "buffer", where, node, section)
    if not isinstance(name, str):
        v.error(
            where,
            f"buffer names must be strings, found {_describe(name)}",
            node=node,
            line=_line_of(section, name),
        )
    if not isinstance(raw, Mapping):
        v.error(
            where,
            f"must be a mapping with {', '.join(BUFFER_KEYS)}, found {_describe(raw)}",
            node=node,
            line=_line_of(section, name),
        )
        return None
    for key in BUFFER_KEYS:
        if key not in raw:
            example = {"slot_count": "slot_count: 32", "data_length": "data_length: 1"}.get(
                key, "data_dtype: {value: float32}"
            )
            v.error(
                where,
                f"'{key}' is missing (required: {', '.join(BUFFER_KEYS)}; e.g. {example})",
                node=node,
                line=_line_of(section, name),
            )
    slots = positive_int(v, raw, "slot_count", where, node, 32)
    positive_int(v, raw, "data_length", where, node, 1)
    if "data_dtype" in raw:
        check_dtype(v, raw["data_dtype"], f"{where}.data_dtype", node, raw)
    if "units" in raw:
        fields = [str(f) for f in raw["data_dtype"]] if isinstance(raw.get("data_dtype"), Mapping) else None
        for problem in check_units(raw["units"], fields):
            v.warning(f"{where}.units", problem, node=node, line=_line_of(raw, "units"))
    check_unknown_keys(v, raw, BUFFER_KEYS + OPTIONAL_BUFFER_KEYS, where, node)
    return slots


def check_dtype(
    v: _Validator, value: Any, where: str, node: tuple[str, str], parent: Mapping[str, Any]
) -> None:
    examples = ", ".join(f"'{e}'" for e in DTYPE_EXAMPLES)
    if not isinstance(value, Mapping) or not value:
        found = "an empty mapping" if isinstance(value, Mapping) else _describe(value)
        v.error(
            where,
            f"must map field names to numpy dtypes, e.g. {{ch1: float32, ch2: float32}} (found {found})",
            node=node,
            line=_line_of(parent, "data_dtype"),
        )
        return
    for fname, dt in value.items():
        loc = f"{where}.{fname}"
        line = _line_of(value, fname)
        if not isinstance(fname, str) or not fname:
            v.error(
                loc,
                f"field names must be non-empty strings, found {_describe(fname)}",
                node=node,
                line=line,
            )
            continue
        if not isinstance(dt, str):
            v.error(
                loc,
                f"bad dtype {to_plain(dt)!r}: write the dtype as a string (valid examples: {examples})",
                node=node,
                line=line,
            )
            continue
        try:
            parsed = np.dtype(str(dt))
        except (TypeError, ValueError):
            hint = _closest(str(dt), _dtype_names())
            msg = f"bad dtype '{dt}' (valid examples: {examples})"
            if hint:
                msg += f"; did you mean '{hint}'?"
            v.error(loc, msg, node=node, line=line)
            continue
        if parsed.hasobject:
            v.error(
                loc,
                f"bad dtype '{dt}': python objects cannot live in shared memory (valid examples: {examples})",
                node=node,
                line=line,
            )
        elif parsed.itemsize == 0:
            v.error(
                loc,
                f"bad dtype '{dt}': give a size, e.g. 'S10' for 10-byte strings (valid examples: {examples})",
                node=node,
                line=line,
            )
        elif setuplimits.dtype_problem(parsed):
            v.error(
                loc,
                f"bad dtype '{dt}': {setuplimits.dtype_problem(parsed)} (valid examples: {examples})",
                node=node,
                line=line,
            )
        problem = setuplimits.name_problem(fname, "field")
        if problem:
            v.error(loc, problem, node=node, line=line)


# ---- workers


def check_worker(
    v: _Validator,
    name: Any,
    raw: Any,
    section: Mapping[str, Any],
    buffer_names: list[str],
    users: dict[str, dict[str, list[tuple[str, int, str]]]],
) -> None:
    where = f"{WORKERS}.{name}"
    node = ("worker", str(name))
    if not isinstance(name, str):
        v.error(
            where,
            f"worker names must be strings, found {_describe(name)}",
            node=node,
            line=_line_of(section, name),
        )
    if not isinstance(raw, Mapping):
        v.error(
            where,
            f"must be a mapping with at least 'function' (keys: {', '.join(WORKER_KEYS)}), found {_describe(raw)}",
            node=node,
            line=_line_of(section, name),
        )
        return
    limits.check_name(v, name, "worker", where, node, section)
    nproc = positive_int(v, raw, "number_of_processes", where, node, 1, maximum=setuplimits.MAX_PROCESSES)
    nproc = nproc or 1
    file_ok = True
    file = raw.get("file")
    if file is not None and not isinstance(file, str):
        v.error(
            f"{where}.file",
            f"must be a path to a python file (relative to the setup file), found {_describe(file)}",
            node=node,
            line=_line_of(raw, "file"),
        )
        file_ok = False
    function = raw.get("function")
    if "function" not in raw or function is None or (isinstance(function, str) and not function.strip()):
        v.error(
            f"{where}.function",
            "is missing (the function to run: a prebuilt module.function such as exporters.drain, "
            "or a function of the python file given in 'file')",
            node=node,
            line=_line_of(section, name),
        )
    elif not isinstance(function, str):
        v.error(
            f"{where}.function",
            f"must be a function name, found {_describe(function)}",
            node=node,
            line=_line_of(raw, "function"),
        )
    elif file_ok and v.check_functions:
        check_function(v, str(file).strip() if file else None, function.strip(), where, node, raw)
    elif file_ok and file and not loader.resolve_file(str(file), v.setup.setup_dir).is_file():
        path = loader.resolve_file(str(file), v.setup.setup_dir)
        v.error(
            f"{where}.file",
            f"file '{file}' not found (looked for {path})",
            node=node,
            line=_line_of(raw, "file"),
        )
    if "config" in raw and not check_config(v, raw["config"], f"{where}.config", node, raw):
        v.unreadable_configs.add(node[1])  # its function's own check would only see an empty config
    listed: dict[str, str] = {}
    for role in ROLES:
        if role not in raw or raw[role] is None:
            continue
        value = raw[role]
        if not isinstance(value, list):
            v.error(
                f"{where}.{role}",
                f"must be a list of buffer names, e.g. {role}: [{buffer_names[0] if buffer_names else 'InputBuffer'}] (found {_describe(value)})",
                node=node,
                line=_line_of(raw, role),
            )
            continue
        seen: set[str] = set()
        for i, item in enumerate(value):
            loc = f"{where}.{role}[{i}]"
            line = _line_of(value, i) or _line_of(raw, role)
            if not isinstance(item, str):
                v.error(loc, f"must be a buffer name, found {_describe(item)}", node=node, line=line)
                continue
            item = str(item)
            if item not in buffer_names:
                v.error(
                    loc,
                    f"buffer '{item}' is not defined (buffers: {', '.join(buffer_names) or 'none'})",
                    node=node,
                    line=line,
                )
                continue
            if item in seen:
                v.warning(loc, f"buffer '{item}' is listed twice in {role}", node=node, line=line)
                continue
            seen.add(item)
            if role in ("sources", "sinks") and listed.get(item) not in (None, role):
                v.warning(
                    loc,
                    f"worker reads and writes the same buffer '{item}': it would feed its own input",
                    node=node,
                    line=line,
                )
            listed.setdefault(item, role)
            users[item][role].append((str(name), nproc, loc))
            v.connections.setdefault(str(name), {r: [] for r in ROLES})[role].append((item, loc))
    check_unknown_keys(v, raw, WORKER_KEYS, where, node)


def check_config(
    v: _Validator, raw: Any, where: str, node: tuple[str, str] | None, parent: Mapping[str, Any] | None = None
) -> bool:
    problems: list[tuple[str, str]] = []
    v.setup.merged_config(raw, where, problems)
    for loc, message in problems:
        v.error(loc, message, node=node, line=config_line(v, raw, loc, where, parent))
    return not problems


def config_line(
    v: _Validator, raw: Any, loc: str, where: str, parent: Mapping[str, Any] | None
) -> int | None:
    if loc != where and isinstance(raw, CommentedSeq):
        try:
            return _line_of(raw, int(loc[len(where) + 1 : -1]))
        except ValueError:
            pass
    key = where.rsplit(".", 1)[-1]
    return _line_of(parent if parent is not None else v.doc, key)
