"""How a delimited text file of flows is laid out, and reading it lazily.

Every supported format is a delimited text file (CSV or Zeek TSV). A
``Layout`` describes one file completely: separator, quoting, how many lines
come before the data, each field's name and kind, which columns are labels
and which must never be empty. ``scan`` turns it into a typed Polars
LazyFrame; ``diagnose`` walks the file line by line to name the exact line and
column when the fast path has failed (it runs only after a failure).
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import polars as pl

from iotids.errors import InputError

# The diagnosis splits lines with the csv module; its default 128 KiB field
# limit would hide what is wrong with an oversized field behind a generic error.
csv.field_size_limit(1 << 30)

# What a field holds. "port" is an integer that may be written in hex ("0x0303"),
# as Argus does for ARP and ICMP "ports".
Kind = Literal["float", "int", "port", "bool", "str"]

FLOW_KEYS: tuple[str, ...] = ("source", "capture", "row_id", "label_raw")
"""The columns every flow table starts with, before the native columns."""


@dataclass(frozen=True)
class Layout:
    """One recognised file: its format and everything needed to read it."""

    path: Path
    format: str  # e.g. "iot23-conn-labeled"
    source: str  # botiot / iotid20 / iotds2 / mqtt / iot23 / zeek / argus / nfstream
    separator: str
    fields: tuple[str, ...]  # names of the fields of one data line, in order
    kinds: dict[str, Kind]  # kind of each native column (after ``finish``)
    header_lines: int  # lines before the first data line
    quote_char: str | None = '"'
    comment_prefix: str | None = None
    null_values: tuple[str, ...] = ("",)
    required: tuple[str, ...] = ()  # columns that may never be null
    label_columns: tuple[str, ...] = ()
    # Turns the raw string fields into native columns plus ``label_raw``
    # (still strings); e.g. splits IoT-23's three-space label tail.
    finish: Callable[[pl.LazyFrame], pl.LazyFrame] = field(default=lambda lf: _unlabeled(lf))
    # Checks one raw data line's fields beyond the count and kinds (diagnosis only).
    check_fields: Callable[[list[str]], str | None] = field(default=lambda fields: None)
    capture: str = ""


def kinds_of(names: Sequence[str], *, text: set[str], ports: set[str] = frozenset(),
             ints: set[str] = frozenset()) -> dict[str, Kind]:
    """Kinds of CSV columns: listed ones as given, every other column a float."""
    def kind(name: str) -> Kind:
        if name in text:
            return "str"
        if name in ports:
            return "port"
        return "int" if name in ints else "float"

    return {name: kind(name) for name in names}


def capture_name(path: Path) -> str:
    """The capture a file belongs to: the capture folder for Zeek logs
    (``<capture>/bro/conn.log.labeled``), else the file name without suffixes."""
    if path.name.startswith("conn.log"):
        parent = path.parent.parent if path.parent.name == "bro" else path.parent
        return parent.name or path.stem
    name = path.name
    for suffix in (".gz", ".csv", ".tsv", ".txt", ".labeled", ".log"):
        name = name.removesuffix(suffix)
    return name


def scan(layout: Layout) -> pl.LazyFrame:
    """The flow table of ``layout.path`` as a LazyFrame: flow keys, then the
    native columns with their proper types. Nothing is read until collected."""
    raw = pl.scan_csv(
        layout.path,
        has_header=False,
        separator=layout.separator,
        quote_char=layout.quote_char,
        comment_prefix=layout.comment_prefix,
        skip_lines=layout.header_lines if layout.comment_prefix is None else 0,
        new_columns=list(layout.fields),
        schema=dict.fromkeys(layout.fields, pl.String),
        null_values=list(layout.null_values),
        truncate_ragged_lines=False,
        raise_if_empty=False,
    )
    # Polars turns a blank line into an all-null row: drop those (a real row
    # never lacks both its first and last field). The index is taken first so
    # that row_id still counts data lines (and so names the line).
    first, last = layout.fields[0], layout.fields[-1]
    lf = raw.with_row_index("row_id").filter(pl.col(first).is_not_null() | pl.col(last).is_not_null())
    if _has_header_row(layout):
        # Concatenated exports repeat the header inside the file (MQTT-IoT-IDS2020 does).
        lf = lf.filter(~((pl.col(first) == first) & (pl.col(last) == last)).fill_null(False))
    lf = layout.finish(lf)
    return lf.select(
        pl.lit(layout.source).alias("source"),
        pl.lit(layout.capture).alias("capture"),
        pl.col("row_id").cast(pl.Int64),
        pl.col("label_raw"),
        *(_typed(name, kind) for name, kind in layout.kinds.items()),
    )


def _has_header_row(layout: Layout) -> bool:
    return layout.header_lines == 1 and layout.comment_prefix is None


def _unlabeled(lf: pl.LazyFrame) -> pl.LazyFrame:
    return lf.with_columns(pl.lit(None, pl.String).alias("label_raw"))


def joined(*columns: str) -> pl.Expr:
    """``label_raw`` from label columns: their text joined with ``/``."""
    return pl.concat_str([pl.col(c) for c in columns], separator="/").alias("label_raw")


def _typed(name: str, kind: Kind) -> pl.Expr:
    column = pl.col(name)
    if kind == "float":
        return column.cast(pl.Float64, strict=True)
    if kind == "int":
        return column.cast(pl.Int64, strict=True)
    if kind == "port":
        is_hex = column.str.starts_with("0x") | column.str.starts_with("0X")
        return (
            pl.when(is_hex)
            .then(column.str.slice(2).str.to_integer(base=16, strict=True))
            .otherwise(column.cast(pl.Int64, strict=True))
            .alias(name)
        )
    if kind == "bool":
        # Not replace_strict: it makes Polars' sink hold the whole file in memory.
        # Any other value reaches the unsupported String->Boolean cast, which
        # fails the read and so triggers the line-level diagnosis.
        return (
            pl.when(column == "T").then(True)
            .when(column == "F").then(False)
            .when(column.is_null()).then(None)
            .otherwise(column.cast(pl.Boolean, strict=True))
            .alias(name)
        )
    return column


# --- diagnosis: only after the fast path failed --------------------------------


def diagnose(layout: Layout, fallback: str) -> InputError:
    """Find the first bad line of ``layout.path`` and describe it.

    Walks the file line by line in Python, so it is slow but exact; it runs
    only after the lazy reader has already failed. ``fallback`` is the message
    used when no line-level problem is found.
    """
    names = layout.fields
    kinds = _field_kinds(layout)
    with layout.path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                return InputError(
                    layout.path,
                    f"invalid UTF-8 byte 0x{raw[exc.start]:02x} at character {exc.start + 1}; "
                    "expected UTF-8 text",
                    line=number,
                )
            if "\x00" in text:
                return InputError(layout.path, "NUL byte in a text line", line=number)
            if number <= layout.header_lines and layout.comment_prefix is None:
                continue
            text = text.rstrip("\r\n")
            if not text or (layout.comment_prefix and text.startswith(layout.comment_prefix)):
                continue
            problem = _check_line(layout, names, kinds, text)
            if problem is not None:
                message, column = problem
                return InputError(layout.path, message, line=number, column=column)
    return InputError(layout.path, fallback)


def first_line(exc: Exception) -> str:
    """The first line of an exception's text (Polars appends the whole query plan)."""
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def last_line_problem(layout: Layout, window: int = 1 << 20) -> bool:
    """Whether the file's last line is malformed (a truncated copy, typically).

    Reads only the end of the file; the caller runs ``diagnose`` for the exact
    place, which also catches a truncation that happens to fall between fields.
    """
    with layout.path.open("rb") as handle:
        handle.seek(0, 2)
        size = handle.tell()
        handle.seek(max(0, size - window))
        tail = handle.read()
    lines = [line for line in tail.split(b"\n") if line.strip(b"\r")]
    if not lines or size <= window and len(lines) <= layout.header_lines:
        return False
    try:
        text = lines[-1].decode("utf-8").rstrip("\r")
    except UnicodeDecodeError:
        return True
    if layout.comment_prefix and text.startswith(layout.comment_prefix):
        return False
    return _check_line(layout, layout.fields, _field_kinds(layout), text) is not None


def _field_kinds(layout: Layout) -> list[Kind]:
    return [layout.kinds.get(name, "str") for name in layout.fields]


def _check_line(
    layout: Layout, names: Sequence[str], kinds: Sequence[Kind], text: str
) -> tuple[str, str | None] | None:
    if layout.quote_char is None:
        fields = text.split(layout.separator)
    else:
        try:
            fields = next(csv.reader([text], delimiter=layout.separator, quotechar=layout.quote_char))
        except csv.Error as exc:  # a stray carriage return, an unclosed quote at the end, …
            return f"malformed line ({exc})", None
    if _has_header_row(layout) and tuple(fields) == tuple(names):
        return None  # a repeated header, skipped by the reader too
    if len(fields) != len(names):
        return (
            f"expected {len(names)} fields separated by {layout.separator!r}, found {len(fields)}",
            None,
        )
    extra = layout.check_fields(fields)
    if extra is not None:
        return extra, names[-1]
    for name, kind, value in zip(names, kinds, fields, strict=True):
        if value in layout.null_values:
            if name in layout.required:
                return "value missing; this column may not be empty", name
            continue
        if not _parses(kind, value):
            return f"expected {_KIND_WORDS[kind]}, found {_shorten(value)!r}", name
    return None


_KIND_WORDS: dict[Kind, str] = {
    "float": "a number",
    "int": "an integer",
    "port": "a port number (decimal or 0x hex)",
    "bool": "T or F",
    "str": "text",
}


def _parses(kind: Kind, value: str) -> bool:
    if kind == "str":
        return True
    if value != value.strip():
        return False
    if kind == "bool":
        return value in ("T", "F")
    if kind == "port" and value[:2].lower() == "0x":
        return _is_int(value[2:], 16)
    if kind in ("int", "port"):
        return _is_int(value, 10)
    try:
        float(value)  # accepts nan, inf, Infinity and 1e999 (= inf), as Polars does
    except ValueError:
        return False
    return True


def _is_int(value: str, base: int) -> bool:
    try:
        int(value, base)
    except ValueError:
        return False
    return "_" not in value


def _shorten(value: str, limit: int = 40) -> str:
    return value if len(value) <= limit else value[:limit] + "…"
