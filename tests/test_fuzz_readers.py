"""Property-based fuzzing of the readers: random mutations of valid SYNTHETIC
files either ingest or fail with our own error type, never anything else."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from iotids.errors import IotidsError
from iotids.flowmeter import METERS, measure
from iotids.ingest import ingest_file
from iotids.sources import sniff
from iotids.synthetic import generate
from iotids.synthetic_traffic import write_traffic

FILES = [
    "synthetic_botiot_per_attack.csv",
    "synthetic_botiot_5pc.csv",
    "synthetic_iotid20.csv",
    "synthetic_uniflow_sparta.csv",
    "synthetic_biflow_scan_A.csv",
    "synthetic_normal.csv",
    "synthetic_iot23/CTU-IoT-Synthetic-Capture-1-1/bro/conn.log.labeled",
    "synthetic_iot23/CTU-IoT-Synthetic-Capture-2-1/bro/conn.log.labeled",
    "argus.csv",  # from the synthetic capture, by `ra`
    "nfstream.csv",  # from the synthetic capture, by NFStream
]
# Per format; 10 formats × 60 = 600 mutated files per run, and a quarter as many
# mutated captures (each runs a flow meter). Raise it for a long hunt.
EXAMPLES = int(os.environ.get("IOTIDS_FUZZ_EXAMPLES", "60"))


@pytest.fixture(scope="module")
def originals(tmp_path_factory) -> dict[str, bytes]:
    folder = tmp_path_factory.mktemp("fuzz_src")
    generate(folder, seed=11, rows=4)
    capture = write_traffic(folder, seed=11, rows=2)[0]
    for meter in METERS:
        measure(capture, folder / f"{meter}.csv", meter)
    return {name: (folder / name).read_bytes() for name in FILES} | {"capture.pcap": capture.read_bytes()}


mutation = st.one_of(
    st.tuples(st.just("delete"), st.floats(0, 1), st.integers(1, 200)),
    st.tuples(st.just("insert"), st.floats(0, 1), st.binary(min_size=1, max_size=40)),
    st.tuples(st.just("flip"), st.floats(0, 1), st.integers(0, 255)),
    st.tuples(st.just("truncate"), st.floats(0, 1), st.just(0)),
    st.tuples(st.just("repeat_line"), st.floats(0, 1), st.integers(1, 5)),
    st.tuples(st.just("separator"), st.floats(0, 1), st.sampled_from([b",", b";", b"\t", b'"', b"\n", b"\r"])),
)


def mutate(data: bytes, steps: list) -> bytes:
    for kind, where, arg in steps:
        at = int(where * len(data))
        if kind == "delete":
            data = data[:at] + data[at + arg:]
        elif kind == "insert":
            data = data[:at] + arg + data[at:]
        elif kind == "flip" and data:
            at = min(at, len(data) - 1)
            data = data[:at] + bytes([arg]) + data[at + 1:]
        elif kind == "truncate":
            data = data[:at]
        elif kind == "repeat_line":
            lines = data.split(b"\n")
            index = min(int(where * len(lines)), len(lines) - 1)
            data = b"\n".join(lines[:index] + [lines[index]] * arg + lines[index:])
        elif kind == "separator":
            data = data[:at] + arg + data[at:]
    return data


@pytest.mark.parametrize("name", FILES)
def test_mutations_parse_or_fail_cleanly(name, originals, tmp_path_factory):
    work = tmp_path_factory.mktemp("fuzz")
    outcomes = {"ingested": 0, "refused": 0}

    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(steps=st.lists(mutation, min_size=1, max_size=3))
    def check(steps):
        for folder in ("case", "out"):
            shutil.rmtree(work / folder, ignore_errors=True)
        target = work / "case" / Path(name).name
        target.parent.mkdir(parents=True)
        target.write_bytes(mutate(originals[name], steps))
        out = work / "out"
        try:
            ingest_file(sniff(target), out / "flows.parquet")
            outcomes["ingested"] += 1
        except IotidsError:
            outcomes["refused"] += 1
            assert not out.exists() or not any(out.iterdir())  # nothing half-written

    check()
    assert sum(outcomes.values()) >= EXAMPLES  # the mutations really ran


def test_mutated_captures_measure_or_fail_cleanly(originals, tmp_path_factory):
    work = tmp_path_factory.mktemp("fuzz_pcap")
    outcomes = {"measured": 0, "refused": 0}

    @settings(max_examples=max(EXAMPLES // 4, 5), deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(steps=st.lists(mutation, min_size=1, max_size=2))
    def check(steps):
        shutil.rmtree(work / "case", ignore_errors=True)
        target = work / "case" / "capture.pcap"
        target.parent.mkdir(parents=True)
        target.write_bytes(mutate(originals["capture.pcap"], steps))
        flows = work / "case" / "flows.csv"
        try:
            measure(target, flows, "nfstream")
            outcomes["measured"] += 1
        except IotidsError:
            outcomes["refused"] += 1
            assert not flows.exists()

    check()
    assert sum(outcomes.values()) >= max(EXAMPLES // 4, 5)
