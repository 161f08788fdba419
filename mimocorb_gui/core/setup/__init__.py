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

Package layout, one job per module: ``specs`` (value types and the plain spec views), ``yamledit``
(ruamel comment/anchor surgery), ``textmerge`` (the three-way merge of an edit into the text as
loaded), ``entrydump`` (the dump after an edit of one entry, from the last one), ``model`` (the :class:`Setup`: load, text, save, snapshots, listeners) with its read side
``views`` and its editing API ``editing``, ``validation`` (the validator: problems and the order of
the checks) with its checks by kind in ``validate_entries``, ``validate_graph``,
``validate_functions`` and ``limits``, ``configs`` (worker configs as written, merged, and where
each key comes from). Everything is imported from here.
"""

from __future__ import annotations

from mimocorb_gui.core.setup.model import Setup

# Also imported by name elsewhere, though not in __all__: BUFFERS, WORKERS, DEFAULT_TARGET, DTYPE_EXAMPLES.
from mimocorb_gui.core.setup.specs import (  # noqa: F401
    BUFFER_KEYS,
    BUFFERS,
    DEFAULT_TARGET,
    DTYPE_EXAMPLES,
    ROLES,
    TOP_KEYS,
    WORKER_KEYS,
    WORKERS,
    BufferSpec,
    Problem,
    SetupError,
    SetupState,
    WorkerSpec,
    to_plain,
)

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
    "to_plain",
]
