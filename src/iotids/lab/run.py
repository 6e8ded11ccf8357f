"""``iotids lab run``: scenarios on the testbed → pcaps → flows → labelled datasets.

Per scenario, under OUT/<scenario>/:
  capture.pcap                        tcpdump on the lab's bridge
  argus_<scenario>.csv                Argus flows in BoT-IoT's per-attack layout (';', attack/category/subcategory)
  cic_<scenario>.csv                  NFStream flows in IoTID20's CICFlowMeter layout (Label, Cat, Sub_Cat)
  biflow_<mqtt scenario>.csv          NFStream flows as MQTT-IoT-IDS2020 biflow features (is_attack)
(each only where the scenario has a label in that dataset's vocabulary), and
OUT/manifest.json: tools and versions, the schedule, packets, flows and label counts.

Labels come from the schedule, never from a heuristic: the attacker host
only attacks, so a flow is an attack flow when the attacker's address (or,
for ARP spoofing, its MAC address) is one of its endpoints; every other
flow is benign background traffic.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import polars as pl

from iotids.atomic import atomic_path, write_json
from iotids.errors import IotidsError
from iotids.flowmeter import Timeouts, check_capture, measure
from iotids.lab.scenarios import SCENARIOS, start_benign
from iotids.lab.testbed import Testbed, address, mac, stop
from iotids.schema import cic_from_nfstream
from iotids.sources import read
from iotids.sources.botiot import ARGUS_COLUMNS
from iotids.sources.iotid20 import IOTID20_COLUMNS
from iotids.sources.mqtt import BIFLOW_COLUMNS
from iotids.synthetic import write_csv

TOOLS = {  # tool -> (Debian package, how to print its version)
    "ip": ("iproute2", ["ip", "-V"]),
    "tcpdump": ("tcpdump", ["tcpdump", "--version"]),
    "mosquitto": ("mosquitto", ["mosquitto", "-h"]),
    "mosquitto_passwd": ("mosquitto", None),
    "nmap": ("nmap", ["nmap", "--version"]),
    "hping3": ("hping3", ["hping3", "-v"]),
    "sshd": ("openssh-server", ["/usr/sbin/sshd", "-V"]),
    "ssh": ("openssh-client", ["ssh", "-V"]),
    "ssh-keygen": ("openssh-client", None),
    "argus": ("argus-server", None),
    "ra": ("argus-client", ["ra", "-h"]),
}
PYTHON_MODULES = {"paho.mqtt": "paho-mqtt", "scapy": "scapy", "nfstream": "nfstream"}
WARMUP, COOLDOWN = 3.0, 3.0  # seconds of benign traffic before and after each attack


def check() -> list[tuple[str, bool, str]]:
    """(requirement, present, how to install) for everything the lab uses."""
    import importlib.util
    import os

    rows = [("root (network namespaces)", os.geteuid() == 0, "run as root or with sudo")]
    rows += [(tool, shutil.which(tool, path=f"{os.environ.get('PATH', '')}:/usr/sbin:/sbin") is not None,
              f"apt-get install {package}")
             for tool, (package, _) in TOOLS.items()]
    rows += [(f"python: {module}", importlib.util.find_spec(module.split(".")[0]) is not None, f"pip install {pip}")
             for module, pip in PYTHON_MODULES.items()]
    return rows


def _require() -> None:
    missing = [(name, how) for name, present, how in check() if not present]
    if missing:
        raise IotidsError("the lab lacks " + "; ".join(f"{name} ({how})" for name, how in missing)
                          + " — `iotids lab check` lists everything, `make lab-tools` installs it")


def run_lab(out_dir: str | Path, scenarios: list[str], seconds: float = 10.0, seed: int = 0,
            progress: Callable[[str], None] = lambda line: None) -> dict:
    unknown = [s for s in scenarios if s not in SCENARIOS]
    if unknown or not scenarios:
        raise IotidsError(f"unknown scenario(s) {', '.join(unknown) or 'none given'}; "
                          f"choose from: {', '.join(SCENARIOS)}")
    if not 1 <= seconds <= 600:
        raise IotidsError("--seconds must be between 1 and 600")
    _require()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    manifest: dict = {"format_version": 1, "kind": "iotids.lab", "seed": seed, "seconds": seconds,
                      "hosts": {h: {"address": address(h), "mac": mac(h)} for h in
                                ("broker", "sensor1", "sensor2", "sensor3", "camera", "gateway", "attacker")},
                      "tools": _versions(), "scenarios": {}}
    with tempfile.TemporaryDirectory(prefix="iotids-lab-") as scratch, Testbed() as bed:
        progress("starting the testbed: broker, camera, three sensors")
        start_benign(bed, Path(scratch), seed)
        time.sleep(WARMUP)
        for name in scenarios:
            folder = out / name
            folder.mkdir(parents=True, exist_ok=True)
            progress(f"{name}: {SCENARIOS[name].what}")
            manifest["scenarios"][name] = _run_scenario(bed, name, folder, seconds, seed)
    for name in scenarios:
        progress(f"{name}: measuring flows (Argus, NFStream) and labelling them")
        manifest["scenarios"][name] |= _datasets(name, out / name, manifest["scenarios"][name])
    write_json(out / "manifest.json", manifest)
    return manifest


def _run_scenario(bed: Testbed, name: str, folder: Path, seconds: float, seed: int) -> dict:
    scenario = SCENARIOS[name]
    pcap = folder / "capture.pcap"
    capture = bed.start("switch", "tcpdump", "-i", "br0", "-U", "-w", str(pcap), log=folder / "tcpdump.log")
    time.sleep(WARMUP)
    started = time.time()
    if scenario.attack is None:
        time.sleep(seconds)
    else:
        scenario.attack(bed, seconds, seed, folder / "attack.log")
    ended = time.time()
    time.sleep(COOLDOWN)
    stop(capture)
    return {"what": scenario.what, "attack_window": [round(started, 3), round(ended, 3)] if scenario.attack
            else None, "attacker": address("attacker") if scenario.attack else None,
            "packets": check_capture(pcap)}


def _datasets(name: str, folder: Path, record: dict) -> dict:
    scenario = SCENARIOS[name]
    pcap = folder / "capture.pcap"
    files: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="iotids-lab-flows-") as scratch:
        argus = measure(pcap, Path(scratch) / "argus.csv", "argus", Timeouts())
        nfstream = measure(pcap, Path(scratch) / "nfstream.csv", "nfstream", Timeouts())
        argus_rows = read(argus).collect()
        nf_rows = read(nfstream).collect()
    attacker, attacker_mac = address("attacker"), mac("attacker")
    argus_attack = (pl.col("saddr") == attacker) | (pl.col("daddr") == attacker)
    nf_attack = (pl.col("src_ip") == attacker) | (pl.col("dst_ip") == attacker)
    if name == "arp-spoof":  # relayed traffic carries the attacker's MAC, not its address
        nf_attack = nf_attack | (pl.col("src_mac") == attacker_mac) | (pl.col("dst_mac") == attacker_mac)
    argus_rows = argus_rows.with_columns(argus_attack.fill_null(False).alias("_attack"))
    nf_rows = nf_rows.with_columns(nf_attack.fill_null(False).alias("_attack"))
    if scenario.attack is None:
        argus_rows = argus_rows.with_columns(pl.lit(False).alias("_attack"))
        nf_rows = nf_rows.with_columns(pl.lit(False).alias("_attack"))
    if scenario.botiot:
        path = folder / f"argus_{name.replace('-', '_')}.csv"
        files[path.name] = _write_botiot(argus_rows, scenario.botiot, path)
    if scenario.iotid20:
        path = folder / f"cic_{name.replace('-', '_')}.csv"
        files[path.name] = _write_iotid20(nf_rows, scenario.iotid20, path)
    if scenario.mqtt:
        path = folder / f"biflow_{scenario.mqtt}.csv"
        files[path.name] = _write_biflow(nf_rows, path)
    return {"flows": {"argus": argus_rows.height, "nfstream": nf_rows.height},
            "attack_flows": {"argus": int(argus_rows["_attack"].sum()), "nfstream": int(nf_rows["_attack"].sum())},
            "files": files}


def _counts(labels: list[str]) -> dict[str, int]:
    return dict(sorted(Counter(labels).items()))


def _write_botiot(rows: pl.DataFrame, attack_label: str, path: Path) -> dict:
    """BoT-IoT's per-attack layout: its 37 Argus columns, ';'-separated, quoted."""
    labels = [attack_label if a else "Normal/Normal" for a in rows["_attack"]]
    data = []
    for record, label in zip(rows.iter_rows(named=True), labels, strict=True):
        category, subcategory = label.split("/")
        values = {**record, "dir": "->", "srcid": "", "record": "", "attack": int(label != "Normal/Normal"),
                  "category": category, "subcategory": subcategory}
        data.append(["" if values.get(c) is None else values.get(c, "") for c in ARGUS_COLUMNS])
    write_csv(path, ARGUS_COLUMNS, data, separator=";", quote_strings=True)
    return {"format": "botiot-argus", "rows": len(data), "labels": _counts(labels)}


def _write_iotid20(rows: pl.DataFrame, attack_label: str, path: Path) -> dict:
    """IoTID20's 86 columns: CICFlowMeter-style values computed from NFStream
    (docs/flowmeter.md); the columns NFStream has nothing for are 0."""
    labels = [attack_label if a else "Normal/Normal" for a in rows["_attack"]]
    cic = rows.select(cic_from_nfstream()).to_dicts()
    data = []
    for record, computed, label in zip(rows.iter_rows(named=True), cic, labels, strict=True):
        cat, sub = label.split("/")
        stamp = time.strftime("%d/%m/%Y %I:%M:%S %p", time.gmtime(record["bidirectional_first_seen_ms"] / 1000))
        values = {**computed,
                  "Flow_ID": f"{record['src_ip']}-{record['dst_ip']}-{record['src_port']}-{record['dst_port']}-"
                             f"{record['protocol']}",
                  "Src_IP": record["src_ip"], "Src_Port": record["src_port"], "Dst_IP": record["dst_ip"],
                  "Dst_Port": record["dst_port"], "Protocol": record["protocol"], "Timestamp": stamp,
                  "Label": "Normal" if cat == "Normal" else "Anomaly", "Cat": cat, "Sub_Cat": sub}
        data.append([values.get(c, 0) for c in IOTID20_COLUMNS])
    write_csv(path, IOTID20_COLUMNS, data)
    return {"format": "iotid20-cic", "rows": len(data), "labels": _counts(labels)}


def _write_biflow(rows: pl.DataFrame, path: Path) -> dict:
    """MQTT-IoT-IDS2020's biflow features from NFStream (times in seconds)."""
    def side(prefix: str, nf: str) -> dict[str, pl.Expr]:
        return {f"{prefix}_num_pkts": pl.col(f"{nf}_packets"),
                f"{prefix}_mean_iat": pl.col(f"{nf}_mean_piat_ms") / 1e3,
                f"{prefix}_std_iat": pl.col(f"{nf}_stddev_piat_ms") / 1e3,
                f"{prefix}_min_iat": pl.col(f"{nf}_min_piat_ms") / 1e3,
                f"{prefix}_max_iat": pl.col(f"{nf}_max_piat_ms") / 1e3,
                f"{prefix}_mean_pkt_len": pl.col(f"{nf}_mean_ps"), f"{prefix}_std_pkt_len": pl.col(f"{nf}_stddev_ps"),
                f"{prefix}_min_pkt_len": pl.col(f"{nf}_min_ps"), f"{prefix}_max_pkt_len": pl.col(f"{nf}_max_ps"),
                f"{prefix}_num_bytes": pl.col(f"{nf}_bytes"), f"{prefix}_num_psh_flags": pl.col(f"{nf}_psh_packets"),
                f"{prefix}_num_rst_flags": pl.col(f"{nf}_rst_packets"),
                f"{prefix}_num_urg_flags": pl.col(f"{nf}_urg_packets")}

    columns = {"ip_src": pl.col("src_ip"), "ip_dst": pl.col("dst_ip"), "prt_src": pl.col("src_port"),
               "prt_dst": pl.col("dst_port"), "proto": pl.col("protocol"), **side("fwd", "src2dst"),
               **side("bwd", "dst2src"), "is_attack": pl.col("_attack").cast(pl.Int8)}
    frame = rows.select(*(expr.alias(name) for name, expr in columns.items())).select(BIFLOW_COLUMNS)
    with atomic_path(path) as tmp:
        frame.write_csv(tmp)
    labels = ["1" if a else "0" for a in rows["_attack"]]
    return {"format": "mqtt-biflow", "rows": frame.height, "labels": _counts(labels)}


def _versions() -> dict[str, str]:
    versions = {}
    for tool, (_, command) in TOOLS.items():
        if command is None or shutil.which(tool) is None:
            continue
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        text = (done.stdout + done.stderr).strip().splitlines()
        versions[tool] = next((line.strip() for line in text if any(ch.isdigit() for ch in line)), "")[:120]
    for module in PYTHON_MODULES:
        try:
            from importlib.metadata import version

            versions[module] = version(PYTHON_MODULES[module])
        except Exception:  # noqa: BLE001 -- a version is informative only
            pass
    return versions
