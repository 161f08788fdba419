"""A worker file written for mimoCoRB2 (``import mimocorb2 as mi2`` / ``from mimocorb2 import ...``)
loads and runs unchanged, in a real multi-process run, under fork and spawn."""

from __future__ import annotations

import logging
import textwrap

import numpy as np
import pytest

# written as a mimoCoRB2 user writes worker files; not a line of it knows mimocorb_gui
OLD_STYLE = '''
"""Worker functions written for mimoCoRB2."""
import numpy as np

import mimocorb2 as mi2
from mimocorb2 import BufferIO, Importer
from mimocorb2.worker_templates import Exporter, Filter


def source(buffer_io: BufferIO):
    """mimoCoRB2 Function: Count from 0 to n_events - 1.

    Type
    ----
    Importer
    """
    importer = Importer(buffer_io)
    shape = importer.data_example.shape
    dtype = importer.data_example.dtype
    n = buffer_io["n_events"]

    def ufunc():
        for i in range(n):
            data = np.zeros(shape, dtype=dtype)
            data["value"] = i
            yield data
        yield None

    importer(ufunc)


def keep_even(buffer_io):
    my_filter = Filter(buffer_io)
    my_filter(lambda data: int(data["value"][0]) % 2 == 0)


def relay(buffer_io):
    """Section 2.4 of the manual: a complex worker using BufferIO directly."""
    while True:
        with buffer_io.read[0] as (metadata, data):
            if metadata is None:
                break
            with buffer_io.write[0] as (metadata_out, data_out):
                metadata_out[:] = metadata
                data_out[:] = data
    buffer_io.shutdown_sinks()


def square(buffer_io):
    processor = mi2.Processor(buffer_io)

    def ufunc(data):
        return [data["value"] ** 2]

    processor(ufunc)


def collect(buffer_io: BufferIO):
    exporter = Exporter(buffer_io)
    values = [int(data["value"][0]) for data, metadata in exporter]
    np.save(buffer_io.run_dir / "collected.npy", np.array(values))


def save_csv(buffer_io):
    """A user's wrapper around a prebuilt function, imported by its mimoCoRB2 name."""
    from mimocorb2.functions import exporters

    exporters.csv(buffer_io)


def watch(buffer_io):
    observer = mi2.Observer(buffer_io)
    generator = observer()
    n = 0
    while True:
        data, metadata = next(generator)
        if data is None:
            break
        n += 1
    is_alive = mi2.IsAlive(buffer_io)
    buffer_io.logger.info("observed %d events, alive: %s", n, is_alive())
'''

SETUP = """
    Buffers:
      Numbers: {slot_count: 16, data_length: 1, data_dtype: {value: int64}}
      Even: {slot_count: 16, data_length: 1, data_dtype: {value: int64}}
      Relayed: {slot_count: 16, data_length: 1, data_dtype: {value: int64}}
      Squares: {slot_count: 16, data_length: 1, data_dtype: {value: int64}}
      ToCsv: {slot_count: 16, data_length: 1, data_dtype: {value: int64}}
    Workers:
      source: {file: old_style.py, function: source, sinks: [Numbers], config: {n_events: 300}}
      keep: {file: old_style.py, function: keep_even, number_of_processes: 2, sources: [Numbers], sinks: [Even]}
      relay: {file: old_style.py, function: relay, sources: [Even], sinks: [Relayed]}
      square: {file: old_style.py, function: square, sources: [Relayed], sinks: [Squares]}
      copy: {function: misc.copy, sources: [Squares], sinks: [ToCsv, Final]}
      csv: {file: old_style.py, function: save_csv, sources: [ToCsv], config: {filename: squares}}
      collect: {file: old_style.py, function: collect, sources: [Final]}
      watch: {file: old_style.py, function: watch, observes: [Numbers]}
      old_display: {function: visualizers.histogram, observes: [Squares]}
"""


@pytest.mark.timeout(120)
@pytest.mark.parametrize("start_method", ["fork", "spawn"])
def test_mimocorb2_worker_file_runs_unchanged(tmp_path, start_method):
    import pandas as pd

    from mimocorb_gui.core.run import Run
    from mimocorb_gui.core.setup import Setup

    (tmp_path / "old_style.py").write_text(OLD_STYLE)
    text = textwrap.dedent(SETUP).replace(
        "Buffers:\n", "Buffers:\n  Final: {slot_count: 16, data_length: 1, data_dtype: {value: int64}}\n"
    )
    (tmp_path / "setup.yaml").write_text(text)
    setup = Setup.load(tmp_path / "setup.yaml")
    assert [str(p) for p in setup.validate() if p.is_error] == []
    run = Run(setup, run_root=tmp_path / "runs", start_method=start_method)
    try:
        run_dir = run.start()
        assert run.wait(90), [e.format() for e in run.log_history()]
    finally:
        run.close()
    errors = [e.format() for e in run.log_history() if e.levelno >= logging.ERROR]
    assert run.state == "finished" and not errors, errors
    expected = sorted(i * i for i in range(0, 300, 2))
    assert sorted(np.load(run_dir / "collected.npy").tolist()) == expected
    assert sorted(pd.read_csv(run_dir / "squares.csv")["value"]) == expected
    log = "\n".join(e.format() for e in run.log_history())
    assert "[watch] observed" in log and "alive: False" in log
    assert "observers.histogram of buffer 'Squares' is display-only" in log  # the old visualizers name
