"""Validation of a setup: the validator (``Setup.validate`` runs it) — where problems are collected
and in which order the checks run. The checks themselves, by kind: ``validate_entries`` (what is
written: keys, types, values, listed buffers), ``validate_graph`` (the data flow), ``validate_functions``
(the worker functions, their documented config and template rules), ``limits`` (memory, loops,
names, documented types).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from mimocorb_gui.core.setup import limits
from mimocorb_gui.core.setup.specs import (
    BUFFERS,
    ROLES,
    WORKERS,
    Problem,
)
from mimocorb_gui.core.setup.validate_entries import check_buffer, check_config, check_top_level, check_worker
from mimocorb_gui.core.setup.validate_functions import check_function_configs, check_template_rules
from mimocorb_gui.core.setup.validate_graph import check_graph

if TYPE_CHECKING:
    from mimocorb_gui.core.setup.model import Setup


class _Validator:
    """One validation pass: the setup, the problems found so far and what the checks learn on the
    way (which worker uses which buffer, the functions' docstrings and own checks)."""

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
        self.unreadable_configs: set[str] = set()  # workers whose config files/entries could not be read
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
        check_top_level(self)
        buffers = self.doc.get(BUFFERS)
        workers = self.doc.get(WORKERS)
        buffer_names = [str(k) for k in buffers] if isinstance(buffers, Mapping) else []
        valid_buffers: dict[str, int | None] = {}
        if isinstance(buffers, Mapping):
            for name, raw in buffers.items():
                valid_buffers[str(name)] = check_buffer(self, name, raw, buffers)
        if "base_config" in self.doc:
            check_config(self, self.doc["base_config"], "base_config", None)
        users: dict[str, dict[str, list[tuple[str, int, str]]]] = {
            n: {r: [] for r in ROLES} for n in buffer_names
        }
        if isinstance(workers, Mapping):
            for name, raw in workers.items():
                check_worker(self, name, raw, workers, buffer_names, users)
        if isinstance(buffers, Mapping):
            limits.check_memory(self)
        if isinstance(buffers, Mapping) and isinstance(workers, Mapping):
            limits.check_cycles(self, users)
            check_graph(self, buffers, valid_buffers, users)
            check_template_rules(self, workers)
            check_function_configs(self, workers)
        return self.problems
