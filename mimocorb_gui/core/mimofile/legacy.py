"""mimoCoRB2's .mimo files: a pickled header dict, then records of data followed by metadata.

The header is decoded by :class:`LegacyHeaderUnpickler`, which admits only the builtin containers
and ``numpy.dtype`` that mimoCoRB2 writes and refuses any other class or function before it could
run (a foreign file never executes code). :func:`read_legacy_header` turns it into our header's
terms and the on-disk record dtype, so ``MimoReader`` reads both formats alike.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np

from mimocorb_gui.core.mimofile.format import MimoFormatError, dtype_to_descr

__all__ = ["LegacyHeaderRefused", "LegacyHeaderUnpickler", "read_legacy_header"]


class LegacyHeaderRefused(pickle.UnpicklingError):
    """A mimoCoRB2 header names a class or function other than numpy.dtype: not loaded."""


class LegacyHeaderUnpickler(pickle.Unpickler):
    """Decodes mimoCoRB2's pickled .mimo header and nothing else.

    The header is a dict of str / int and ``numpy.dtype`` objects; the only global a pickle of it
    names is ``numpy.dtype`` (rebuilt from its reduce tuple and state, which runs no user code).
    Any other global is refused before it is imported or called.
    """

    ALLOWED = frozenset({("numpy", "dtype")})

    def find_class(self, module: str, name: str):
        if (module, name) in self.ALLOWED:
            return np.dtype
        raise LegacyHeaderRefused(
            f"refusing to load '{module}.{name}': a mimoCoRB2 .mimo header holds only builtin containers "
            "and numpy.dtype (this file may have been made to run code)"
        )


_LEGACY_KEYS = ("data_dtype", "data_length", "metadata_dtype", "metadata_length")


def read_legacy_header(f, path: Path) -> tuple[dict[str, Any], int, np.dtype]:
    """mimoCoRB2's pickle header -> (header in our terms, header size, on-disk record dtype)."""
    f.seek(0)
    try:
        info = LegacyHeaderUnpickler(f).load()
    except LegacyHeaderRefused as exc:
        raise MimoFormatError(f"{path}: mimoCoRB2 header refused: {exc}") from None
    except (
        pickle.UnpicklingError,
        EOFError,
        ValueError,
        TypeError,
        IndexError,
        KeyError,
        AttributeError,
    ) as exc:
        raise MimoFormatError(f"{path}: mimoCoRB2 header is broken: {type(exc).__name__}: {exc}") from None
    if not isinstance(info, dict) or any(k not in info for k in _LEGACY_KEYS):
        raise MimoFormatError(
            f"{path}: mimoCoRB2 header must be a dict with {', '.join(_LEGACY_KEYS)}, "
            f"got {type(info).__name__} {sorted(info) if isinstance(info, dict) else ''}"
        )
    data_dtype, metadata_dtype = info["data_dtype"], info["metadata_dtype"]
    if not (isinstance(data_dtype, np.dtype) and isinstance(metadata_dtype, np.dtype)):
        raise MimoFormatError(f"{path}: mimoCoRB2 header: data_dtype and metadata_dtype must be numpy dtypes")
    if int(info["metadata_length"]) != 1:
        raise MimoFormatError(f"{path}: metadata_length {info['metadata_length']} is not supported (1)")
    data_length = int(info["data_length"])
    header_size = f.tell()
    data_bytes = data_dtype.itemsize * data_length
    # mimoCoRB2 writes the data first, then the metadata record
    disk = np.dtype(
        {
            "names": ["metadata", "data"],
            "formats": [metadata_dtype, (data_dtype, (data_length,))],
            "offsets": [data_bytes, 0],
            "itemsize": data_bytes + metadata_dtype.itemsize,
        }
    )
    header = {
        "format": "mimoCoRB2 (pickle header)",
        "version": info.get("version"),
        "legacy": True,
        "data_dtype": dtype_to_descr(data_dtype),
        "data_length": data_length,
        "metadata_dtype": dtype_to_descr(metadata_dtype),
        "record_size": disk.itemsize,
        "created": None,
        "source_buffer": path.stem,
        "source_worker": None,
        "info": {"mimocorb2_header": str(info.get("header", ""))},
    }
    return header, header_size, disk
