"""IoT-23 Zeek ``conn.log.labeled`` files and plain Zeek ``conn.log`` files.

IoT-23 ships the labels in two layouts: the archive copies end each line with
one tab field ``tunnel_parents   label   detailed-label`` (three spaces
between), the per-scenario downloads use tabs and call the last column
``det_label``. Both give the same flow table, with the column named
``detailed-label``. Zeek's ``-`` (unset) and ``(empty)`` become null in the
feature columns; the label text is kept as written.
"""

from __future__ import annotations

import polars as pl

from iotids.errors import InputError
from iotids.sources.head import Head
from iotids.sources.layout import Kind, Layout, capture_name

FORMATS = {
    "iot23-conn-labeled": "IoT-23 Zeek conn.log.labeled (tab-separated, '#fields' header; "
    "label columns joined by three spaces or by tabs)",
    "zeek-conn": "Zeek conn.log without labels (tab-separated, '#fields' header, '#path conn')",
}

LABEL_SEP = "   "
TAIL = ("tunnel_parents", "label", "detailed-label")
_RENAME = {"det_label": "detailed-label", "detailed_label": "detailed-label"}

# Zeek field types -> our kinds.
_ZEEK_KINDS: dict[str, Kind] = {
    "time": "float",
    "interval": "float",
    "double": "float",
    "count": "int",
    "int": "int",
    "port": "int",
    "bool": "bool",
}
# Columns Zeek always sets in conn.log; a missing one means a broken line.
_ALWAYS_SET = ("ts", "uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "proto",
               "conn_state", "orig_pkts", "orig_ip_bytes", "resp_pkts", "resp_ip_bytes")


def sniff(head: Head) -> Layout | None:
    if not head.first.startswith("#separator"):
        return None
    path = head.path
    meta: dict[str, list[str]] = {}
    header_lines = 0
    for line in head.lines:
        if not line.startswith("#"):
            break
        header_lines += 1
        key, _, rest = line.partition("\t") if "\t" in line else line.partition(" ")
        meta[key.lstrip("#")] = rest.split("\t")
    try:
        separator = _unescape(meta["separator"][0]) if meta.get("separator") else "\t"
    except (UnicodeError, ValueError):
        separator = ""
    if len(separator) != 1:
        raise InputError(path, f"'#separator' must name one character, not {meta['separator'][0]!r}", line=1)
    if "fields" not in meta:
        raise InputError(path, "Zeek log without a '#fields' header line", line=header_lines or 1)
    if meta.get("path", ["conn"])[0] != "conn":
        raise InputError(path, f"Zeek '{meta['path'][0]}' log; expected a conn log", line=1)
    names = [_RENAME.get(n, n) for f in meta["fields"] for n in f.split(LABEL_SEP)]
    types = [t for f in meta.get("types", []) for t in f.split(LABEL_SEP)]
    if types and len(types) != len(names):
        raise InputError(path, f"'#types' has {len(types)} entries, '#fields' has {len(names)}")
    kinds: dict[str, Kind] = {
        name: _ZEEK_KINDS.get(types[i] if types else "string", "str") for i, name in enumerate(names)
    }
    missing = [c for c in _ALWAYS_SET if c not in kinds]
    if missing:
        raise InputError(path, f"'#fields' lacks conn.log fields {', '.join(missing)}")
    data = head.data_lines(header_lines)
    if not data:
        raise InputError(path, "no flow rows after the '#fields' header")
    labeled = "label" in names
    required = _ALWAYS_SET + (("label",) if labeled else ())
    common = dict(
        path=path, separator=separator, header_lines=header_lines, quote_char=None,
        comment_prefix="#", null_values=("-", "(empty)", ""), required=required,
        capture=capture_name(path),
    )
    if not labeled:
        return Layout(format="zeek-conn", source="zeek", fields=tuple(names), kinds=kinds, **common)
    if tuple(names[-3:]) != TAIL:
        raise InputError(path, f"labelled conn.log must end with fields {' '.join(TAIL)}", line=1)
    label_kinds = kinds | {"label": "str", "detailed-label": "str"}
    first_fields = data[0].split(separator)
    if len(first_fields) == len(names):  # per-scenario download: all tabs
        return Layout(
            format="iot23-conn-labeled", source="iot23", fields=tuple(names), kinds=label_kinds,
            label_columns=("label", "detailed-label"), finish=_finish_tabs, **common,
        )
    # archive copy: the last tab field holds the three tail columns
    fields = (*names[:-3], LABEL_SEP.join(TAIL))
    return Layout(
        format="iot23-conn-labeled", source="iot23", fields=fields, kinds=label_kinds,
        label_columns=("label", "detailed-label"), finish=_finish_tail,
        check_fields=_check_tail, **common,
    )


def _unescape(value: str) -> str:
    return value.encode("ascii").decode("unicode_escape") if value.startswith("\\x") else value


def _label_raw() -> pl.Expr:
    # Zeek's unset marker was nulled like any field; the label text keeps it.
    return pl.concat_str(
        [pl.col("label"), pl.col("detailed-label").fill_null("-")], separator="/"
    ).alias("label_raw")


def _finish_tabs(lf: pl.LazyFrame) -> pl.LazyFrame:
    return lf.with_columns(_label_raw())


def _finish_tail(lf: pl.LazyFrame) -> pl.LazyFrame:
    tail = LABEL_SEP.join(TAIL)
    parts = pl.col(tail).str.split_exact(LABEL_SEP, 2).struct
    unset = ("-", "(empty)")
    return lf.with_columns(
        pl.when(parts.field("field_0").is_in(unset)).then(None)
        .otherwise(parts.field("field_0")).alias("tunnel_parents"),
        parts.field("field_1").alias("label"),
        pl.when(parts.field("field_2") == "-").then(None)
        .otherwise(parts.field("field_2")).alias("detailed-label"),
        # Null when a part is missing (a cut line), so the required check sees it.
        pl.concat_str([parts.field("field_1"), parts.field("field_2")], separator="/")
        .alias("label_raw"),
    )


def _check_tail(fields: list[str]) -> str | None:
    if len(fields[-1].split(LABEL_SEP)) != 3:
        return "expected 'tunnel_parents   label   detailed-label' joined by three spaces"
    return None

