"""IoTID20 CICFlowMeter CSV and the ready-made IoT-DS-2 CSV in its layout.

IoTID20 ("IoT Network Intrusion Dataset") is one CICFlowMeter CSV with
underscore column names, ``Flow_ID, Src_IP, Src_Port, …`` and the labels
``Label, Cat, Sub_Cat``. Its label text is ``Cat/Sub_Cat``. Public copies of
the study's combined IoT-DS-2 keep these column names (some identifier
columns dropped) with a 17-class ``Cat`` and no ``Sub_Cat``: that file is read
as source ``iotds2`` with label text ``Cat``.

CICFlowMeter writes ``Infinity`` and ``NaN`` in rate columns of zero-duration
flows; they are read as the floats inf and NaN and handled in preprocessing.
"""

from __future__ import annotations

import polars as pl

from iotids.errors import InputError
from iotids.sources.head import Head, check_unique, guess_separator, split_header
from iotids.sources.layout import Kind, Layout, capture_name, joined

FORMATS = {
    "iotid20-cic": "IoTID20 CICFlowMeter CSV (Flow_ID, Src_IP, … Label, Cat, Sub_Cat)",
    "iotds2-cic": "ready-made IoT-DS-2 CSV (CICFlowMeter columns of IoTID20, 17-class Cat)",
}

IDENTIFIERS = ("Flow_ID", "Src_IP", "Dst_IP", "Timestamp")
LABELS = ("Label", "Cat", "Sub_Cat")
# Columns every CICFlowMeter export has; two of them are enough to tell.
_CIC_MARKERS = ("Flow_Duration", "Tot_Fwd_Pkts", "Tot_Bwd_Pkts", "Flow_Byts/s", "Flow_Pkts/s")
_INTS = {"Src_Port", "Dst_Port", "Protocol"}


def _kind(name: str) -> Kind:
    if name in IDENTIFIERS or name in LABELS:
        return "str"
    return "int" if name in _INTS else "float"


def sniff(head: Head) -> Layout | None:
    separator = guess_separator(head.first)
    names = split_header(head.first, separator)
    if "Cat" not in names or sum(m in names for m in _CIC_MARKERS) < 2:
        return None
    check_unique(head.path, names)
    if "Sub_Cat" in names:
        fmt, source, labels = "iotid20-cic", "iotid20", LABELS
        missing = [c for c in (*IDENTIFIERS, *LABELS) if c not in names]
        if missing:
            raise InputError(head.path, f"IoTID20 header lacks {', '.join(missing)}", line=1)
        finish = _label_text("Cat", "Sub_Cat")
    else:
        fmt, source = "iotds2-cic", "iotds2"
        labels = tuple(c for c in LABELS if c in names)
        finish = _label_text("Cat")
    return Layout(
        path=head.path,
        format=fmt,
        source=source,
        separator=separator,
        fields=tuple(names),
        kinds={name: _kind(name) for name in names},
        header_lines=1,
        required=labels,
        label_columns=labels,
        finish=finish,
        capture=capture_name(head.path),
    )


def _label_text(*columns: str):
    def finish(lf: pl.LazyFrame) -> pl.LazyFrame:
        return lf.with_columns(joined(*columns))

    return finish
