"""Flow records written by flow meters run on your own traffic.

- ``argus-csv``: Argus records printed by ``ra -c , -s …`` (ra's column
  titles, e.g. ``StartTime,Flgs,Proto,SrcAddr,Sport,…``). The columns are
  renamed to the Argus field names BoT-IoT uses (``stime``, ``proto``,
  ``saddr`` …), so an Argus record reads like a BoT-IoT row without labels.
  ``ra -nn`` prints protocol numbers; they become BoT-IoT's names (6 → tcp).
- ``nfstream-csv``: NFStream flows with statistical analysis, as written by
  ``iotids flows --meter nfstream`` (NFStream's own column names, plus the
  payload byte counts iotids adds).

Neither carries labels.
"""

from __future__ import annotations

import re

import polars as pl

from iotids.errors import InputError
from iotids.sources.head import Head, check_unique, guess_separator, split_header
from iotids.sources.layout import Layout, capture_name, kinds_of

FORMATS = {
    "argus-csv": "Argus records from `ra -c , -s …` (ra column titles: StartTime, Proto, SrcAddr, …)",
    "nfstream-csv": "NFStream flows with statistics (src_ip, …, bidirectional_first_seen_ms, …), "
    "as `iotids flows --meter nfstream` writes them",
}

# ra's column titles -> the Argus field names BoT-IoT uses.
RA_TITLES = {
    "StartTime": "stime", "Flgs": "flgs", "Proto": "proto", "SrcAddr": "saddr", "Sport": "sport",
    "Dir": "dir", "DstAddr": "daddr", "Dport": "dport", "TotPkts": "pkts", "TotBytes": "bytes",
    "State": "state", "SrcId": "srcid", "LastTime": "ltime", "Seq": "seq", "Dur": "dur",
    "Mean": "mean", "StdDev": "stddev", "SrcMac": "smac", "DstMac": "dmac", "Sum": "sum",
    "Min": "min", "Max": "max", "SrcOui": "soui", "DstOui": "doui", "sCo": "sco", "dCo": "dco",
    "SrcPkts": "spkts", "DstPkts": "dpkts", "SrcBytes": "sbytes", "DstBytes": "dbytes",
    "Rate": "rate", "SrcRate": "srate", "DstRate": "drate",
}
# The fields `iotids flows --meter argus` asks ra for: BoT-IoT's Argus columns.
RA_FIELDS = ("stime", "flgs", "proto", "saddr", "sport", "daddr", "dport", "pkts", "bytes", "state",
             "ltime", "seq", "dur", "mean", "stddev", "smac", "dmac", "sum", "min", "max", "soui",
             "doui", "sco", "dco", "spkts", "dpkts", "sbytes", "dbytes", "rate", "srate", "drate")
# What scoring needs: the flow's endpoints and the common-schema inputs.
ARGUS_NEEDED = ("stime", "proto", "saddr", "sport", "daddr", "dport", "state", "dur",
                "spkts", "dpkts", "sbytes", "dbytes")
_ARGUS_TEXT = {"flgs", "proto", "saddr", "dir", "daddr", "state", "srcid", "smac", "dmac",
               "soui", "doui", "sco", "dco"}
_ARGUS_INTS = {"pkts", "bytes", "seq", "spkts", "dpkts", "sbytes", "dbytes"}
_PROTO_NAMES = {"1": "icmp", "2": "igmp", "6": "tcp", "17": "udp", "58": "ipv6-icmp", "2054": "arp"}  # 2054: ethertype

NFSTREAM_NEEDED = ("src_ip", "src_port", "dst_ip", "dst_port", "protocol", "bidirectional_first_seen_ms",
                   "bidirectional_duration_ms", "src2dst_packets", "dst2src_packets", "src2dst_bytes",
                   "dst2src_bytes", "src2dst_rst_packets", "dst2src_rst_packets")
_NFSTREAM_FLOAT = re.compile(r"_(mean|stddev)_")  # every other NFStream number is an integer
_NFSTREAM_TEXT = {"src_ip", "src_mac", "src_oui", "dst_ip", "dst_mac", "dst_oui", "application_name",
                  "application_category_name", "requested_server_name", "client_fingerprint",
                  "server_fingerprint", "user_agent", "content_type"}


def sniff(head: Head) -> Layout | None:
    separator = guess_separator(head.first)
    names = split_header(head, separator)
    if {"StartTime", "SrcAddr", "DstAddr"} <= set(names):
        check_unique(head.path, names)
        fields = tuple(RA_TITLES.get(n, n) for n in names)
        _require(head, fields, ARGUS_NEEDED, "Argus CSV", f"write it with `ra -c , -s {' '.join(RA_FIELDS)}`")
        return Layout(
            path=head.path, format="argus-csv", source="argus", separator=separator, fields=fields,
            kinds=kinds_of(fields, text=_ARGUS_TEXT, ports={"sport", "dport"}, ints=_ARGUS_INTS),
            header_lines=1, required=("stime", "saddr", "daddr", "proto"),
            finish=_finish_argus, capture=capture_name(head.path),
        )
    if {"bidirectional_first_seen_ms", "src2dst_packets"} <= set(names):
        check_unique(head.path, names)
        _require(head, tuple(names), NFSTREAM_NEEDED, "NFStream CSV",
                 "write it with `iotids flows --meter nfstream` (statistical analysis on)")
        return Layout(
            path=head.path, format="nfstream-csv", source="nfstream", separator=separator,
            fields=tuple(names), kinds=kinds_of(names, text=_NFSTREAM_TEXT & set(names),
                                                ints={n for n in names if not _NFSTREAM_FLOAT.search(n)}),
            header_lines=1, required=("src_ip", "dst_ip", "protocol", "bidirectional_first_seen_ms"),
            capture=capture_name(head.path),
        )
    return None


def _require(head: Head, fields: tuple[str, ...], needed: tuple[str, ...], what: str, hint: str) -> None:
    missing = [c for c in needed if c not in fields]
    if missing:
        raise InputError(head.path, f"{what} lacks columns {', '.join(missing)}; {hint}", line=1)


def _finish_argus(lf: pl.LazyFrame) -> pl.LazyFrame:
    proto = pl.col("proto")
    for number, name in _PROTO_NAMES.items():
        proto = pl.when(pl.col("proto") == number).then(pl.lit(name)).otherwise(proto)
    return lf.with_columns(proto.alias("proto"), pl.lit(None, pl.String).alias("label_raw"))
