"""mimoCoRB2's ``helpers``."""

from __future__ import annotations

from pathlib import Path

__all__ = ["resolve_path"]


def resolve_path(path_input: str, setup_dir: Path | str) -> Path:
    """``path_input`` as a path: ``~`` expanded, a relative path taken relative to ``setup_dir``."""
    path = Path(path_input).expanduser()
    if path.is_absolute():
        return path
    return Path(setup_dir).resolve() / path
