"""The label maps: complete, case-insensitive, and loud about unknown labels."""

from __future__ import annotations

import pytest

from iotids.labels import (
    IOTDS2_CLASSES,
    IOTID20_CLASSES,
    LABEL_MAP,
    UnmappedLabelsError,
    class_counts,
    mapping_rows,
    to_class,
)


def test_study_class_ids():
    assert IOTDS2_CLASSES.index("Normal") == 0
    assert IOTDS2_CLASSES.index("MITM ARP Spoofing") == 3
    assert IOTDS2_CLASSES.index("Flood") == 16
    assert len(IOTDS2_CLASSES) == 17
    assert IOTID20_CLASSES == ("Normal", "Mirai", "DoS", "Scan", "MITM ARP Spoofing")


def test_every_class_has_a_source_label():
    targets = {iotds2 for table in LABEL_MAP.values() for iotds2, _ in table.values()}
    assert targets == set(IOTDS2_CLASSES)
    iotid20 = {c for c, _ in [(v[1], 0) for v in LABEL_MAP["iotid20"].values()]}
    assert iotid20 == set(IOTID20_CLASSES)


@pytest.mark.parametrize(
    ("source", "raw", "iotds2", "binary"),
    [
        ("iot23", "benign/-", "Normal", "Normal"),  # honeypot captures write lower case
        ("iot23", "Malicious/C&C-HeartBeat-FileDownload", "FileDownload", "Anomaly"),
        ("iot23", "Malicious/C&C-Torii", "Torii", "Anomaly"),
        ("iot23", "Malicious/Okiru-Attack", "Okiru", "Anomaly"),
        ("iot23", "Malicious/PartOfAHorizontalPortScan", "Port Scan", "Anomaly"),
        ("botiot", "Theft/Data_Exfiltration", "Theft", "Anomaly"),
        ("botiot", "Normal/Normal", "Normal", "Normal"),
        ("iotid20", "Mirai/Mirai-UDP Flooding", "Flood", "Anomaly"),
        ("mqtt", "sparta/0", "Normal", "Normal"),
        ("mqtt", "scan_sU/1", "Port Scan", "Anomaly"),
        ("iotds2", "okiru", "Okiru", "Anomaly"),
    ],
)
def test_mappings(source, raw, iotds2, binary):
    assert to_class(source, raw) == iotds2
    assert to_class(source, raw, "binary") == binary


def test_iotid20_task_uses_cat():
    assert to_class("iotid20", "Mirai/Mirai-UDP Flooding", "iotid20") == "Mirai"
    assert to_class("iotid20", "Scan/Scan Hostport", "iotid20") == "Scan"
    assert to_class("iot23", "Malicious/DDoS", "iotid20") is None  # not in that task


def test_unmapped_labels_are_all_listed():
    with pytest.raises(UnmappedLabelsError) as caught:
        class_counts("iot23", {"Benign/-": 5, "Malicious/Cryptojacking": 3, "Malicious/Worm": 1})
    text = str(caught.value)
    assert "'Malicious/Cryptojacking' (3 rows)" in text and "'Malicious/Worm' (1 rows)" in text
    assert "Benign" not in text


def test_class_counts_sum_labels():
    counts = class_counts("iot23", {"Malicious/C&C": 2, "Malicious/C&C-Mirai": 3, "Benign/-": 4})
    assert counts == {"Normal": 4, "Mirai": 3, "C&C": 2}
    assert class_counts("iot23", {"Benign/-": 4}, "binary") == {"Normal": 4}


def test_unknown_task_is_an_error():
    with pytest.raises(ValueError, match="unknown task"):
        to_class("iot23", "Benign/-", "iotds3")


def test_labels_command_prints_every_row(cli):
    result = cli("labels")
    assert result.code == 0
    assert result.stdout.count("iot23") >= len(LABEL_MAP["iot23"])
    assert len(mapping_rows()) == sum(len(t) for t in LABEL_MAP.values())
