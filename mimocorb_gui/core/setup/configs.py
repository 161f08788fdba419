"""Worker configs: as written in the setup, as a worker sees them, and where each key comes from.

A worker's ``config`` (and the setup's ``base_config``) is a mapping, a config file name, or a
list of both, merged in order (later entries win; ``base_config`` lies under every worker's own).
The model's views and validation read configs through :func:`merged_config`; the property panel
shows :func:`inline_config` and :func:`config_origins` and edits through :func:`config_with_value`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ruamel.yaml.error import YAMLError

from mimocorb_gui.core import loader, setuplimits
from mimocorb_gui.core.setup.specs import _describe, to_plain
from mimocorb_gui.core.setup.yamledit import _read_config_file

__all__ = ["merged_config", "inline_config", "config_origins", "config_with_value"]


def _entries(raw: Any, location: str) -> Iterable[tuple[str, Any]]:
    """(location, entry) pairs of a config value: a mapping, a file name, or a list of them."""
    if raw is None:
        return []
    if isinstance(raw, (Mapping, str)):
        return [(location, raw)]
    if isinstance(raw, list):
        return [(f"{location}[{i}]", entry) for i, entry in enumerate(raw)]
    return [(location, raw)]


def merged_config(
    raw: Any, location: str, setup_dir: Path, problems: list[tuple[str, str]] | None = None
) -> tuple[dict[str, Any], list[Path]]:
    """Merge a config value (files relative to ``setup_dir``); returns the keys and the files read.

    Bad entries are reported into ``problems`` as (location, message) and skipped.
    """
    config: dict[str, Any] = {}
    files: list[Path] = []
    if raw is not None and not isinstance(raw, (Mapping, str, list)):
        if problems is not None:
            problems.append(
                (location, f"must be a mapping, a config file name or a list of them, found {_describe(raw)}")
            )
        return config, files
    for where, entry in _entries(raw, location):
        if isinstance(entry, Mapping):
            config.update(to_plain(entry))
        elif isinstance(entry, str):
            path = loader.resolve_file(entry, setup_dir)
            if not path.is_file():
                if problems is not None:
                    problems.append((where, f"config file '{entry}' not found (looked for {path})"))
                continue
            try:
                data = _read_config_file(path)
            except (OSError, YAMLError, UnicodeDecodeError, setuplimits.LimitError) as exc:
                if problems is not None:
                    detail = str(exc).strip().replace("\n", " ")
                    if isinstance(exc, setuplimits.LimitError) and exc.line:
                        detail = f"line {exc.line}, column {exc.column}: {detail}"
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
            config.update(to_plain(data))
        elif problems is not None:
            problems.append(
                (where, f"config entries must be file names or mappings, found {_describe(entry)}")
            )
    return config, files


def inline_config(raw_worker: Any) -> dict[str, Any]:
    """The config keys written in the worker entry itself (its mappings, not its config files)."""
    config = raw_worker.get("config") if isinstance(raw_worker, Mapping) else None
    result: dict[str, Any] = {}
    for entry in config if isinstance(config, list) else [config]:
        if isinstance(entry, Mapping):
            result.update(to_plain(entry))
    return result


def config_origins(base_config: Any, raw_worker: Any, setup_dir: Path) -> dict[str, str]:
    """``{key: where its effective value comes from}``: 'setup', a config file name, or 'base_config'."""
    origins: dict[str, str] = {}

    def walk(raw: Any, inline_label: str) -> None:
        for entry in raw if isinstance(raw, list) else ([raw] if raw is not None else []):
            if isinstance(entry, Mapping):
                for key in entry:
                    origins[str(key)] = inline_label
            elif isinstance(entry, str):
                for key in merged_config(entry, "config", setup_dir)[0]:
                    origins[str(key)] = entry

    walk(base_config, "base_config")
    walk(raw_worker.get("config") if isinstance(raw_worker, Mapping) else None, "setup")
    return origins


def config_with_value(raw_worker: Any, key: str, value: Any, present: bool = True) -> Any:
    """The worker's new ``config`` value with ``key`` set (or removed), config files and order kept."""
    config = to_plain(raw_worker.get("config")) if isinstance(raw_worker, Mapping) else None
    if config is None or (isinstance(config, Mapping) and not config):
        return {key: value} if present else None
    if isinstance(config, Mapping):
        new = dict(config)
        if present:
            new[key] = value
        else:
            new.pop(key, None)
        return new or None
    if isinstance(config, str):
        return [config, {key: value}] if present else config
    if isinstance(config, list):
        entries = list(config)
        maps = [i for i, e in enumerate(entries) if isinstance(e, Mapping)]
        if present:
            if maps:
                entries[maps[-1]] = {**entries[maps[-1]], key: value}
            else:
                entries.append({key: value})
        else:
            for i in maps:
                if key in entries[i]:
                    entries[i] = {k: v for k, v in entries[i].items() if k != key}
            entries = [e for e in entries if not (isinstance(e, Mapping) and not e)]
        return entries or None
    return {key: value} if present else config
