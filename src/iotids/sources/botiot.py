"""BoT-IoT Argus flow CSVs, in all three published layouts.

- per-attack files: semicolon-separated, quoted, 37 columns, no ``pkSeqID``;
- "Entire dataset" / 5% files with a header: comma-separated, ``pkSeqID`` and
  engineered features such as ``TnBPSrcIP``;
- "Entire dataset" files without a header row (the names ship in a separate
  file): recognised by their field count and label values.

Argus writes ARP and ICMP "ports" in hex (``0x0303``); they are read as
integers. The label text is ``category/subcategory``.
"""

from __future__ import annotations

from iotids.errors import InputError
from iotids.sources.head import Head, check_unique, guess_separator, split_header
from iotids.sources.layout import Layout, capture_name, joined, kinds_of

FORMATS = {
    "botiot-argus": "BoT-IoT per-attack Argus CSV (';'-separated, 37 columns, stime … subcategory)",
    "botiot-full": "BoT-IoT 'Entire dataset'/5% CSV (','-separated, pkSeqID … subcategory, "
    "with or without a header row)",
}

LABELS = ("attack", "category", "subcategory")
CATEGORIES = ("Normal", "DDoS", "DoS", "Reconnaissance", "Theft")

_STR = {"flgs", "proto", "saddr", "dir", "daddr", "state", "srcid", "smac", "dmac",
        "soui", "doui", "sco", "dco", "record", "category", "subcategory"}
_PORTS = {"sport", "dport"}
_INTS = {"pkSeqID", "pkts", "bytes", "seq", "spkts", "dpkts", "sbytes", "dbytes", "attack",
         "flgs_number", "proto_number", "state_number"}

ARGUS_COLUMNS = (
    "stime", "flgs", "proto", "saddr", "sport", "dir", "daddr", "dport", "pkts", "bytes",
    "state", "srcid", "ltime", "seq", "dur", "mean", "stddev", "smac", "dmac", "sum", "min",
    "max", "soui", "doui", "sco", "dco", "spkts", "dpkts", "sbytes", "dbytes", "rate", "srate",
    "drate", "record", "attack", "category", "subcategory",
)
FULL_COLUMNS = (
    "pkSeqID", "stime", "flgs", "flgs_number", "proto", "proto_number", "saddr", "sport",
    "daddr", "dport", "pkts", "bytes", "state", "state_number", "ltime", "seq", "dur", "mean",
    "stddev", "sum", "min", "max", "spkts", "dpkts", "sbytes", "dbytes", "rate", "srate",
    "drate", "TnBPSrcIP", "TnBPDstIP", "TnP_PSrcIP", "TnP_PDstIP", "TnP_PerProto",
    "TnP_Per_Dport", "AR_P_Proto_P_SrcIP", "AR_P_Proto_P_DstIP", "N_IN_Conn_P_DstIP",
    "N_IN_Conn_P_SrcIP", "AR_P_Proto_P_Sport", "AR_P_Proto_P_Dport",
    "Pkts_P_State_P_Protocol_P_DestIP", "Pkts_P_State_P_Protocol_P_SrcIP",
    "attack", "category", "subcategory",
)
# The header-less "Entire dataset" files (UNSW_2018_IoT_Botnet_Dataset_N.csv);
# names from the dataset's separate feature-names file.
HEADERLESS_COLUMNS = (
    "pkSeqID", "stime", "flgs", "proto", "saddr", "sport", "daddr", "dport", "pkts", "bytes",
    "state", "ltime", "seq", "dur", "mean", "stddev", "smac", "dmac", "sum", "min", "max",
    "soui", "doui", "sco", "dco", "spkts", "dpkts", "sbytes", "dbytes", "rate", "srate",
    "drate", "attack", "category", "subcategory",
)


def sniff(head: Head) -> Layout | None:
    separator = guess_separator(head.first)
    names = split_header(head, separator)
    if set(LABELS) <= set(names) and ("stime" in names or "pkSeqID" in names):
        check_unique(head.path, names)
        expected = ARGUS_COLUMNS if "pkSeqID" not in names else FULL_COLUMNS
        fmt = "botiot-argus" if expected is ARGUS_COLUMNS else "botiot-full"
        missing = [c for c in expected if c not in names]
        if missing:
            raise InputError(
                head.path, f"BoT-IoT header lacks columns {', '.join(missing)}", line=1
            )
        return _layout(head, fmt, tuple(names), separator, header_lines=1)
    if {"stime", "saddr", "dport", "spkts"} <= set(names):
        missing = ", ".join(c for c in LABELS if c not in names)
        raise InputError(head.path, f"BoT-IoT header lacks the label columns {missing}", line=1)
    if len(names) == len(HEADERLESS_COLUMNS) and _looks_like_headerless_row(names):
        return _layout(head, "botiot-full", HEADERLESS_COLUMNS, separator, header_lines=0)
    return None


def _looks_like_headerless_row(fields: list[str]) -> bool:
    return fields[0].isdigit() and fields[-3] in ("0", "1") and fields[-2] in CATEGORIES


def _layout(
    head: Head, fmt: str, names: tuple[str, ...], separator: str, header_lines: int
) -> Layout:
    return Layout(
        path=head.path,
        format=fmt,
        source="botiot",
        separator=separator,
        fields=names,
        kinds=kinds_of(names, text=_STR, ports=_PORTS, ints=_INTS),
        header_lines=header_lines,
        required=LABELS,
        label_columns=LABELS,
        finish=lambda lf: lf.with_columns(joined("category", "subcategory")),
        capture=capture_name(head.path),
    )
