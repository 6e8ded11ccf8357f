"""The error types the CLI turns into one line on stderr and exit code 2."""

from __future__ import annotations

from pathlib import Path


class IotidsError(Exception):
    """A problem the user can fix (bad input, missing file, wrong option)."""


class InputError(IotidsError):
    """A file that is not what it should be.

    Renders as ``path:line: column 'c': message`` with the parts that are known,
    so every complaint names the file and, where it can, the exact place.
    """

    def __init__(
        self,
        path: str | Path,
        message: str,
        *,
        line: int | None = None,
        column: str | None = None,
    ) -> None:
        self.path = str(path)
        self.message = message
        self.line = line
        self.column = column
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.path if self.line is None else f"{self.path}:{self.line}"
        what = self.message if self.column is None else f"column {self.column!r}: {self.message}"
        return f"{where}: {what}"


class UnknownFormatError(InputError):
    """A file that is not one of the recognised dataset formats at all (empty,
    binary, unrecognised header), as opposed to a recognised but broken one.
    Directory scans skip these; named files fail with them."""
