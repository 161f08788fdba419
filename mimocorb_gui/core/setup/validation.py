"""Validation of a setup: the validator and its messages (``Setup.validate`` runs it)."""

from __future__ import annotations

import difflib
import inspect
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
    Problem,
    _describe,
    _is_int,
    to_plain,
)
from mimocorb_gui.core.setup.yamledit import _anchor_of, _line_of
from mimocorb_gui.core.units import check_units

if TYPE_CHECKING:
    from mimocorb_gui.core.setup.model import Setup


# =========================================================================== validation


def _closest(word: str, choices: Iterable[str]) -> str | None:
    choices = [str(c) for c in choices]
    for choice in choices:
        if choice.lower() == str(word).lower():
            return choice
    found = difflib.get_close_matches(str(word), choices, n=1, cutoff=0.6)
    return found[0] if found else None


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


def _fmt_fields(fields: Mapping[str, Any]) -> str:
    return "{" + ", ".join(f"{k}: {v}" for k, v in fields.items()) + "}"


def _dtype_names() -> list[str]:
    names = {k for k in np.sctypeDict if isinstance(k, str)}
    names.update(DTYPE_EXAMPLES)
    return sorted(names)


class _Validator:
    def __init__(self, setup: Setup, check_functions: bool) -> None:
        self.setup = setup
        self.doc = setup.document
        self.check_functions = check_functions
        self.file = setup.path.name
        self.problems: list[Problem] = []
        self.cache: dict[str, Any] = {}
        # worker -> (template named in the docstring's Type, function label, prebuilt?, doc of buffers)
        self.templates: dict[str, tuple[str, str, bool, Any]] = {}
        # worker -> role -> [(buffer, location)] of defined buffers
        self.connections: dict[str, dict[str, list[tuple[str, str]]]] = {}
        # worker -> the function's own setup check (core.templates.setup_check)
        self.function_checks: dict[str, Any] = {}
        self.unreadable_configs: set[str] = set()  # workers whose config files/entries could not be read
        # worker -> the parsed docstring of its function (documented config keys)
        self.function_docs: dict[str, Any] = {}

    def add(
        self,
        severity: str,
        location: str,
        message: str,
        node: tuple[str, str] | None = None,
        line: int | None = None,
    ) -> None:
        self.problems.append(Problem(severity, location, message, node, self.file, line))

    def error(self, *args: Any, **kw: Any) -> None:
        self.add("error", *args, **kw)

    def warning(self, *args: Any, **kw: Any) -> None:
        self.add("warning", *args, **kw)

    def run(self) -> list[Problem]:
        self.top_level()
        buffers = self.doc.get(BUFFERS)
        workers = self.doc.get(WORKERS)
        buffer_names = [str(k) for k in buffers] if isinstance(buffers, Mapping) else []
        valid_buffers: dict[str, int | None] = {}
        if isinstance(buffers, Mapping):
            for name, raw in buffers.items():
                valid_buffers[str(name)] = self.buffer(name, raw, buffers)
        if "base_config" in self.doc:
            self.config(self.doc["base_config"], "base_config", None)
        users: dict[str, dict[str, list[tuple[str, int, str]]]] = {
            n: {r: [] for r in ROLES} for n in buffer_names
        }
        if isinstance(workers, Mapping):
            for name, raw in workers.items():
                self.worker(name, raw, workers, buffer_names, users)
        if isinstance(buffers, Mapping):
            limits.check_memory(self)
        if isinstance(buffers, Mapping) and isinstance(workers, Mapping):
            limits.check_cycles(self, users)
            self.graph(buffers, valid_buffers, users)
            self.template_rules(workers)
            self.function_configs(workers)
        return self.problems

    # ---- top level

    def top_level(self) -> None:
        keys = [str(k) for k in self.doc]
        for section, what in ((BUFFERS, "buffer"), (WORKERS, "worker")):
            if section not in self.doc:
                self.error(
                    section, f"section '{section}' is missing (top-level keys: {', '.join(keys) or 'none'})"
                )
                continue
            value = self.doc[section]
            if value is None:
                continue  # an empty section ('Buffers:' with nothing under it)
            if not isinstance(value, Mapping):
                self.error(
                    section,
                    f"must be a mapping of {what} names to {what} settings, found {_describe(value)}",
                    line=_line_of(self.doc, section),
                )
        if isinstance(self.doc.get(WORKERS), Mapping) and not self.doc[WORKERS]:
            self.warning(WORKERS, "no workers defined: nothing will run")
        for key in self.doc:
            skey = str(key)
            if skey in TOP_KEYS:
                continue
            if skey.startswith((".", "_", "x-")) or _anchor_of(self.doc[key]):
                continue  # templates holding YAML anchors
            hint = _closest(skey, TOP_KEYS)
            msg = f"unknown top-level key '{skey}'"
            msg += f" (did you mean '{hint}'?)" if hint else f" (valid keys: {', '.join(TOP_KEYS)})"
            msg += "; templates for YAML anchors may use any key if they carry an &anchor"
            self.warning(skey, msg, line=_line_of(self.doc, key))
        if "target_directory" in self.doc:
            value = self.doc["target_directory"]
            if value is not None and not isinstance(value, str):
                self.error(
                    "target_directory",
                    f"must be a string path (absolute, relative to the setup file, or ~/...), found {_describe(value)}",
                    line=_line_of(self.doc, "target_directory"),
                )
            elif isinstance(value, str) and value.strip():
                self.target_directory(value)

    def target_directory(self, value: str) -> None:
        """A run directory must be possible there (nothing is created by the check)."""
        raw = os.path.expandvars(value.strip())
        path = raw if "\0" in raw else os.path.abspath(self.setup.setup_dir / Path(raw).expanduser())
        problem = setuplimits.target_directory_problem(path)
        if problem:
            self.error(
                "target_directory", f"'{value}' {problem}", line=_line_of(self.doc, "target_directory")
            )

    def unknown_keys(
        self, raw: Mapping[str, Any], valid: tuple[str, ...], where: str, node: tuple[str, str]
    ) -> None:
        for key in raw:
            skey = str(key)
            if skey in valid:
                continue
            hint = _closest(skey, valid)
            msg = f"unknown key '{skey}'"
            msg += f" (did you mean '{hint}'?)" if hint else f" (valid keys: {', '.join(valid)})"
            self.warning(f"{where}.{skey}", msg, node=node, line=_line_of(raw, key))

    # ---- buffers

    def positive_int(
        self,
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
            self.error(
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
        self.error(
            f"{where}.{key}",
            f"must be a positive integer, e.g. {key}: {example} ({found})",
            node=node,
            line=_line_of(raw, key),
        )
        return None

    def buffer(self, name: Any, raw: Any, section: Mapping[str, Any]) -> int | None:
        where = f"{BUFFERS}.{name}"
        node = ("buffer", str(name))
        limits.check_name(self, name, "buffer", where, node, section)
        if not isinstance(name, str):
            self.error(
                where,
                f"buffer names must be strings, found {_describe(name)}",
                node=node,
                line=_line_of(section, name),
            )
        if not isinstance(raw, Mapping):
            self.error(
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
                self.error(
                    where,
                    f"'{key}' is missing (required: {', '.join(BUFFER_KEYS)}; e.g. {example})",
                    node=node,
                    line=_line_of(section, name),
                )
        slots = self.positive_int(raw, "slot_count", where, node, 32)
        self.positive_int(raw, "data_length", where, node, 1)
        if "data_dtype" in raw:
            self.dtype(raw["data_dtype"], f"{where}.data_dtype", node, raw)
        if "units" in raw:
            fields = (
                [str(f) for f in raw["data_dtype"]] if isinstance(raw.get("data_dtype"), Mapping) else None
            )
            for problem in check_units(raw["units"], fields):
                self.warning(f"{where}.units", problem, node=node, line=_line_of(raw, "units"))
        self.unknown_keys(raw, BUFFER_KEYS + OPTIONAL_BUFFER_KEYS, where, node)
        return slots

    def dtype(self, value: Any, where: str, node: tuple[str, str], parent: Mapping[str, Any]) -> None:
        examples = ", ".join(f"'{e}'" for e in DTYPE_EXAMPLES)
        if not isinstance(value, Mapping) or not value:
            found = "an empty mapping" if isinstance(value, Mapping) else _describe(value)
            self.error(
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
                self.error(
                    loc,
                    f"field names must be non-empty strings, found {_describe(fname)}",
                    node=node,
                    line=line,
                )
                continue
            if not isinstance(dt, str):
                self.error(
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
                self.error(loc, msg, node=node, line=line)
                continue
            if parsed.hasobject:
                self.error(
                    loc,
                    f"bad dtype '{dt}': python objects cannot live in shared memory (valid examples: {examples})",
                    node=node,
                    line=line,
                )
            elif parsed.itemsize == 0:
                self.error(
                    loc,
                    f"bad dtype '{dt}': give a size, e.g. 'S10' for 10-byte strings (valid examples: {examples})",
                    node=node,
                    line=line,
                )
            elif setuplimits.dtype_problem(parsed):
                self.error(
                    loc,
                    f"bad dtype '{dt}': {setuplimits.dtype_problem(parsed)} (valid examples: {examples})",
                    node=node,
                    line=line,
                )
            problem = setuplimits.name_problem(fname, "field")
            if problem:
                self.error(loc, problem, node=node, line=line)

    # ---- workers

    def worker(
        self,
        name: Any,
        raw: Any,
        section: Mapping[str, Any],
        buffer_names: list[str],
        users: dict[str, dict[str, list[tuple[str, int, str]]]],
    ) -> None:
        where = f"{WORKERS}.{name}"
        node = ("worker", str(name))
        if not isinstance(name, str):
            self.error(
                where,
                f"worker names must be strings, found {_describe(name)}",
                node=node,
                line=_line_of(section, name),
            )
        if not isinstance(raw, Mapping):
            self.error(
                where,
                f"must be a mapping with at least 'function' (keys: {', '.join(WORKER_KEYS)}), found {_describe(raw)}",
                node=node,
                line=_line_of(section, name),
            )
            return
        limits.check_name(self, name, "worker", where, node, section)
        nproc = self.positive_int(
            raw, "number_of_processes", where, node, 1, maximum=setuplimits.MAX_PROCESSES
        )
        nproc = nproc or 1
        file_ok = True
        file = raw.get("file")
        if file is not None and not isinstance(file, str):
            self.error(
                f"{where}.file",
                f"must be a path to a python file (relative to the setup file), found {_describe(file)}",
                node=node,
                line=_line_of(raw, "file"),
            )
            file_ok = False
        function = raw.get("function")
        if "function" not in raw or function is None or (isinstance(function, str) and not function.strip()):
            self.error(
                f"{where}.function",
                "is missing (the function to run: a prebuilt module.function such as exporters.drain, "
                "or a function of the python file given in 'file')",
                node=node,
                line=_line_of(section, name),
            )
        elif not isinstance(function, str):
            self.error(
                f"{where}.function",
                f"must be a function name, found {_describe(function)}",
                node=node,
                line=_line_of(raw, "function"),
            )
        elif file_ok and self.check_functions:
            self.function(str(file).strip() if file else None, function.strip(), where, node, raw)
        elif file_ok and file and not loader.resolve_file(str(file), self.setup.setup_dir).is_file():
            path = loader.resolve_file(str(file), self.setup.setup_dir)
            self.error(
                f"{where}.file",
                f"file '{file}' not found (looked for {path})",
                node=node,
                line=_line_of(raw, "file"),
            )
        if "config" in raw and not self.config(raw["config"], f"{where}.config", node, raw):
            self.unreadable_configs.add(node[1])  # its function's own check would only see an empty config
        listed: dict[str, str] = {}
        for role in ROLES:
            if role not in raw or raw[role] is None:
                continue
            value = raw[role]
            if not isinstance(value, list):
                self.error(
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
                    self.error(loc, f"must be a buffer name, found {_describe(item)}", node=node, line=line)
                    continue
                item = str(item)
                if item not in buffer_names:
                    self.error(
                        loc,
                        f"buffer '{item}' is not defined (buffers: {', '.join(buffer_names) or 'none'})",
                        node=node,
                        line=line,
                    )
                    continue
                if item in seen:
                    self.warning(loc, f"buffer '{item}' is listed twice in {role}", node=node, line=line)
                    continue
                seen.add(item)
                if role in ("sources", "sinks") and listed.get(item) not in (None, role):
                    self.warning(
                        loc,
                        f"worker reads and writes the same buffer '{item}': it would feed its own input",
                        node=node,
                        line=line,
                    )
                listed.setdefault(item, role)
                users[item][role].append((str(name), nproc, loc))
                self.connections.setdefault(str(name), {r: [] for r in ROLES})[role].append((item, loc))
        self.unknown_keys(raw, WORKER_KEYS, where, node)

    def function(
        self, file: str | None, function: str, where: str, node: tuple[str, str], raw: Mapping[str, Any]
    ) -> None:
        try:
            func = loader.load_function(file, function, self.setup.setup_dir, cache=self.cache)
        except loader.FunctionLoadError as exc:
            key = "file" if exc.field == "file" else "function"
            self.error(f"{where}.{key}", exc.message, node=node, line=_line_of(raw, key))
            return
        check = getattr(func, "check_setup", None)
        if callable(check):
            self.function_checks[node[1]] = check
        doc = loader.parse_function_doc(inspect.getdoc(func))
        self.function_docs[node[1]] = doc
        template = doc.type.split()[0].strip(".,:") if doc.type else ""
        if template:
            label = function if not file else f"{function} ({Path(file).name})"
            self.templates[node[1]] = (template, label, not file, doc)

    def config(
        self, raw: Any, where: str, node: tuple[str, str] | None, parent: Mapping[str, Any] | None = None
    ) -> bool:
        problems: list[tuple[str, str]] = []
        self.setup.merged_config(raw, where, problems)
        for loc, message in problems:
            self.error(loc, message, node=node, line=self.config_line(raw, loc, where, parent))
        return not problems

    def config_line(self, raw: Any, loc: str, where: str, parent: Mapping[str, Any] | None) -> int | None:
        if loc != where and isinstance(raw, CommentedSeq):
            try:
                return _line_of(raw, int(loc[len(where) + 1 : -1]))
            except ValueError:
                pass
        key = where.rsplit(".", 1)[-1]
        return _line_of(parent if parent is not None else self.doc, key)

    # ---- the functions' own checks of their config and buffers (core.templates.setup_check)

    def function_configs(self, workers: Mapping[str, Any]) -> None:
        try:
            specs = self.setup.workers
            buffers = self.setup.buffers
        except Exception:  # a setup too broken for the views: its errors are reported already
            return
        for wname, doc in self.function_docs.items():
            spec = specs.get(wname)
            if spec is None:
                continue
            limits.check_documented_types(self, wname, spec, doc, workers)
            for c in doc.configs:
                if c.default is None and c.key not in spec.config:
                    what = f": {c.description}" if c.description else ""
                    self.warning(
                        f"{WORKERS}.{wname}.config",
                        f"'{c.key}' is required by {spec.function} and not set{what}",
                        node=("worker", wname),
                    )
        for wname, check in self.function_checks.items():
            spec = specs.get(wname)
            if spec is None or wname in self.unreadable_configs:
                continue
            where = f"{WORKERS}.{wname}.config"
            raw = workers.get(wname)
            line = _line_of(raw, "config") if isinstance(raw, Mapping) else None
            role_specs = {role: [buffers[b] for b in getattr(spec, role) if b in buffers] for role in ROLES}
            try:
                messages = list(check(dict(spec.config), setup_dir=self.setup.setup_dir, **role_specs))
            except Exception as exc:  # a check that breaks is itself a problem to show
                messages = [f"the check of {spec.function} failed: {type(exc).__name__}: {exc}"]
            for message in messages:
                self.error(where, message, node=("worker", wname), line=line)

    # ---- the templates named in the functions' docstrings (core.templates.TEMPLATE_RULES)

    def template_rules(self, workers: Mapping[str, Any]) -> None:
        try:
            from mimocorb_gui.core.templates import TEMPLATE_RULES
        except ImportError:  # pragma: no cover - templates are part of the package
            return
        buffers = self.setup.buffers
        for wname, (template, label, prebuilt, doc) in self.templates.items():
            rule = TEMPLATE_RULES.get(template)
            raw = workers.get(wname)
            if rule is None or not isinstance(raw, Mapping):
                continue
            severity = "error" if prebuilt else "warning"
            conn = self.connections.get(wname, {r: [] for r in ROLES})
            node = ("worker", wname)
            for role, (lo, hi) in (
                ("sources", rule.sources),
                ("sinks", rule.sinks),
                ("observes", rule.observes),
            ):
                listed = raw.get(role) or []
                if not isinstance(listed, list):
                    continue  # reported already
                n = len(listed)
                if n >= lo and (hi is None or n <= hi):
                    continue
                if hi == 0:
                    need = f"takes no {role}"
                else:
                    want = (
                        f"exactly {lo}" if lo == hi else (f"at least {lo}" if hi is None else f"{lo} to {hi}")
                    )
                    need = f"needs {want} {role}"
                wanted = getattr(doc, role, "")
                hint = f" ({role}: {wanted})" if wanted else ""
                self.add(
                    "error",  # prebuilt or the user's own: the template refuses to start either way
                    f"{WORKERS}.{wname}.{role}",
                    f"{label} is {_article(template)} {template} and {need}, has {n}{hint}",
                    node=node,
                    line=_line_of(raw, role),
                )
            if not rule.sinks_share_source_dtype or len(conn["sources"]) != 1:
                continue
            src_name = conn["sources"][0][0]
            src = buffers.get(src_name)
            for sink_name, loc in conn["sinks"]:
                sink = buffers.get(sink_name)
                if src is None or sink is None or src.dtype is None or sink.dtype is None:
                    continue
                if sink.dtype != src.dtype:
                    self.add(
                        severity,
                        loc,
                        f"{template} passes events through unchanged: sink '{sink_name}' needs the data_dtype of "
                        f"source '{src_name}' ({_fmt_fields(src.data_dtype)}), has {_fmt_fields(sink.data_dtype)}",
                        node=node,
                    )
                elif sink.data_length != src.data_length:
                    self.add(
                        severity,
                        loc,
                        f"{template} passes events through unchanged: sink '{sink_name}' needs the data_length of "
                        f"source '{src_name}' ({src.data_length}), has {sink.data_length}",
                        node=node,
                    )

    # ---- the graph

    def graph(
        self,
        buffers: Mapping[str, Any],
        slots: dict[str, int | None],
        users: dict[str, dict[str, list[tuple[str, int, str]]]],
    ) -> None:
        for name, roles in users.items():
            node = ("buffer", name)
            where = f"{BUFFERS}.{name}"
            line = _line_of(buffers, name)
            writers, readers, observers = roles["sinks"], roles["sources"], roles["observes"]
            total = sum(n for _, n, _ in writers + readers + observers)
            slot_count = slots.get(name)
            if slot_count is not None and total > slot_count:
                parts = []
                for label, group in (("writers", writers), ("readers", readers), ("observers", observers)):
                    if group:
                        parts.append(f"{label}: " + ", ".join(f"{w}\u00d7{n}" for w, n, _ in group))
                self.error(
                    f"{where}.slot_count",
                    f"slot_count {slot_count} is below the {total} processes using buffer '{name}' "
                    f"({'; '.join(parts)}); use at least {total}, better a few times more",
                    node=node,
                    line=_line_of(buffers[name], "slot_count")
                    if isinstance(buffers[name], Mapping)
                    else line,
                )
            if not writers:
                self.warning(
                    where,
                    f"no worker writes to buffer '{name}' (add it to a worker's sinks)",
                    node=node,
                    line=line,
                )
            if not readers:
                self.warning(
                    where,
                    f"no worker reads buffer '{name}' (add it to a worker's sources, e.g. an exporters.drain worker): "
                    "its writers stop once all slots are full",
                    node=node,
                    line=line,
                )
            reader_names = []
            for wname, _n, loc in readers:
                if reader_names and wname not in reader_names:
                    self.warning(
                        loc,
                        f"buffer '{name}' is also read by worker '{reader_names[0]}': events are split between them, "
                        f"each gets only some; to give every reader all events add a misc.copy worker reading "
                        f"'{name}' with one sink buffer per reader",
                        node=("worker", wname),
                        line=None,
                    )
                reader_names.append(wname)
