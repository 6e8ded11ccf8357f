"""The readers on the real sample files: counts must equal data/SOURCES.md."""

from __future__ import annotations

import json

import polars as pl
import pytest

from iotids import sources
from iotids.ingest import read_metadata

# path under shared/data -> (format, rows, label counts as written)
EXPECTED = {
    "iot23/CTU-IoT-Malware-Capture-34-1/bro/conn.log.labeled": (
        "iot23-conn-labeled", 23_145,
        {"Malicious/DDoS": 14_394, "Malicious/C&C": 6_706, "Benign/-": 1_923,
         "Malicious/PartOfAHorizontalPortScan": 122},
    ),
    "iot23/CTU-IoT-Malware-Capture-42-1/bro/conn.log.labeled": (
        "iot23-conn-labeled", 4_426,
        {"Benign/-": 4_420, "Malicious/FileDownload": 3, "Malicious/C&C-FileDownload": 3},
    ),
    "iot23/CTU-Honeypot-Capture-5-1/bro/conn.log.labeled": (
        "iot23-conn-labeled", 1_374, {"benign/-": 1_374},
    ),
    "botiot/Data_exfiltration.csv": (
        "botiot-argus", 142, {"Theft/Data_Exfiltration": 118, "Normal/Normal": 24},
    ),
}


@pytest.mark.parametrize("relative", sorted(EXPECTED))
def test_reader_counts_match_sources(shared_data, relative):
    fmt, rows, labels = EXPECTED[relative]
    path = shared_data / relative
    if not path.exists():
        pytest.skip(f"{relative} not present")
    layout = sources.sniff(path)
    assert layout.format == fmt
    table = sources.scan(layout).collect()
    assert table.height == rows
    assert dict(table["label_raw"].value_counts().iter_rows()) == labels
    assert table.columns[:4] == ["source", "capture", "row_id", "label_raw"]


def test_iot23_types_and_nulls(shared_data):
    path = shared_data / "iot23/CTU-IoT-Malware-Capture-34-1/bro/conn.log.labeled"
    table = sources.read(path).collect()
    assert table.schema["ts"] == pl.Float64
    assert table.schema["id.resp_p"] == pl.Int64
    assert table.schema["orig_bytes"] == pl.Int64
    assert table.schema["local_orig"] == pl.Boolean
    assert table["capture"][0] == "CTU-IoT-Malware-Capture-34-1"
    # The first row's duration is 3.139211; its "-" fields are null, not strings.
    first = table.row(0, named=True)
    assert first["duration"] == pytest.approx(3.139211)
    assert first["service"] is None and first["tunnel_parents"] is None
    assert first["label"] == "Benign" and first["detailed-label"] is None
    assert table["row_id"].to_list() == list(range(table.height))


def test_crlf_copy_reads_like_lf(shared_data):
    # 42-1 is the official file converted to CRLF: no value may keep a "\r".
    table = sources.read(shared_data / "iot23/CTU-IoT-Malware-Capture-42-1/bro/conn.log.labeled").collect()
    assert not table["label_raw"].str.contains("\r").any()
    assert table["detailed-label"].drop_nulls().unique().sort().to_list() == ["C&C-FileDownload", "FileDownload"]


def test_botiot_types(shared_data):
    table = sources.read(shared_data / "botiot/Data_exfiltration.csv").collect()
    assert table.schema["stime"] == pl.Float64
    assert table.schema["sport"] == pl.Int64  # hex ARP "ports" too
    assert table.schema["attack"] == pl.Int64
    assert table.filter(pl.col("proto") == "arp")["sport"].null_count() > 0  # empty → null
    assert table["capture"][0] == "Data_exfiltration"


def test_ingest_real_directory(shared_data, tmp_path, cli):
    result = cli("ingest", shared_data, "--out", tmp_path, "--json")
    assert result.code == 0, result.stderr
    report = json.loads(result.stdout)
    by_path = {f["path"].split("data/", 1)[1]: f for f in report["files"]}
    for relative, (fmt, rows, labels) in EXPECTED.items():
        if relative in by_path:
            assert (by_path[relative]["format"], by_path[relative]["rows"]) == (fmt, rows)
            assert by_path[relative]["labels"] == labels
    # pcaps and SOURCES.md are skipped, not errors.
    assert any(s["path"].endswith(".pcap") for s in report["skipped"])
    meta = read_metadata(tmp_path / "iot23-CTU-IoT-Malware-Capture-34-1.parquet")
    assert meta["input"]["sha256"] == (
        "7d1d052835439d77dae246b588d7628813bbdef21fdf3b323f4b3eb2c61ef146"
    )
    assert meta["synthetic"] is False
