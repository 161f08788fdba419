"""The ``Setup`` model: the ruamel document (source of truth), its typed views and the editing API."""

from __future__ import annotations

import codecs
import io
import os
import tempfile
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.mergevalue import MergeValue
from ruamel.yaml.scalarstring import ScalarString

from mimocorb_gui.core import loader, setuplimits
from mimocorb_gui.core.setup import configs
from mimocorb_gui.core.setup.specs import (
    _NEW_SETUP_TEXT,
    BUFFER_KEYS,
    BUFFERS,
    DEFAULT_TARGET,
    ROLES,
    TOP_KEYS,
    WORKER_KEYS,
    WORKERS,
    BufferSpec,
    Problem,
    SetupError,
    SetupState,
    WorkerSpec,
    _check_role,
    _describe,
    to_plain,
)
from mimocorb_gui.core.setup.validation import _Validator
from mimocorb_gui.core.setup.yamledit import (
    _base_lines_in,
    _canonical_index,
    _decode,
    _delete_item,
    _guess_indent,
    _insert_item,
    _is_own,
    _keep_anchors,
    _located,
    _merge_text,
    _own_keys,
    _refcounts,
    _rename_key,
    _same_scalar,
    _to_node,
)
from mimocorb_gui.core.units import parse_units

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
        self._base_map: dict[int, int] | None = None  # lines of _base found in _original (for the merge)
        self._dirty = False
        self._saved_text = self._original
        # to_text() is computed once per edit generation (every edit bumps it): the editor asks for
        # the text before and after each edit, and `modified` on every window title update
        self._generation = 0
        self._text_cache: tuple[int, str] | None = None
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
        new = self._dump()
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
        self._generation += 1
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
            fields = {str(k): to_plain(v) for k, v in fields.items()} if isinstance(fields, Mapping) else {}
            try:
                dtype = np.dtype([(k, v) for k, v in fields.items()]) if fields else None
            except (TypeError, ValueError):
                dtype = None
            result[str(name)] = BufferSpec(
                name=str(name),
                slot_count=to_plain(raw.get("slot_count")),
                data_length=to_plain(raw.get("data_length")),
                dtype=dtype,
                data_dtype=fields,
                units=parse_units(to_plain(raw.get("units")), list(fields) or None),
            )
        return result

    @property
    def workers(self) -> dict[str, WorkerSpec]:
        """``{name: WorkerSpec}`` in file order, configs merged (base_config, then each entry)."""
        base, base_files = self.merged_config(self._doc.get("base_config"), "base_config", None)
        result = {}
        for name, raw in self._section(WORKERS).items():
            raw = raw if isinstance(raw, Mapping) else {}
            config, files = self.merged_config(raw.get("config"), f"{WORKERS}.{name}.config", None)
            file = raw.get("file")
            file = str(file).strip() if isinstance(file, str) and file.strip() else None
            result[str(name)] = WorkerSpec(
                name=str(name),
                file=file,
                function=str(raw.get("function") or ""),
                config={**base, **config},
                config_files=base_files + files,
                number_of_processes=to_plain(raw.get("number_of_processes", 1)),
                sources=self._names(raw.get("sources")),
                sinks=self._names(raw.get("sinks")),
                observes=self._names(raw.get("observes")),
                file_path=loader.resolve_file(file, self.setup_dir) if file else None,
            )
        return result

    @property
    def base_config(self) -> dict[str, Any]:
        """The merged ``base_config`` (applied under every worker's config)."""
        return self.merged_config(self._doc.get("base_config"), "base_config", None)[0]

    @staticmethod
    def _names(value: Any) -> list[str]:
        if value is None:
            return []
        if isinstance(value, str):
            return [str(value)]
        if isinstance(value, (list, tuple)):
            return [str(v) for v in value if isinstance(v, str)]
        return []

    def merged_config(
        self, raw: Any, location: str, problems: list[tuple[str, str]] | None = None
    ) -> tuple[dict[str, Any], list[Path]]:
        """A config value as a worker sees it (mappings and config files merged in order) and the
        files read; bad entries are reported into ``problems`` as (location, message)."""
        return configs.merged_config(raw, location, self.setup_dir, problems)

    def written_entry(self, section: str, name: str) -> dict[str, Any] | None:
        """Buffer or worker ``name`` of ``section`` ('Buffers' | 'Workers') as written, plain python."""
        entries = self._doc.get(section)
        entry = entries.get(name) if isinstance(entries, Mapping) else None
        return to_plain(entry) if isinstance(entry, Mapping) else None

    def inline_config(self, worker: str) -> dict[str, Any]:
        """The config keys written in the setup itself for ``worker`` (not those from config files)."""
        return configs.inline_config(self._raw_worker(worker))

    def config_origins(self, worker: str) -> dict[str, str]:
        """``{key: where its effective value comes from}``: 'setup', a config file name, or 'base_config'."""
        return configs.config_origins(self._doc.get("base_config"), self._raw_worker(worker), self.setup_dir)

    def config_with_value(self, worker: str, key: str, value: Any, present: bool = True) -> Any:
        """The worker's ``config`` value with ``key`` set to ``value`` (or removed when not ``present``),
        its config files and their order kept; for ``set_worker_field(worker, 'config', ...)``."""
        return configs.config_with_value(self._raw_worker(worker), key, value, present)

    def _raw_worker(self, name: str) -> Any:
        workers = self._doc.get(WORKERS)
        return workers.get(name) if isinstance(workers, Mapping) else None

    def resolved_dict(self) -> dict[str, Any]:
        """Plain dicts with merged configs and absolute paths, e.g. for a copy in the run directory."""
        buffers = {
            name: {"slot_count": b.slot_count, "data_length": b.data_length, "data_dtype": dict(b.data_dtype)}
            | (
                {"units": {f: [u.scale, u.unit] if u.scale != 1.0 else u.unit for f, u in b.units.items()}}
                if b.units
                else {}
            )
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
