"""Value types of a setup: the section/key constants, the errors and problems, the plain spec views."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from ruamel.yaml.scalarbool import ScalarBoolean
from ruamel.yaml.scalarstring import ScalarString

BUFFERS = "Buffers"
WORKERS = "Workers"
ROLES = ("sources", "sinks", "observes")
TOP_KEYS = (BUFFERS, WORKERS, "target_directory", "base_config", "Options")
BUFFER_KEYS = ("slot_count", "data_length", "data_dtype")
OPTIONAL_BUFFER_KEYS = ("units",)  # ours, not the manual's: {field: unit or [scale, unit]} (core.units)
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
    units: dict[str, Any] = field(
        default_factory=dict
    )  # {field: core.units.FieldUnit}, from the optional key

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


def to_plain(value: Any) -> Any:
    """ruamel round-trip objects -> plain python (dict, list, int, float, bool, str, None).

    Public: the editor compares and copies setup values with it."""
    if isinstance(value, Mapping):
        return {to_plain(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_plain(v) for v in value]
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
    return f"{kind} {to_plain(value)!r}"


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _dtype_str(dt: np.dtype) -> str:
    return dt.str[1:] if dt.kind in "SUV" else dt.name


def _check_role(role: str) -> str:
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    return role
