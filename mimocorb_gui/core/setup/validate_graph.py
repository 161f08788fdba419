"""Validation of the data flow: each buffer has slots for every process using it, someone writes
and someone reads it, and readers that would split its events between them are pointed at misc.copy.
(Loops in the data flow are ``limits.check_cycles``.)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from mimocorb_gui.core.setup.specs import (
    BUFFERS,
)
from mimocorb_gui.core.setup.yamledit import _line_of

if TYPE_CHECKING:
    from mimocorb_gui.core.setup.validation import _Validator

__all__ = ["check_graph"]


def check_graph(
    v: _Validator,
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
            v.error(
                f"{where}.slot_count",
                f"slot_count {slot_count} is below the {total} processes using buffer '{name}' "
                f"({'; '.join(parts)}); use at least {total}, better a few times more",
                node=node,
                line=_line_of(buffers[name], "slot_count") if isinstance(buffers[name], Mapping) else line,
            )
        if not writers:
            v.warning(
                where,
                f"no worker writes to buffer '{name}' (add it to a worker's sinks)",
                node=node,
                line=line,
            )
        if not readers:
            v.warning(
                where,
                f"no worker reads buffer '{name}' (add it to a worker's sources, e.g. an exporters.drain worker): "
                "its writers stop once all slots are full",
                node=node,
                line=line,
            )
        reader_names = []
        for wname, _n, loc in readers:
            if reader_names and wname not in reader_names:
                v.warning(
                    loc,
                    f"buffer '{name}' is also read by worker '{reader_names[0]}': events are split between them, "
                    f"each gets only some; to give every reader all events add a misc.copy worker reading "
                    f"'{name}' with one sink buffer per reader",
                    node=("worker", wname),
                    line=None,
                )
            reader_names.append(wname)
