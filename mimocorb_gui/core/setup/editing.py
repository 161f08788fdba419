"""The editing API of a :class:`~mimocorb_gui.core.setup.Setup`: add, remove, rename and change
buffers and workers, connect them, set top-level keys. Each edit changes the ruamel document as
little as possible (entries shared through anchors are split off, comments stay with their lines)
and then announces itself (``_changed``). Mixed into ``Setup``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.mergevalue import MergeValue
from ruamel.yaml.scalarstring import ScalarString

from mimocorb_gui.core.setup.specs import (
    BUFFER_KEYS,
    BUFFERS,
    ROLES,
    TOP_KEYS,
    WORKER_KEYS,
    WORKERS,
    _check_role,
)
from mimocorb_gui.core.setup.yamledit import (
    _canonical_index,
    _delete_item,
    _insert_item,
    _is_own,
    _own_keys,
    _refcounts,
    _rename_key,
    _same_scalar,
    _to_node,
)


class SetupEditing:
    """Edits of the document through names, as the graph editor's undo commands make them."""

    _doc: CommentedMap

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
        before = self._entry_before_edit(BUFFERS, name)
        entry = self._own_map(self._section(BUFFERS), name)
        self._assign(entry, key, value, BUFFER_KEYS)
        self._changed("buffer_changed", before, name=name, key=key)

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
        before = self._entry_before_edit(WORKERS, name)
        entry = self._own_map(self._section(WORKERS), name)
        self._assign(entry, key, value, WORKER_KEYS)
        self._changed("worker_changed", before, name=name, key=key)

    def connect(self, worker: str, buffer: str, role: str) -> None:
        """Add ``buffer`` to the worker's ``role`` list ('sources' | 'sinks' | 'observes'); no-op if there."""
        _check_role(role)
        self._require(WORKERS, worker)
        self._require(BUFFERS, buffer)
        before = self._entry_before_edit(WORKERS, worker)
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
        self._changed("connected", before, worker=worker, buffer=buffer, role=role)

    def disconnect(self, worker: str, buffer: str, role: str) -> None:
        """Remove ``buffer`` from the worker's ``role`` list; no-op if absent."""
        _check_role(role)
        self._require(WORKERS, worker)
        before = self._entry_before_edit(WORKERS, worker)
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
        self._changed("disconnected", before, worker=worker, buffer=buffer, role=role)

    def set_field(self, key: str, value: Any) -> None:
        """Set a top-level key such as ``target_directory`` or ``base_config``; None removes it."""
        if key in (BUFFERS, WORKERS):
            raise ValueError(f"edit '{key}' through the buffer/worker methods")
        self._assign(self._doc, key, value, TOP_KEYS)
        self._changed("setup_changed", key=key)
