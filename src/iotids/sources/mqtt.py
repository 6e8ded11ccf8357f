"""MQTT-IoT-IDS2020 packet, uniflow and biflow feature CSVs.

One CSV per scenario and feature level (``normal.csv``, ``uniflow_sparta.csv``,
``biflow_mqtt_bruteforce.csv``, …). The level is recognised from the header;
the scenario can only come from the file name. ``is_attack`` marks the
attacker's rows; attack captures also hold normal background traffic. The
label text is ``scenario/is_attack`` (e.g. ``scan_A/1``), and a ``scenario``
column is added. The packet CSVs repeat their header inside the file; those
lines are skipped like every repeated header.
"""

from __future__ import annotations

import re

import polars as pl

from iotids.errors import InputError
from iotids.sources.head import Head, check_unique, guess_separator, split_header
from iotids.sources.layout import Layout, capture_name, joined, kinds_of

FORMATS = {
    "mqtt-packet": "MQTT-IoT-IDS2020 packet features (timestamp, src_ip, … ttl, ip_len, … is_attack)",
    "mqtt-uniflow": "MQTT-IoT-IDS2020 uniflow features (ip_src, … num_pkts, … is_attack)",
    "mqtt-biflow": "MQTT-IoT-IDS2020 biflow features (ip_src, … fwd_num_pkts, … is_attack)",
}

SCENARIOS = ("normal", "scan_A", "scan_sU", "sparta", "mqtt_bruteforce")
LABEL = "is_attack"

PACKET_COLUMNS = (
    "timestamp", "src_ip", "dst_ip", "protocol", "ttl", "ip_len", "ip_flag_df", "ip_flag_mf",
    "ip_flag_rb", "src_port", "dst_port", "tcp_flag_res", "tcp_flag_ns", "tcp_flag_cwr",
    "tcp_flag_ecn", "tcp_flag_urg", "tcp_flag_ack", "tcp_flag_push", "tcp_flag_reset",
    "tcp_flag_syn", "tcp_flag_fin", "mqtt_messagetype", "mqtt_messagelength", "mqtt_flag_uname",
    "mqtt_flag_passwd", "mqtt_flag_retain", "mqtt_flag_qos", "mqtt_flag_willflag",
    "mqtt_flag_clean", "mqtt_flag_reserved", "is_attack",
)
UNIFLOW_COLUMNS = (
    "ip_src", "ip_dst", "prt_src", "prt_dst", "proto", "num_pkts", "mean_iat", "std_iat",
    "min_iat", "max_iat", "mean_pkt_len", "num_bytes", "num_psh_flags", "num_rst_flags",
    "num_urg_flags", "std_pkt_len", "min_pkt_len", "max_pkt_len", "is_attack",
)
BIFLOW_COLUMNS = (
    "ip_src", "ip_dst", "prt_src", "prt_dst", "proto", "fwd_num_pkts", "bwd_num_pkts",
    "fwd_mean_iat", "bwd_mean_iat", "fwd_std_iat", "bwd_std_iat", "fwd_min_iat", "bwd_min_iat",
    "fwd_max_iat", "bwd_max_iat", "fwd_mean_pkt_len", "bwd_mean_pkt_len", "fwd_std_pkt_len",
    "bwd_std_pkt_len", "fwd_min_pkt_len", "bwd_min_pkt_len", "fwd_max_pkt_len",
    "bwd_max_pkt_len", "fwd_num_bytes", "bwd_num_bytes", "fwd_num_psh_flags",
    "bwd_num_psh_flags", "fwd_num_rst_flags", "bwd_num_rst_flags", "fwd_num_urg_flags",
    "bwd_num_urg_flags", "is_attack",
)
_LEVELS = {"mqtt-packet": PACKET_COLUMNS, "mqtt-uniflow": UNIFLOW_COLUMNS,
           "mqtt-biflow": BIFLOW_COLUMNS}
_STR = {"timestamp", "src_ip", "dst_ip", "protocol", "ip_src", "ip_dst", LABEL}
_PORTS = {"src_port", "dst_port", "prt_src", "prt_dst"}
# Longest first, so that "scan_sU" is not taken for a shorter name.
_SCENARIO_RE = re.compile(
    "|".join(sorted(SCENARIOS, key=len, reverse=True)), flags=re.IGNORECASE
)


def scenario_of(name: str) -> str | None:
    """The scenario a file name carries (``biflow_scan_A.csv`` → ``scan_A``)."""
    match = _SCENARIO_RE.search(name)
    if match is None:
        return None
    return next(s for s in SCENARIOS if s.casefold() == match.group(0).casefold())


def sniff(head: Head) -> Layout | None:
    separator = guess_separator(head.first)
    names = split_header(head, separator)
    if {"fwd_num_pkts", "prt_src"} <= set(names):
        fmt = "mqtt-biflow"
    elif {"num_pkts", "prt_src"} <= set(names):
        fmt = "mqtt-uniflow"
    elif {"ip_len", "mqtt_messagetype"} <= set(names):
        fmt = "mqtt-packet"
    else:
        return None
    if LABEL not in names:
        raise InputError(head.path, f"{fmt} header lacks the label column {LABEL}", line=1)
    check_unique(head.path, names)
    missing = [c for c in _LEVELS[fmt] if c not in names]
    if missing:
        raise InputError(head.path, f"{fmt} header lacks {', '.join(missing)}", line=1)
    scenario = scenario_of(head.path.name)
    if scenario is None:
        raise InputError(
            head.path,
            "cannot tell the MQTT-IoT-IDS2020 scenario: the file name must contain one of "
            f"{', '.join(SCENARIOS)} (as published, e.g. biflow_{SCENARIOS[3]}.csv)",
        )

    def finish(lf: pl.LazyFrame) -> pl.LazyFrame:
        return lf.with_columns(pl.lit(scenario).alias("scenario")).with_columns(
            joined("scenario", LABEL)
        )

    return Layout(
        path=head.path,
        format=fmt,
        source="mqtt",
        separator=separator,
        fields=tuple(names),
        kinds=kinds_of(names, text=_STR, ports=_PORTS) | {"scenario": "str"},
        header_lines=1,
        required=(LABEL,),
        label_columns=("scenario", LABEL),
        finish=finish,
        capture=capture_name(head.path),
    )
