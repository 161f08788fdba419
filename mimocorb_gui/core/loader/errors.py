"""The error every way of loading a worker function raises: the message names the setup key at
fault (``file`` or ``function``) and the available choices."""

from __future__ import annotations


class FunctionLoadError(Exception):
    """A worker function cannot be loaded; ``field`` says which setup key is at fault."""

    def __init__(
        self,
        message: str,
        *,
        field: str = "function",
        file: str | None = None,
        function: str | None = None,
        available: list[str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field  # 'file' or 'function'
        self.file = file
        self.function = function
        self.available = list(available or [])

    def __str__(self) -> str:
        return self.message
