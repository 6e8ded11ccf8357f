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
from iotids.sources.layout import Layout, capture_name, joined, kinds_of

FORMATS = {
    "iotid20-cic": "IoTID20 CICFlowMeter CSV (Flow_ID, Src_IP, … Label, Cat, Sub_Cat)",
    "iotds2-cic": "ready-made IoT-DS-2 CSV (CICFlowMeter columns of IoTID20, 17-class Cat)",
}

# The published header, 86 columns (note CWE_Flag_Count beside the *_Flag_Cnt).
IOTID20_COLUMNS = (
    "Flow_ID", "Src_IP", "Src_Port", "Dst_IP", "Dst_Port", "Protocol", "Timestamp",
    "Flow_Duration", "Tot_Fwd_Pkts", "Tot_Bwd_Pkts", "TotLen_Fwd_Pkts", "TotLen_Bwd_Pkts",
    "Fwd_Pkt_Len_Max", "Fwd_Pkt_Len_Min", "Fwd_Pkt_Len_Mean", "Fwd_Pkt_Len_Std",
    "Bwd_Pkt_Len_Max", "Bwd_Pkt_Len_Min", "Bwd_Pkt_Len_Mean", "Bwd_Pkt_Len_Std", "Flow_Byts/s",
    "Flow_Pkts/s", "Flow_IAT_Mean", "Flow_IAT_Std", "Flow_IAT_Max", "Flow_IAT_Min",
    "Fwd_IAT_Tot", "Fwd_IAT_Mean", "Fwd_IAT_Std", "Fwd_IAT_Max", "Fwd_IAT_Min", "Bwd_IAT_Tot",
    "Bwd_IAT_Mean", "Bwd_IAT_Std", "Bwd_IAT_Max", "Bwd_IAT_Min", "Fwd_PSH_Flags",
    "Bwd_PSH_Flags", "Fwd_URG_Flags", "Bwd_URG_Flags", "Fwd_Header_Len", "Bwd_Header_Len",
    "Fwd_Pkts/s", "Bwd_Pkts/s", "Pkt_Len_Min", "Pkt_Len_Max", "Pkt_Len_Mean", "Pkt_Len_Std",
    "Pkt_Len_Var", "FIN_Flag_Cnt", "SYN_Flag_Cnt", "RST_Flag_Cnt", "PSH_Flag_Cnt",
    "ACK_Flag_Cnt", "URG_Flag_Cnt", "CWE_Flag_Count", "ECE_Flag_Cnt", "Down/Up_Ratio",
    "Pkt_Size_Avg", "Fwd_Seg_Size_Avg", "Bwd_Seg_Size_Avg", "Fwd_Byts/b_Avg",
    "Fwd_Pkts/b_Avg", "Fwd_Blk_Rate_Avg", "Bwd_Byts/b_Avg", "Bwd_Pkts/b_Avg",
    "Bwd_Blk_Rate_Avg", "Subflow_Fwd_Pkts", "Subflow_Fwd_Byts", "Subflow_Bwd_Pkts",
    "Subflow_Bwd_Byts", "Init_Fwd_Win_Byts", "Init_Bwd_Win_Byts", "Fwd_Act_Data_Pkts",
    "Fwd_Seg_Size_Min", "Active_Mean", "Active_Std", "Active_Max", "Active_Min", "Idle_Mean",
    "Idle_Std", "Idle_Max", "Idle_Min", "Label", "Cat", "Sub_Cat",
)
IDENTIFIERS = ("Flow_ID", "Src_IP", "Dst_IP", "Timestamp")
LABELS = ("Label", "Cat", "Sub_Cat")
# Columns every CICFlowMeter export has; two of them are enough to tell.
_CIC_MARKERS = ("Flow_Duration", "Tot_Fwd_Pkts", "Tot_Bwd_Pkts", "Flow_Byts/s", "Flow_Pkts/s")
_INTS = {"Src_Port", "Dst_Port", "Protocol"}


def sniff(head: Head) -> Layout | None:
    separator = guess_separator(head.first)
    names = split_header(head, separator)
    if sum(m in names for m in _CIC_MARKERS) < 2:
        return None
    if "Cat" not in names:
        raise InputError(
            head.path, "CICFlowMeter CSV without the label column Cat (IoTID20: Label, Cat, Sub_Cat)",
            line=1,
        )
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
        kinds=kinds_of(names, text={*IDENTIFIERS, *LABELS}, ints=_INTS),
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
