"""Setup model: load, validate, edit and save a mimoCoRB2 setup file, keeping the file as written.

No Qt here. The ruamel.yaml round-trip document is the source of truth; :class:`BufferSpec` and
:class:`WorkerSpec` are typed, plain-python views computed from it. Edits (the graph editor's
undo commands) change the document minimally, and saving changes only the edited lines of the
text that was loaded: comments, key order, quoting, anchors, aliases and merge keys survive.

Schema (the manual's, unchanged)::

    Buffers: {name: {slot_count: int, data_length: int, data_dtype: {field: 'float32', ...}}}
    Workers: {name: {file: str (empty -> prebuilt), function: str, config: dict | str | [str|dict],
                     number_of_processes: int = 1, sources: [str], sinks: [str], observes: [str]}}
    target_directory: str   # absolute, relative to the setup file, or ~/...; default <setup dir>/runs
    base_config: dict | str | [str|dict]   # applied under every worker's config (worker keys win)
"""

from __future__ import annotations

import codecs
import difflib
import inspect
import io
import os
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from pathlib import Path
from typing import Any

import numpy as np
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq, merge_attrib
from ruamel.yaml.error import CommentMark, MarkedYAMLError, YAMLError
from ruamel.yaml.mergevalue import MergeValue
from ruamel.yaml.scalarbool import ScalarBoolean
from ruamel.yaml.scalarstring import ScalarString
from ruamel.yaml.tokens import CommentToken

from mimocorb_gui.core import loader

__all__ = [
    "SetupError",
    "Problem",
    "BufferSpec",
    "WorkerSpec",
    "SetupState",
    "Setup",
    "ROLES",
    "TOP_KEYS",
    "BUFFER_KEYS",
    "WORKER_KEYS",
]

BUFFERS = "Buffers"
WORKERS = "Workers"
ROLES = ("sources", "sinks", "observes")
TOP_KEYS = (BUFFERS, WORKERS, "target_directory", "base_config", "Options")
BUFFER_KEYS = ("slot_count", "data_length", "data_dtype")
WORKER_KEYS = ("file", "function", "config", "number_of_processes", "sources", "sinks", "observes")
DEFAULT_TARGET = "runs"
DTYPE_EXAMPLES = ("float32", "float64", "int16", "int32", "int64", "uint8", "uint16", "bool", "S10")
_NEW_SETUP_TEXT = "# mimoCoRB setup\nBuffers: {}\n\nWorkers: {}\n"


class SetupError(Exception):
    """The setup file cannot be read at all (missing, unparseable, not a mapping)."""

    def __init__(
        self, message: str, path: Path | None = None, line: int | None = None, column: int | None = None
    ):
        super().__init__(message)
        self.message = message
        self.path = path
        self.line = line  # 1-based
        self.column = column  # 1-based

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class Problem:
    """A validation finding; ``str()`` reads ``setup.yaml: Workers.w.sinks[1]: message``."""

    severity: str  # 'error' | 'warning'
    location: str
    message: str
    node: tuple[str, str] | None = None  # ('buffer' | 'worker', name) for the editor to select
    file: str = "setup.yaml"
    line: int | None = None  # 1-based line in the setup file, when known

    def __str__(self) -> str:
        return f"{self.file}: {self.location}: {self.message}"

    @property
    def is_error(self) -> bool:
        return self.severity == "error"


@dataclass
class BufferSpec:
    """Plain view of one buffer. Trustworthy when ``setup.errors()`` is empty."""

    name: str
    slot_count: int
    data_length: int
    dtype: np.dtype | None  # structured dtype, fields in file order; None when invalid
    data_dtype: dict[str, str] = field(default_factory=dict)  # the raw {field: dtype string} mapping

    @property
    def raw_dtype(self) -> dict[str, str]:
        return self.data_dtype


@dataclass
class WorkerSpec:
    """Plain view of one worker with its config fully merged. Trustworthy when ``errors()`` is empty."""

    name: str
    file: str | None
    function: str
    config: dict[str, Any] = field(default_factory=dict)
    config_files: list[Path] = field(default_factory=list)
    number_of_processes: int = 1
    sources: list[str] = field(default_factory=list)
    sinks: list[str] = field(default_factory=list)
    observes: list[str] = field(default_factory=list)
    file_path: Path | None = None  # resolved python file, None for prebuilt functions

    @property
    def is_prebuilt(self) -> bool:
        return not self.file

    def buffers(self, role: str) -> list[str]:
        """The buffer names of one role ('sources', 'sinks' or 'observes')."""
        return list(getattr(self, _check_role(role)))


@dataclass(frozen=True)
class SetupState:
    """An exact snapshot of a setup document (for undo): restoring it gives the same text."""

    text: str
    path: Path


# =========================================================================== helpers: values


def _plain(value: Any) -> Any:
    """ruamel round-trip objects -> plain python (dict, list, int, float, bool, str, None)."""
    if isinstance(value, Mapping):
        return {_plain(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, ScalarBoolean) or isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    return value


def _describe(value: Any) -> str:
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, (list, tuple)):
        return "a list"
    if value is None:
        return "nothing (null)"
    kind = "boolean" if isinstance(value, bool) else type(value).__name__
    if isinstance(value, ScalarString) or isinstance(value, str):
        kind = "str"
    return f"{kind} {_plain(value)!r}"


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _dtype_str(dt: np.dtype) -> str:
    return dt.str[1:] if dt.kind in "SUV" else dt.name


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
    return type(_plain(old)) is type(_plain(new)) and _plain(old) == _plain(new)


def _check_role(role: str) -> str:
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    return role


# =========================================================================== helpers: ruamel document


def _own_keys(node: CommentedMap) -> list[Any]:
    return [k for k, _ in node.non_merged_items()]


def _is_own(node: CommentedMap, key: Any) -> bool:
    return key in node._ok  # noqa: SLF001 - ruamel's record of non-merged keys


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


# ---- three-way text merge: apply the change between two dumps to the text as it was loaded


def _merge_text(original: str, base: str, new: str) -> str | None:
    """Apply the edit ``base -> new`` onto ``original`` (``base`` = dump of ``original``'s document).

    Returns None when the edit touches lines where ``original`` and ``base`` differ.
    """
    if base == new:
        return original
    if original == base:
        return new
    o_lines = original.splitlines(keepends=True)
    b_lines = base.splitlines(keepends=True)
    n_lines = new.splitlines(keepends=True)
    b2o: dict[int, int] = {}
    for tag, i1, i2, j1, _j2 in SequenceMatcher(None, o_lines, b_lines, autojunk=False).get_opcodes():
        if tag == "equal":
            for k in range(i2 - i1):
                b2o[j1 + k] = i1 + k
    out: list[str] = []
    o_pos = 0
    for tag, i1, i2, j1, j2 in SequenceMatcher(None, b_lines, n_lines, autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        if i2 > i1:
            mapped = [b2o.get(k) for k in range(i1, i2)]
            if any(m is None for m in mapped):
                return None
            if mapped != list(range(mapped[0], mapped[0] + len(mapped))):  # type: ignore[arg-type]
                return None
            o1, o2 = mapped[0], mapped[-1] + 1  # type: ignore[operator]
        else:
            if i1 - 1 in b2o:
                o1 = b2o[i1 - 1] + 1
            elif i1 in b2o:
                o1 = b2o[i1]
            elif i1 == 0:
                o1 = 0
            else:
                return None
            o2 = o1
        if o1 < o_pos:
            return None
        out.extend(o_lines[o_pos:o1])
        out.extend(n_lines[j1:j2])
        o_pos = o2
    out.extend(o_lines[o_pos:])
    return "".join(out)


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
    yaml = YAML(typ="safe", pure=True)
    with open(path, encoding="utf-8") as stream:
        data = yaml.load(stream)
    return {} if data is None else data


# =========================================================================== the model


class Setup:
    """A setup file: ruamel document (source of truth) + typed views + validation + editing API."""

    def __init__(
        self,
        document: CommentedMap,
        path: str | Path,
        *,
        text: str | None = None,
        newline: str = "\n",
        bom: bool = False,
    ) -> None:
        self._doc = document
        self._path = Path(path).expanduser().absolute()
        self._indent = _guess_indent(document)
        self._newline = newline
        self._bom = bom
        base = self._dump()
        self._original = text if text is not None else base
        self._base = base
        self._dirty = False
        self._saved_text = self._original
        self._listeners: list[Callable[[str, dict[str, Any]], None]] = []

    # ------------------------------------------------------------------ construction

    @classmethod
    def load(cls, path: str | Path) -> Setup:
        """Read a setup file; raises :class:`SetupError` when it is missing or not YAML mapping."""
        path = Path(path).expanduser().absolute()
        if path.is_dir():
            candidate = path / "setup.yaml"
            if not candidate.is_file():
                raise SetupError(f"{path}: is a directory without a setup.yaml", path=path)
            path = candidate
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise SetupError(f"{path}: setup file not found", path=path) from None
        except OSError as exc:
            raise SetupError(f"{path}: cannot read setup file: {exc.strerror or exc}", path=path) from None
        try:
            text, newline, bom = _decode(data)
        except UnicodeDecodeError as exc:
            raise SetupError(
                f"{path.name}: not a UTF-8 text file ({exc.reason} at byte {exc.start})", path=path
            ) from None
        return cls._from_text(text, path, newline=newline, bom=bom)

    @classmethod
    def from_text(cls, text: str, path: str | Path | None = None) -> Setup:
        """A setup from YAML text; ``path`` (default ./setup.yaml) anchors relative paths and names it."""
        path = Path(path).expanduser().absolute() if path is not None else Path.cwd() / "setup.yaml"
        newline = "\r\n" if "\r\n" in text else "\n"
        return cls._from_text(text.replace("\r\n", "\n"), path, newline=newline, bom=False)

    @classmethod
    def new(cls, path: str | Path) -> Setup:
        """An empty setup (no buffers, no workers) to be filled by the graph editor."""
        return cls.from_text(_NEW_SETUP_TEXT, path)

    @classmethod
    def _from_text(cls, text: str, path: Path, *, newline: str, bom: bool) -> Setup:
        doc = cls._parse(text, path.name)
        return cls(doc, path, text=text, newline=newline, bom=bom)

    @staticmethod
    def _parse(text: str, name: str) -> CommentedMap:
        doc = Setup._parse_yaml(text, name)
        _keep_anchors(doc)
        return doc

    @staticmethod
    def _parse_yaml(text: str, name: str) -> CommentedMap:
        yaml = YAML(typ="rt")
        yaml.preserve_quotes = True
        try:
            doc = yaml.load(text)
        except MarkedYAMLError as exc:
            raise _located(exc, name) from None
        except YAMLError as exc:
            raise SetupError(f"{name}: {exc}") from None
        if doc is None:
            raise SetupError(f"{name}: the setup file is empty (expected sections 'Buffers' and 'Workers')")
        if not isinstance(doc, CommentedMap):
            raise SetupError(
                f"{name}: the top level must be a mapping with 'Buffers' and 'Workers', found {_describe(doc)}"
            )
        return doc

    # ------------------------------------------------------------------ text

    def _yaml(self) -> YAML:
        yaml = YAML(typ="rt")
        yaml.preserve_quotes = True
        yaml.width = 4096
        mapping, sequence, offset = self._indent
        yaml.indent(mapping=mapping, sequence=sequence, offset=offset)
        return yaml

    def _dump(self) -> str:
        stream = io.StringIO()
        self._yaml().dump(self._doc, stream)
        return stream.getvalue()

    def to_text(self) -> str:
        """The YAML text: the loaded text with only the edited parts changed."""
        if not self._dirty:
            return self._original
        new = self._dump()
        merged = _merge_text(self._original, self._base, new)
        if merged is None or merged == new:
            return new
        try:
            same = _plain(YAML(typ="safe", pure=True).load(merged)) == _plain(
                YAML(typ="safe", pure=True).load(new)
            )
        except YAMLError:
            same = False
        return merged if same else new

    def save(self, path: str | Path | None = None) -> Path:
        """Write the setup (atomically) to ``path`` or its own path; ``path`` becomes its path.

        Relative paths inside the setup are kept verbatim (they stay relative to the new folder).
        """
        target = Path(path).expanduser().absolute() if path is not None else self._path
        text = self.to_text()
        data = text.replace("\n", self._newline).encode("utf-8")
        if self._bom:
            data = codecs.BOM_UTF8 + data
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as stream:
                stream.write(data)
            if target.exists():
                os.chmod(tmp, target.stat().st_mode & 0o7777)
            os.replace(tmp, target)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        self._path = target
        self._reset_text(text)
        self._saved_text = text
        return target

    def _reset_text(self, text: str) -> None:
        """``text`` now corresponds exactly to the document."""
        self._original = text
        self._base = self._dump()
        self._dirty = False

    # ------------------------------------------------------------------ undo snapshots

    def to_state(self) -> SetupState:
        """An exact snapshot for undo; :meth:`from_state` restores it (same text, same document)."""
        return SetupState(self.to_text(), self._path)

    def from_state(self, state: SetupState) -> None:
        """Restore a snapshot taken with :meth:`to_state`."""
        self._doc = self._parse(state.text, state.path.name)
        self._path = state.path
        self._indent = _guess_indent(self._doc)
        self._reset_text(state.text)
        self._emit("reset")

    snapshot = to_state
    restore = from_state

    # ------------------------------------------------------------------ change listeners

    def add_listener(self, callback: Callable[[str, dict[str, Any]], None]) -> None:
        """Call ``callback(event, detail)`` after every edit (e.g. 'buffer_renamed', {'old':..,'new':..})."""
        self._listeners.append(callback)

    def remove_listener(self, callback: Callable[[str, dict[str, Any]], None]) -> None:
        if callback in self._listeners:
            self._listeners.remove(callback)

    def _emit(self, event: str, **detail: Any) -> None:
        for callback in list(self._listeners):
            callback(event, detail)

    def _changed(self, event: str, **detail: Any) -> None:
        self._dirty = True
        self._emit(event, **detail)

    # ------------------------------------------------------------------ properties

    @property
    def document(self) -> CommentedMap:
        """The ruamel document. Change it through the editing methods so saves stay minimal."""
        return self._doc

    @property
    def path(self) -> Path:
        return self._path

    @property
    def setup_dir(self) -> Path:
        return self._path.parent

    @property
    def name(self) -> str:
        """The file stem, or the folder name for a file called setup.yaml."""
        if self._path.stem.lower() == "setup" and self._path.parent.name:
            return self._path.parent.name
        return self._path.stem

    @property
    def modified(self) -> bool:
        """True when the text differs from what was last loaded or saved."""
        return self.to_text() != self._saved_text

    @property
    def target_directory(self) -> Path:
        """Where runs go: absolute, relative to the setup folder, or ~/...; default <setup dir>/runs."""
        raw = self._doc.get("target_directory")
        if not isinstance(raw, str) or not raw.strip():
            return (self.setup_dir / DEFAULT_TARGET).resolve()
        path = Path(os.path.expandvars(raw.strip())).expanduser()
        if not path.is_absolute():
            path = self.setup_dir / path
        return path.resolve()

    def _section(self, name: str) -> CommentedMap:
        section = self._doc.get(name)
        return section if isinstance(section, CommentedMap) else CommentedMap()

    @property
    def buffer_names(self) -> list[str]:
        return [str(k) for k in self._section(BUFFERS)]

    @property
    def worker_names(self) -> list[str]:
        return [str(k) for k in self._section(WORKERS)]

    @property
    def buffers(self) -> dict[str, BufferSpec]:
        """``{name: BufferSpec}`` in file order."""
        result = {}
        for name, raw in self._section(BUFFERS).items():
            raw = raw if isinstance(raw, Mapping) else {}
            fields = raw.get("data_dtype")
            fields = {str(k): _plain(v) for k, v in fields.items()} if isinstance(fields, Mapping) else {}
            try:
                dtype = np.dtype([(k, v) for k, v in fields.items()]) if fields else None
            except (TypeError, ValueError):
                dtype = None
            result[str(name)] = BufferSpec(
                name=str(name),
                slot_count=_plain(raw.get("slot_count")),
                data_length=_plain(raw.get("data_length")),
                dtype=dtype,
                data_dtype=fields,
            )
        return result

    @property
    def workers(self) -> dict[str, WorkerSpec]:
        """``{name: WorkerSpec}`` in file order, configs merged (base_config, then each entry)."""
        base, base_files = self._merged_config(self._doc.get("base_config"), "base_config", None)
        result = {}
        for name, raw in self._section(WORKERS).items():
            raw = raw if isinstance(raw, Mapping) else {}
            config, files = self._merged_config(raw.get("config"), f"{WORKERS}.{name}.config", None)
            file = raw.get("file")
            file = str(file).strip() if isinstance(file, str) and file.strip() else None
            result[str(name)] = WorkerSpec(
                name=str(name),
                file=file,
                function=str(raw.get("function") or ""),
                config={**base, **config},
                config_files=base_files + files,
                number_of_processes=_plain(raw.get("number_of_processes", 1)),
                sources=self._names(raw.get("sources")),
                sinks=self._names(raw.get("sinks")),
                observes=self._names(raw.get("observes")),
                file_path=loader.resolve_file(file, self.setup_dir) if file else None,
            )
        return result

    @property
    def base_config(self) -> dict[str, Any]:
        """The merged ``base_config`` (applied under every worker's config)."""
        return self._merged_config(self._doc.get("base_config"), "base_config", None)[0]

    @staticmethod
    def _names(value: Any) -> list[str]:
        if value is None:
            return []
        if isinstance(value, str):
            return [str(value)]
        if isinstance(value, (list, tuple)):
            return [str(v) for v in value if isinstance(v, str)]
        return []

    def _config_entries(self, raw: Any, location: str) -> Iterable[tuple[str, Any]]:
        """(location, entry) pairs of a config value: a mapping, a file name, or a list of them."""
        if raw is None:
            return []
        if isinstance(raw, (Mapping, str)):
            return [(location, raw)]
        if isinstance(raw, list):
            return [(f"{location}[{i}]", entry) for i, entry in enumerate(raw)]
        return [(location, raw)]

    def _merged_config(
        self, raw: Any, location: str, problems: list[tuple[str, str]] | None
    ) -> tuple[dict[str, Any], list[Path]]:
        """Merge a config value; bad entries are reported into ``problems`` as (location, message)."""
        config: dict[str, Any] = {}
        files: list[Path] = []
        if raw is not None and not isinstance(raw, (Mapping, str, list)):
            if problems is not None:
                problems.append(
                    (
                        location,
                        f"must be a mapping, a config file name or a list of them, found {_describe(raw)}",
                    )
                )
            return config, files
        for where, entry in self._config_entries(raw, location):
            if isinstance(entry, Mapping):
                config.update(_plain(entry))
            elif isinstance(entry, str):
                path = loader.resolve_file(entry, self.setup_dir)
                if not path.is_file():
                    if problems is not None:
                        problems.append((where, f"config file '{entry}' not found (looked for {path})"))
                    continue
                try:
                    data = _read_config_file(path)
                except (OSError, YAMLError, UnicodeDecodeError) as exc:
                    if problems is not None:
                        detail = str(exc).strip().replace("\n", " ")
                        problems.append((where, f"cannot read config file '{entry}' ({path}): {detail}"))
                    continue
                if not isinstance(data, Mapping):
                    if problems is not None:
                        problems.append(
                            (
                                where,
                                f"config file '{entry}' must hold a mapping of config keys, found {_describe(data)}",
                            )
                        )
                    continue
                files.append(path)
                config.update(_plain(data))
            elif problems is not None:
                problems.append(
                    (where, f"config entries must be file names or mappings, found {_describe(entry)}")
                )
        return config, files

    def resolved_dict(self) -> dict[str, Any]:
        """Plain dicts with merged configs and absolute paths, e.g. for a copy in the run directory."""
        buffers = {
            name: {"slot_count": b.slot_count, "data_length": b.data_length, "data_dtype": dict(b.data_dtype)}
            for name, b in self.buffers.items()
        }
        workers = {
            name: {
                "file": str(w.file_path) if w.file_path else "",
                "function": w.function,
                "config": w.config,
                "number_of_processes": w.number_of_processes,
                "sources": list(w.sources),
                "sinks": list(w.sinks),
                "observes": list(w.observes),
            }
            for name, w in self.workers.items()
        }
        return {"Buffers": buffers, "Workers": workers, "target_directory": str(self.target_directory)}

    # ------------------------------------------------------------------ validation

    def errors(self, check_functions: bool = True) -> list[Problem]:
        """Only the errors of :meth:`validate`."""
        return [p for p in self.validate(check_functions) if p.severity == "error"]

    def warnings(self, check_functions: bool = True) -> list[Problem]:
        return [p for p in self.validate(check_functions) if p.severity == "warning"]

    def validate(self, check_functions: bool = True) -> list[Problem]:
        """Every problem found before anything starts, each with its location and the valid choices.

        ``check_functions`` imports worker files / prebuilt modules to check the functions exist.
        """
        return _Validator(self, check_functions).run()

    # ------------------------------------------------------------------ editing: helpers

    def _section_for_edit(self, name: str) -> CommentedMap:
        section = self._doc.get(name)
        if isinstance(section, CommentedMap):
            return section
        section = CommentedMap()
        section.fa.set_block_style()
        if name in self._doc:
            self._doc[name] = section
        else:
            index = _canonical_index(self._doc, name, (BUFFERS, WORKERS, "target_directory"))
            _insert_item(self._doc, index, name, section)
        return section

    def _own_map(self, section: CommentedMap, name: str) -> CommentedMap:
        """The entry ``name`` as a mapping that may be edited without touching aliases of it.

        An entry shared through an alias becomes ``{<<: *anchor}`` plus the edited keys.
        """
        value = section[name]
        if not isinstance(value, CommentedMap):
            fresh = CommentedMap()
            fresh.fa.set_block_style()
            section[name] = fresh
            return fresh
        if _refcounts(self._doc).get(id(value), 0) > 1:
            merged = MergeValue()
            merged.merge_pos = 0
            merged.append(value)
            fresh = CommentedMap()
            fresh.add_yaml_merge(merged)
            fresh.fa.set_block_style()
            section[name] = fresh
            return fresh
        return value

    def _assign(self, node: CommentedMap, key: str, value: Any, order: tuple[str, ...]) -> None:
        """Set ``node[key] = value`` changing as little of the document as possible."""
        if value is None:
            if _is_own(node, key):
                _delete_item(node, key)
            return
        if key in node and _is_own(node, key):
            old = node[key]
            shared = _refcounts(self._doc).get(id(old), 0) > 1
            if isinstance(old, CommentedMap) and isinstance(value, Mapping) and not shared:
                self._sync_map(old, value, node, key)
            elif isinstance(old, CommentedSeq) and isinstance(value, (list, tuple)) and not shared:
                self._sync_seq(old, value, node, key)
            elif not _same_scalar(old, value):
                node[key] = _to_node(value, like=old)
            return
        _insert_item(node, _canonical_index(node, key, order), key, _to_node(value, like=node.get(key)))

    def _sync_map(self, old: CommentedMap, new: Mapping[str, Any], parent: Any, parent_key: Any) -> None:
        for key in [k for k in _own_keys(old) if k not in new]:
            _delete_item(old, key, parent, parent_key)
        for key, value in new.items():
            self._assign(old, key, value, tuple(new.keys()))

    def _sync_seq(
        self, old: CommentedSeq, new: list[Any] | tuple[Any, ...], parent: Any, parent_key: Any
    ) -> None:
        refs = _refcounts(self._doc)
        for i, value in enumerate(new[: len(old)]):
            current = old[i]
            if (
                isinstance(current, CommentedMap)
                and isinstance(value, Mapping)
                and refs.get(id(current), 0) <= 1
            ):
                self._sync_map(current, value, old, i)
            elif (
                isinstance(current, CommentedSeq)
                and isinstance(value, (list, tuple))
                and refs.get(id(current), 0) <= 1
            ):
                self._sync_seq(current, value, old, i)
            elif not _same_scalar(current, value):
                old[i] = _to_node(value, like=current)
        while len(old) > len(new):
            _delete_item(old, len(old) - 1, parent, parent_key)
        for value in new[len(old) :]:
            _insert_item(old, len(old), len(old), _to_node(value))

    def _require(self, section: str, name: str) -> None:
        names = self.buffer_names if section == BUFFERS else self.worker_names
        if name not in names:
            kind = "buffer" if section == BUFFERS else "worker"
            raise KeyError(
                f"{kind} '{name}' is not defined ({section.lower()}: {', '.join(names) or 'none'})"
            )

    @staticmethod
    def _check_name(name: Any, kind: str) -> str:
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"a {kind} name must be a non-empty string, not {name!r}")
        return name

    def _role_lists(self) -> Iterable[tuple[CommentedMap, str, CommentedSeq]]:
        """(worker mapping, role, list) for every sources/sinks/observes list in the document."""
        for _wname, worker in self._section(WORKERS).items():
            if not isinstance(worker, CommentedMap):
                continue
            for role in ROLES:
                seq = worker.get(role)
                if isinstance(seq, CommentedSeq):
                    yield worker, role, seq

    # ------------------------------------------------------------------ editing: buffers

    def add_buffer(
        self, name: str, slot_count: int, data_length: int, dtype_fields: Mapping[str, Any]
    ) -> None:
        """Append a buffer ``name`` (ValueError if it exists)."""
        self._check_name(name, "buffer")
        if name in self.buffer_names:
            raise ValueError(f"buffer '{name}' already exists")
        section = self._section_for_edit(BUFFERS)
        entry = CommentedMap()
        entry.fa.set_block_style()
        entry["slot_count"] = int(slot_count)
        entry["data_length"] = int(data_length)
        entry["data_dtype"] = _to_node(dict(dtype_fields))
        _insert_item(section, len(section), name, entry, self._doc, BUFFERS)
        self._changed("buffer_added", name=name)

    def remove_buffer(self, name: str) -> None:
        """Delete a buffer and every reference to it in sources/sinks/observes."""
        self._require(BUFFERS, name)
        for worker, role, seq in list(self._role_lists()):
            while name in [str(v) for v in seq]:
                _delete_item(seq, [str(v) for v in seq].index(name), worker, role)
        _delete_item(self._section(BUFFERS), name, self._doc, BUFFERS)
        self._changed("buffer_removed", name=name)

    def rename_buffer(self, old: str, new: str) -> None:
        """Rename a buffer in place (key order kept); sources/sinks/observes follow."""
        self._require(BUFFERS, old)
        self._check_name(new, "buffer")
        if new == old:
            return
        if new in self.buffer_names:
            raise ValueError(f"buffer '{new}' already exists")
        _rename_key(self._section(BUFFERS), old, new)
        seen: set[int] = set()
        for _worker, _role, seq in self._role_lists():
            if id(seq) in seen:
                continue
            seen.add(id(seq))
            for i, value in enumerate(seq):
                if isinstance(value, str) and str(value) == old:
                    seq[i] = type(value)(new) if isinstance(value, ScalarString) else new
        self._changed("buffer_renamed", old=old, new=new)

    def set_buffer_field(self, name: str, key: str, value: Any) -> None:
        """Set ``slot_count``, ``data_length`` or ``data_dtype`` (a mapping); None removes the key."""
        self._require(BUFFERS, name)
        entry = self._own_map(self._section(BUFFERS), name)
        self._assign(entry, key, value, BUFFER_KEYS)
        self._changed("buffer_changed", name=name, key=key)

    # ------------------------------------------------------------------ editing: workers

    def add_worker(
        self,
        name: str,
        function: str,
        file: str | None = None,
        config: Any = None,
        number_of_processes: int = 1,
        sources: Iterable[str] = (),
        sinks: Iterable[str] = (),
        observes: Iterable[str] = (),
    ) -> None:
        """Append a worker ``name`` (ValueError if it exists). Keys whose value is the manual's default
        (one process, no sources, sinks or observed buffers) are left out; connecting adds them."""
        self._check_name(name, "worker")
        if name in self.worker_names:
            raise ValueError(f"worker '{name}' already exists")
        section = self._section_for_edit(WORKERS)
        entry = CommentedMap()
        entry.fa.set_block_style()
        if file:
            entry["file"] = str(file)
        entry["function"] = str(function)
        if config is not None:
            entry["config"] = _to_node(config)
        if int(number_of_processes) != 1:
            entry["number_of_processes"] = int(number_of_processes)
        for role, names in (("sources", sources), ("sinks", sinks), ("observes", observes)):
            if not names:
                continue
            seq = CommentedSeq([str(n) for n in names])
            seq.fa.set_flow_style()
            entry[role] = seq
        _insert_item(section, len(section), name, entry, self._doc, WORKERS)
        self._changed("worker_added", name=name)

    def remove_worker(self, name: str) -> None:
        self._require(WORKERS, name)
        _delete_item(self._section(WORKERS), name, self._doc, WORKERS)
        self._changed("worker_removed", name=name)

    def rename_worker(self, old: str, new: str) -> None:
        self._require(WORKERS, old)
        self._check_name(new, "worker")
        if new == old:
            return
        if new in self.worker_names:
            raise ValueError(f"worker '{new}' already exists")
        _rename_key(self._section(WORKERS), old, new)
        self._changed("worker_renamed", old=old, new=new)

    def set_worker_field(self, name: str, key: str, value: Any) -> None:
        """Set one worker key (file, function, config, number_of_processes, sources, ...); None removes it."""
        self._require(WORKERS, name)
        if key == "file" and value == "":
            value = None
        entry = self._own_map(self._section(WORKERS), name)
        self._assign(entry, key, value, WORKER_KEYS)
        self._changed("worker_changed", name=name, key=key)

    def connect(self, worker: str, buffer: str, role: str) -> None:
        """Add ``buffer`` to the worker's ``role`` list ('sources' | 'sinks' | 'observes'); no-op if there."""
        _check_role(role)
        self._require(WORKERS, worker)
        self._require(BUFFERS, buffer)
        entry = self._own_map(self._section(WORKERS), worker)
        current = entry.get(role)
        names = self._names(current)
        if buffer in names:
            return
        if (
            isinstance(current, CommentedSeq)
            and _is_own(entry, role)
            and _refcounts(self._doc).get(id(current), 0) <= 1
        ):
            _insert_item(current, len(current), len(current), buffer)
        else:
            self._assign(entry, role, names + [buffer], WORKER_KEYS)
        self._changed("connected", worker=worker, buffer=buffer, role=role)

    def disconnect(self, worker: str, buffer: str, role: str) -> None:
        """Remove ``buffer`` from the worker's ``role`` list; no-op if absent."""
        _check_role(role)
        self._require(WORKERS, worker)
        entry = self._own_map(self._section(WORKERS), worker)
        current = entry.get(role)
        names = self._names(current)
        if buffer not in names:
            return
        if (
            isinstance(current, CommentedSeq)
            and _is_own(entry, role)
            and _refcounts(self._doc).get(id(current), 0) <= 1
        ):
            _delete_item(current, [str(v) for v in current].index(buffer), entry, role)
        else:
            self._assign(entry, role, [n for n in names if n != buffer], WORKER_KEYS)
        self._changed("disconnected", worker=worker, buffer=buffer, role=role)

    def set_field(self, key: str, value: Any) -> None:
        """Set a top-level key such as ``target_directory`` or ``base_config``; None removes it."""
        if key in (BUFFERS, WORKERS):
            raise ValueError(f"edit '{key}' through the buffer/worker methods")
        self._assign(self._doc, key, value, TOP_KEYS)
        self._changed("setup_changed", key=key)

    def __repr__(self) -> str:
        return f"Setup({str(self._path)!r}, buffers={self.buffer_names}, workers={self.worker_names})"


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
        if isinstance(buffers, Mapping) and isinstance(workers, Mapping):
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
        self, raw: Mapping[str, Any], key: str, where: str, node: tuple[str, str], example: int
    ) -> int | None:
        if key not in raw:
            return None
        value = raw[key]
        if _is_int(value) and value > 0:
            return int(value)
        if _is_int(value) or isinstance(value, float):
            found = f"found {_plain(value)!r}"
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
        self.unknown_keys(raw, BUFFER_KEYS, where, node)
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
                    f"bad dtype {_plain(dt)!r}: write the dtype as a string (valid examples: {examples})",
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
        nproc = self.positive_int(raw, "number_of_processes", where, node, 1)
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
        if "config" in raw:
            self.config(raw["config"], f"{where}.config", node, raw)
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
        self.setup._merged_config(raw, where, problems)  # noqa: SLF001 - shared with the views
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
        except Exception:  # noqa: BLE001 - a setup too broken for the views: its errors are reported already
            return
        for wname, doc in self.function_docs.items():
            spec = specs.get(wname)
            if spec is None:
                continue
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
            if spec is None:
                continue
            where = f"{WORKERS}.{wname}.config"
            raw = workers.get(wname)
            line = _line_of(raw, "config") if isinstance(raw, Mapping) else None
            role_specs = {role: [buffers[b] for b in getattr(spec, role) if b in buffers] for role in ROLES}
            try:
                messages = list(check(dict(spec.config), setup_dir=self.setup.setup_dir, **role_specs))
            except Exception as exc:  # noqa: BLE001 - a check that breaks is itself a problem to show
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
