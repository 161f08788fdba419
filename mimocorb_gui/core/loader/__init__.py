"""Find, load and describe worker functions: user files, prebuilt functions, the mimoCoRB2 alias.

No Qt here: worker processes import this module to load their function.

- A worker with a ``file`` runs a function from that python file (path relative to the setup
  directory, absolute, or ``~/...``). The file is imported as a uniquely named module with its
  folder on ``sys.path`` while importing, so sibling imports work.
- A worker without ``file`` runs a prebuilt function addressed ``module.function``
  (``exporters.histogram``, ``importers.redpitaya.waveform``) from :mod:`mimocorb_gui.functions`.
- Worker files written for mimoCoRB2 (``import mimocorb2 as mi2``, ``from mimocorb2 import
  Importer``, ``from mimocorb2.worker_templates import Filter`` ...) load unchanged: when no real
  ``mimocorb2`` is importable, :func:`install_mimocorb2_alias` maps that package onto ours.

A user file's top-level code runs only when a function must really be called or inspected beyond
its source: listing a file's functions and reading their docstrings (the editor's palette and
property panel) parse it with :mod:`ast` and never execute it (:func:`file_functions`). A real
import (validation needs ``check_setup`` hooks and import errors) is cached per process on the
file's path and content, so editing a setup does not re-run a worker file; editing the file does.

Package layout, one job per module: ``worker_function`` (the function a worker names: load it,
list the choices, read its docstring), ``files`` (user files: import cached on content, listing
with ast), ``prebuilt`` (the prebuilt modules and their documented functions), ``docstrings``
(the manual's docstring template), ``alias`` (the mimoCoRB2 alias), ``errors``. The public names
are imported from here.
"""

from __future__ import annotations

from mimocorb_gui.core.loader.alias import install_mimocorb2_alias
from mimocorb_gui.core.loader.docstrings import DOC_PREFIX, ConfigDoc, FunctionDoc, parse_function_doc
from mimocorb_gui.core.loader.errors import FunctionLoadError
from mimocorb_gui.core.loader.files import file_functions, load_module, module_functions, resolve_file
from mimocorb_gui.core.loader.prebuilt import (
    PREBUILT_PACKAGE,
    prebuilt_functions,
    prebuilt_listing,
    prebuilt_modules,
)
from mimocorb_gui.core.loader.worker_function import available_functions, function_doc, load_function

__all__ = [
    "PREBUILT_PACKAGE",
    "DOC_PREFIX",
    "FunctionLoadError",
    "ConfigDoc",
    "FunctionDoc",
    "resolve_file",
    "load_module",
    "load_function",
    "available_functions",
    "module_functions",
    "file_functions",
    "prebuilt_modules",
    "prebuilt_functions",
    "prebuilt_listing",
    "function_doc",
    "parse_function_doc",
    "install_mimocorb2_alias",
]
