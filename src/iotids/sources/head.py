"""The first lines of a file, read safely, for recognising its format."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from iotids.errors import InputError, UnknownFormatError

HEAD_BYTES = 1 << 16
HEAD_LINES = 40

# Magic numbers of binary files people hand to a flow reader by mistake,
# with what to do instead.
_PCAP_HINT = "flow readers take CSV or Zeek logs; turn captures into flows with a flow meter first"
_UNPACK_HINT = "unpack it first"
_MAGIC: dict[bytes, tuple[str, str]] = {
    b"\xd4\xc3\xb2\xa1": ("a pcap capture", _PCAP_HINT),
    b"\xa1\xb2\xc3\xd4": ("a pcap capture", _PCAP_HINT),
    b"\x4d\x3c\xb2\xa1": ("a pcap capture", _PCAP_HINT),
    b"\xa1\xb2\x3c\x4d": ("a pcap capture", _PCAP_HINT),
    b"\x0a\x0d\x0d\x0a": ("a pcapng capture", _PCAP_HINT),
    b"\x1f\x8b": ("gzip-compressed", _UNPACK_HINT),
    b"PK\x03\x04": ("a zip archive", _UNPACK_HINT),
    b"\x28\xb5\x2f\xfd": ("zstd-compressed", _UNPACK_HINT),
    b"BZh": ("bzip2-compressed", _UNPACK_HINT),
    b"7z\xbc\xaf": ("a 7-zip archive", _UNPACK_HINT),
    b"PAR1": ("a Parquet file", "pass the original dataset file, not a flow table"),
}


@dataclass(frozen=True)
class Head:
    """Up to HEAD_LINES decoded lines from the start of a file (no line ends)."""

    path: Path
    lines: tuple[str, ...]

    @property
    def first(self) -> str:
        return self.lines[0]

    def data_lines(self, after: int) -> tuple[str, ...]:
        return tuple(line for line in self.lines[after:] if line)


def read_head(path: Path) -> Head:
    """Read and check the start of ``path``: not empty, not binary, UTF-8 text."""
    try:
        with path.open("rb") as handle:
            chunk = handle.read(HEAD_BYTES)
    except IsADirectoryError:
        raise InputError(path, "is a directory, expected a file") from None
    except OSError as exc:
        raise InputError(path, f"cannot read: {exc.strerror}") from None
    if not chunk.strip():
        raise UnknownFormatError(path, "file is empty; expected a header line and flow rows")
    for magic, (what, hint) in _MAGIC.items():
        if chunk.startswith(magic):
            raise UnknownFormatError(path, f"file is {what}, not a flow text file; {hint}")
    nul = chunk.find(b"\x00")
    if nul >= 0:
        line = chunk.count(b"\n", 0, nul) + 1
        raise UnknownFormatError(
            path, f"binary data (NUL byte at offset {nul}); expected a text file", line=line
        )
    if chunk.startswith(b"\xef\xbb\xbf"):
        chunk = chunk[3:]
    raw_lines = chunk.split(b"\n")
    if len(chunk) == HEAD_BYTES:
        raw_lines = raw_lines[:-1]  # the last piece may be cut mid-line
    lines: list[str] = []
    for number, raw in enumerate(raw_lines[:HEAD_LINES], start=1):
        try:
            lines.append(raw.decode("utf-8").rstrip("\r"))
        except UnicodeDecodeError as exc:
            if number > 1:
                break  # recognisable; the reader names this line if it matters
            raise UnknownFormatError(
                path,
                f"invalid UTF-8 byte 0x{raw[exc.start]:02x} at character {exc.start + 1}; "
                "expected UTF-8 text",
                line=number,
            ) from None
    if not lines or not lines[0].strip():
        raise UnknownFormatError(path, "the first line is empty; expected a header line", line=1)
    while not lines[-1]:
        lines.pop()
    return Head(path, tuple(lines))


def split_header(head: Head, separator: str) -> list[str]:
    """The fields of the first line, quotes removed."""
    try:
        return next(csv.reader([head.first], delimiter=separator, quotechar='"'))
    except csv.Error as exc:  # e.g. a stray carriage return inside the line
        raise UnknownFormatError(head.path, f"cannot split the first line into fields ({exc})", line=1) from None


def guess_separator(line: str) -> str:
    """The most frequent of ``,``, ``;`` and tab in a header line."""
    return max((",", ";", "\t"), key=line.count)


def check_unique(path: Path, names: list[str]) -> None:
    seen: set[str] = set()
    for index, name in enumerate(names, start=1):
        if name in seen:
            raise InputError(path, f"duplicated column name {name!r} (field {index})", line=1)
        seen.add(name)
