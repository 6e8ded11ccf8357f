"""Feature schemas: which columns of a flow table a model may see.

``seed`` (the study's way): every native column of every source, minus
identifiers and labels; columns a source lacks are 0 for its rows.

``common``: one harmonised set that every source and a live flow meter can
produce, so a model trained on the datasets can score any flow meter's
output. ``COMMON_SOURCES`` below is the per-format recipe; docs/schema.md
explains where each definition differs between meters.
"""

from __future__ import annotations

from collections.abc import Callable

import polars as pl

from iotids.errors import IotidsError
from iotids.sources.iotid20 import IOTID20_COLUMNS

SCHEMAS = ("seed", "common")

# Columns that name the testbed rather than describe the traffic: the study's
# list (flow ID, addresses, source port, timestamp) and each source's equivalents.
IDENTIFIERS: dict[str, tuple[str, ...]] = {
    "iot23": ("uid", "ts", "id.orig_h", "id.orig_p", "id.resp_h"),
    "zeek": ("uid", "ts", "id.orig_h", "id.orig_p", "id.resp_h"),
    "botiot": ("pkSeqID", "stime", "ltime", "saddr", "sport", "daddr", "seq", "srcid",
               "smac", "dmac", "soui", "doui", "sco", "dco"),
    "iotid20": ("Flow_ID", "Src_IP", "Src_Port", "Dst_IP", "Timestamp"),
    "iotds2": ("Flow_ID", "Src_IP", "Src_Port", "Dst_IP", "Timestamp"),
    "mqtt": ("ip_src", "ip_dst", "prt_src", "timestamp", "src_ip", "dst_ip", "src_port"),
    "argus": ("stime", "ltime", "saddr", "sport", "daddr", "seq", "srcid", "smac", "dmac", "soui", "doui",
              "sco", "dco"),
    "nfstream": ("src_ip", "src_mac", "src_port", "dst_ip", "dst_mac", "bidirectional_first_seen_ms",
                 "bidirectional_last_seen_ms", "src2dst_first_seen_ms", "src2dst_last_seen_ms",
                 "dst2src_first_seen_ms", "dst2src_last_seen_ms"),
}
ALL_IDENTIFIERS: frozenset[str] = frozenset(c for cols in IDENTIFIERS.values() for c in cols)

# Columns every flow table has, which are never features.
KEYS = ("source", "capture", "row_id", "label_raw")

# --- the common schema --------------------------------------------------------------

COMMON_NUMERIC = ("duration", "dst_port", "fwd_pkts", "bwd_pkts", "fwd_bytes", "bwd_bytes",
                  "pkts_per_s", "bytes_per_s", "fwd_mean_size", "bwd_mean_size")
COMMON_CATEGORICAL = ("proto", "state")
COMMON_FEATURES = COMMON_NUMERIC[:2] + COMMON_CATEGORICAL + COMMON_NUMERIC[2:]

STATES = ("established", "rejected", "attempt", "other")
_PROTO_NUMBERS = {6: "tcp", 17: "udp", 1: "icmp", 58: "icmp"}

_ZEEK_STATE = {"SF": "established", "S1": "established", "S2": "established", "S3": "established",
               "RSTO": "established", "RSTR": "established", "REJ": "rejected",
               "RSTOS0": "rejected", "RSTRH": "rejected", "S0": "attempt", "SH": "attempt",
               "SHR": "attempt", "OTH": "other"}
_ARGUS_STATE = {"FIN": "established", "CON": "established", "ACC": "established",
                "ECR": "established", "RST": "rejected", "REQ": "attempt", "INT": "attempt",
                "ECO": "attempt", "URP": "other", "CLO": "established"}


def lookup(column: str | pl.Expr, table: dict, otherwise: pl.Expr | None = None) -> pl.Expr:
    """Map values by a small table with a when/then chain (streams, unlike replace_strict);
    values not in the table become ``otherwise`` (default "other")."""
    value_of = pl.col(column) if isinstance(column, str) else column
    otherwise = pl.lit("other") if otherwise is None else otherwise
    expr = None
    for key, value in table.items():
        value = value if isinstance(value, pl.Expr) else pl.lit(value)
        expr = (pl.when(value_of == key) if expr is None else expr.when(value_of == key)).then(value)
    return otherwise if expr is None else expr.otherwise(otherwise)


def _num(column: str) -> pl.Expr:
    return pl.col(column).cast(pl.Float64)


def _meter(columns: dict[str, str], state: str, states: dict[str, str]) -> Callable[[], dict[str, pl.Expr]]:
    """The recipe of a meter whose columns give the common features directly:
    ``columns`` maps each numeric common feature to a native column."""
    def recipe() -> dict[str, pl.Expr]:
        return {name: _num(native) for name, native in columns.items()} | {
            "proto": pl.col("proto"), "state": lookup(state, states)}

    return recipe


_zeek = _meter({"duration": "duration", "dst_port": "id.resp_p", "fwd_pkts": "orig_pkts", "bwd_pkts": "resp_pkts",
                "fwd_bytes": "orig_ip_bytes", "bwd_bytes": "resp_ip_bytes"}, "conn_state", _ZEEK_STATE)
_argus = _meter({"duration": "dur", "dst_port": "dport", "fwd_pkts": "spkts", "bwd_pkts": "dpkts",
                 "fwd_bytes": "sbytes", "bwd_bytes": "dbytes"}, "state", _ARGUS_STATE)


def _cic() -> dict[str, pl.Expr]:
    # CICFlowMeter counts payload bytes; adding the header lengths approximates
    # the IP-level bytes the other meters report. Its state is inferred from flags.
    bwd = pl.col("Tot_Bwd_Pkts")
    return {
        "duration": _num("Flow_Duration") / 1e6, "proto": lookup("Protocol", _PROTO_NUMBERS),
        "dst_port": _num("Dst_Port"), "fwd_pkts": _num("Tot_Fwd_Pkts"), "bwd_pkts": _num("Tot_Bwd_Pkts"),
        "fwd_bytes": _num("TotLen_Fwd_Pkts") + _num("Fwd_Header_Len"),
        "bwd_bytes": _num("TotLen_Bwd_Pkts") + _num("Bwd_Header_Len"),
        "state": pl.when(pl.col("RST_Flag_Cnt") > 0).then(pl.lit("rejected"))
        .when(bwd > 0).then(pl.lit("established")).otherwise(pl.lit("attempt")),
    }


def _nfstream() -> dict[str, pl.Expr]:
    # NFStream counts IP bytes per direction, like Zeek's *_ip_bytes.
    return {
        "duration": _num("bidirectional_duration_ms") / 1e3, "proto": lookup("protocol", _PROTO_NUMBERS),
        "dst_port": _num("dst_port"), "fwd_pkts": _num("src2dst_packets"), "bwd_pkts": _num("dst2src_packets"),
        "fwd_bytes": _num("src2dst_bytes"), "bwd_bytes": _num("dst2src_bytes"),
        "state": pl.when((pl.col("src2dst_rst_packets") + pl.col("dst2src_rst_packets")) > 0)
        .then(pl.lit("rejected")).when(pl.col("dst2src_packets") > 0).then(pl.lit("established"))
        .otherwise(pl.lit("attempt")),
    }


def _mqtt_biflow() -> dict[str, pl.Expr]:
    # No duration column: the longer direction's packet gaps add up to it.
    span = pl.max_horizontal(
        _num("fwd_mean_iat") * (_num("fwd_num_pkts") - 1).clip(lower_bound=0),
        _num("bwd_mean_iat") * (_num("bwd_num_pkts") - 1).clip(lower_bound=0),
    )
    return {
        "duration": span, "proto": lookup("proto", _PROTO_NUMBERS), "dst_port": _num("prt_dst"),
        "fwd_pkts": _num("fwd_num_pkts"), "bwd_pkts": _num("bwd_num_pkts"),
        "fwd_bytes": _num("fwd_num_bytes"), "bwd_bytes": _num("bwd_num_bytes"),
        "state": pl.when((pl.col("fwd_num_rst_flags") + pl.col("bwd_num_rst_flags")) > 0)
        .then(pl.lit("rejected")).when(pl.col("bwd_num_pkts") > 0).then(pl.lit("established"))
        .otherwise(pl.lit("attempt")),
    }


COMMON_SOURCES: dict[str, Callable[[], dict[str, pl.Expr]]] = {
    "iot23-conn-labeled": _zeek,
    "zeek-conn": _zeek,
    "botiot-argus": _argus,
    "botiot-full": _argus,
    "argus-csv": _argus,
    "nfstream-csv": _nfstream,
    "iotid20-cic": _cic,
    "iotds2-cic": _cic,
    "mqtt-biflow": _mqtt_biflow,
}


# Formats whose native columns are the same, so a seed-schema model trained on
# one can score the others (missing columns are 0, as in training).
FAMILIES: dict[str, str] = {
    "iot23-conn-labeled": "zeek", "zeek-conn": "zeek",
    "botiot-argus": "argus", "botiot-full": "argus", "argus-csv": "argus",
    "iotid20-cic": "cic", "iotds2-cic": "cic",
    "mqtt-packet": "mqtt-packet", "mqtt-uniflow": "mqtt-uniflow", "mqtt-biflow": "mqtt-biflow",
    "nfstream-csv": "nfstream",
}

# Where each format keeps a flow's start time, endpoints and protocol (for alerts).
ENDPOINT_FIELDS = ("ts", "src", "sport", "dst", "dport", "proto")
_ZEEK_ENDPOINTS = ("ts", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "proto")
_ARGUS_ENDPOINTS = ("stime", "saddr", "sport", "daddr", "dport", "proto")
_CIC_ENDPOINTS = ("Timestamp", "Src_IP", "Src_Port", "Dst_IP", "Dst_Port", "Protocol")
ENDPOINTS: dict[str, tuple[str | None, ...]] = {
    "iot23-conn-labeled": _ZEEK_ENDPOINTS, "zeek-conn": _ZEEK_ENDPOINTS,
    "botiot-argus": _ARGUS_ENDPOINTS, "botiot-full": _ARGUS_ENDPOINTS, "argus-csv": _ARGUS_ENDPOINTS,
    "iotid20-cic": _CIC_ENDPOINTS, "iotds2-cic": _CIC_ENDPOINTS,
    "mqtt-biflow": (None, "ip_src", "prt_src", "ip_dst", "prt_dst", "proto"),
    "mqtt-uniflow": (None, "ip_src", "prt_src", "ip_dst", "prt_dst", "proto"),
    "mqtt-packet": ("timestamp", "src_ip", "src_port", "dst_ip", "dst_port", "protocol"),
    "nfstream-csv": ("bidirectional_first_seen_ms", "src_ip", "src_port", "dst_ip", "dst_port", "protocol"),
}


_NUMBERED_PROTO = ("iotid20-cic", "iotds2-cic", "mqtt-biflow", "mqtt-uniflow", "mqtt-packet", "nfstream-csv")


def endpoints(fmt: str, available: set[str]) -> list[pl.Expr]:
    """The alert fields of a flow (ENDPOINT_FIELDS), null where the format lacks one."""
    exprs = []
    for name, native in zip(ENDPOINT_FIELDS, ENDPOINTS.get(fmt, (None,) * 6), strict=True):
        if native is None or native not in available:
            exprs.append(pl.lit(None).alias(name))
        elif fmt == "nfstream-csv" and name == "ts":
            exprs.append((_num(native) / 1e3).alias(name))
        elif name == "proto" and fmt in _NUMBERED_PROTO:
            number = pl.col(native).cast(pl.Int64, strict=False)
            exprs.append(lookup(number, _PROTO_NUMBERS, otherwise=pl.col(native).cast(pl.String)).alias(name))
        else:
            exprs.append(pl.col(native).alias(name))
    return exprs


def common_features(fmt: str) -> list[pl.Expr]:
    """Expressions computing the common features from a flow table of ``fmt``."""
    if fmt not in COMMON_SOURCES:
        raise IotidsError(f"format {fmt!r} has no common-schema recipe; "
                          f"formats with one: {', '.join(COMMON_SOURCES)}")
    base = COMMON_SOURCES[fmt]()
    pkts = base["fwd_pkts"] + base["bwd_pkts"]
    size = base["fwd_bytes"] + base["bwd_bytes"]
    duration = base["duration"]
    derived = {
        "pkts_per_s": pl.when(duration > 0).then(pkts / duration).otherwise(0.0),
        "bytes_per_s": pl.when(duration > 0).then(size / duration).otherwise(0.0),
        "fwd_mean_size": pl.when(base["fwd_pkts"] > 0).then(base["fwd_bytes"] / base["fwd_pkts"]).otherwise(0.0),
        "bwd_mean_size": pl.when(base["bwd_pkts"] > 0).then(base["bwd_bytes"] / base["bwd_pkts"]).otherwise(0.0),
    }
    columns = base | derived
    return [columns[name].alias(name) for name in COMMON_FEATURES]


def seed_features(schema: pl.Schema, source: str, label_columns: list[str]) -> list[str]:
    """The native columns of a flow table that may be features (seed schema)."""
    excluded = set(KEYS) | set(IDENTIFIERS.get(source, ())) | set(label_columns)
    return [name for name in schema.names() if name not in excluded]


# --- CICFlowMeter-style columns from NFStream -------------------------------------
# So a model trained on IoTID20's CICFlowMeter columns (seed schema) can score
# pcaps measured with NFStream. docs/flowmeter.md lists where each definition
# differs from Java CICFlowMeter; columns NFStream has nothing for stay null (0).


def _ratio(top: pl.Expr, bottom: pl.Expr) -> pl.Expr:
    return pl.when(bottom > 0).then(top / bottom).otherwise(0.0)


def cic_from_nfstream() -> list[pl.Expr]:
    us = 1e3  # NFStream times are ms, CICFlowMeter's µs
    seconds = _num("bidirectional_duration_ms") / 1e3
    fwd_payload, bwd_payload = _num("src2dst_payload_bytes"), _num("dst2src_payload_bytes")
    fwd, bwd = _num("src2dst_packets"), _num("dst2src_packets")
    columns = {
        "Dst_Port": _num("dst_port"), "Protocol": _num("protocol"),
        "Flow_Duration": _num("bidirectional_duration_ms") * us,
        "Tot_Fwd_Pkts": fwd, "Tot_Bwd_Pkts": bwd,
        "TotLen_Fwd_Pkts": fwd_payload, "TotLen_Bwd_Pkts": bwd_payload,
        "Flow_Byts/s": _ratio(fwd_payload + bwd_payload, seconds),
        "Flow_Pkts/s": _ratio(fwd + bwd, seconds),
        "Fwd_Pkts/s": _ratio(fwd, seconds), "Bwd_Pkts/s": _ratio(bwd, seconds),
        "Fwd_IAT_Tot": _num("src2dst_duration_ms") * us, "Bwd_IAT_Tot": _num("dst2src_duration_ms") * us,
        "Fwd_Header_Len": _num("src2dst_bytes") - fwd_payload, "Bwd_Header_Len": _num("dst2src_bytes") - bwd_payload,
        "Pkt_Len_Var": _num("bidirectional_stddev_ps") ** 2,
        "Down/Up_Ratio": _ratio(bwd, fwd).floor(),
        "Pkt_Size_Avg": _ratio(fwd_payload + bwd_payload, fwd + bwd),
        "Fwd_Seg_Size_Avg": _ratio(fwd_payload, fwd), "Bwd_Seg_Size_Avg": _ratio(bwd_payload, bwd),
        "Subflow_Fwd_Pkts": fwd, "Subflow_Fwd_Byts": fwd_payload,
        "Subflow_Bwd_Pkts": bwd, "Subflow_Bwd_Byts": bwd_payload,
        "Fwd_PSH_Flags": _num("src2dst_psh_packets"), "Bwd_PSH_Flags": _num("dst2src_psh_packets"),
        "Fwd_URG_Flags": _num("src2dst_urg_packets"), "Bwd_URG_Flags": _num("dst2src_urg_packets"),
        "CWE_Flag_Count": _num("bidirectional_cwr_packets"),
    }
    stats = {"Max": "max", "Min": "min", "Mean": "mean", "Std": "stddev"}
    for cic, nf in stats.items():
        columns[f"Fwd_Pkt_Len_{cic}"] = _num(f"src2dst_{nf}_ps")
        columns[f"Bwd_Pkt_Len_{cic}"] = _num(f"dst2src_{nf}_ps")
        columns[f"Pkt_Len_{cic}"] = _num(f"bidirectional_{nf}_ps")
        columns[f"Flow_IAT_{cic}"] = _num(f"bidirectional_{nf}_piat_ms") * us
        columns[f"Fwd_IAT_{cic}"] = _num(f"src2dst_{nf}_piat_ms") * us
        columns[f"Bwd_IAT_{cic}"] = _num(f"dst2src_{nf}_piat_ms") * us
    for flag in ("FIN", "SYN", "RST", "PSH", "ACK", "URG", "ECE"):
        columns[f"{flag}_Flag_Cnt"] = _num(f"bidirectional_{flag.lower()}_packets")
    return [expr.alias(name) for name, expr in columns.items()]


# Seed-schema adapters: (input family, the bundle's family) -> (the columns to add,
# every native column of the bundle's family, to tell which of them the input lacks).
SEED_ADAPTERS: dict[tuple[str, str], tuple[Callable[[], list[pl.Expr]], tuple[str, ...]]] = {
    ("nfstream", "cic"): (cic_from_nfstream, IOTID20_COLUMNS)}
