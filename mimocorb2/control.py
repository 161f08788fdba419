"""mimoCoRB2's ``control``: run a setup from a plain script or the ``mimocorb2`` command.

::

    from mimocorb2.control import Control

    control = Control.from_setup_file("setup.yaml", mode="stats")
    control()          # starts the workers, returns when every worker has ended

Modes, combined with ``+`` as in mimoCoRB2: ``kbd`` (commands typed in the terminal: pause /
resume / shutdown roots|all, shutdown workers, stats, help, exit), ``gui`` (mimoCoRB GUI's main
window on this setup, the run started), ``stats`` (statistics are logged; here every run writes
``stats.csv`` into its run directory anyway). The run itself is mimoCoRB GUI's ``Run``: the
same buffers, workers, run directory and log as ``mimocorb run``.
"""

from __future__ import annotations

import json
import logging
import sys
import tempfile
import threading
from pathlib import Path

from mimocorb_gui.core.run import Run
from mimocorb_gui.core.yaml_values import block_yaml, load_plain

__all__ = ["COMMANDS", "MODES", "Control"]

MODES = ("kbd", "gui", "stats")
COMMANDS = {
    "pause roots": ("roots", "pause"),
    "pause all": ("all", "pause"),
    "resume roots": ("roots", "resume"),
    "resume all": ("all", "resume"),
    "shutdown roots": ("roots", "shutdown"),
    "shutdown all": ("all", "shutdown"),
    "shutdown workers": ("workers", "shutdown"),
}

log = logging.getLogger("mimocorb2.control")


def _setup_from_dict(setup_dict: dict, setup_dir: Path, setup_file: Path | None):
    from mimocorb_gui.core.setup import Setup

    if setup_file is not None:
        return Setup.load(setup_file)
    text = block_yaml(setup_dict)
    return Setup.from_text(text, path=setup_dir / "setup.yaml")


class Control:
    """Builds a run from a setup dictionary and runs it under the chosen control interfaces."""

    def __init__(self, setup_dict: dict, setup_dir: Path | str, mode: str = "kbd+stats") -> None:
        if not isinstance(setup_dict, dict):
            raise ValueError(f"setup must be a dictionary, got {type(setup_dict).__name__}")
        self.setup = setup_dict
        self.setup_dir = Path(setup_dir).resolve()
        self.modes = [m.strip() for m in str(mode).split("+") if m.strip()]
        unknown = [m for m in self.modes if m not in MODES]
        if unknown or not self.modes:
            raise ValueError(
                f"mode '{mode}': unknown {', '.join(unknown) or 'nothing'} (valid: {'+'.join(MODES)})"
            )
        self._setup_file: Path | None = getattr(self, "_setup_file", None)
        self._model = _setup_from_dict(setup_dict, self.setup_dir, self._setup_file)
        self.run = Run(self._model)  # checks the setup: SetupInvalid lists every problem
        self.buffers = self.run.buffers
        self.workers = self.run.workers

    @property
    def run_dir(self) -> Path | None:
        return self.run.run_dir

    @classmethod
    def from_setup_file(cls, setup_file: Path | str, mode: str = "kbd+stats") -> Control:
        setup_file = Path(setup_file)
        if not setup_file.exists():
            raise FileNotFoundError(f"Setup file {setup_file} does not exist.")
        with setup_file.open(encoding="utf-8") as f:
            setup_dict = load_plain(f)
        if not isinstance(setup_dict, dict):
            raise ValueError(f"Setup file {setup_file} does not contain a valid setup dictionary.")
        control = cls.__new__(cls)
        control._setup_file = setup_file.resolve()
        control.__init__(setup_dict, setup_file.resolve().parent, mode=mode)
        return control

    # ----- running ------------------------------------------------------------------------------
    def __call__(self) -> int:
        """Start the workers and return when every one has ended (0), or a worker failed (1)."""
        if "gui" in self.modes:
            return self._run_gui()
        run = self.run
        run_dir = run.start()
        print(f"run directory: {run_dir}")
        if "kbd" in self.modes:
            threading.Thread(target=self._terminal, name="mimocorb2-kbd", daemon=True).start()
        try:
            while not run.wait(0.5):
                pass
        except KeyboardInterrupt:
            print("stopping in order ...")
            run.stop()
        finally:
            run.close()
        print(f"run {run.state}: {run_dir}")
        return 1 if run.failed_workers else 0

    def execute_command(self, command: str) -> str:
        """One of ``COMMANDS`` (or ``stats``); returns what to print."""
        command = command.strip().lower()
        run = self.run
        if command == "stats":
            return json.dumps(self.get_stats(), indent=4, sort_keys=True, default=str)
        if command not in COMMANDS:
            return f"Unknown command: {command}. Type 'help' for available commands."
        target, action = COMMANDS[command]
        if action == "shutdown":
            # the importers end and the pipeline drains in order (nothing written is lost)
            if target == "workers":
                run.stop()
                return "workers stopped"
            run.request_stop(f"{command} (terminal)")
            return "stopping in order"
        names = list(run.buffers) if target == "all" else sorted(run.root_buffers)
        for name in names:
            if action == "pause":
                run.buffers[name].pause()
            else:
                run.buffers[name].resume()
        return f"{action}d {', '.join(names)}"

    def _terminal(self) -> None:
        print("Control Terminal: Type 'help' for available commands.")
        while not self.run.finished():
            try:
                command = input("mimocorb2> ").strip().lower()
            except EOFError:
                return
            if command == "help":
                print("Available commands:\n  " + "\n  ".join([*COMMANDS, "stats", "help", "exit"]))
            elif command == "exit":
                if self.run.running:
                    print("Warning: Some workers are still active. Use 'shutdown workers' to stop them.")
                else:
                    return
            elif command:
                print(self.execute_command(command))

    def _run_gui(self) -> int:
        from mimocorb_gui.ui.app import create_app
        from mimocorb_gui.ui.main_window import MainWindow

        path, temporary = self._setup_file, None
        if path is None:  # a dictionary: the window needs a file beside the setup's relative paths
            temporary = tempfile.NamedTemporaryFile(
                "w", suffix=".yaml", prefix=".mimocorb2_", dir=self.setup_dir, delete=False
            )
            temporary.write(block_yaml(self.setup))
            temporary.close()
            path = Path(temporary.name)
        try:
            app = create_app()
            window = MainWindow()
            window.show()
            if window.open_setup(path):
                window.start_run()
            return int(app.exec())
        finally:
            if temporary is not None:
                Path(temporary.name).unlink(missing_ok=True)

    # ----- statistics ---------------------------------------------------------------------------
    def get_buffer_stats(self) -> dict:
        st = self.run.stats()
        return {
            name: {
                "event_count": b.stats.events_written,
                "filled_slots": b.stats.fill_level,
                "rate": b.rate,
                "deadtime": b.deadtime_fraction,
                "paused": b.stats.paused,
                "flush_event_received": b.stats.closed,
            }
            for name, b in st.buffers.items()
        }

    def get_worker_stats(self) -> dict:
        return {
            name: {"processes": w.alive, "cpu_percent": w.cpu_percent}
            for name, w in self.run.stats().workers.items()
        }

    def get_stats(self) -> dict:
        workers = self.get_worker_stats()
        return {
            "buffers": self.get_buffer_stats(),
            "workers": workers,
            "time_active": self.run.elapsed(),
            "total_processes_alive": sum(w["processes"] for w in workers.values()),
        }


if __name__ == "__main__":  # pragma: no cover
    from mimocorb2.__main__ import main

    sys.exit(main())
