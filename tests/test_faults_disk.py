"""A full disk under the CSV exporter (issue 16, item 6): the file keeps whole records only."""

from __future__ import annotations

import errno
import io

import numpy as np
import pandas as pd
import pytest

from mimocorb_gui.core.ringbuffer import METADATA_DTYPE
from mimocorb_gui.functions.exporters import CsvFormatter, DiskFull, WholeRecordFile


class FillingDisk(io.FileIO):
    """A file on a disk with ``room`` bytes left: a write takes what fits, the next raises ENOSPC."""

    def __init__(self, path, room: int) -> None:
        super().__init__(path, "xb")
        self.room = room

    def write(self, data) -> int:
        if self.room <= 0:
            raise OSError(errno.ENOSPC, "No space left on device")
        part = bytes(data[: self.room])
        self.room -= len(part)
        return super().write(part)


@pytest.mark.parametrize("room", [0, 1, 300, 700, 1000])
def test_a_full_disk_cuts_the_csv_back_to_its_last_whole_row(tmp_path, room):
    dtype = np.dtype([("t", "<f8"), ("n", "<i4")])
    formatter = CsvFormatter(METADATA_DTYPE, dtype)
    meta = np.zeros(40, METADATA_DTYPE)
    meta["counter"] = np.arange(40)
    data = np.zeros(40, dtype)
    data["t"] = 3.53e-05 * (1 + np.arange(40))
    data["n"] = np.arange(40)
    header = formatter.header()
    path = tmp_path / "out.csv"
    out = WholeRecordFile(path, FillingDisk(path, len(header) + room))
    out.append(header)
    kept = 0
    with pytest.raises(DiskFull) as exc:
        for start in range(0, 40, 10):
            out.append(formatter.rows(meta[start : start + 10], data[start : start + 10]), 10)
            kept += 10
    out.close()
    assert (
        f"10 record(s) could not be written; the file ends with its last whole record ({kept} kept)"
        in str(exc.value)
    )
    assert exc.value.errno == errno.ENOSPC
    text = path.read_text()
    assert text.endswith("\n") and text.count("\n") == kept + 1
    df = pd.read_csv(path)
    assert len(df) == kept
    np.testing.assert_array_equal(df["t"].to_numpy(), data["t"][:kept])  # no cut number like 3.5
