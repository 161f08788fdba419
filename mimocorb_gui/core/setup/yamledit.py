"""ruamel round-trip surgery that keeps a setup file as written.

Value -> node conversion, comment/anchor handling around inserted, deleted and renamed items, and
reading YAML text. (The three-way merge of an edit into the text as loaded is ``textmerge``.)
"""

from __future__ import annotations

import codecs
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq, merge_attrib
from ruamel.yaml.error import CommentMark
from ruamel.yaml.scalarstring import ScalarString
from ruamel.yaml.tokens import CommentToken

from mimocorb_gui.core.setup.specs import SetupError, _dtype_str, to_plain

# =========================================================================== helpers: value nodes


def _to_node(value: Any, like: Any = None) -> Any:
    """A python value as a ruamel node: maps in block style, lists of scalars in flow style."""
    if isinstance(value, (CommentedMap, CommentedSeq)):
        return value
    if isinstance(value, np.dtype):
        value = _dtype_str(value)
    elif isinstance(value, np.generic):
        value = value.item()
    elif isinstance(value, Path):
        value = str(value)
    if isinstance(value, Mapping):
        node = CommentedMap()
        for k, v in value.items():
            node[k] = _to_node(v)
        if isinstance(like, CommentedMap) and like.fa.flow_style():
            node.fa.set_flow_style()
        else:
            node.fa.set_block_style()
        return node
    if isinstance(value, (list, tuple)):
        seq = CommentedSeq([_to_node(v) for v in value])
        if isinstance(like, CommentedSeq) and like.fa.flow_style() is not None:
            flow = like.fa.flow_style()
        else:
            flow = all(not isinstance(v, (Mapping, list, tuple)) for v in value)
        if flow:
            seq.fa.set_flow_style()
        else:
            seq.fa.set_block_style()
        return seq
    if isinstance(value, str) and not isinstance(value, ScalarString) and isinstance(like, ScalarString):
        return type(like)(value)
    return value


def _same_scalar(old: Any, new: Any) -> bool:
    if isinstance(old, (Mapping, list)) or isinstance(new, (Mapping, list, tuple)):
        return False
    return type(to_plain(old)) is type(to_plain(new)) and to_plain(old) == to_plain(new)


# =========================================================================== helpers: ruamel document


def _own_keys(node: CommentedMap) -> list[Any]:
    return [k for k, _ in node.non_merged_items()]


def _is_own(node: CommentedMap, key: Any) -> bool:
    return key in node._ok  # ruamel's record of non-merged keys


def _items(node: Any) -> list[Any]:
    if isinstance(node, CommentedMap):
        return _own_keys(node)
    return list(range(len(node)))


def _merges(node: CommentedMap) -> list[Any]:
    merged = getattr(node, merge_attrib, None)
    return list(merged) if merged else []


def _refcounts(root: Any) -> dict[int, int]:
    """How often each collection is referenced in the document (aliases and merges included)."""
    counts: dict[int, int] = {}

    def walk(node: Any) -> None:
        if not isinstance(node, (CommentedMap, CommentedSeq)):
            return
        counts[id(node)] = counts.get(id(node), 0) + 1
        if counts[id(node)] > 1:
            return
        if isinstance(node, CommentedMap):
            for merged in _merges(node):
                walk(merged)
            for _, value in node.non_merged_items():
                walk(value)
        else:
            for value in node:
                walk(value)

    walk(root)
    return counts


def _is_block(node: Any) -> bool:
    return isinstance(node, (CommentedMap, CommentedSeq)) and not node.fa.flow_style()


def _keep_anchors(root: Any) -> None:
    """Anchors written in the file stay even when an edit removes their last alias."""
    seen: set[int] = set()

    def walk(node: Any) -> None:
        if id(node) in seen:
            return
        seen.add(id(node))
        anchor = getattr(node, "anchor", None)
        if anchor is not None and getattr(anchor, "value", None):
            anchor.always_dump = True
        if isinstance(node, CommentedMap):
            for _, value in node.non_merged_items():
                walk(value)
        elif isinstance(node, CommentedSeq):
            for value in node:
                walk(value)

    walk(root)


def _line_of(node: Any, key: Any) -> int | None:
    try:
        if isinstance(node, CommentedMap):
            return int(node.lc.key(key)[0]) + 1
        if isinstance(node, CommentedSeq):
            return int(node.lc.item(key)[0]) + 1
    except (KeyError, IndexError, TypeError, AttributeError):
        return None
    return None


def _anchor_of(node: Any) -> str | None:
    try:
        return node.anchor.value
    except AttributeError:
        return None


# ---- comments: a comment after an item is stored in the item's "tail" token; its first line is
# ---- the item's end-of-line comment, the following lines belong visually to the next item.


def _tail_place(node: Any, key: Any) -> tuple[Any, Any, int]:
    """(container, key, slot) holding the comment that follows item ``key`` of ``node``."""
    value = node[key]
    if _is_block(value) and _items(value):
        return _tail_place(value, _items(value)[-1])
    return node, key, (2 if isinstance(node, CommentedMap) else 0)


def _tail_token(node: Any, key: Any) -> CommentToken | None:
    container, k, slot = _tail_place(node, key)
    entry = container.ca.items.get(k)
    if entry and len(entry) > slot and isinstance(entry[slot], CommentToken):
        return entry[slot]
    value = container[k]
    if isinstance(value, (CommentedMap, CommentedSeq)) and not _is_block(value):
        comment = value.ca.comment
        if comment and isinstance(comment[0], CommentToken):
            return comment[0]
    return None


def _set_tail(node: Any, key: Any, text: str) -> None:
    token = _tail_token(node, key)
    if token is not None:
        token.value = text
        return
    if text == "\n":
        return
    container, k, slot = _tail_place(node, key)
    entry = container.ca.items.setdefault(k, [None, None, None, None])
    while len(entry) <= slot:
        entry.append(None)
    entry[slot] = CommentToken(text, CommentMark(0), None)


def _split_tail(text: str | None) -> tuple[str, str]:
    """(end-of-line part incl. its newline, following lines)."""
    if not text:
        return "\n", ""
    cut = text.find("\n")
    if cut < 0:
        return text + "\n", ""
    return text[: cut + 1], text[cut + 1 :]


def _drop_leading_comment(rest: str) -> str:
    """Remove the comment lines directly above an item (they describe it) from ``rest``."""
    lines = rest.splitlines(keepends=True)
    while lines and lines[-1].strip().startswith("#"):
        lines.pop()
    return "".join(lines)


def _take_rest(node: Any, key: Any) -> str:
    """Detach and return the lines after item ``key``'s end-of-line comment."""
    token = _tail_token(node, key)
    if token is None:
        return ""
    eol, rest = _split_tail(token.value)
    if rest:
        token.value = eol
    return rest


def _pre_tokens(node: Any, parent: Any = None, parent_key: Any = None) -> list[Any] | None:
    """The comment tokens written above the first item of ``node`` (the parent's copy wins)."""
    if parent is not None:
        entry = parent.ca.items.get(parent_key)
        if entry and len(entry) > 3 and isinstance(entry[3], list):
            return entry[3]
    comment = node.ca.comment
    if comment and len(comment) > 1 and isinstance(comment[1], list):
        return comment[1]
    return None


def _set_pre_tokens(node: Any, tokens: list[Any], parent: Any = None, parent_key: Any = None) -> None:
    node.ca.comment = [node.ca.comment[0] if node.ca.comment else None, tokens]
    if parent is not None and parent_key in parent.ca.items:
        entry = parent.ca.items[parent_key]
        while len(entry) < 4:
            entry.append(None)
        entry[3] = tokens


def _insert_position(node: CommentedMap, index: int) -> int:
    """Translate an index among own keys into ruamel's insert() position (which counts '<<')."""
    merged = getattr(node, merge_attrib, None)
    merge_pos = (
        merged.merge_pos if merged is not None and len(merged) and merged.merge_pos is not None else -1
    )
    if merge_pos >= 0 and index >= merge_pos:
        return index + 1
    return index


def _insert_item(
    node: Any, index: int, key: Any, value: Any, parent: Any = None, parent_key: Any = None
) -> None:
    """Insert an item at ``index`` (among own keys / list items) keeping comments where they belong."""
    items = _items(node)
    index = max(0, min(index, len(items)))
    rest = ""
    if index > 0:
        rest = _take_rest(node, items[index - 1])
    elif not items and parent is not None:
        rest = _take_rest(parent, parent_key)
    if not items and parent is not None and isinstance(node, CommentedMap) and node.fa.flow_style():
        node.fa.set_block_style()  # an empty '{}' section grows into a block
    if isinstance(node, CommentedMap):
        if index >= len(items):
            node[key] = value
        else:
            node.insert(_insert_position(node, index), key, value)
    else:
        node.insert(index, value)
        key = index
    if rest:
        eol, _ = _split_tail(_tail_token(node, key).value if _tail_token(node, key) else None)
        _set_tail(node, key, eol + rest)


def _item_column(node: Any, key: Any) -> int | None:
    try:
        if isinstance(node, CommentedMap):
            return int(node.lc.key(key)[1])
        return int(node.lc.col)
    except (KeyError, IndexError, TypeError, AttributeError):
        return None


def _drop_owned_lines(rest: str, column: int | None) -> str:
    """Remove the comment lines at the top of ``rest`` indented deeper than the deleted item."""
    if column is None:
        return rest
    lines = rest.splitlines(keepends=True)
    while lines and lines[0].strip().startswith("#") and _indent(lines[0]) > column:
        lines.pop(0)
    return "".join(lines)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _token_text(token: Any) -> str:
    """A pre-comment token as verbatim lines (the emitter indents its first line by its column)."""
    value = token.value
    if value.startswith("#"):
        return " " * (token.column or 0) + value
    return value


def _strip_key_pre_blank(node: Any) -> None:
    """No blank lines between a collection's header and its (new) first item."""
    if not isinstance(node, CommentedMap) or not _items(node):
        return
    entry = node.ca.items.get(_items(node)[0])
    if entry and len(entry) > 1 and isinstance(entry[1], list) and entry[1]:
        first = entry[1][0]
        if isinstance(first, CommentToken):
            first.value = first.value.lstrip("\n")
            if not first.value:
                entry[1].pop(0)


def _delete_item(node: Any, key: Any, parent: Any = None, parent_key: Any = None) -> None:
    """Delete an item; its own comments go with it, comments of the next item stay.

    ``parent[parent_key] is node``; it receives the comments when ``node`` becomes empty.
    """
    items = _items(node)
    pos = items.index(key)
    token = _tail_token(node, key)
    _, rest = _split_tail(token.value if token is not None else None)
    rest = _drop_owned_lines(rest, _item_column(node, key))
    if isinstance(node, CommentedMap):
        node.ca.items.pop(key, None)
    if pos > 0:
        prev = items[pos - 1]
        ptoken = _tail_token(node, prev)
        peol, prest = _split_tail(ptoken.value if ptoken is not None else None)
        del node[key]
        _set_tail(node, prev, peol + _drop_leading_comment(prest) + rest)
        return
    pre = _pre_tokens(node, parent, parent_key)
    if pre and isinstance(pre[-1], CommentToken):
        kept = _drop_leading_comment(_token_text(pre[-1]))
        if kept.strip():
            pre[-1].value = kept.lstrip(" ") if kept.lstrip(" ").startswith("#") else kept
        else:
            pre.pop()
    del node[key]
    if len(node):
        _strip_key_pre_blank(node)
        rest = rest.lstrip("\n")
        if not rest:
            return
        if pre and isinstance(pre[-1], CommentToken):
            pre[-1].value += rest
        elif pre is not None:
            pre.append(CommentToken(rest, CommentMark(0), None))
        else:
            _set_pre_tokens(node, [CommentToken(rest, CommentMark(0), None)], parent, parent_key)
        return
    # the collection is empty now: it is written as {} / [] on its key's line, comments after it
    text = "".join(_token_text(t) for t in (pre or []) if isinstance(t, CommentToken)) + rest
    node.ca.comment = None
    node.ca.items.clear()
    if parent is not None and parent_key in parent.ca.items:
        entry = parent.ca.items[parent_key]
        if len(entry) > 3:
            entry[3] = None
    node.fa.set_flow_style()
    if parent is not None and text:
        ptoken = _tail_token(parent, parent_key)
        peol, prest = _split_tail(ptoken.value if ptoken is not None else None)
        _set_tail(parent, parent_key, peol + prest + text)


def _rename_key(node: CommentedMap, old: Any, new: str) -> None:
    keys = _own_keys(node)
    index = keys.index(old)
    value = node[old]
    comments = node.ca.items.pop(old, None)
    if isinstance(old, ScalarString):
        new = type(old)(new)
    del node[old]
    if index >= len(_own_keys(node)):
        node[new] = value
    else:
        node.insert(_insert_position(node, index), new, value)
    if comments is not None:
        node.ca.items[new] = comments


def _canonical_index(node: CommentedMap, key: str, order: tuple[str, ...]) -> int:
    """Where a missing key goes: before the first present key that follows it in ``order``."""
    keys = _own_keys(node)
    if key in order:
        later = set(order[order.index(key) + 1 :])
        for i, k in enumerate(keys):
            if k in later:
                return i
    return len(keys)


# =========================================================================== helpers: YAML text


def _guess_indent(doc: Any) -> tuple[int, int, int]:
    """(mapping, sequence, offset) indentation as used by the loaded file."""
    mapping: int | None = None
    sequence: int | None = None
    offset: int | None = None

    def walk(node: Any, col: int | None) -> None:
        nonlocal mapping, sequence, offset
        if isinstance(node, CommentedMap):
            for key, value in node.non_merged_items():
                try:
                    kcol = node.lc.key(key)[1]
                except (KeyError, TypeError, AttributeError):
                    continue
                if _is_block(value) and value:
                    if isinstance(value, CommentedMap) and mapping is None:
                        try:
                            mapping = value.lc.key(next(iter(value)))[1] - kcol
                        except (KeyError, StopIteration, TypeError, AttributeError):
                            pass
                    if isinstance(value, CommentedSeq) and sequence is None:
                        try:
                            dash = value.lc.col
                            content = value.lc.item(0)[1]
                            offset, sequence = dash - kcol, content - kcol
                        except (KeyError, IndexError, TypeError, AttributeError):
                            pass
                walk(value, kcol)
        elif isinstance(node, CommentedSeq):
            for value in node:
                walk(value, None)

    walk(doc, 0)
    mapping = mapping if mapping and mapping > 0 else 2
    if not sequence or sequence <= 0 or offset is None or offset < 0 or offset >= sequence:
        sequence, offset = mapping + 2, mapping
    return mapping, sequence, offset


def _decode(data: bytes) -> tuple[str, str, bool]:
    """(text with '\\n' newlines, original newline, had BOM)."""
    bom = data.startswith(codecs.BOM_UTF8)
    text = data.decode("utf-8-sig")
    newline = "\r\n" if "\r\n" in text else "\n"
    return text.replace("\r\n", "\n"), newline, bom


def _located(exc: Exception, name: str) -> SetupError:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    if mark is not None:
        line, column = mark.line + 1, mark.column + 1
        text = f"{name}:{line}:{column}: {problem}"
        if context:
            text += f" ({context})"
        return SetupError(text, line=line, column=column)
    return SetupError(f"{name}: {problem}")


def _read_config_file(path: Path) -> Any:
    """A config file's data; ``setuplimits.LimitError`` (with its line) for files too large, too
    deeply nested or expanding too far."""
    from mimocorb_gui.core import setuplimits

    setuplimits.check_size(path.stat().st_size)
    text = path.read_text(encoding="utf-8")
    setuplimits.check_yaml(text)
    data = YAML(typ="safe", pure=True).load(text)
    return {} if data is None else data
