"""Validation rules against setups that would freeze, exhaust or escape a run (issue 16).

Each function takes the running ``_Validator`` and adds its problems: the slots must fit in
memory, the data flow must not loop back, config values documented as numbers must be numbers.
The limits themselves live in ``core.setuplimits`` (shared with the YAML loading).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from mimocorb_gui.core import setuplimits
from mimocorb_gui.core.setup.specs import BUFFERS, WORKERS, _is_int
from mimocorb_gui.core.setup.yamledit import _line_of

if TYPE_CHECKING:
    from mimocorb_gui.core.setup.validation import _Validator

__all__ = ["check_cycles", "check_documented_types", "check_memory", "check_name"]


def check_name(v: _Validator, name: Any, kind: str, where: str, node, section: Mapping[str, Any]) -> None:
    """Names end up in file names and log lines (core.setuplimits.name_problem)."""
    if isinstance(name, str):
        problem = setuplimits.name_problem(name, kind)
        if problem:
            v.error(where, problem, node=node, line=_line_of(section, name))


def check_memory(v: _Validator) -> None:
    """The slots of all buffers must fit in free shared memory and RAM (error above, warning near)."""
    from mimocorb_gui.core.shm import free_memory, slot_memory

    need = 0
    for spec in v.setup.buffers.values():
        sizes = (spec.slot_count, spec.data_length)
        if spec.dtype is None or not all(_is_int(x) and 0 < x <= setuplimits.MAX_SIZE_VALUE for x in sizes):
            continue
        need += slot_memory(spec.slot_count, spec.data_length, spec.dtype.itemsize)
    found = setuplimits.memory_problem(need, *free_memory())
    if found:
        v.add(found[0], BUFFERS, found[1], line=_line_of(v.doc, BUFFERS))


def find_cycle(feeds: Mapping[str, set[str]]) -> list[str] | None:
    """A loop ``[a, b, ..., a]`` in the graph worker -> workers reading its output, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: finished

    def visit(w: str, path: list[str]) -> list[str] | None:
        state[w] = 1
        path = [*path, w]
        for nxt in sorted(feeds.get(w, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if state.get(nxt) is None:
                found = visit(nxt, path)
                if found:
                    return found
        state[w] = 2
        return None

    for w in sorted(feeds):
        if state.get(w) is None:
            loop = visit(w, [])
            if loop:
                return loop
    return None


def check_cycles(v: _Validator, users: Mapping[str, Mapping[str, list]]) -> None:
    """A worker whose output comes back to its input never sees end of stream: the run cannot stop."""
    feeds: dict[str, set[str]] = {}
    for roles in users.values():
        for writer, _n, _loc in roles["sinks"]:
            feeds.setdefault(writer, set()).update(r for r, _n2, _l in roles["sources"])
    loop = find_cycle(feeds)
    if loop:
        v.error(
            f"{WORKERS}.{loop[0]}",
            f"the data flow has a cycle ({' -> '.join(loop)}): end of stream never reaches these workers, "
            "so the run could not stop; remove one of the connections",
            node=("worker", loop[0]),
        )


def check_documented_types(v: _Validator, wname: str, spec, doc, workers: Mapping[str, Any]) -> None:
    """A config value documented as a number must be one (``rate: fast`` fails here, not at run time)."""
    raw = workers.get(wname)
    line = _line_of(raw, "config") if isinstance(raw, Mapping) else None
    for c in doc.configs:
        kind = (c.type or "").split(",")[0].strip().lower()
        if kind not in ("float", "int") or c.key not in spec.config:
            continue
        value = spec.config[c.key]
        if value is None:
            continue
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if number and (kind == "float" or isinstance(value, int) or float(value).is_integer()):
            continue
        v.error(
            f"{WORKERS}.{wname}.config.{c.key}",
            f"must be {'an integer' if kind == 'int' else 'a number'} ({spec.function} documents "
            f"'{c.key} : {c.type}'), found {value!r}",
            node=("worker", wname),
            line=line,
        )
