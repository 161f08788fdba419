"""Data files: record a buffer to a .mimo file, and replay .mimo files as an importer."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from mimocorb_gui.core.bufferio import BufferIO
from mimocorb_gui.core.mimofile import MimoReader, MimoWriter
from mimocorb_gui.core.templates import Exporter, Importer, setup_check
from mimocorb_gui.functions._checks import check_choice, check_number
from mimocorb_gui.functions._pacing import EventPacer, sleep_until

__all__ = ["clocked_importer", "export", "mimoFile", "simulate_importer"]

DISTRIBUTIONS = ("uniform", "poisson")


class mimoFile:
    """mimoCoRB2's file handler, for analysis scripts: reads both formats, writes ours.

    ``mimoFile.from_file(path)`` opens a recording (this application's format or mimoCoRB2's
    pickle-header format, whose header is read without running code); ``read_data()`` yields
    ``(data, metadata)`` per event and finally ``(None, None)``. ``from_buffer_object(buffer,
    run_dir)`` opens ``run_dir/<buffer name>.mimo`` for ``write_data(data, metadata)``.

    >>> with mimoFile.from_file('data.mimo') as mf:
    ...     for data, metadata in mf.read_data():
    ...         if data is None:
    ...             break
    """

    def __init__(self, filename, data_dtype, data_length, metadata_dtype, metadata_length=1, mode="read"):
        self.filename = Path(filename)
        self.data_dtype = np.dtype(data_dtype)
        self.data_length = int(data_length)
        self.metadata_dtype = np.dtype(metadata_dtype)
        self.metadata_length = int(metadata_length)
        self.mode = mode
        if mode == "read":
            self._reader: MimoReader | None = MimoReader(self.filename)
            self._writer: MimoWriter | None = None
        elif mode == "write":
            self._reader = None
            self._writer = MimoWriter(self.filename, self.data_dtype, self.data_length)
        else:
            raise ValueError("Mode must be 'read' or 'write'")

    @classmethod
    def from_file(cls, filename) -> mimoFile:
        with MimoReader(filename) as reader:
            dtypes = (reader.data_dtype, reader.data_length, reader.metadata_dtype)
        return cls(filename, *dtypes, 1, mode="read")

    @classmethod
    def from_buffer_object(cls, buffer, run_dir) -> mimoFile:
        data, metadata = buffer.data_example, buffer.metadata_example
        return cls(
            Path(run_dir) / f"{buffer.name}.mimo", data.dtype, data.size, metadata.dtype, 1, mode="write"
        )

    def write_data(self, data: np.ndarray, metadata: np.ndarray) -> None:
        if self._writer is None:
            raise RuntimeError("File is not open in write mode")
        self._writer.write(metadata, data)

    def read_data(self) -> Iterator[tuple[np.ndarray, np.ndarray] | tuple[None, None]]:
        if self._reader is None:
            raise RuntimeError("File is not open in read mode")
        for metadata, data in self._reader:
            yield data, metadata
        yield None, None

    def close(self) -> None:
        for handle in (self._reader, self._writer):
            if handle is not None:
                handle.close()

    def __enter__(self) -> mimoFile:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def export(buffer_io: BufferIO) -> None:
    """mimoCoRB2 Function: Export data to a mimo file.

    Exports data from a source buffer to a mimo file in the run directory, named after the
    source buffer (``<buffer>.mimo``; further processes of the worker write ``<buffer>_1.mimo``,
    ...). Events are written in batches and flushed to disk at least every ``flush_interval``
    seconds, so the file on disk is complete up to the last second even while the run goes on; a
    stopped run closes it completely. The .mimo format is a JSON header plus fixed-size records
    and can be read with NumPy alone (see ``mimocorb_gui.core.mimofile``).

    Type
    ----
    Exporter

    Buffers
    -------
    sources
        1
    sinks
        Pass through data without modification to all sinks. Must share same dtype as source buffer.
    observes
        0

    Configs
    -------
    filename : str, optional (default=<source buffer name>)
        Name of the file in the run directory ('.mimo' is appended when missing).
    flush_interval : float, optional (default=1)
        Longest time in seconds an event stays in memory before it is written to the file.
    fsync : bool, optional (default=False)
        Also ask the operating system to put the data on the disk at each flush (power-cut safe, slower).

    Examples
    --------
    >>> from mimocorb_gui.core.mimofile import read_mimo
    >>> metadata, data, header = read_mimo('run_dir/InputBuffer.mimo')
    >>> metadata['counter'], data['chA'].shape   # (n,), (n, data_length)
    """
    exporter = Exporter(buffer_io)
    source = exporter.reader.buffer
    stem = buffer_io.get("filename") or source.name
    if not isinstance(stem, str) or not stem.strip() or Path(stem).name != stem:
        raise ValueError(
            f"worker '{buffer_io.name}': config 'filename' must be a plain file name, got {stem!r}"
        )
    stem = stem[: -len(".mimo")] if stem.endswith(".mimo") else stem
    flush_interval = check_number(buffer_io, "flush_interval", 1.0, above=0)
    fsync = bool(buffer_io.get("fsync", False))
    run_dir = Path(buffer_io.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)

    writer = None
    for i in range(1000):
        path = run_dir / (f"{stem}.mimo" if i == 0 else f"{stem}_{i}.mimo")
        try:
            writer = MimoWriter(
                path,
                source.dtype,
                source.data_length,
                info={
                    "slot_count": source.slot_count,
                    "process_index": getattr(buffer_io, "process_index", 0),
                },
                source_buffer=source.name,
                source_worker=buffer_io.name,
                fsync=fsync,
                flush_interval=flush_interval,
                exclusive=True,
            )
            break
        except FileExistsError:
            continue
    if writer is None:
        raise RuntimeError(f"worker '{buffer_io.name}': no free file name {stem}_<n>.mimo in {run_dir}")
    buffer_io.logger.info("writing %s", writer.path)
    with writer:
        for data, metadata in exporter:
            writer.write(metadata, data)
    buffer_io.logger.info("%s: %d events", writer.path.name, writer.records_written)


def _recording_path(filename, setup_dir) -> Path:
    """The .mimo file a config names; ValueError/FileNotFoundError if there is none.

    A relative name is looked up beside the setup first, then in the current directory
    (mimoCoRB2 opened it relative to the current directory).
    """
    if not isinstance(filename, str | Path) or not str(filename):
        raise ValueError(
            f"config 'filename' is required: path of a .mimo file, relative to the setup directory ({setup_dir})"
        )
    path = Path(filename).expanduser()
    if path.is_absolute():
        candidates = [path]
    else:
        candidates = [Path(setup_dir) / path, Path.cwd() / path]
    for candidate in candidates:
        if candidate.is_file():
            return candidate.resolve()
    raise FileNotFoundError(
        f"config 'filename': {filename} does not exist (looked in: {', '.join(str(c) for c in candidates)})"
    )


def _fit_problems(reader: MimoReader, sink_name: str, dtype: np.dtype, data_length: int) -> list[str]:
    """Why events of the recording cannot go into the sink (empty when they can)."""
    problems = []
    if reader.data_length != data_length:
        problems.append(
            f"{reader.path.name} has data_length {reader.data_length}, sink '{sink_name}' has {data_length}"
        )
    file_names, sink_names = reader.data_dtype.names, dtype.names
    if set(file_names) != set(sink_names):
        problems.append(
            f"{reader.path.name} has fields {', '.join(file_names)}; sink '{sink_name}' has {', '.join(sink_names)}"
        )
    return problems


def _check_recording(config, sinks=(), setup_dir=".", **_) -> list[str]:
    """Setup check of the file importers: the recording exists, is a .mimo file and fits the sink."""
    if not config.get("filename"):
        return []  # reported as a missing required key already
    try:
        reader = MimoReader(_recording_path(config["filename"], setup_dir), warn=False)
    except (OSError, ValueError) as exc:
        return [str(exc)]
    if not sinks:
        return []
    return _fit_problems(reader, sinks[0].name, sinks[0].dtype, sinks[0].data_length)


def _open_mimo(buffer_io: BufferIO) -> MimoReader:
    try:
        path = _recording_path(buffer_io.get("filename"), buffer_io.setup_dir)
    except (OSError, ValueError) as exc:
        raise type(exc)(f"worker '{buffer_io.name}': {exc}") from None
    reader = MimoReader(path, warn=False)
    buffer_io.logger.info(
        "replaying %s (%d events%s)", path, len(reader), ", mimoCoRB2 format" if reader.legacy else ""
    )
    if reader.trailing_bytes:
        buffer_io.logger.warning(
            "%s ends inside a record (interrupted recording): %d complete events, %d trailing bytes ignored",
            path,
            len(reader),
            reader.trailing_bytes,
        )
    return reader


def _sink_converter(buffer_io: BufferIO, reader: MimoReader, importer: Importer):
    """Function turning a file event into sink data; checks that the file fits the sink."""
    example = importer.data_example
    sink = buffer_io.write[0].buffer
    sink_names = example.dtype.names
    problems = _fit_problems(reader, sink.name, example.dtype, example.shape[0])
    if problems:
        raise ValueError(f"worker '{buffer_io.name}': " + "; ".join(problems))
    if reader.data_dtype == example.dtype:
        return lambda data: data  # the Importer copies it as bytes
    buffer_io.logger.warning(
        "%s: field types differ from sink '%s' (%s vs %s); values are converted",
        reader.path.name,
        sink.name,
        reader.data_dtype.descr,
        example.dtype.descr,
    )

    def convert(data: np.ndarray) -> np.ndarray:
        out = np.empty(example.shape, dtype=example.dtype)
        for name in sink_names:
            out[name] = data[name]
        return out

    return convert


def _file_events(reader: MimoReader, repeat: bool) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """(pass number, metadata, data) for every event, again from the start if ``repeat``."""
    n_pass = 0
    while True:
        for metadata, data in reader:
            yield n_pass, metadata, data
        n_pass += 1
        if not repeat or len(reader) == 0:
            return


@setup_check(_check_recording)
def simulate_importer(buffer_io: BufferIO) -> None:
    """mimoCoRB2 Function: Simulate an Importer by inputting data according to the timestamps in a mimo file.

    Imports data from a mimo file and simulates the Importer behavior by yielding data according
    to the timestamps in the file: the time between two events is the time between their recorded
    timestamps (divided by ``speed``). This may lead to bunches of data if the timestamps are not
    ordered correctly. Metadata (counter, timestamp, deadtime) is new, as for any importer.

    Type
    ----
    Importer

    Buffers
    -------
    sources
        0
    sinks
        1 with the same dtype (field names) and data_length as the data in the mimo file
    observes
        0

    Configs
    -------
    filename : str
        Path to the mimo file to be imported (ours or mimoCoRB2's format), relative to the setup file, else to the current directory.
    speed : float, optional (default=1)
        Replay speed: 2 plays the recording twice as fast.
    repeat : bool, optional (default=False)
        Start again from the first event at the end of the file (until the run is stopped).

    Examples
    --------
    >>> # Workers:  replay: {function: data.simulate_importer, sinks: [InputBuffer],
    >>> #                    config: {filename: recordings/InputBuffer.mimo}}
    """
    importer = Importer(buffer_io)
    speed = check_number(buffer_io, "speed", 1.0, above=0)
    repeat = bool(buffer_io.get("repeat", False))
    reader = _open_mimo(buffer_io)
    convert = _sink_converter(buffer_io, reader, importer)
    stop = lambda: buffer_io.stop_requested  # noqa: E731
    first_ts = float(reader.read(0, 1)[0]["timestamp"][0]) if len(reader) else 0.0

    def ufunc():
        start = time.monotonic()
        pass_start, pass_shift = start, 0.0
        last_pass = 0
        previous = first_ts
        for n_pass, metadata, data in _file_events(reader, repeat):
            ts = float(metadata["timestamp"][0])
            if n_pass != last_pass:  # next pass: continue after the last event's time
                last_pass = n_pass
                pass_shift += (previous - first_ts) / speed
                pass_start = start + pass_shift
            previous = ts
            if not sleep_until(pass_start + (ts - first_ts) / speed, stop):
                break
            yield convert(data)
        yield None

    try:
        importer(ufunc)
    finally:
        reader.close()


@setup_check(_check_recording)
def clocked_importer(buffer_io: BufferIO) -> None:
    """mimoCoRB2 Function: Simulate an Importer by inputting data at a fixed rate.

    Imports data from a mimo file and simulates the Importer behavior by yielding data at a fixed
    rate. This is useful for testing and simulating data streams in a controlled manner. Can be
    used to input uniform (equal waiting times) or poisson (exponentially distributed waiting
    times) distributed data.

    Type
    ----
    Importer

    Buffers
    -------
    sources
        0
    sinks
        1 with the same dtype as the data in the mimo file
    observes
        0

    Configs
    -------
    rate : float
        Rate at which to yield data in Hz (0 = as fast as the sink takes it).
    distribution : str, optional (default='uniform')
        Distribution of the waiting times: 'uniform' or 'poisson'.
    filename : str
        Path to the mimo file to be imported (ours or mimoCoRB2's format), relative to the setup file, else to the current directory.
    repeat : bool, optional (default=False)
        Start again from the first event at the end of the file (until the run is stopped).
    seed : int, optional (default=None)
        Seed for the poisson waiting times.

    Examples
    --------
    >>> # Workers:  replay: {function: data.clocked_importer, sinks: [InputBuffer],
    >>> #                    config: {filename: recordings/InputBuffer.mimo, rate: 100, distribution: poisson}}
    """
    importer = Importer(buffer_io)
    if buffer_io.get("rate") is None:
        raise ValueError(f"worker '{buffer_io.name}': config 'rate' (events per second) is required")
    rate = check_number(buffer_io, "rate", None, minimum=0)
    distribution = check_choice(buffer_io, "distribution", "uniform", DISTRIBUTIONS)
    repeat = bool(buffer_io.get("repeat", False))
    seed = buffer_io.get("seed", None)
    if seed is not None and not isinstance(seed, int):
        raise ValueError(f"worker '{buffer_io.name}': config 'seed' must be an integer or null, got {seed!r}")
    reader = _open_mimo(buffer_io)
    convert = _sink_converter(buffer_io, reader, importer)
    rng = np.random.default_rng(None if seed is None else [seed, getattr(buffer_io, "process_index", 0)])
    pacer = EventPacer(rate, distribution, rng, should_stop=lambda: buffer_io.stop_requested)

    def ufunc():
        for _, _metadata, data in _file_events(reader, repeat):
            if not pacer.wait():
                break
            yield convert(data)
        yield None

    try:
        importer(ufunc)
    finally:
        reader.close()
