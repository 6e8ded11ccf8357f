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


def _lookup(column: str, table: dict) -> pl.Expr:
    """Map values by a small table with a when/then chain (streams, unlike replace_strict)."""
    expr = None
    for key, value in table.items():
        expr = (pl.when(pl.col(column) == key) if expr is None else expr.when(pl.col(column) == key)).then(
            pl.lit(value))
    return expr.otherwise(pl.lit("other"))


def _num(column: str) -> pl.Expr:
    return pl.col(column).cast(pl.Float64)


def _meter(columns: dict[str, str], state: str, states: dict[str, str]) -> Callable[[], dict[str, pl.Expr]]:
    """The recipe of a meter whose columns give the common features directly:
    ``columns`` maps each numeric common feature to a native column."""
    def recipe() -> dict[str, pl.Expr]:
        return {name: _num(native) for name, native in columns.items()} | {
            "proto": pl.col("proto"), "state": _lookup(state, states)}

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
        "duration": _num("Flow_Duration") / 1e6, "proto": _lookup("Protocol", _PROTO_NUMBERS),
        "dst_port": _num("Dst_Port"), "fwd_pkts": _num("Tot_Fwd_Pkts"), "bwd_pkts": _num("Tot_Bwd_Pkts"),
        "fwd_bytes": _num("TotLen_Fwd_Pkts") + _num("Fwd_Header_Len"),
        "bwd_bytes": _num("TotLen_Bwd_Pkts") + _num("Bwd_Header_Len"),
        "state": pl.when(pl.col("RST_Flag_Cnt") > 0).then(pl.lit("rejected"))
        .when(bwd > 0).then(pl.lit("established")).otherwise(pl.lit("attempt")),
    }


def _mqtt_biflow() -> dict[str, pl.Expr]:
    # No duration column: the longer direction's packet gaps add up to it.
    span = pl.max_horizontal(
        _num("fwd_mean_iat") * (_num("fwd_num_pkts") - 1).clip(lower_bound=0),
        _num("bwd_mean_iat") * (_num("bwd_num_pkts") - 1).clip(lower_bound=0),
    )
    return {
        "duration": span, "proto": _lookup("proto", _PROTO_NUMBERS), "dst_port": _num("prt_dst"),
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
    "iotid20-cic": _cic,
    "iotds2-cic": _cic,
    "mqtt-biflow": _mqtt_biflow,
}


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
