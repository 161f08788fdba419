"""The read side of a :class:`~mimocorb_gui.core.setup.Setup`: typed, plain-python views computed
from its document (buffers, workers with merged configs, where config keys come from, the resolved
setup a run directory keeps). Mixed into ``Setup``; reads its ``_doc`` and ``setup_dir``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from ruamel.yaml.comments import CommentedMap

from mimocorb_gui.core import loader
from mimocorb_gui.core.setup import configs
from mimocorb_gui.core.setup.specs import (
    BUFFERS,
    DEFAULT_TARGET,
    WORKERS,
    BufferSpec,
    WorkerSpec,
    to_plain,
)
from mimocorb_gui.core.units import parse_units


class SetupViews:
    """Views of the document: computed on every call (the document is the source of truth)."""

    _doc: CommentedMap
    setup_dir: Path

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
