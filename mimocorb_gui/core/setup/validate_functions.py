"""Validation of the worker functions: they load (file and name), the config keys their docstring
documents are set, their own ``check_setup`` passes (``core.templates.setup_check``), and their
template's rules on sources, sinks and observed buffers hold (``core.templates.TEMPLATE_RULES``).
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mimocorb_gui.core import loader
from mimocorb_gui.core.setup import limits
from mimocorb_gui.core.setup.specs import (
    ROLES,
    WORKERS,
)
from mimocorb_gui.core.setup.yamledit import _line_of

if TYPE_CHECKING:
    from mimocorb_gui.core.setup.validation import _Validator

__all__ = ["check_function", "check_function_configs", "check_template_rules"]


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


def _fmt_fields(fields: Mapping[str, Any]) -> str:
    return "{" + ", ".join(f"{k}: {v}" for k, v in fields.items()) + "}"


def check_function(
    v: _Validator, file: str | None, function: str, where: str, node: tuple[str, str], raw: Mapping[str, Any]
) -> None:
    try:
        func = loader.load_function(file, function, v.setup.setup_dir, cache=v.cache)
    except loader.FunctionLoadError as exc:
        key = "file" if exc.field == "file" else "function"
        v.error(f"{where}.{key}", exc.message, node=node, line=_line_of(raw, key))
        return
    check = getattr(func, "check_setup", None)
    if callable(check):
        v.function_checks[node[1]] = check
    doc = loader.parse_function_doc(inspect.getdoc(func))
    v.function_docs[node[1]] = doc
    template = doc.type.split()[0].strip(".,:") if doc.type else ""
    if template:
        label = function if not file else f"{function} ({Path(file).name})"
        v.templates[node[1]] = (template, label, not file, doc)


def check_function_configs(v: _Validator, workers: Mapping[str, Any]) -> None:
    try:
        specs = v.setup.workers
        buffers = v.setup.buffers
    except Exception:  # a setup too broken for the views: its errors are reported already
        return
    for wname, doc in v.function_docs.items():
        spec = specs.get(wname)
        if spec is None:
            continue
        limits.check_documented_types(v, wname, spec, doc, workers)
        for c in doc.configs:
            if c.default is None and c.key not in spec.config:
                what = f": {c.description}" if c.description else ""
                v.warning(
                    f"{WORKERS}.{wname}.config",
                    f"'{c.key}' is required by {spec.function} and not set{what}",
                    node=("worker", wname),
                )
    for wname, check in v.function_checks.items():
        spec = specs.get(wname)
        if spec is None or wname in v.unreadable_configs:
            continue
        where = f"{WORKERS}.{wname}.config"
        raw = workers.get(wname)
        line = _line_of(raw, "config") if isinstance(raw, Mapping) else None
        role_specs = {role: [buffers[b] for b in getattr(spec, role) if b in buffers] for role in ROLES}
        try:
            messages = list(check(dict(spec.config), setup_dir=v.setup.setup_dir, **role_specs))
        except Exception as exc:  # a check that breaks is itself a problem to show
            messages = [f"the check of {spec.function} failed: {type(exc).__name__}: {exc}"]
        for message in messages:
            v.error(where, message, node=("worker", wname), line=line)


# ---- the templates named in the functions' docstrings (core.templates.TEMPLATE_RULES)


def check_template_rules(v: _Validator, workers: Mapping[str, Any]) -> None:
    try:
        from mimocorb_gui.core.templates import TEMPLATE_RULES
    except ImportError:  # pragma: no cover - templates are part of the package
        return
    buffers = v.setup.buffers
    for wname, (template, label, prebuilt, doc) in v.templates.items():
        rule = TEMPLATE_RULES.get(template)
        raw = workers.get(wname)
        if rule is None or not isinstance(raw, Mapping):
            continue
        severity = "error" if prebuilt else "warning"
        conn = v.connections.get(wname, {r: [] for r in ROLES})
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
                want = f"exactly {lo}" if lo == hi else (f"at least {lo}" if hi is None else f"{lo} to {hi}")
                need = f"needs {want} {role}"
            wanted = getattr(doc, role, "")
            hint = f" ({role}: {wanted})" if wanted else ""
            v.add(
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
                v.add(
                    severity,
                    loc,
                    f"{template} passes events through unchanged: sink '{sink_name}' needs the data_dtype of "
                    f"source '{src_name}' ({_fmt_fields(src.data_dtype)}), has {_fmt_fields(sink.data_dtype)}",
                    node=node,
                )
            elif sink.data_length != src.data_length:
                v.add(
                    severity,
                    loc,
                    f"{template} passes events through unchanged: sink '{sink_name}' needs the data_length of "
                    f"source '{src_name}' ({src.data_length}), has {sink.data_length}",
                    node=node,
                )
