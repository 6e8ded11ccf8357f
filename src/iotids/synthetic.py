"""Synthetic sample files in every native format, for the demo and the tests.

SYNTHETIC DATA: every file written here is named ``synthetic_*`` (or lies in
a ``synthetic_*`` folder) and holds made-up flows, not captured traffic.
They exist so that the whole pipeline runs on a machine without the real
datasets; numbers measured on them say nothing about real detection.

Each IoT-DS-2 class has a traffic *profile* (protocol mix, destination
ports, duration, packets and packet sizes each way, how connections end).
One set of latent flows is drawn per class from its profile and then written
in each format's own columns, so a class looks alike across datasets. The
profiles overlap on purpose: no single column separates the classes, several
together do.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl

from iotids.atomic import atomic_path
from iotids.labels import LABEL_MAP, to_class
from iotids.sources import botiot, iotid20, mqtt
from iotids.sources.iot23 import LABEL_SEP

PREFIX = "synthetic_"


@dataclass(frozen=True)
class Profile:
    """How flows of one class look (means of lognormal draws are medians)."""

    proto: dict[str, float]  # protocol -> probability
    ports: tuple[int, ...]  # destination ports; empty = any port (scans)
    duration: float  # median seconds
    fwd_pkts: float  # median packets from the originator
    bwd_pkts: float  # median packets back (may round to 0)
    fwd_size: float  # median bytes per packet from the originator
    bwd_size: float
    outcome: tuple[float, float, float]  # P(established), P(rejected), P(attempt only)


PROFILES: dict[str, Profile] = {
    "Normal": Profile({"tcp": .6, "udp": .35, "icmp": .03, "arp": .02},
                      (80, 443, 53, 123, 1883, 8080, 5353), 2.0, 6, 5, 120, 300, (.7, .05, .25)),
    "DDoS": Profile({"tcp": .5, "udp": .45, "icmp": .05}, (80, 53, 8080, 23),
                    0.05, 3, 0.5, 80, 60, (.15, .15, .7)),
    "DoS": Profile({"tcp": .55, "udp": .45}, (80, 22, 8080, 53), 0.3, 8, 0.8, 90, 60, (.25, .2, .55)),
    "MITM ARP Spoofing": Profile({"arp": .6, "tcp": .25, "udp": .15}, (80, 443, 53, 554),
                                 5.0, 4, 3, 70, 150, (.6, .05, .35)),
    "Mirai": Profile({"tcp": .95, "udp": .05}, (23, 2323, 22), 3.0, 10, 8, 70, 80, (.6, .3, .1)),
    "MQTT_bruteforce": Profile({"tcp": 1.0}, (1883,), 1.0, 7, 5, 75, 60, (.85, .1, .05)),
    "Sparta": Profile({"tcp": 1.0}, (22,), 4.0, 14, 12, 110, 130, (.85, .1, .05)),
    "Theft": Profile({"tcp": .8, "udp": .1, "arp": .1}, (22, 80, 443, 8080),
                     20.0, 40, 30, 300, 90, (.9, .05, .05)),
    "Attack": Profile({"tcp": .8, "udp": .2}, (23, 80, 8081, 37215, 52869),
                      1.5, 5, 3, 200, 100, (.5, .2, .3)),
    "C&C": Profile({"tcp": .9, "udp": .1}, (6667, 443, 80, 1337), 30.0, 20, 18, 90, 110, (.8, .1, .1)),
    "FileDownload": Profile({"tcp": 1.0}, (80, 443, 8080), 4.0, 40, 50, 70, 1200, (.95, .03, .02)),
    "HeartBeat": Profile({"tcp": .85, "udp": .15}, (6667, 80, 443), 0.8, 3, 2, 70, 70, (.6, 0, .4)),
    "Okiru": Profile({"tcp": .9, "udp": .1}, (37215, 52869, 23), 2.5, 3, 1, 60, 60, (.1, .3, .6)),
    "Reconnaissance": Profile({"tcp": .7, "udp": .2, "icmp": .1}, (), 0.02, 2, 1, 55, 55, (.2, .5, .3)),
    "Port Scan": Profile({"tcp": .75, "udp": .25}, (), 0.5, 1.5, 0.3, 60, 55, (.05, .25, .7)),
    "Torii": Profile({"tcp": 1.0}, (443, 993, 995), 60.0, 12, 10, 150, 200, (.9, .05, .05)),
    "Flood": Profile({"udp": .5, "tcp": .5}, (80, 53, 8080), 0.01, 30, 0.2, 500, 60, (.1, 0, .9)),
}

SPREAD = 0.8  # sd of the lognormal draws: wide enough that classes overlap
LAN = [f"192.168.1.{i}" for i in range(2, 40)]
WAN = [f"{a}.{b}.{c}.{d}" for a, b, c, d in
       [(104, 24, 96, 120), (185, 244, 25, 235), (89, 221, 210, 188), (8, 8, 8, 8),
        (172, 217, 25, 138), (151, 101, 1, 69), (52, 94, 236, 248), (13, 107, 4, 52)]]
START = 1_560_000_000.0  # 2019-06-08, in the datasets' collection period


@dataclass
class Flows:
    """Latent flows, one entry per flow; every format derives its columns from these."""

    label: list[str]  # source label text, e.g. "Malicious/C&C"
    cls: list[str]  # IoT-DS-2 class
    proto: np.ndarray
    src: np.ndarray
    dst: np.ndarray
    sport: np.ndarray
    dport: np.ndarray
    ts: np.ndarray
    duration: np.ndarray
    fwd_pkts: np.ndarray
    bwd_pkts: np.ndarray
    fwd_bytes: np.ndarray
    bwd_bytes: np.ndarray
    outcome: np.ndarray  # 0 established, 1 rejected, 2 attempt only

    def __len__(self) -> int:
        return len(self.label)


def draw(rng: np.random.Generator, labels: Sequence[str], source: str, rows: int) -> Flows:
    """``rows`` latent flows for each source label in ``labels`` (shuffled)."""
    parts = []
    for label in labels:
        cls = to_class(source, label)
        assert cls is not None, f"{source} label {label!r} has no class"
        parts.append(_draw_class(rng, PROFILES[cls], rows) | {"label": [label] * rows,
                                                              "cls": [cls] * rows})
    merged = {key: _concat([p[key] for p in parts]) for key in parts[0]}
    order = rng.permutation(len(merged["label"]))
    return Flows(**{key: _take(value, order) for key, value in merged.items()})


def _concat(values: list) -> list | np.ndarray:
    return sum(values, []) if isinstance(values[0], list) else np.concatenate(values)


def _take(value: list | np.ndarray, order: np.ndarray) -> list | np.ndarray:
    return [value[i] for i in order] if isinstance(value, list) else value[order]


def _lognormal(rng: np.random.Generator, median: float, n: int) -> np.ndarray:
    return rng.lognormal(math.log(max(median, 1e-6)), SPREAD, n)


def _draw_class(rng: np.random.Generator, p: Profile, n: int) -> dict[str, np.ndarray]:
    protos = list(p.proto)
    proto = rng.choice(protos, size=n, p=np.array([p.proto[k] for k in protos]) / sum(p.proto.values()))
    ports = rng.choice(p.ports, size=n) if p.ports else rng.integers(1, 65536, size=n)
    dport = np.where(np.isin(proto, ["arp", "icmp"]), 0, ports)
    outcome = rng.choice(3, size=n, p=np.array(p.outcome) / sum(p.outcome))
    fwd_pkts = np.maximum(1, np.round(_lognormal(rng, p.fwd_pkts, n))).astype(np.int64)
    bwd_pkts = np.floor(_lognormal(rng, p.bwd_pkts, n)).astype(np.int64)
    bwd_pkts = np.where(outcome == 2, 0, np.where(outcome == 1, np.minimum(bwd_pkts, 1), bwd_pkts))
    fwd_size = np.clip(_lognormal(rng, p.fwd_size, n), 42, 1500)
    bwd_size = np.clip(_lognormal(rng, p.bwd_size, n), 42, 1500)
    duration = np.where(fwd_pkts + bwd_pkts > 1, _lognormal(rng, p.duration, n), 0.0)
    return {
        "proto": proto,
        "src": rng.choice(LAN, size=n),
        "dst": rng.choice(LAN + WAN, size=n),
        "sport": np.where(np.isin(proto, ["arp", "icmp"]), 0, rng.integers(1024, 65536, size=n)),
        "dport": dport,
        "ts": START + np.sort(rng.uniform(0, 6 * 3600, size=n)),
        "duration": np.round(duration, 6),
        "fwd_pkts": fwd_pkts,
        "bwd_pkts": bwd_pkts,
        "fwd_bytes": np.round(fwd_pkts * fwd_size).astype(np.int64),
        "bwd_bytes": np.round(bwd_pkts * bwd_size).astype(np.int64),
        "outcome": outcome,
    }


# --- writers, one per native format ----------------------------------------------


def write_csv(path: Path, header: Sequence[str], rows: list[list], *, separator: str = ",",
              quote_strings: bool = False, header_row: bool = True) -> Path:
    """Write rows atomically; strings quoted (and the header) when ``quote_strings``."""
    with atomic_path(path) as tmp, tmp.open("w", newline="", encoding="utf-8") as handle:
        quoting = csv.QUOTE_NONNUMERIC if quote_strings else csv.QUOTE_MINIMAL
        writer = csv.writer(handle, delimiter=separator, quoting=quoting, lineterminator="\n")
        if header_row:
            writer.writerow(header)
        writer.writerows(rows)
    return path


_ARGUS_STATE = {0: "FIN", 1: "RST", 2: "REQ"}
_ARGUS_STATE_OTHER = {"udp": ("CON", "INT", "INT"), "arp": ("CON", "INT", "INT"),
                      "icmp": ("ECO", "URP", "ECO")}


def _argus_columns(f: Flows, i: int) -> dict[str, object]:
    proto = str(f.proto[i])
    state = (_ARGUS_STATE[int(f.outcome[i])] if proto == "tcp"
             else _ARGUS_STATE_OTHER[proto][int(f.outcome[i])])
    dur = float(f.duration[i])
    pkts = int(f.fwd_pkts[i] + f.bwd_pkts[i])
    category, sub = f.label[i].split("/")
    port = (lambda v: "0x%04x" % v) if proto in ("arp", "icmp") else str  # noqa: UP031
    return {
        "stime": round(float(f.ts[i]), 6), "flgs": "e", "proto": proto, "saddr": str(f.src[i]),
        "sport": port(int(f.sport[i])), "dir": "->" if f.bwd_pkts[i] == 0 else "<->",
        "daddr": str(f.dst[i]), "dport": port(int(f.dport[i])), "pkts": pkts,
        "bytes": int(f.fwd_bytes[i] + f.bwd_bytes[i]), "state": state, "srcid": "0.0.0.0",
        "ltime": round(float(f.ts[i]) + dur, 6), "seq": i + 1, "dur": dur,
        "mean": round(dur / max(pkts, 1), 6), "stddev": round(dur / max(pkts, 1) / 3, 6),
        "smac": "", "dmac": "", "sum": dur, "min": 0.0, "max": dur,
        "soui": "", "doui": "", "sco": "", "dco": "",
        "spkts": int(f.fwd_pkts[i]), "dpkts": int(f.bwd_pkts[i]),
        "sbytes": int(f.fwd_bytes[i]), "dbytes": int(f.bwd_bytes[i]),
        "rate": round(pkts / dur, 6) if dur else 0.0,
        "srate": round(int(f.fwd_pkts[i]) / dur, 6) if dur else 0.0,
        "drate": round(int(f.bwd_pkts[i]) / dur, 6) if dur else 0.0,
        "record": "", "attack": 0 if category == "Normal" else 1,
        "category": category, "subcategory": sub,
    }


def write_botiot(out: Path, rng: np.random.Generator, rows: int) -> list[Path]:
    labels = list(LABEL_MAP["botiot"])
    # Per-attack layout: ';'-separated, strings quoted, 37 columns.
    argus = draw(rng, labels, "botiot", rows)
    records = [_argus_columns(argus, i) for i in range(len(argus))]
    per_attack = write_csv(out / f"{PREFIX}botiot_per_attack.csv", botiot.ARGUS_COLUMNS,
                           [[r[c] for c in botiot.ARGUS_COLUMNS] for r in records],
                           separator=";", quote_strings=True)
    # "5%" layout: ',' and engineered per-address statistics over the whole file.
    full = draw(rng, labels, "botiot", rows)
    table = pl.DataFrame([_argus_columns(full, i) for i in range(len(full))])
    table = table.with_columns(
        pl.int_range(1, pl.len() + 1).alias("pkSeqID"),
        pl.col("flgs").replace_strict({"e": 1}, default=2).alias("flgs_number"),
        pl.col("proto").replace_strict({"tcp": 1, "arp": 2, "udp": 3, "icmp": 4}).alias("proto_number"),
        pl.col("state").rank("dense").cast(pl.Int64).alias("state_number"),
        pl.col("bytes").sum().over("saddr").alias("TnBPSrcIP"),
        pl.col("bytes").sum().over("daddr").alias("TnBPDstIP"),
        pl.col("pkts").sum().over("saddr").alias("TnP_PSrcIP"),
        pl.col("pkts").sum().over("daddr").alias("TnP_PDstIP"),
        pl.col("pkts").sum().over("proto").alias("TnP_PerProto"),
        pl.col("pkts").sum().over("dport").alias("TnP_Per_Dport"),
        pl.col("rate").mean().over("proto", "saddr").round(6).alias("AR_P_Proto_P_SrcIP"),
        pl.col("rate").mean().over("proto", "daddr").round(6).alias("AR_P_Proto_P_DstIP"),
        pl.len().over("daddr").alias("N_IN_Conn_P_DstIP"),
        pl.len().over("saddr").alias("N_IN_Conn_P_SrcIP"),
        pl.col("rate").mean().over("proto", "sport").round(6).alias("AR_P_Proto_P_Sport"),
        pl.col("rate").mean().over("proto", "dport").round(6).alias("AR_P_Proto_P_Dport"),
        pl.col("pkts").sum().over("state", "proto", "daddr").alias("Pkts_P_State_P_Protocol_P_DestIP"),
        pl.col("pkts").sum().over("state", "proto", "saddr").alias("Pkts_P_State_P_Protocol_P_SrcIP"),
    ).select(botiot.FULL_COLUMNS)
    five = write_csv(out / f"{PREFIX}botiot_5pc.csv", botiot.FULL_COLUMNS, table.rows())
    return [per_attack, five]


def write_iotid20(out: Path, rng: np.random.Generator, rows: int) -> list[Path]:
    f = draw(rng, list(LABEL_MAP["iotid20"]), "iotid20", rows)
    records = []
    for i in range(len(f)):
        cat, sub = f.label[i].split("/")
        records.append(_cic_columns(f, i, rng) | {
            "Label": "Normal" if cat == "Normal" else "Anomaly", "Cat": cat, "Sub_Cat": sub,
        })
    header = iotid20.IOTID20_COLUMNS
    return [write_csv(out / f"{PREFIX}iotid20.csv", header,
                      [[r.get(c, 0) for c in header] for r in records])]


def _cic_columns(f: Flows, i: int, rng: np.random.Generator) -> dict[str, object]:
    """CICFlowMeter statistics of one latent flow (durations in microseconds)."""
    proto = {"tcp": 6, "udp": 17}.get(str(f.proto[i]), 0)
    fwd, bwd = int(f.fwd_pkts[i]), int(f.bwd_pkts[i])
    fwd_bytes, bwd_bytes = int(f.fwd_bytes[i]), int(f.bwd_bytes[i])
    micros = int(round(float(f.duration[i]) * 1e6))
    fwd_mean = fwd_bytes / fwd
    bwd_mean = bwd_bytes / bwd if bwd else 0.0
    pkts = fwd + bwd
    iat = micros / (pkts - 1) if pkts > 1 else 0.0
    jitter = float(rng.uniform(0.05, 0.4))
    when = datetime.fromtimestamp(float(f.ts[i]), UTC)
    src, dst, sport, dport = str(f.src[i]), str(f.dst[i]), int(f.sport[i]), int(f.dport[i])
    established = int(f.outcome[i]) == 0
    # Zero-duration flows: CICFlowMeter writes Infinity in the rate columns.
    rate = (lambda v: round(v / micros * 1e6, 6)) if micros else (lambda v: "Infinity")
    return {
        "Flow_ID": f"{src}-{dst}-{sport}-{dport}-{proto}", "Src_IP": src, "Src_Port": sport,
        "Dst_IP": dst, "Dst_Port": dport, "Protocol": proto,
        "Timestamp": when.strftime("%d/%m/%Y %I:%M:%S %p"),
        "Flow_Duration": micros, "Tot_Fwd_Pkts": fwd, "Tot_Bwd_Pkts": bwd,
        "TotLen_Fwd_Pkts": float(fwd_bytes), "TotLen_Bwd_Pkts": float(bwd_bytes),
        "Fwd_Pkt_Len_Max": round(fwd_mean * (1 + jitter), 6), "Fwd_Pkt_Len_Min": round(fwd_mean * (1 - jitter), 6),
        "Fwd_Pkt_Len_Mean": round(fwd_mean, 6), "Fwd_Pkt_Len_Std": round(fwd_mean * jitter / 2, 6),
        "Bwd_Pkt_Len_Max": round(bwd_mean * (1 + jitter), 6), "Bwd_Pkt_Len_Min": round(bwd_mean * (1 - jitter), 6),
        "Bwd_Pkt_Len_Mean": round(bwd_mean, 6), "Bwd_Pkt_Len_Std": round(bwd_mean * jitter / 2, 6),
        "Flow_Byts/s": rate(fwd_bytes + bwd_bytes), "Flow_Pkts/s": rate(pkts),
        "Flow_IAT_Mean": round(iat, 6), "Flow_IAT_Std": round(iat * jitter, 6),
        "Flow_IAT_Max": round(iat * (1 + jitter), 6), "Flow_IAT_Min": round(iat * (1 - jitter), 6),
        "Fwd_IAT_Tot": float(micros if fwd > 1 else 0), "Fwd_IAT_Mean": round(micros / max(fwd - 1, 1), 6),
        "Bwd_IAT_Tot": float(micros if bwd > 1 else 0),
        "Bwd_IAT_Mean": round(micros / (bwd - 1), 6) if bwd > 1 else 0.0,
        "Fwd_Header_Len": fwd * (32 if proto == 6 else 8), "Bwd_Header_Len": bwd * (32 if proto == 6 else 8),
        "Fwd_Pkts/s": rate(fwd), "Bwd_Pkts/s": rate(bwd),
        "Pkt_Len_Min": round(min(fwd_mean, bwd_mean or fwd_mean) * (1 - jitter), 6),
        "Pkt_Len_Max": round(max(fwd_mean, bwd_mean) * (1 + jitter), 6),
        "Pkt_Len_Mean": round((fwd_bytes + bwd_bytes) / pkts, 6),
        "Pkt_Len_Std": round(abs(fwd_mean - bwd_mean) / 2, 6),
        "Pkt_Len_Var": round((fwd_mean - bwd_mean) ** 2 / 4, 6),
        "FIN_Flag_Cnt": int(established and proto == 6), "SYN_Flag_Cnt": int(proto == 6),
        "RST_Flag_Cnt": int(int(f.outcome[i]) == 1 and proto == 6),
        "PSH_Flag_Cnt": int(established and proto == 6 and pkts > 3),
        "ACK_Flag_Cnt": int(bwd > 0 and proto == 6),
        "Down/Up_Ratio": float(bwd // fwd), "Pkt_Size_Avg": round((fwd_bytes + bwd_bytes) / pkts, 6),
        "Fwd_Seg_Size_Avg": round(fwd_mean, 6), "Bwd_Seg_Size_Avg": round(bwd_mean, 6),
        "Subflow_Fwd_Pkts": fwd, "Subflow_Fwd_Byts": fwd_bytes,
        "Subflow_Bwd_Pkts": bwd, "Subflow_Bwd_Byts": bwd_bytes,
        "Init_Fwd_Win_Byts": -1, "Init_Bwd_Win_Byts": 14600 if bwd and proto == 6 else -1,
        "Fwd_Act_Data_Pkts": fwd, "Idle_Mean": float(micros), "Idle_Max": float(micros),
        "Idle_Min": float(micros),
    }


def _mqtt_flow(f: Flows, i: int, rng: np.random.Generator, prefix: str, forward: bool) -> dict:
    """Uniflow statistics of one direction (biflow uses both with fwd_/bwd_)."""
    pkts = int(f.fwd_pkts[i] if forward else f.bwd_pkts[i])
    size = int(f.fwd_bytes[i] if forward else f.bwd_bytes[i])
    mean_len = size / pkts if pkts else 0.0
    iat = float(f.duration[i]) / (pkts - 1) if pkts > 1 else 0.0
    jitter = float(rng.uniform(0.05, 0.4))
    tcp = str(f.proto[i]) == "tcp"
    return {
        f"{prefix}num_pkts": pkts, f"{prefix}mean_iat": round(iat, 9),
        f"{prefix}std_iat": round(iat * jitter, 9), f"{prefix}min_iat": round(iat * (1 - jitter), 9),
        f"{prefix}max_iat": round(iat * (1 + jitter), 9), f"{prefix}mean_pkt_len": round(mean_len, 6),
        f"{prefix}num_bytes": size,
        f"{prefix}num_psh_flags": int(tcp and pkts > 2) * (pkts // 3),
        f"{prefix}num_rst_flags": int(tcp and int(f.outcome[i]) == 1),
        f"{prefix}num_urg_flags": 0, f"{prefix}std_pkt_len": round(mean_len * jitter / 2, 6),
        f"{prefix}min_pkt_len": int(mean_len * (1 - jitter)), f"{prefix}max_pkt_len": int(mean_len * (1 + jitter)),
    }


def write_mqtt(out: Path, rng: np.random.Generator, rows: int) -> list[Path]:
    written = []
    for scenario in mqtt.SCENARIOS:
        labels = [f"{scenario}/0"] + ([f"{scenario}/1"] if scenario != "normal" else [])
        f = draw(rng, labels, "mqtt", rows)
        ends = [{"ip_src": str(f.src[i]), "ip_dst": str(f.dst[i]), "prt_src": int(f.sport[i]),
                 "prt_dst": int(f.dport[i]), "proto": 17 if str(f.proto[i]) == "udp" else 6,
                 "is_attack": int(f.label[i].endswith("/1"))} for i in range(len(f))]
        uni = [ends[i] | _mqtt_flow(f, i, rng, "", True) for i in range(len(f))]
        bi = [ends[i] | _mqtt_flow(f, i, rng, "fwd_", True) | _mqtt_flow(f, i, rng, "bwd_", False)
              for i in range(len(f))]
        written.append(write_csv(out / f"{PREFIX}uniflow_{scenario}.csv", mqtt.UNIFLOW_COLUMNS,
                                 [[r[c] for c in mqtt.UNIFLOW_COLUMNS] for r in uni]))
        written.append(write_csv(out / f"{PREFIX}biflow_{scenario}.csv", mqtt.BIFLOW_COLUMNS,
                                 [[r[c] for c in mqtt.BIFLOW_COLUMNS] for r in bi]))
        written.append(write_csv(out / f"{PREFIX}{scenario}.csv", mqtt.PACKET_COLUMNS,
                                 _mqtt_packets(f, rng)))
    return written


def _mqtt_packets(f: Flows, rng: np.random.Generator, per_flow: int = 3) -> list[list]:
    """Packet rows for the first packets of each flow; the header repeats midway,
    as in the published packet CSVs."""
    rows: list[list] = []
    for i in range(len(f)):
        proto = str(f.proto[i])
        mqtt_port = int(f.dport[i]) == 1883
        for k in range(min(per_flow, int(f.fwd_pkts[i] + f.bwd_pkts[i]))):
            forward = k % 2 == 0 or f.bwd_pkts[i] == 0
            size = int(f.fwd_bytes[i] / f.fwd_pkts[i]) if forward else int(
                f.bwd_bytes[i] / max(int(f.bwd_pkts[i]), 1))
            stamp = datetime.fromtimestamp(float(f.ts[i]) + k * 0.01, UTC)
            tcp = proto == "tcp"
            flags = ["0"] * 10 if tcp else [""] * 10
            if tcp:
                flags[8] = "1" if k == 0 else "0"  # syn
                flags[5] = "0" if k == 0 else "1"  # ack
                flags[7] = "1" if int(f.outcome[i]) == 1 and k == 1 else "0"  # reset
            mqtt_cols = ([str(1 if k == 0 else 3), str(max(size - 54, 0)), *(
                [str(int(rng.random() < 0.5))] * 2), "0", "0", "0", "1", "0"]
                if tcp and mqtt_port and k < 2 else [""] * 9)
            src, dst = (f.src[i], f.dst[i]) if forward else (f.dst[i], f.src[i])
            sport, dport = (f.sport[i], f.dport[i]) if forward else (f.dport[i], f.sport[i])
            rows.append([
                stamp.strftime("%m/%d/%Y, %H:%M:%S:%f"), str(src), str(dst),
                "MQTT" if mqtt_cols[0] else proto.upper(), int(rng.choice([64, 128])), size,
                1, 0, 0, int(sport) if tcp or proto == "udp" else "",
                int(dport) if tcp or proto == "udp" else "", *flags, *mqtt_cols,
                int(f.label[i].endswith("/1")),
            ])
        if i == len(f) // 2:
            rows.append(list(mqtt.PACKET_COLUMNS))
    return rows


_ZEEK_HEADER = (
    "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tconn\n"
    "#open\t2019-06-08-12-00-00\n"
)
ZEEK_FIELDS = ("ts", "uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "proto",
               "service", "duration", "orig_bytes", "resp_bytes", "conn_state", "local_orig",
               "local_resp", "missed_bytes", "history", "orig_pkts", "orig_ip_bytes",
               "resp_pkts", "resp_ip_bytes")
ZEEK_TYPES = ("time", "string", "addr", "port", "addr", "port", "enum", "string", "interval",
              "count", "count", "string", "bool", "bool", "count", "string", "count", "count",
              "count", "count")
_SERVICE = {80: "http", 8080: "http", 53: "dns", 6667: "irc", 443: "ssl", 22: "ssh", 123: "ntp"}
_ZEEK_STATE = {("tcp", 0): ("SF", "ShADadfF"), ("tcp", 1): ("REJ", "Sr"), ("tcp", 2): ("S0", "S")}
_B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def zeek_conn_lines(f: Flows, rng: np.random.Generator, *, labeled: bool, tabs: bool) -> list[str]:
    """Zeek conn.log data lines of the latent flows (labels in IoT-23's two layouts)."""
    lines = []
    for i in range(len(f)):
        proto = "udp" if str(f.proto[i]) == "udp" else ("icmp" if str(f.proto[i]) in ("icmp", "arp") else "tcp")
        answered = ("SF", "Dd") if f.bwd_pkts[i] else ("S0", "D")
        state, history = _ZEEK_STATE.get((proto, int(f.outcome[i])), answered)
        single = f.fwd_pkts[i] + f.bwd_pkts[i] <= 1
        uid = "C" + "".join(rng.choice(list(_B62), 17))
        fields = [
            f"{float(f.ts[i]):.6f}", uid, str(f.src[i]), str(int(f.sport[i])), str(f.dst[i]),
            str(int(f.dport[i])), proto, _SERVICE.get(int(f.dport[i]), "-") if f.bwd_pkts[i] else "-",
            "-" if single else f"{float(f.duration[i]):.6f}",
            "-" if single else str(max(int(f.fwd_bytes[i]) - 40 * int(f.fwd_pkts[i]), 0)),
            "-" if single else str(max(int(f.bwd_bytes[i]) - 40 * int(f.bwd_pkts[i]), 0)),
            state, "-", "-", "0", history, str(int(f.fwd_pkts[i])), str(int(f.fwd_bytes[i])),
            str(int(f.bwd_pkts[i])), str(int(f.bwd_bytes[i])),
        ]
        if labeled:
            label, detail = f.label[i].split("/", 1)
            tail = ["-", label, detail]
            line = "\t".join(fields + tail) if tabs else "\t".join(fields + [LABEL_SEP.join(tail)])
        else:
            line = "\t".join(fields + ["-"])
        lines.append(line)
    return lines


def write_zeek(path: Path, f: Flows, rng: np.random.Generator, *, labeled: bool = True,
               tabs: bool = False, newline: str = "\n") -> Path:
    """A complete conn.log(.labeled) with the Zeek header and footer lines."""
    if labeled and tabs:
        names = [*ZEEK_FIELDS, "tunnel_parents", "label", "det_label"]
        types = [*ZEEK_TYPES, "set[string]", "string", "string"]
    elif labeled:
        names = [*ZEEK_FIELDS, LABEL_SEP.join(("tunnel_parents", "label", "detailed-label"))]
        types = [*ZEEK_TYPES, LABEL_SEP.join(("set[string]", "string", "string"))]
    else:
        names, types = [*ZEEK_FIELDS, "tunnel_parents"], [*ZEEK_TYPES, "set[string]"]
    lines = [*_ZEEK_HEADER.splitlines(), "#fields\t" + "\t".join(names), "#types\t" + "\t".join(types),
             *zeek_conn_lines(f, rng, labeled=labeled, tabs=tabs), "#close\t2019-06-08-18-00-00"]
    with atomic_path(path) as tmp:
        tmp.write_bytes((newline.join(lines) + newline).encode("utf-8"))
    return path


def write_iot23(out: Path, rng: np.random.Generator, rows: int, captures: int = 3) -> list[Path]:
    """IoT-23 captures: the archive layout (three spaces), the per-scenario
    layout (tabs, ``det_label``), and one copy with CRLF line ends."""
    written = []
    labels = list(LABEL_MAP["iot23"])
    for k in range(captures):
        f = draw(rng, labels, "iot23", max(1, rows // 2))
        path = out / f"{PREFIX}iot23" / f"CTU-IoT-Synthetic-Capture-{k + 1}-1" / "bro" / "conn.log.labeled"
        written.append(write_zeek(path, f, rng, tabs=k == 1, newline="\r\n" if k == 2 else "\n"))
    return written


def generate(out_dir: str | Path, *, seed: int = 0, rows: int = 200) -> list[Path]:
    """Write every synthetic sample file under ``out_dir``; return their paths.

    ``rows`` is the number of flows per source label and file (IoT-23
    captures get half as many, three captures in all).
    """
    if rows < 1:
        raise ValueError("rows must be at least 1")
    out = Path(out_dir)
    rng = np.random.default_rng(seed)
    files = [
        *write_botiot(out, rng, rows),
        *write_iotid20(out, rng, rows),
        *write_mqtt(out, rng, rows),
        *write_iot23(out, rng, rows),
    ]
    readme = out / "README.txt"
    with atomic_path(readme) as tmp:
        tmp.write_text(
            "SYNTHETIC DATA made by `iotids demo-data` (seed "
            f"{seed}, {rows} rows per label and file).\n"
            "These files imitate the native formats of BoT-IoT, IoTID20, MQTT-IoT-IDS2020 and\n"
            "IoT-23 but hold made-up flows. Results on them say nothing about real traffic.\n",
            encoding="utf-8",
        )
    return files
