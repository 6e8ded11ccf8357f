"""Native readers: recognise a dataset file from its header and read it as a
flow table (a Polars LazyFrame).

A flow table starts with ``source``, ``capture``, ``row_id`` (0-based data
line index) and ``label_raw`` (the label text as written, label columns
joined with ``/``; null for unlabelled logs), followed by the file's native
columns under their native names, typed: numbers numeric, unset markers null.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from iotids.errors import InputError, UnknownFormatError
from iotids.sources import botiot, iot23, iotid20, meters, mqtt
from iotids.sources.head import read_head
from iotids.sources.layout import FLOW_KEYS, Layout, diagnose, scan

_READERS = (iot23, botiot, iotid20, mqtt, meters)

FORMATS: dict[str, str] = {name: text for r in _READERS for name, text in r.FORMATS.items()}
"""Every recognised format and a one-line description of its header."""


def sniff(path: str | Path) -> Layout:
    """Recognise ``path`` from its first lines; raise InputError if nothing fits."""
    path = Path(path)
    head = read_head(path)
    for reader in _READERS:
        layout = reader.sniff(head)
        if layout is not None:
            if not head.data_lines(layout.header_lines):
                raise InputError(path, "header only: no flow rows after it", line=layout.header_lines)
            return layout
    shown = head.first if len(head.first) <= 120 else head.first[:120] + "…"
    raise UnknownFormatError(
        path,
        f"unrecognised format; header was {shown!r}; expected one of: {', '.join(FORMATS)} "
        "(`iotids formats` describes each)",
        line=1,
    )


def read(path: str | Path) -> pl.LazyFrame:
    """The flow table of one native file, lazily (see the module docstring)."""
    return scan(sniff(path))


__all__ = ["FLOW_KEYS", "FORMATS", "Layout", "diagnose", "read", "scan", "sniff"]
