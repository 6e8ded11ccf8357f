"""Bad input: one clear line (file, line/column, what was expected), exit
code 2, no traceback, and no Parquet left behind."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import pytest

IOT23 = "synthetic_iot23/CTU-IoT-Synthetic-Capture-1-1/bro/conn.log.labeled"
BOTIOT = "synthetic_botiot_per_attack.csv"


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines(keepends=True)


def _write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def empty(src: Path, tmp: Path) -> Path:
    return _write(tmp / "empty.csv", "")


def header_only(src: Path, tmp: Path) -> Path:
    return _write(tmp / "header_only.csv", _lines(src / BOTIOT)[0])


def zeek_header_only(src: Path, tmp: Path) -> Path:
    lines = _lines(src / IOT23)
    return _write(tmp / "conn.log.labeled", "".join(line for line in lines if line.startswith("#")))


def truncated_last_line(src: Path, tmp: Path) -> Path:
    text = "".join(line for line in _lines(src / IOT23) if not line.startswith("#close"))
    return _write(tmp / "conn.log.labeled", text[: len(text) - 100])


def wrong_delimiter(src: Path, tmp: Path) -> Path:
    lines = _lines(src / BOTIOT)
    return _write(tmp / "commas.csv", lines[0] + "".join(line.replace(";", ",") for line in lines[1:]))


def mixed_delimiters(src: Path, tmp: Path) -> Path:
    lines = _lines(src / BOTIOT)
    lines[5] = lines[5].replace(";", ",")
    return _write(tmp / "mixed.csv", "".join(lines))


def extra_field(src: Path, tmp: Path) -> Path:
    lines = _lines(src / BOTIOT)
    lines[3] = lines[3].rstrip("\n") + ';"extra"\n'
    return _write(tmp / "extra.csv", "".join(lines))


def other_dataset_header(src: Path, tmp: Path) -> Path:
    # CIC-IDS2017 style header: spaces in names, not one of ours.
    return _write(tmp / "cicids2017.csv", " Destination Port, Flow Duration, Total Fwd Packets, Label\n80,1,2,BENIGN\n")


def missing_label_columns(src: Path, tmp: Path) -> Path:
    lines = _lines(src / BOTIOT)
    cut = [";".join(line.rstrip("\n").split(";")[:-2]) + "\n" for line in lines]
    return _write(tmp / "nolabels.csv", "".join(cut))


def non_utf8(src: Path, tmp: Path) -> Path:
    lines = [line.encode() for line in _lines(src / BOTIOT)]
    lines[7] = lines[7].replace(b'"e"', b'"\xff\xfe"', 1)
    return _write(tmp / "latin.csv", b"".join(lines))


def binary(src: Path, tmp: Path) -> Path:
    return _write(tmp / "random.csv", os.urandom(4096).replace(b"\x00", b"\x01") + b"\x00")


def pcap_named_csv(src: Path, tmp: Path) -> Path:
    return _write(tmp / "capture.csv", b"\xd4\xc3\xb2\xa1\x02\x00\x04\x00" + b"\x00" * 64)


def gzip_input(src: Path, tmp: Path) -> Path:
    return _write(tmp / "flows.csv.gz", gzip.compress((src / BOTIOT).read_bytes()))


def bad_number(src: Path, tmp: Path) -> Path:
    lines = _lines(src / IOT23)
    data = [i for i, line in enumerate(lines) if not line.startswith("#")]
    fields = lines[data[4]].split("\t")
    fields[16] = "many"  # orig_pkts
    lines[data[4]] = "\t".join(fields)
    return _write(tmp / "conn.log.labeled", "".join(lines))


def unknown_label(src: Path, tmp: Path) -> Path:
    lines = _lines(src / IOT23)
    data = [i for i, line in enumerate(lines) if not line.startswith("#")]
    lines[data[2]] = lines[data[2]].rsplit("   ", 1)[0] + "   Cryptojacking\n"
    return _write(tmp / "conn.log.labeled", "".join(lines))


def missing_label_value(src: Path, tmp: Path) -> Path:
    lines = _lines(src / BOTIOT)
    fields = lines[9].rstrip("\n").split(";")
    fields[-2] = '""'
    lines[9] = ";".join(fields) + "\n"
    return _write(tmp / "nolabel.csv", "".join(lines))


def empty_directory(src: Path, tmp: Path) -> Path:
    folder = tmp / "nothing_here"
    _write(folder / "README.md", "# notes\n")
    return folder


def missing_path(src: Path, tmp: Path) -> Path:
    return tmp / "does_not_exist.csv"


# case -> (builder, text the message must contain, line it must name or None)
CASES = {
    "empty": (empty, "empty", None),
    "header_only": (header_only, "header only", None),
    "zeek_header_only": (zeek_header_only, "no flow rows", None),
    "truncated_last_line": (truncated_last_line, "expected 21 fields", "last"),
    "wrong_delimiter": (wrong_delimiter, "expected 37 fields separated by ';'", 2),
    "mixed_delimiters": (mixed_delimiters, "expected 37 fields separated by ';'", 6),
    "extra_field": (extra_field, "expected 37 fields", 4),
    "other_dataset_header": (other_dataset_header, "unrecognised format", 1),
    "missing_label_columns": (missing_label_columns, "lacks the label columns category, subcategory", 1),
    "non_utf8": (non_utf8, "invalid UTF-8 byte 0xff", 8),
    "binary": (binary, "binary data", None),
    "pcap_named_csv": (pcap_named_csv, "pcap capture", None),
    "gzip": (gzip_input, "gzip-compressed", None),
    "bad_number": (bad_number, "column 'orig_pkts': expected an integer, found 'many'", 13),
    "unknown_label": (unknown_label, "'Malicious/Cryptojacking' (1 rows)", None),
    "missing_label_value": (missing_label_value, "column 'category': value missing", 10),
    "empty_directory": (empty_directory, "no recognised dataset file", None),
    "missing_path": (missing_path, "no such file", None),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_fails_cleanly(case, synthetic_dir, tmp_path, cli):
    build, expected, line = CASES[case]
    bad = build(synthetic_dir, tmp_path / "in")
    out = tmp_path / "out"
    result = cli("ingest", bad, "--out", out)
    assert result.code == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("iotids: error: ")
    assert str(bad) in lines[0]
    assert expected in lines[0], lines[0]
    if line == "last":
        line = len(bad.read_text().splitlines())
    if line is not None:
        assert f"{bad}:{line}:" in lines[0]
    assert not out.exists() or not any(out.iterdir()), list(out.iterdir())


def test_one_bad_file_leaves_no_output_from_the_good_ones(synthetic_dir, tmp_path, cli):
    bad = bad_number(synthetic_dir, tmp_path / "in")
    out = tmp_path / "out"
    result = cli("ingest", synthetic_dir / BOTIOT, bad, "--out", out)
    assert result.code == 2
    assert not list(out.glob("*.part"))
    assert not list(out.glob(".*.part"))
