"""Every format on SYNTHETIC files: recognised from the header, typed, labelled."""

from __future__ import annotations

import shutil
from pathlib import Path

import polars as pl
import pytest

from iotids import sources
from iotids.labels import IOTDS2_CLASSES, to_class
from iotids.sources import botiot

FORMAT_OF = {
    "synthetic_botiot_per_attack.csv": "botiot-argus",
    "synthetic_botiot_5pc.csv": "botiot-full",
    "synthetic_iotid20.csv": "iotid20-cic",
    "synthetic_uniflow_sparta.csv": "mqtt-uniflow",
    "synthetic_biflow_scan_A.csv": "mqtt-biflow",
    "synthetic_mqtt_bruteforce.csv": "mqtt-packet",
    "synthetic_iot23/CTU-IoT-Synthetic-Capture-1-1/bro/conn.log.labeled": "iot23-conn-labeled",
    "synthetic_iot23/CTU-IoT-Synthetic-Capture-2-1/bro/conn.log.labeled": "iot23-conn-labeled",
    "synthetic_iot23/CTU-IoT-Synthetic-Capture-3-1/bro/conn.log.labeled": "iot23-conn-labeled",
}


@pytest.mark.parametrize("relative", sorted(FORMAT_OF))
def test_recognised_and_typed(synthetic_dir, relative):
    layout = sources.sniff(synthetic_dir / relative)
    assert layout.format == FORMAT_OF[relative]
    table = sources.scan(layout).collect()
    assert table.height > 0
    assert table["label_raw"].null_count() == 0
    assert all(to_class(layout.source, label) for label in table["label_raw"].unique())
    numeric = [c for c, kind in layout.kinds.items() if kind in ("float", "int", "port")]
    assert numeric and all(table.schema[c].is_numeric() for c in numeric)


def test_format_from_header_not_name(synthetic_dir, tmp_path):
    # A BoT-IoT file renamed to look like a Zeek log is still BoT-IoT.
    renamed = tmp_path / "conn.log.labeled"
    shutil.copy(synthetic_dir / "synthetic_botiot_per_attack.csv", renamed)
    assert sources.sniff(renamed).format == "botiot-argus"


def test_every_iotds2_class_is_covered(synthetic_dir):
    seen = set()
    for path in synthetic_dir.rglob("*"):
        if path.is_file() and path.name != "README.txt":
            table = sources.read(path).select("source", "label_raw").unique().collect()
            seen |= {to_class(s, label) for s, label in table.iter_rows()}
    assert seen == set(IOTDS2_CLASSES)


def test_iot23_two_label_layouts_give_the_same_columns(synthetic_dir):
    spaces = sources.read(synthetic_dir / "synthetic_iot23/CTU-IoT-Synthetic-Capture-1-1/bro/conn.log.labeled")
    tabs = sources.read(synthetic_dir / "synthetic_iot23/CTU-IoT-Synthetic-Capture-2-1/bro/conn.log.labeled")
    assert spaces.collect_schema() == tabs.collect_schema()
    assert "detailed-label" in tabs.collect_schema()


def test_crlf_iot23(synthetic_dir):
    table = sources.read(synthetic_dir / "synthetic_iot23/CTU-IoT-Synthetic-Capture-3-1/bro/conn.log.labeled").collect()
    assert not table["label_raw"].str.contains("\r").any()
    assert table["resp_ip_bytes"].dtype == pl.Int64


def test_unlabelled_zeek_conn(tmp_path):
    import numpy as np

    from iotids.synthetic import draw, write_zeek

    rng = np.random.default_rng(1)
    path = write_zeek(tmp_path / "conn.log", draw(rng, ["Benign/-"], "iot23", 20), rng, labeled=False)
    layout = sources.sniff(path)
    assert (layout.format, layout.source) == ("zeek-conn", "zeek")
    table = sources.scan(layout).collect()
    assert table.height == 20 and table["label_raw"].null_count() == 20
    assert "label" not in table.columns


def test_mqtt_repeated_header_and_scenario(synthetic_dir):
    path = synthetic_dir / "synthetic_mqtt_bruteforce.csv"
    lines = path.read_text().splitlines()
    assert lines.count(lines[0]) == 2  # the header repeats inside, as published
    table = sources.read(path).collect()
    assert table.height == len(lines) - 2
    assert set(table["scenario"]) == {"mqtt_bruteforce"}
    assert set(table["label_raw"]) == {"mqtt_bruteforce/0", "mqtt_bruteforce/1"}
    assert table["timestamp"].str.contains(", ").all()  # quoted field with a comma


def test_botiot_headerless_entire_dataset(tmp_path):
    # The "Entire dataset" files carry no header row; names come from the spec.
    row = ['"1"', '"1528099338.27983"', '"e"', '"tcp"', '"192.168.100.150"', '"54110"',
           '"192.168.100.3"', '"80"', '"4"', '"300"', '"RST"', '"1528099338.28"', '"3"',
           '"0.001"', '"0.0"', '"0.0"', '""', '""', '"0.0"', '"0.0"', '"0.0"', '""', '""', '""',
           '""', '"2"', '"2"', '"150"', '"150"', '"3000.5"', '"1500"', '"1500"', '"1"',
           '"DDoS"', '"HTTP"']
    assert len(row) == len(botiot.HEADERLESS_COLUMNS)
    path = tmp_path / "UNSW_2018_IoT_Botnet_Dataset_1.csv"
    path.write_text(",".join(row) + "\n" + ",".join(row).replace('"1"', '"2"', 1) + "\n")
    layout = sources.sniff(path)
    assert layout.format == "botiot-full" and layout.header_lines == 0
    table = sources.scan(layout).collect()
    assert table.height == 2 and table["pkSeqID"].to_list() == [1, 2]
    assert table["label_raw"].to_list() == ["DDoS/HTTP"] * 2


def test_iotds2_ready_made_csv(synthetic_dir, tmp_path):
    # The study's combined file: IoTID20 columns, identifiers dropped, 17-class Cat.
    table = pl.read_csv(synthetic_dir / "synthetic_iotid20.csv", infer_schema=False)
    table = table.drop("Flow_ID", "Src_IP", "Dst_IP", "Timestamp", "Src_Port", "Sub_Cat")
    table = table.with_columns(pl.Series("Cat", ["Okiru", "Torii", "Normal"] * (table.height // 3)))
    path = tmp_path / "IoT-DS-2.csv"
    table.write_csv(path)
    layout = sources.sniff(path)
    assert (layout.format, layout.source) == ("iotds2-cic", "iotds2")
    labels = sources.scan(layout).collect()["label_raw"].unique().sort().to_list()
    assert labels == ["Normal", "Okiru", "Torii"]


def test_cic_infinity_is_a_float(synthetic_dir):
    table = sources.read(synthetic_dir / "synthetic_iotid20.csv").collect()
    assert table.schema["Flow_Byts/s"] == pl.Float64
    text = Path(synthetic_dir / "synthetic_iotid20.csv").read_text()
    if "Infinity" in text:
        assert table["Flow_Byts/s"].is_infinite().any()


def test_zeek_bool_fields(synthetic_dir, tmp_path):
    from iotids.errors import InputError
    from iotids.ingest import ingest

    source = synthetic_dir / "synthetic_iot23/CTU-IoT-Synthetic-Capture-1-1/bro/conn.log.labeled"
    lines = source.read_text().splitlines(keepends=True)
    data = [i for i, line in enumerate(lines) if not line.startswith("#")]
    for index, value in zip(data[:3], ("T", "F", "T"), strict=True):
        fields = lines[index].split("\t")
        fields[12] = value  # local_orig
        lines[index] = "\t".join(fields)
    good = tmp_path / "good" / "conn.log.labeled"
    good.parent.mkdir()
    good.write_text("".join(lines))
    column = sources.read(good).collect()["local_orig"]
    assert column.dtype == pl.Boolean
    assert column.head(3).to_list() == [True, False, True] and column.null_count() == column.len() - 3
    fields = lines[data[5]].split("\t")
    fields[12] = "1"
    lines[data[5]] = "\t".join(fields)
    bad = tmp_path / "bad" / "conn.log.labeled"
    bad.parent.mkdir()
    bad.write_text("".join(lines))
    with pytest.raises(InputError, match=r"column 'local_orig': expected T or F, found '1'"):
        ingest([bad], tmp_path / "out")
