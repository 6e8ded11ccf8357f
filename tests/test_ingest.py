"""iotids ingest on SYNTHETIC files: outputs, metadata, manifest, JSON."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from iotids.errors import InputError
from iotids.ingest import MANIFEST, ingest, read_metadata, sha256_file


@pytest.fixture(scope="module")
def ingested(synthetic_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("flows")
    return ingest([synthetic_dir], out), out


def test_one_parquet_per_input(ingested, synthetic_dir):
    report, out = ingested
    inputs = [p for p in synthetic_dir.rglob("*") if p.is_file() and p.name != "README.txt"]
    assert len(report.files) == len(inputs)
    assert sorted(p.name for p in out.glob("*.parquet")) == sorted(f.output for f in report.files)
    assert [s.path for s in report.skipped] == [str(synthetic_dir / "README.txt")]


def test_parquet_matches_report_and_records_input(ingested):
    report, out = ingested
    for f in report.files:
        table = pl.read_parquet(out / f.output)
        assert table.height == f.rows
        assert dict(table["label_raw"].value_counts().iter_rows()) == f.labels
        meta = read_metadata(out / f.output)
        assert meta["input"]["sha256"] == sha256_file(Path(f.path)) == f.sha256
        assert meta["input"]["size"] == f.size
        assert meta["format"] == f.format and meta["synthetic"] is True
        assert f.synthetic


def test_manifest_merges_runs(ingested, synthetic_dir, tmp_path):
    report, out = ingested
    manifest = json.loads((out / MANIFEST).read_text())
    assert {e["output"] for e in manifest["files"]} == {f.output for f in report.files}
    second = tmp_path / "flows"
    ingest([synthetic_dir / "synthetic_iotid20.csv"], second)
    ingest([synthetic_dir / "synthetic_botiot_5pc.csv"], second)
    outputs = {e["output"] for e in json.loads((second / MANIFEST).read_text())["files"]}
    assert outputs == {"iotid20-synthetic_iotid20.parquet", "botiot-synthetic_botiot_5pc.parquet"}


def test_workers_give_the_same_tables(ingested, synthetic_dir, tmp_path):
    report, out = ingested
    parallel = ingest([synthetic_dir], tmp_path, workers=2)
    assert [(f.output, f.rows, f.labels) for f in parallel.files] == [
        (f.output, f.rows, f.labels) for f in report.files
    ]
    for f in report.files:
        assert pl.read_parquet(tmp_path / f.output).equals(pl.read_parquet(out / f.output))


def test_same_capture_name_gets_distinct_outputs(synthetic_dir, tmp_path):
    a = tmp_path / "a" / "synthetic_iotid20.csv"
    b = tmp_path / "b" / "synthetic_iotid20.csv"
    for copy in (a, b):
        copy.parent.mkdir()
        copy.write_bytes((synthetic_dir / "synthetic_iotid20.csv").read_bytes())
    report = ingest([a, b], tmp_path / "out")
    assert [f.output for f in report.files] == [
        "iotid20-synthetic_iotid20.parquet", "iotid20-synthetic_iotid20-2.parquet"
    ]


def test_read_metadata_refuses_foreign_parquet(tmp_path):
    path = tmp_path / "x.parquet"
    pl.DataFrame({"a": [1]}).write_parquet(path)
    with pytest.raises(InputError, match="not a flow table"):
        read_metadata(path)


def test_cli_json_document(synthetic_dir, tmp_path, cli):
    result = cli("ingest", synthetic_dir / "synthetic_iot23", "--out", tmp_path, "--json")
    assert result.code == 0, result.stderr
    document = json.loads(result.stdout)
    assert len(document["files"]) == 3
    for f in document["files"]:
        assert {"path", "format", "rows", "labels", "sha256"} <= set(f)
        assert sum(f["labels"].values()) == f["rows"]
        assert "Malicious/C&C" in f["labels"]


def test_cli_table_prints_classes_and_synthetic_note(synthetic_dir, tmp_path, cli):
    result = cli("ingest", synthetic_dir, "--out", tmp_path)
    assert result.code == 0, result.stderr
    assert "MQTT_bruteforce" in result.stdout and "Torii" in result.stdout
    assert "SYNTHETIC DATA" in result.stdout
