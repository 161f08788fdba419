"""The ``.mimo`` event file format: a self-describing header followed by fixed-size event records.

Layout (all integers of the prefix are little-endian)::

    offset 0   4 bytes   magic  b"MIMO"
    offset 4   uint32    format version (currently 1)
    offset 8   uint64    N = length of the JSON header in bytes (including its padding)
    offset 16  N bytes   UTF-8 JSON header, padded with spaces and a final newline so that
                         header_size = 16 + N is a multiple of 64
    header_size ...      records, back to back, each ``record_size`` bytes:
                         metadata (counter int64, timestamp float64, deadtime float64)
                         followed by data_length elements of the data dtype

The JSON header holds ``data_dtype`` and ``metadata_dtype`` as numpy ``descr`` lists
(``[["chA", "<f4"], ["name", "|S10"], ...]`` with explicit byte order), ``data_length``,
``record_size``, ``created`` (ISO 8601 UTC), ``source_buffer``, ``source_worker`` and a free-form
``info`` dict. It is plain JSON, never pickle: reading a file cannot execute code.

A file cut at any byte after its header (power cut while writing) stays readable: every complete
record is returned and the trailing partial record is ignored with a :class:`MimoTruncatedWarning`.

Files written by mimoCoRB2 (a pickled header dict, then records of data followed by metadata) are
read by the same :class:`MimoReader`. Their header is decoded by :class:`LegacyHeaderUnpickler`,
which admits only the builtin containers and ``numpy.dtype`` that mimoCoRB2 writes and refuses any
other class or function before it could run (a foreign file never executes code).
:func:`convert_legacy` rewrites such a file in this format (``mimocorb convert-mimo OLD NEW``).

Reading with NumPy alone (no mimocorb_gui installed)::

    import json
    import numpy as np

    path = "run_dir/InputBuffer.mimo"
    with open(path, "rb") as f:
        assert f.read(4) == b"MIMO"
        version = int.from_bytes(f.read(4), "little")
        json_length = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(json_length))
    header_size = 16 + json_length
    meta_dtype = np.dtype([tuple(f) for f in header["metadata_dtype"]])
    data_dtype = np.dtype([tuple(f) for f in header["data_dtype"]])
    record_dtype = np.dtype([("metadata", meta_dtype), ("data", data_dtype, (header["data_length"],))])
    records = np.fromfile(path, dtype=record_dtype, offset=header_size)  # ignores a partial last record
    metadata, data = records["metadata"], records["data"]  # shapes (n,) and (n, data_length)
    print(metadata["counter"], data["chA"].shape)

The parts: ``format`` (constants, errors, dtypes as JSON, the header), ``writer`` (``MimoWriter``),
``reader`` (``MimoReader``, ``read_mimo``, ``convert_legacy``), ``legacy`` (mimoCoRB2's header).
"""

from mimocorb_gui.core.mimofile.format import (
    FORMAT_VERSION,
    MAGIC,
    METADATA_DTYPE,
    MimoFormatError,
    MimoTruncatedWarning,
    dtype_from_descr,
    dtype_to_descr,
    record_dtype,
)
from mimocorb_gui.core.mimofile.legacy import LegacyHeaderUnpickler
from mimocorb_gui.core.mimofile.reader import MimoReader, convert_legacy, read_mimo
from mimocorb_gui.core.mimofile.writer import MimoWriter

__all__ = [
    "FORMAT_VERSION",
    "MAGIC",
    "METADATA_DTYPE",
    "MimoFormatError",
    "MimoReader",
    "MimoTruncatedWarning",
    "MimoWriter",
    "LegacyHeaderUnpickler",
    "convert_legacy",
    "dtype_from_descr",
    "dtype_to_descr",
    "read_mimo",
    "record_dtype",
]
