"""The dump of a setup after an edit of one buffer or worker, from the dump before it.

Dumping a whole 500-line document with ruamel takes about 0.2 s, and an edit in the graph editor
changes one entry. So the entry alone is dumped before and after the edit, in a small document
that holds first the anchored nodes the entry refers to (so they come out as ``*alias`` as in
the whole dump) and then the entry at the nesting of its section; its lines in the whole dump
before the edit are replaced by its lines after it.

Only what is sure to come out the same is done this way: a block-style entry of a block-style
top-level section whose own nodes carry no anchor, are not shared, and refer only to anchored
collections written before the entry. For anything else (and when the entry's lines cannot be
found exactly once) the caller dumps the whole document.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from mimocorb_gui.core.setup.yamledit import _is_own, _merges

__all__ = ["entry_lines", "replace_entry"]

_REFS = "__mimocorb_gui_entry_refs__"
_SECTION = "__mimocorb_gui_entry_section__"


def _anchor(node: Any) -> str | None:
    anchor = getattr(node, "anchor", None)
    return getattr(anchor, "value", None) or None


def _children(node: Any) -> list[Any]:
    if isinstance(node, CommentedMap):
        return list(_merges(node)) + [v for _, v in node.non_merged_items()]
    return list(node)


def _collections_before(doc: CommentedMap, section: str, name: Any) -> set[int] | None:
    """Ids of the collections the whole dump writes before the entry ``doc[section][name]``."""
    seen: set[int] = set()

    def walk(node: Any) -> None:
        if not isinstance(node, (CommentedMap, CommentedSeq)) or id(node) in seen:
            return
        seen.add(id(node))
        for child in _children(node):
            walk(child)

    if _merges(doc):
        return None
    for key, value in doc.non_merged_items():
        if key != section:
            walk(value)
            continue
        for entry_key, entry in value.non_merged_items():
            if entry_key == name:
                return seen
            walk(entry)
        return None
    return None


def _references(entry: Any, before: set[int]) -> list[Any] | None:
    """The anchored collections written before that ``entry`` refers to, or None when the entry
    cannot be dumped on its own (an anchor of its own, a node shared inside it, a collection key)."""
    refs: list[Any] = []
    visited: set[int] = set()

    def walk(node: Any) -> bool:
        if not isinstance(node, (CommentedMap, CommentedSeq)):
            return _anchor(node) is None
        if id(node) in before:
            if _anchor(node) is None:
                return False  # shared without a name: the dump would number its anchor
            if all(r is not node for r in refs):
                refs.append(node)
            return True
        if id(node) in visited or _anchor(node) is not None:
            return False
        visited.add(id(node))
        if isinstance(node, CommentedMap):
            for key in node:
                if isinstance(key, (CommentedMap, CommentedSeq, list, dict)) or _anchor(key) is not None:
                    return False
        return all(walk(child) for child in _children(node))

    if id(entry) in before:
        return None
    return refs if walk(entry) else None


def entry_lines(
    make_yaml: Callable[[], YAML], doc: CommentedMap, section: str, name: Any
) -> list[str] | None:
    """The lines of entry ``name`` of top-level ``section`` as the whole dump writes them (its key
    line first), or None when this entry cannot be dumped on its own."""
    sec = doc.get(section)
    if not isinstance(sec, CommentedMap) or sec.fa.flow_style() or _anchor(sec) or _merges(sec):
        return None
    entry = sec.get(name)
    if not isinstance(entry, CommentedMap) or entry.fa.flow_style() or not _is_own(sec, name):
        return None
    before = _collections_before(doc, section, name)
    if before is None:
        return None
    refs = _references(entry, before)
    if refs is None:
        return None
    key = next(k for k in sec if k == name)
    holder = CommentedMap()
    holder.fa.set_block_style()
    holder[key] = entry
    context = CommentedMap()
    context.fa.set_block_style()
    if refs:
        seq = CommentedSeq(refs)
        seq.fa.set_block_style()
        context[_REFS] = seq
    context[_SECTION] = holder
    stream = io.StringIO()
    make_yaml().dump(context, stream)
    lines = stream.getvalue().splitlines(keepends=True)
    starts = [i for i, line in enumerate(lines) if line == f"{_SECTION}:\n"]
    if len(starts) != 1 or len(lines) <= starts[0] + 1:
        return None
    return lines[starts[0] + 1 :]


def replace_entry(whole: str, before: list[str], after: list[str]) -> str | None:
    """``whole`` (the dump before the edit) with the entry's lines ``before`` replaced by ``after``;
    None unless the key line is unchanged and ``before`` is found exactly once."""
    if not before or not after or before[0] != after[0]:
        return None
    key_line = before[0].rstrip("\n")
    body = before[1:]
    lines = whole.splitlines(keepends=True)
    found = []
    for i, line in enumerate(lines):
        if not line.startswith(key_line):
            continue
        rest = line[len(key_line) :]
        if rest.strip() and not rest.startswith((" ", "\t")):
            continue  # 'filter3:' is not 'filter30:'
        if lines[i + 1 : i + 1 + len(body)] == body:
            found.append(i)
    if len(found) != 1:
        return None
    i = found[0]
    return "".join(lines[: i + 1] + after[1:] + lines[i + 1 + len(body) :])
