"""The .mimo file format: round trip, truncation at any byte, random dtypes, NumPy-only reading."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from waiting import wait_until

from mimocorb_gui.core import mimofile
from mimocorb_gui.core.mimofile import (
    METADATA_DTYPE,
    MimoFormatError,
    MimoReader,
    MimoTruncatedWarning,
    MimoWriter,
    read_mimo,
)

WAVE = np.dtype([("chA", "<f4"), ("chB", "<f4"), ("tag", "S10"), ("n", "<i2")])


def _events(n: int, dtype: np.dtype, length: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    meta = np.zeros(n, METADATA_DTYPE)
    meta["counter"] = np.arange(n)
    meta["timestamp"] = 1.7e9 + np.cumsum(rng.exponential(0.01, n))
    meta["deadtime"] = rng.uniform(0, 1e-3, n)
    raw = rng.integers(0, 256, size=n * length * dtype.itemsize, dtype=np.uint8)
    data = raw.view(dtype).reshape(n, length).copy()
    return meta, data


def _write(path: Path, meta, data, dtype, length, **kw) -> None:
    with MimoWriter(path, dtype, length, **kw) as w:
        for i in range(len(meta)):
            w.write(meta[i : i + 1], data[i])


def test_round_trip_is_byte_identical(tmp_path):
    meta, data = _events(37, WAVE, 16)
    first = tmp_path / "a.mimo"
    _write(
        first,
        meta,
        data,
        WAVE,
        16,
        info={"run": 3, "note": "ünïcode", "gain": np.float32(1.5)},
        source_buffer="InputBuffer",
        source_worker="export",
        buffer_bytes=500,
    )
    m, d, header = read_mimo(first)
    assert m.tobytes() == meta.tobytes()
    assert d.tobytes() == data.tobytes()
    assert header["source_buffer"] == "InputBuffer"
    assert header["info"] == {"run": 3, "note": "ünïcode", "gain": 1.5}

    second = tmp_path / "b.mimo"
    with MimoWriter.from_header(second, header) as w:
        for mi, di in MimoReader(first):
            w.write(mi, di)
    assert second.read_bytes() == first.read_bytes()


def test_header_layout(tmp_path):
    for info in ({}, {"x": "y" * 61}, {"x": "y" * 200}):
        path = tmp_path / "h.mimo"
        with MimoWriter(path, WAVE, 3, info=info) as w:
            hs = w.header_size
        raw = path.read_bytes()
        assert raw[:4] == b"MIMO"
        assert int.from_bytes(raw[4:8], "little") == 1
        n = int.from_bytes(raw[8:16], "little")
        assert 16 + n == hs == len(raw)
        assert hs % 64 == 0
        assert json.loads(raw[16:hs])["info"] == info


def test_iteration_shapes_and_partial_reads(tmp_path):
    meta, data = _events(10, WAVE, 7)
    path = tmp_path / "it.mimo"
    _write(path, meta, data, WAVE, 7)
    with MimoReader(path, chunk_bytes=300) as r:
        assert len(r) == 10
        got = list(r)
        assert len(got) == 10
        for i, (m, d) in enumerate(got):
            assert m.shape == (1,) and d.shape == (7,)
            assert m["counter"][0] == i
            assert d.tobytes() == data[i].tobytes()
        m, d = r.read(3, 6)
        assert list(m["counter"]) == [3, 4, 5] and d.shape == (3, 7)


@pytest.mark.parametrize("n_events", [1, 4])
def test_truncated_at_every_byte_of_last_record(tmp_path, n_events):
    length = 3
    meta, data = _events(n_events, WAVE, length)
    path = tmp_path / "full.mimo"
    _write(path, meta, data, WAVE, length)
    raw = path.read_bytes()
    record_size = 24 + length * WAVE.itemsize
    last_start = len(raw) - record_size
    cut_path = tmp_path / "cut.mimo"
    for cut in range(last_start, len(raw) + 1):
        cut_path.write_bytes(raw[:cut])
        complete = n_events if cut == len(raw) else n_events - 1
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            m, d, _ = read_mimo(cut_path)
        truncated = [w for w in caught if issubclass(w.category, MimoTruncatedWarning)]
        assert len(truncated) == (0 if cut in (last_start, len(raw)) else 1), cut
        assert len(m) == complete and d.shape == (complete, length)
        assert m.tobytes() == meta[:complete].tobytes()
        assert d.tobytes() == data[:complete].tobytes()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            assert sum(1 for _ in MimoReader(cut_path)) == complete


def test_truncated_header_and_foreign_files(tmp_path):
    path = tmp_path / "x.mimo"
    with MimoWriter(path, WAVE, 2):
        pass
    raw = path.read_bytes()
    for cut in (0, 3, 10, 40, len(raw) - 1):
        (tmp_path / "c.mimo").write_bytes(raw[:cut])
        with pytest.raises(MimoFormatError):
            read_mimo(tmp_path / "c.mimo")
    (tmp_path / "pickle.mimo").write_bytes(b"\x80\x04\x95" + b"\0" * 100)  # looks like mimoCoRB2's
    with pytest.raises(MimoFormatError, match="mimoCoRB2 header is broken"):
        read_mimo(tmp_path / "pickle.mimo")
    (tmp_path / "text.mimo").write_bytes(b"hello, world\n")
    with pytest.raises(MimoFormatError, match="not a .mimo file"):
        read_mimo(tmp_path / "text.mimo")
    future = bytearray(raw)
    future[4:8] = (99).to_bytes(4, "little")
    (tmp_path / "future.mimo").write_bytes(bytes(future))
    with pytest.raises(MimoFormatError, match="version 99"):
        read_mimo(tmp_path / "future.mimo")


def test_write_accepts_other_metadata_and_data_forms(tmp_path):
    path = tmp_path / "forms.mimo"
    big_endian = np.dtype([("chA", ">f4"), ("chB", ">f4"), ("tag", "S10"), ("n", ">i2")])
    d = np.zeros(2, big_endian)
    d["chA"] = [1.5, -2.0]
    d["tag"] = b"hello"
    with MimoWriter(path, {"chA": "f4", "chB": "f4", "tag": "S10", "n": "i2"}, 2) as w:
        w.write((5, 1.25, 0.5), d)
        w.write({"counter": 6, "timestamp": 2.0}, d)
        w.write(
            np.array([(7, 3.0, 0.0)], dtype=[("counter", ">i8"), ("timestamp", ">f8"), ("deadtime", ">f8")]),
            d,
        )
        with pytest.raises(ValueError, match="shape"):
            w.write((8, 0.0, 0.0), np.zeros(3, WAVE))
    m, data, _ = read_mimo(path)
    assert list(m["counter"]) == [5, 6, 7]
    assert list(m["timestamp"]) == [1.25, 2.0, 3.0]
    assert np.all(data["chA"] == [1.5, -2.0]) and np.all(data["tag"] == b"hello")


def test_exclusive_and_closed_writer(tmp_path):
    path = tmp_path / "e.mimo"
    w = MimoWriter(path, WAVE, 1, exclusive=True)
    w.close()
    w.close()  # idempotent
    with pytest.raises(ValueError, match="closed"):
        w.write((0, 0.0, 0.0), np.zeros(1, WAVE))
    with pytest.raises(FileExistsError):
        MimoWriter(path, WAVE, 1, exclusive=True)


def test_flush_interval_writes_during_quiet_periods(tmp_path):
    path = tmp_path / "q.mimo"
    w = MimoWriter(path, WAVE, 4, flush_interval=0.1)
    try:
        header_only = path.stat().st_size
        w.write((0, 0.0, 0.0), np.zeros(4, WAVE))
        wait_until(lambda: path.stat().st_size > header_only, timeout=3, what="the flush")
        assert path.stat().st_size == header_only + w.record_size
        assert len(read_mimo(path)[0]) == 1  # readable while the writer is still open
    finally:
        w.close()


def test_reader_refresh_sees_growth(tmp_path):
    path = tmp_path / "g.mimo"
    with MimoWriter(path, WAVE, 2) as w, MimoReader(path) as r:
        assert len(r) == 0
        w.write((0, 0.0, 0.0), np.zeros(2, WAVE))
        w.flush()
        assert r.refresh() == 1


_SCALARS = ["<f4", ">f4", "<f8", "<i2", ">i4", "<i8", "u1", "<u2", "?", "<c8", "S1", "S10", "<U3"]


@st.composite
def _dtypes(draw):
    n = draw(st.integers(1, 5))
    names = draw(
        st.lists(st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True), min_size=n, max_size=n, unique=True)
    )
    fields = []
    for name in names:
        base = draw(st.sampled_from(_SCALARS))
        if draw(st.booleans()) and not base.startswith(("S", "<U")):
            fields.append((name, base, (draw(st.integers(1, 3)),)))
        else:
            fields.append((name, base))
    return np.dtype(fields)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(dtype=_dtypes(), length=st.integers(1, 40), n=st.integers(0, 12), seed=st.integers(0, 2**16))
def test_random_dtypes_round_trip(tmp_path, dtype, length, n, seed):
    meta, data = _events(n, dtype, length, seed)
    path = tmp_path / "r.mimo"
    _write(path, meta, data, dtype, length, buffer_bytes=seed % 2000)
    m, d, header = read_mimo(path)
    assert d.dtype == dtype
    assert m.tobytes() == meta.tobytes() and d.tobytes() == data.tobytes()
    # the NumPy-only recipe from the module docstring gives the same bytes
    hs = 16 + int.from_bytes(path.read_bytes()[8:16], "little")
    rec = np.dtype(
        [
            ("metadata", np.dtype([tuple(f) for f in header["metadata_dtype"]])),
            ("data", np.dtype([tuple(f) for f in header["data_dtype"]]), (header["data_length"],)),
        ]
    )
    records = np.fromfile(path, dtype=rec, offset=hs)
    assert records["data"].tobytes() == data.tobytes()


def _docstring_snippet() -> str:
    doc = mimofile.__doc__
    start = doc.index("    import json")
    lines = []
    for line in doc[start:].splitlines():
        if line and not line.startswith("    "):
            break
        lines.append(line[4:])
    return "\n".join(lines).strip() + "\n"


def test_numpy_only_snippet_from_docstring(tmp_path):
    length = 5
    dtype = np.dtype([("chA", "<f4"), ("chB", "<i2")])
    meta, data = _events(6, dtype, length)
    (tmp_path / "run_dir").mkdir()
    _write(tmp_path / "run_dir" / "InputBuffer.mimo", meta, data, dtype, length)
    with open(tmp_path / "run_dir" / "InputBuffer.mimo", "ab") as f:
        f.write(b"\x01\x02\x03")  # a partial record, as after a power cut
    script = _docstring_snippet() + (
        "assert metadata['counter'].tolist() == list(range(6)), metadata\n"
        f"assert data.tobytes() == bytes.fromhex('{data.tobytes().hex()}')\n"
        "import sys; assert 'mimocorb_gui' not in sys.modules\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    # -I: isolated mode, the repository is not importable; only numpy from the venv
    proc = subprocess.run(
        [sys.executable, "-I", "-c", script], cwd=tmp_path, capture_output=True, text=True, env=env
    )
    assert proc.returncode == 0, proc.stderr
    assert "[0 1 2 3 4 5] (6, 5)" in proc.stdout
