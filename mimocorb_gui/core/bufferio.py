"""BufferIO: what a worker function gets, the manual's collection of buffer handles and config."""

from __future__ import annotations

import difflib
import logging
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from mimocorb_gui.core.ringbuffer import Observer, Reader, RingBuffer, Writer

__all__ = ["BufferIO", "Config", "StopFlag"]


class Config(dict):
    """A worker's configuration; a missing key is reported with the worker name and the keys there are."""

    def __init__(self, data: Mapping | None = None, worker: str = "") -> None:
        super().__init__(data or {})
        self.worker = worker

    def __missing__(self, key):
        known = sorted(map(str, self))
        close = difflib.get_close_matches(str(key), known, n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        raise KeyError(
            f"worker '{self.worker}': config key '{key}' is missing "
            f"(config has: {', '.join(known) or 'nothing'}){hint}"
        )

    def __reduce__(self):
        return (Config, (dict(self), self.worker))

    @classmethod
    def from_setup(
        cls, setup: str | Mapping | list | None, setup_dir: Path | str, base_config: Mapping | None = None
    ) -> Config:
        """mimoCoRB2's ``Config.from_setup``: a worker's ``config`` entry merged over ``base_config``.

        A string is a YAML file (relative to ``setup_dir``), a mapping is used as it is, a list
        merges its files and mappings in order.
        """
        config = dict(base_config or {})
        config.update(cls.setup_to_dict(setup, setup_dir))
        return cls(config)

    @staticmethod
    def setup_to_dict(setup: str | Mapping | list | None, setup_dir: Path | str) -> dict:
        if setup is None:
            return {}
        if isinstance(setup, str | Path):
            return Config.load_from_file(setup, setup_dir)
        if isinstance(setup, Mapping):
            return dict(setup)
        if isinstance(setup, list):
            merged: dict = {}
            for item in setup:
                merged.update(Config.setup_to_dict(item, setup_dir))
            return merged
        raise TypeError(
            f"config must be a file name, a mapping or a list of them, got {type(setup).__name__}"
        )

    @staticmethod
    def load_from_file(file: str | Path, setup_dir: Path | str) -> dict:
        from mimocorb_gui.core.yaml_values import load_plain

        path = Path(file).expanduser()
        if not path.is_absolute():
            path = Path(setup_dir).resolve() / path
        with path.open(encoding="utf-8") as f:
            loaded = load_plain(f)
        if loaded is None:
            return {}
        if not isinstance(loaded, Mapping):
            raise TypeError(f"{path}: a config file must hold a mapping, holds {type(loaded).__name__}")
        return dict(loaded)


class StopFlag:
    """A run-wide 'please stop' flag in shared memory, cheap enough to check for every event."""

    def __init__(self, ctx=None) -> None:
        import multiprocessing

        self._value = (ctx or multiprocessing.get_context()).RawValue("b", 0)

    def set(self) -> None:
        self._value.value = 1

    def clear(self) -> None:
        self._value.value = 0

    def is_set(self) -> bool:
        return bool(self._value.value)

    @property
    def shared_value(self):
        """The shared byte itself: a loop that checks it for every event reads ``.value`` on it
        (truthy when set) and saves the method call."""
        return self._value


class BufferIO:
    """Collection of buffers for input/output operations, passed to each worker process.

    ``read`` / ``write`` / ``observe`` (also ``sources`` / ``sinks`` / ``observes``) are lists of
    reader, writer and observer handles; ``io['key']`` and ``io.get('key', default)`` read the config.
    """

    def __init__(
        self,
        name: str,
        read: list[Reader],
        write: list[Writer],
        observe: list[Observer],
        config: Mapping | None = None,
        setup_dir: Path | str = ".",
        run_dir: Path | str = ".",
        logger: logging.Logger | None = None,
        stop_flag: StopFlag | None = None,
        process_index: int = 0,
    ) -> None:
        self.name = name
        self.read = list(read)
        self.write = list(write)
        self.observe = list(observe)
        self.config = config if isinstance(config, Config) else Config(config, worker=name)
        self.setup_dir = Path(setup_dir)
        self.run_dir = Path(run_dir)
        self.logger = logger or logging.getLogger(f"mimocorb.worker.{name}")
        self.stop_flag = stop_flag
        self.process_index = process_index
        for handle in self.observe:
            if hasattr(handle, "stop_flag"):
                handle.stop_flag = stop_flag  # raw `with io.observe[i]` waits see the stop request

    # manual's names
    @property
    def sources(self) -> list[Reader]:
        return self.read

    @property
    def sinks(self) -> list[Writer]:
        return self.write

    @property
    def observes(self) -> list[Observer]:
        return self.observe

    @property
    def buffer_names_in(self) -> list[str]:
        return [r.buffer.name for r in self.read]

    @property
    def buffer_names_out(self) -> list[str]:
        return [w.buffer.name for w in self.write]

    @property
    def buffer_names_observe(self) -> list[str]:
        return [o.buffer.name for o in self.observe]

    @property
    def data_in_examples(self) -> list[np.ndarray]:
        return [r.data_example for r in self.read]

    @property
    def data_out_examples(self) -> list[np.ndarray]:
        return [w.data_example for w in self.write]

    @property
    def data_observe_examples(self) -> list[np.ndarray]:
        return [o.data_example for o in self.observe]

    @property
    def metadata_in_examples(self) -> list[np.ndarray]:
        return [r.metadata_example for r in self.read]

    @property
    def metadata_out_examples(self) -> list[np.ndarray]:
        return [w.metadata_example for w in self.write]

    @property
    def metadata_observe_examples(self) -> list[np.ndarray]:
        return [o.metadata_example for o in self.observe]

    @property
    def stop_requested(self) -> bool:
        """True once the run was asked to stop (importers end their loop)."""
        return self.stop_flag is not None and self.stop_flag.is_set()

    def __getitem__(self, key: str) -> Any:
        return self.config[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.config.get(key, default)

    def __contains__(self, key: str) -> bool:
        return key in self.config

    def shutdown_sinks(self) -> None:
        """Close this process's side of every sink; a sink closes when all its writers have."""
        for w in self.write:
            w.close()

    def drain_sources(self) -> int:
        """Read and discard everything left in the sources until they end; returns the count."""
        n = 0
        for r in self.read:
            while True:
                idx = r.acquire()
                if idx < 0:
                    break
                r.release(idx)
                n += 1
        return n

    def __str__(self) -> str:
        return (
            f"BufferIO({self.name}: sources={self.buffer_names_in}, sinks={self.buffer_names_out}, "
            f"observes={self.buffer_names_observe}, config={dict(self.config)})"
        )

    __repr__ = __str__

    @classmethod
    def from_setup(
        cls,
        name: str,
        setup: Mapping,
        setup_dir: Path | str,
        run_dir: Path | str,
        buffers: Mapping[str, RingBuffer],
        base_config: Mapping | None = None,
    ) -> BufferIO:
        """mimoCoRB2's ``BufferIO.from_setup``: the BufferIO of worker ``name`` described by ``setup``.

        ``setup`` is the worker's own dictionary (``sources``, ``sinks``, ``observes``, ``config``
        as a mapping, a file name relative to ``setup_dir`` or a list of them); ``buffers`` maps
        buffer names to ring buffers. Single process: writer id 0 of each sink.
        """
        if "Workers" in setup and name in (setup.get("Workers") or {}):
            setup = setup["Workers"][name]  # a whole setup dictionary, as this method once took

        def pick(role: str) -> list[RingBuffer]:
            chosen = []
            for b in setup.get(role) or []:
                if b not in buffers:
                    raise KeyError(
                        f"worker '{name}': {role[:-1]} buffer '{b}' is not defined "
                        f"(buffers: {', '.join(buffers) or 'none'})"
                    )
                chosen.append(buffers[b])
            return chosen

        config = Config.from_setup(setup.get("config"), setup_dir, base_config)
        config.worker = name
        return cls(
            name,
            [rb.reader() for rb in pick("sources")],
            [rb.writer(0) for rb in pick("sinks")],
            [rb.observer() for rb in pick("observes")],
            config=config,
            setup_dir=setup_dir,
            run_dir=run_dir,
        )

    def iter_config(self) -> Iterator[tuple[str, Any]]:
        return iter(self.config.items())
