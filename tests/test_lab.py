"""The traffic lab end to end (root only): a short run of benign traffic and
two attacks, its labels read back by iotids' own readers, nothing left behind."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from iotids.flowmeter import check_capture
from iotids.lab.run import check
from iotids.lab.testbed import Testbed, leftovers
from iotids.sources import read

pytestmark = pytest.mark.skipif(not all(present for _, present, _ in check()),
                                reason="the lab needs root and its tools (`iotids lab check`)")


@pytest.fixture(scope="module")
def lab_run(tmp_path_factory) -> tuple[Path, dict]:
    from iotids.lab.run import run_lab

    out = tmp_path_factory.mktemp("lab")
    manifest = run_lab(out, ["normal", "scan", "syn-flood"], seconds=3, seed=1)
    return out, manifest


def test_lab_leaves_nothing_behind(lab_run) -> None:
    assert leftovers() == []
    lab_pids = subprocess.run(["pgrep", "-f", "iotids.lab.agents|mosquitto -c"], capture_output=True, text=True)
    assert lab_pids.stdout.strip() == ""


def test_labels_follow_the_schedule_and_read_back(lab_run) -> None:
    out, manifest = lab_run
    assert json.loads((out / "manifest.json").read_text()) == manifest
    scenarios = manifest["scenarios"]
    assert scenarios["normal"]["attack_flows"] == {"argus": 0, "nfstream": 0}
    assert scenarios["normal"]["flows"]["nfstream"] > 0  # the sensors' MQTT and HTTP
    for name in ("scan", "syn-flood"):
        record = scenarios[name]
        assert check_capture(out / name / "capture.pcap") == record["packets"] > 500
        assert record["attack_flows"]["nfstream"] > 100 and record["attack_flows"]["argus"] > 100
        assert record["flows"]["nfstream"] > record["attack_flows"]["nfstream"]  # benign traffic underneath
    expected = {
        "scan/argus_scan.csv": ("botiot", {"Normal/Normal", "Reconnaissance/Service_Scan"}),
        "scan/cic_scan.csv": ("iotid20", {"Normal/Normal", "Scan/Scan Hostport"}),
        "scan/biflow_scan_A.csv": ("mqtt", {"scan_A/0", "scan_A/1"}),
        "syn-flood/argus_syn_flood.csv": ("botiot", {"Normal/Normal", "DoS/TCP"}),
        "syn-flood/cic_syn_flood.csv": ("iotid20", {"Normal/Normal", "DoS/DoS-Synflooding"}),
        "normal/biflow_normal.csv": ("mqtt", {"normal/0"}),
    }
    for relative, (source, labels) in expected.items():
        frame = read(out / relative).collect()
        assert frame["source"][0] == source, relative
        assert set(frame["label_raw"]) == labels, relative
        name, file = relative.split("/")
        counts = manifest["scenarios"][name]["files"][file]["labels"]
        assert sum(counts.values()) == frame.height


def test_testbed_is_torn_down_after_a_failure() -> None:
    if os.geteuid() != 0:
        pytest.skip("root only")
    with pytest.raises(RuntimeError), Testbed(run_id="t1") as bed:
        bed.start("broker", "sleep", "60")
        assert any(name.startswith("iotlabt1-") for name in leftovers())
        raise RuntimeError("boom")
    assert not [name for name in leftovers() if name.startswith("iotlabt1-")]
