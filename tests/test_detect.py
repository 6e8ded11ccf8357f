"""``iotids detect``: every input kind, alerts, thresholds, errors, --follow."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from iotids.detect import DetectOptions, Scorer, detect_file
from iotids.errors import InputError
from iotids.flowmeter import measure
from iotids.schema import COMMON_SOURCES, ENDPOINT_FIELDS
from iotids.sources import read, sniff
from iotids.sources.head import read_head


def _flow_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.name != "README.txt")


def _rows(path: Path) -> int:
    return read(path).select("row_id").collect().height


def test_common_bundle_scores_every_format_with_a_recipe(synthetic_dir: Path, common_bundle: Path) -> None:
    scorer = Scorer(common_bundle)
    scored = set()
    for path in _flow_files(synthetic_dir):
        layout = sniff(path)
        if layout.format not in COMMON_SOURCES:
            continue
        alerts: list[dict] = []
        report = detect_file(scorer, path, DetectOptions(batch_size=50), alerts.append)
        scored.add(layout.format)
        assert report.flows == _rows(path), path
        assert sum(report.flagged.values()) == len(alerts)
        for alert in alerts:
            assert set(alert) == {*ENDPOINT_FIELDS, "class", "score", "bundle", "input", "row"}
            assert alert["class"] != "Normal" and 0.0 <= alert["score"] <= 1.0
            assert alert["bundle"] == scorer.id and alert["src"] is not None
        # every synthetic file is labelled: the evaluation covers the rows with a class
        assert report.evaluation is not None
        assert report.evaluation["rows"] + report.unlabeled == report.flows
    assert scored == {"iot23-conn-labeled", "botiot-argus", "botiot-full", "iotid20-cic", "mqtt-biflow"}


def test_unlabelled_conn_log_and_both_meters_on_a_synthetic_pcap(traffic_dir: Path, common_bundle: Path) -> None:
    scorer = Scorer(common_bundle)
    conn = detect_file(scorer, traffic_dir / "synthetic_conn.log", DetectOptions(), lambda alert: None)
    assert conn.format == "zeek-conn" and conn.flows == _rows(traffic_dir / "synthetic_conn.log")
    assert conn.evaluation is None
    for meter, fmt in (("argus", "argus-csv"), ("nfstream", "nfstream-csv")):
        alerts: list[dict] = []
        report = detect_file(scorer, traffic_dir / "synthetic_capture.pcap", DetectOptions(meter=meter), alerts.append)
        assert (report.format, report.meter) == (fmt, meter)
        # 20 HTTPS sessions + 20 DNS lookups + 1 IRC-like session + 120 scanned ports
        assert report.flows == 161, meter
        assert all(a["proto"] in ("tcp", "udp") for a in alerts)
        scanned = {a["dport"] for a in alerts if a["src"] == "192.168.1.20" and a["dst"] == "192.168.1.30"}
        assert scanned <= set(range(1, 121))


def test_threshold_flags_more_as_it_falls(synthetic_dir: Path, common_bundle: Path) -> None:
    scorer = Scorer(common_bundle)
    path = synthetic_dir / "synthetic_botiot_5pc.csv"
    flagged = []
    for threshold in (0.0, 0.5, 0.99):
        report = detect_file(scorer, path, DetectOptions(threshold=threshold), lambda alert: None)
        flagged.append(sum(report.flagged.values()))
    assert flagged[0] == _rows(path)  # every flow has a probability >= 0 of not being Normal
    assert flagged[0] >= flagged[1] >= flagged[2]


def test_torch_and_onnx_backends_agree(synthetic_dir: Path, common_bundle: Path) -> None:
    path = synthetic_dir / "synthetic_iotid20.csv"
    runs = {}
    for backend in ("torch", "onnx"):
        alerts: list[dict] = []
        detect_file(Scorer(common_bundle, backend), path, DetectOptions(), alerts.append)
        runs[backend] = alerts
    assert [a["row"] for a in runs["torch"]] == [a["row"] for a in runs["onnx"]]
    assert all(abs(a["score"] - b["score"]) < 1e-4 for a, b in zip(runs["torch"], runs["onnx"], strict=True))
    int8: list[dict] = []
    report = detect_file(Scorer(common_bundle, "onnx-int8"), path, DetectOptions(), int8.append)
    flagged, rough = {a["row"] for a in runs["torch"]}, {a["row"] for a in int8}
    assert report.flows == _rows(path) and len(flagged ^ rough) <= 0.05 * len(flagged | rough)


def test_formats_without_a_recipe_are_refused_naming_those_that_fit(synthetic_dir: Path,
                                                                     common_bundle: Path) -> None:
    scorer = Scorer(common_bundle)
    with pytest.raises(InputError, match="cannot score mqtt-packet input; inputs that fit: .*zeek-conn"):
        detect_file(scorer, synthetic_dir / "synthetic_normal.csv", DetectOptions(), lambda alert: None)


@pytest.fixture(scope="module")
def seed_bundle(synthetic_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A seed-schema bundle of the IoTID20 task (CICFlowMeter columns), SYNTHETIC."""
    from bundles import train_bundle
    from iotids.build import BuildOptions

    return train_bundle(synthetic_dir / "synthetic_iotid20.csv", tmp_path_factory.mktemp("seed"),
                         BuildOptions(task="iotid20"), 1)


def test_seed_bundle_scores_its_own_columns_and_nfstream_but_not_zeek(seed_bundle: Path, synthetic_dir: Path,
                                                                      traffic_dir: Path, tmp_path: Path) -> None:
    scorer = Scorer(seed_bundle)
    assert scorer.schema == "seed" and scorer.trained_on == ["iotid20-cic"]
    own = detect_file(scorer, synthetic_dir / "synthetic_iotid20.csv", DetectOptions(), lambda alert: None)
    assert own.flows == _rows(synthetic_dir / "synthetic_iotid20.csv") and not own.warnings
    assert own.evaluation is not None and own.evaluation["classes"] == list(scorer.classes)
    pcap = detect_file(scorer, traffic_dir / "synthetic_capture.pcap", DetectOptions(), lambda alert: None)
    assert pcap.flows == 161 and pcap.format == "nfstream-csv"
    assert any("absent from this nfstream-csv input" in w for w in pcap.warnings)
    with pytest.raises(InputError, match="seed-schema bundle .*cannot score zeek-conn"):
        detect_file(scorer, traffic_dir / "synthetic_conn.log", DetectOptions(), lambda alert: None)
    # NFStream's own CSV (no payload counts) cannot stand in for CICFlowMeter columns: a clear error
    flows = tmp_path / "own.csv"
    measure(traffic_dir / "synthetic_capture.pcap", flows, "nfstream")
    plain = tmp_path / "nfstream-own.csv"
    read(flows).drop("source", "capture", "row_id", "label_raw", "src2dst_payload_bytes",
                     "dst2src_payload_bytes").collect().write_csv(plain)
    with pytest.raises(InputError, match="lacks columns dst2src_payload_bytes, src2dst_payload_bytes"):
        detect_file(scorer, plain, DetectOptions(), lambda alert: None)


def test_cli_writes_alerts_and_a_json_summary(cli, common_bundle: Path, traffic_dir: Path, tmp_path: Path) -> None:
    alerts = tmp_path / "alerts.jsonl"
    result = cli("detect", common_bundle, traffic_dir / "synthetic_conn.log", traffic_dir / "synthetic_capture.pcap",
                 "--out", alerts, "--json")
    assert result.code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert [r["flows"] for r in summary["inputs"]] == [_rows(traffic_dir / "synthetic_conn.log"), 161]
    lines = alerts.read_text().splitlines()
    assert len(lines) == sum(r["flagged_total"] for r in summary["inputs"])
    assert all(json.loads(line)["bundle"] == summary["bundle"] for line in lines)


def test_cli_without_out_prints_alerts_on_stdout_and_the_table_on_stderr(cli, common_bundle: Path,
                                                                         traffic_dir: Path) -> None:
    result = cli("detect", common_bundle, traffic_dir / "synthetic_conn.log", "--threshold", "0")
    assert result.code == 0, result.stderr
    assert len(result.stdout.splitlines()) == _rows(traffic_dir / "synthetic_conn.log")  # 0 flags every flow
    assert "Detection with bundle" in result.stderr and "zeek-conn" in result.stderr


def test_labelled_input_prints_the_evaluation_tables(cli, common_bundle: Path, synthetic_dir: Path,
                                                     tmp_path: Path) -> None:
    conn = next(synthetic_dir.rglob("conn.log.labeled"))
    result = cli("detect", common_bundle, conn, "--out", tmp_path / "a.jsonl")
    assert result.code == 0, result.stderr
    assert "Classification report" in result.stdout and "Labels in" in result.stdout


def _conn_log_lines(traffic_dir: Path) -> tuple[list[str], list[str]]:
    lines = (traffic_dir / "synthetic_conn.log").read_text().splitlines(keepends=True)
    header = [line for line in lines if line.startswith("#") and not line.startswith("#close")]
    return header, [line for line in lines if not line.startswith("#")]


@pytest.mark.parametrize("damage", ["truncated", "bad number"])
def test_bad_rows_fail_with_the_line_and_leave_no_alerts(cli, common_bundle: Path, traffic_dir: Path,
                                                         tmp_path: Path, damage: str) -> None:
    header, rows = _conn_log_lines(traffic_dir)
    if damage == "truncated":
        body = rows[:-1] + [rows[-1][: len(rows[-1]) // 2]]
    else:
        fields = rows[5].split("\t")
        fields[16] = "many"  # orig_pkts
        body = rows[:5] + ["\t".join(fields)] + rows[6:]
    log = tmp_path / "conn.log"
    log.write_text("".join(header + body))
    alerts = tmp_path / "alerts.jsonl"
    result = cli("detect", common_bundle, log, "--out", alerts)
    assert result.code == 2
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    line = len(header) + (len(rows) if damage == "truncated" else 6)
    assert result.stderr.startswith(f"iotids: error: {log}:{line}:")
    assert not alerts.exists() and not list(tmp_path.glob(".alerts*"))


def test_truncated_pcap_and_a_text_file_named_pcap(cli, common_bundle: Path, traffic_dir: Path,
                                                  tmp_path: Path) -> None:
    data = (traffic_dir / "synthetic_capture.pcap").read_bytes()
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(data[:-30])
    result = cli("detect", common_bundle, cut)
    assert result.code == 2 and "truncated pcap: the record at byte" in result.stderr
    fake = tmp_path / "fake.pcap"
    fake.write_text("hello, this is not a capture\n")
    result = cli("detect", common_bundle, fake)
    assert result.code == 2 and "unrecognised format" in result.stderr and "Traceback" not in result.stderr


def test_cli_usage_errors(cli, common_bundle: Path, traffic_dir: Path, tmp_path: Path) -> None:
    conn = traffic_dir / "synthetic_conn.log"
    for args, message in (
        ((common_bundle, conn, "--json"), "--json prints the summary on stdout"),
        ((common_bundle, conn, conn, "--follow"), "--follow reads exactly one input"),
        ((tmp_path, conn), "missing from the bundle"),
        ((common_bundle, tmp_path / "nope.log"), "no such file"),
    ):
        result = cli("detect", *args)
        assert result.code == 2 and message in result.stderr, (args, result.stderr)


def test_follow_scores_rows_as_they_are_appended(common_bundle: Path, traffic_dir: Path, tmp_path: Path) -> None:
    header, rows = _conn_log_lines(traffic_dir)
    log = tmp_path / "live" / "conn.log"
    log.parent.mkdir()
    log.write_text("".join(header + rows[:10]))
    alerts = tmp_path / "alerts.jsonl"
    process = subprocess.Popen(
        [sys.executable, "-m", "iotids", "detect", str(common_bundle), str(log), "--follow", "--out", str(alerts),
         "--threshold", "0", "--idle-exit", "3", "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "NO_COLOR": "1"},
    )
    try:
        assert _wait_for_lines(alerts, 10), "the rows present at the start were not scored"
        with log.open("a") as handle:
            handle.write("".join(rows[10:25]))
            handle.write(rows[25][:20])  # half a line: not read until it is complete
            handle.flush()
            assert _wait_for_lines(alerts, 25)
            time.sleep(0.5)
            assert len(alerts.read_text().splitlines()) == 25
            handle.write(rows[25][20:] + "".join(rows[26:30]))
        assert _wait_for_lines(alerts, 30)
        stdout, stderr = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 0, stderr
    report = json.loads(stdout)["inputs"][0]
    assert report["flows"] == 30 and report["format"] == "zeek-conn"
    assert sorted(json.loads(line)["row"] for line in alerts.read_text().splitlines()) == list(range(30))


def _wait_for_lines(path: Path, count: int, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and len(path.read_text().splitlines()) >= count:
            return True
        time.sleep(0.1)
    return False


def test_real_pcaps_through_both_meters(shared_data: Path, real_common_bundle: Path) -> None:
    """The Mirai IRC capture (infected host 192.168.1.195 → port 6667) and the benign Hue capture."""
    scorer = Scorer(real_common_bundle)
    irc = shared_data / "pcap" / "2018-12-21-15-50-14-192.168.1.195.irc.pcap"
    hue = shared_data / "pcap" / "2018-09-14-13-40-25-Philips-Hue-Bridge.pcap"
    for meter in ("argus", "nfstream"):
        alerts: list[dict] = []
        report = detect_file(scorer, irc, DetectOptions(meter=meter), alerts.append)
        assert report.flows > 4000, meter
        assert any(a["src"] == "192.168.1.195" and a["dport"] == 6667 for a in alerts) or not alerts
        benign = detect_file(scorer, hue, DetectOptions(meter=meter), lambda alert: None)
        assert benign.flows > 500, meter


def test_real_labelled_conn_log_is_evaluated(shared_data: Path, real_common_bundle: Path) -> None:
    conn = shared_data / "iot23" / "CTU-IoT-Malware-Capture-42-1" / "bro" / "conn.log.labeled"
    assert read_head(conn).first.startswith("#separator")
    report = detect_file(Scorer(real_common_bundle), conn, DetectOptions(), lambda alert: None)
    assert report.flows == 4426 and report.evaluation["rows"] == 4426
