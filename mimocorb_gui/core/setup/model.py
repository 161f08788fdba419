"""The ``Setup`` model: the ruamel document (source of truth) loaded from and saved to text as it
was written, undo snapshots, change listeners and validation. Its read side (typed views) is
``views.SetupViews``, its editing API ``editing.SetupEditing``; both are mixed in here."""

from __future__ import annotations

import codecs
import io
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from mimocorb_gui.core import setuplimits
from mimocorb_gui.core.setup.editing import SetupEditing
from mimocorb_gui.core.setup.entrydump import entry_lines, replace_entry
from mimocorb_gui.core.setup.specs import (
    _NEW_SETUP_TEXT,
    Problem,
    SetupError,
    SetupState,
    _describe,
    to_plain,
)
from mimocorb_gui.core.setup.textmerge import _base_lines_in, _merge_text
from mimocorb_gui.core.setup.validation import _Validator
from mimocorb_gui.core.setup.views import SetupViews
from mimocorb_gui.core.setup.yamledit import _decode, _guess_indent, _keep_anchors, _located
from mimocorb_gui.core.yaml_values import roundtrip_yaml


class Setup(SetupViews, SetupEditing):
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
        self._base_map: dict[int, int] | None = None  # lines of _base found in _original (for the merge)
        self._dirty = False
        self._saved_text = self._original
        # to_text() is computed once per edit generation (every edit bumps it): the editor asks for
        # the text before and after each edit, and `modified` on every window title update
        self._generation = 0
        self._text_cache: tuple[int, str] | None = None
        # the dump of the document per generation: an edit of one entry makes the next one from it
        self._dump_cache: tuple[int, str] | None = (0, base)
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
            setuplimits.check_size(len(data))
        except setuplimits.LimitError as exc:
            raise SetupError(f"{path.name}: {exc.message}", path=path) from None
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
        try:
            setuplimits.check_yaml(text)  # before ruamel builds anything: bombs, depth, size
        except setuplimits.LimitError as exc:
            where = f"{path.name}:{exc.line}:{exc.column}" if exc.line else path.name
            raise SetupError(f"{where}: {exc.message}", line=exc.line, column=exc.column) from None
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
        yaml = roundtrip_yaml()
        yaml.preserve_quotes = True
        yaml.width = 4096
        mapping, sequence, offset = self._indent
        yaml.indent(mapping=mapping, sequence=sequence, offset=offset)
        return yaml

    def _dump(self) -> str:
        stream = io.StringIO()
        self._yaml().dump(self._doc, stream)
        return stream.getvalue()

    def _current_dump(self) -> str:
        """The dump of the document as it is now (kept per generation)."""
        cached = self._dump_cache
        if cached is not None and cached[0] == self._generation:
            return cached[1]
        text = self._dump()
        self._dump_cache = (self._generation, text)
        return text

    def _entry_before_edit(self, section: str, name: str) -> tuple[int, str, str, list[str]] | None:
        """What an edit of entry ``name`` needs to make the next dump from this one (or None)."""
        cached = self._dump_cache
        if cached is None or cached[0] != self._generation:
            return None
        lines = entry_lines(self._yaml, self._doc, section, name)
        return None if lines is None else (self._generation, section, name, lines)

    def to_text(self) -> str:
        """The YAML text: the loaded text with only the edited parts changed (computed once per edit)."""
        if not self._dirty:
            return self._original
        cached = self._text_cache
        if cached is not None and cached[0] == self._generation:
            return cached[1]
        text = self._merged_text()
        self._text_cache = (self._generation, text)
        return text

    def _merged_text(self) -> str:
        """The document dumped, with the untouched parts of the loaded text kept (a three-way text
        merge), provided the merged text still reads as the document; else the plain dump."""
        new = self._current_dump()
        if self._base_map is None:
            self._base_map = _base_lines_in(self._original, self._base)
        merged = _merge_text(self._original, self._base, new, self._base_map)
        if merged is None or merged == new:
            return new
        safe = YAML(typ="safe", pure=True)
        try:
            reread = to_plain(safe.load(merged))
        except YAMLError:
            return new
        if reread == to_plain(self._doc):  # compare with the document itself: no second parse
            return merged
        # a value the two readers represent differently (e.g. a tagged scalar): compare like with like
        try:
            return merged if reread == to_plain(safe.load(new)) else new
        except YAMLError:
            return new

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
        self._base_map = None
        self._dirty = False
        self._generation += 1
        self._text_cache = None
        self._dump_cache = (self._generation, self._base)

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

    def _changed(
        self, event: str, _before: tuple[int, str, str, list[str]] | None = None, **detail: Any
    ) -> None:
        """After an edit: a new generation, its dump made from the last one when the edit changed one
        entry (``_before`` from :meth:`_entry_before_edit`), then the listeners."""
        self._dirty = True
        self._generation += 1
        cached = self._dump_cache
        if _before is not None and cached is not None and cached[0] == _before[0] == self._generation - 1:
            _, section, name, before = _before
            after = entry_lines(self._yaml, self._doc, section, name)
            text = replace_entry(cached[1], before, after) if after is not None else None
            if text is not None:
                self._dump_cache = (self._generation, text)
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
        """True when the text differs from what was last loaded or saved (cheap: the text is cached)."""
        if not self._dirty:
            return self._original != self._saved_text
        return self.to_text() != self._saved_text

    @property
    def generation(self) -> int:
        """A number that changes with every edit, load of a snapshot and save (for caches of views)."""
        return self._generation

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

    def __repr__(self) -> str:
        return f"Setup({str(self._path)!r}, buffers={self.buffer_names}, workers={self.worker_names})"
