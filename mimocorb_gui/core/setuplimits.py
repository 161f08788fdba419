"""Limits that keep a hostile or mistaken setup from freezing the program or escaping at run time.

Each function returns a message (``None`` when all is well) or raises :class:`LimitError` with a
line and column, so the setup model and the validator can report it at its place:

- YAML: file size, nesting depth and alias expansion, checked on the event stream before the
  document is built (an alias bomb takes ~10 lines; 5 000-deep nesting overflows recursion);
- names of buffers, workers and fields end up in file names and log lines: a safe alphabet,
  bounded length, no ``..``;
- integers the ring buffers hand to C, the number of processes, element types NumPy can put in
  shared memory;
- the target directory must be a place where a run directory can be made;
- the slots of all buffers must fit in free shared memory and RAM.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

__all__ = [
    "MAX_DEPTH",
    "MAX_FILE_BYTES",
    "MAX_NAME",
    "MAX_NODES",
    "MAX_PROCESSES",
    "MAX_SIZE_VALUE",
    "LimitError",
    "check_yaml",
    "dtype_problem",
    "memory_problem",
    "name_problem",
    "target_directory_problem",
]

MAX_FILE_BYTES = 256 * 1024  # setups and config files; the largest real ones have a few hundred lines
MAX_DEPTH = 50  # nesting of mappings and lists (real setups: under 8)
MAX_NODES = 100_000  # values after expanding every alias
MAX_NAME = 100  # characters of a buffer, worker or field name
MAX_SIZE_VALUE = 2**31 - 1  # slot_count and data_length
MAX_PROCESSES = 256  # number_of_processes of one worker
MEMORY_WARNING_FRACTION = 0.8  # of free shared memory / RAM
_NAME_PUNCTUATION = set("_-.+ ")
_FORBIDDEN_ROOTS = ("/proc", "/sys", "/dev")


class LimitError(ValueError):
    """A limit was exceeded at ``line``:``column`` (1-based; None when not known)."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column


# ----------------------------------------------------------------------------- YAML


def check_size(n_bytes: int) -> None:
    if n_bytes > MAX_FILE_BYTES:
        raise LimitError(
            f"the file is too large ({n_bytes / 1024:.0f} kB; setups and config files may have at most "
            f"{MAX_FILE_BYTES // 1024} kB)"
        )


def _flow_depth_check(text: str) -> None:
    """Refuse flow brackets nested deeper than MAX_DEPTH (counted without parsing: fast on any input)."""
    depth = 0
    for m in re.finditer(r"[\[\]{}]", text):
        depth = depth + 1 if m.group() in "[{" else max(0, depth - 1)
        if depth > MAX_DEPTH:
            line = text.count("\n", 0, m.start()) + 1
            column = m.start() - (text.rfind("\n", 0, m.start()) + 1) + 1
            raise LimitError(f"nested more than {MAX_DEPTH} levels deep", line, column)


def _looks_risky(text: str) -> bool:
    """Aliases, merge keys or deep block nesting may be present (cheap test; most setups have none)."""
    if "*" in text or "<<" in text:
        return True
    if re.search(rf"^ {{{MAX_DEPTH},}}\S", text, re.M):  # deep block indentation
        return True
    return re.search(r"(?:-[ \t]+){20,}", text) is not None  # '- - - - x': nested block lists


def check_yaml(text: str) -> None:
    """Refuse YAML text that is too large, too deeply nested or expands to too many values.

    Works on ruamel's event stream (no document is built, no recursion), so it ends quickly on
    any input of allowed size. YAML syntax errors are left to the real parse.
    """
    check_size(len(text.encode("utf-8", "surrogatepass")))
    _flow_depth_check(text)  # brackets inside quoted strings count too: harmless below 50 levels
    if not _looks_risky(text):
        return
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError
    from ruamel.yaml.events import (
        AliasEvent,
        CollectionEndEvent,
        CollectionStartEvent,
        ScalarEvent,
    )

    stack: list[list] = []  # [expanded values so far, anchor]
    sizes: dict[str, int] = {}
    top = 0

    def where(event) -> tuple[int | None, int | None]:
        mark = getattr(event, "start_mark", None)
        return (mark.line + 1, mark.column + 1) if mark is not None else (None, None)

    def add(n: int, event) -> None:
        nonlocal top
        if stack:
            stack[-1][0] += n
            value = stack[-1][0]
        else:
            top += n
            value = top
        if value > MAX_NODES or top + sum(s[0] for s in stack) > MAX_NODES:
            raise LimitError(
                f"the document expands to more than {MAX_NODES} values (aliases repeating aliases?)",
                *where(event),
            )

    try:
        for event in YAML(typ="rt").parse(text):
            if isinstance(event, CollectionStartEvent):
                stack.append([1, event.anchor])
                if len(stack) > MAX_DEPTH:
                    raise LimitError(f"nested more than {MAX_DEPTH} levels deep", *where(event))
            elif isinstance(event, CollectionEndEvent):
                count, anchor = stack.pop()
                if anchor:
                    sizes[anchor] = count
                add(count, event)
            elif isinstance(event, ScalarEvent):
                if event.anchor:
                    sizes[event.anchor] = 1
                add(1, event)
            elif isinstance(event, AliasEvent):
                add(sizes.get(event.anchor, 1), event)
    except YAMLError:
        return  # a syntax error: the real parse reports it at its place


# ----------------------------------------------------------------------------- names


def name_problem(name: str, kind: str) -> str | None:
    """Why ``name`` cannot name a buffer, worker or field (it goes into file names), or None."""
    if not name:
        return f"{kind} names must not be empty"
    if len(name) > MAX_NAME:
        return f"{kind} name is {len(name)} characters long (at most {MAX_NAME})"
    bad = sorted({c for c in name if not (c.isalnum() or c in _NAME_PUNCTUATION)})
    if bad:
        shown = ", ".join(repr(c) for c in bad)
        return (
            f"{kind} name '{name.encode('unicode_escape').decode()}' contains {shown} "
            "(use letters, digits, '_', '-', '.', '+' and spaces)"
        )
    if name.startswith((".", " ")) or name.endswith(" ") or ".." in name:
        return f"{kind} name '{name}' must not start with '.' or a space, end with a space or contain '..'"
    return None


# ----------------------------------------------------------------------------- types


def dtype_problem(dt: np.dtype) -> str | None:
    """Why an element type cannot live in a ring buffer slot, or None."""
    if dt.hasobject:
        return (
            "object elements cannot be put in shared memory (use a number or a fixed-size string, e.g. 'U16')"
        )
    if dt.subdtype is not None:
        return (
            f"sub-array element type {dt.str!r} {dt.shape}: use data_length for arrays, one field per value"
        )
    if dt.names is not None:
        return "nested structured element type: give each part its own field"
    if dt.itemsize == 0:
        return "element type of size 0 (give strings a length, e.g. 'U16')"
    return None


# ----------------------------------------------------------------------------- places and memory


def target_directory_problem(path: str) -> str | None:
    """Why no run directory could be made under ``path`` (resolved), or None. Creates nothing."""
    if "\0" in path:
        return "contains a NUL character"
    p = Path(path)
    for root in _FORBIDDEN_ROOTS:
        if p == Path(root) or Path(root) in p.parents:
            return f"is inside {root}, a system folder where no files can be made"
    ancestor = p
    while not ancestor.exists():
        if ancestor.parent == ancestor:
            break
        ancestor = ancestor.parent
    if ancestor.exists() and not ancestor.is_dir():
        return f"cannot be made: {ancestor} is a file, not a folder"
    if ancestor.is_dir() and not os.access(ancestor, os.W_OK | os.X_OK):
        return f"cannot be made: no write permission in {ancestor}"
    return None


def memory_problem(need: int, shm_free: int | None, ram: int) -> tuple[str, str] | None:
    """('error' | 'warning', message) when the slots do not or only just fit; None otherwise."""
    from mimocorb_gui.core.shm import human_bytes

    limits = [(ram, "available RAM")]
    if shm_free is not None:
        limits.insert(0, (shm_free, "free shared memory in /dev/shm"))
    room, what = min(limits, key=lambda x: x[0])
    if need > room:
        return "error", (
            f"the buffers' slots need {human_bytes(need)}, more than the {human_bytes(room)} of {what}: "
            "make slot_count or data_length smaller"
        )
    if need > MEMORY_WARNING_FRACTION * room:
        return "warning", (
            f"the buffers' slots need {human_bytes(need)}, {100 * need / room:.0f} % of the "
            f"{human_bytes(room)} of {what}: the run may fail when other programs need memory"
        )
    return None
