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

    def __reduce__(self):
        # Rebuilt from its fields when it crosses a process boundary (a Dask
        # worker's error raised again on the client): the default would call
        # __init__ with the rendered text only.
        return _rebuild, (type(self), self.path, self.message, self.line, self.column)

    def __str__(self) -> str:
        where = self.path if self.line is None else f"{self.path}:{self.line}"
        what = self.message if self.column is None else f"column {self.column!r}: {self.message}"
        return f"{where}: {what}"


class UnknownFormatError(InputError):
    """A file that is not one of the recognised dataset formats at all (empty,
    binary, unrecognised header), as opposed to a recognised but broken one.
    Directory scans skip these; named files fail with them."""


def _rebuild(cls: type[InputError], path: str, message: str, line: int | None, column: str | None) -> InputError:
    return cls(path, message, line=line, column=column)
