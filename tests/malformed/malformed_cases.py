"""The malformed-input corpus: each case is built at test time from the
SYNTHETIC sample files (some are large or binary), by a function
``(synthetic_dir, folder) -> path``.

CASES: inputs `iotids ingest` must refuse (expected message, line).
SUCCESS: inputs that look odd but are valid after all (documented in the README).
DETECT_CASES: inputs `iotids detect` must refuse (pcaps and flow-meter CSVs).
"""

from __future__ import annotations

import gzip
import os
import struct
from pathlib import Path

IOT23 = "synthetic_iot23/CTU-IoT-Synthetic-Capture-1-1/bro/conn.log.labeled"
BOTIOT = "synthetic_botiot_per_attack.csv"
IOTID20 = "synthetic_iotid20.csv"


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


def duplicated_header(src: Path, tmp: Path) -> Path:
    lines = _lines(src / BOTIOT)
    lines[0] = lines[0].replace('"bytes"', '"pkts"', 1)
    return _write(tmp / "dup_header.csv", "".join(lines))


def huge_field(src: Path, tmp: Path) -> Path:
    lines = _lines(src / IOTID20)
    fields = lines[3].split(",")
    fields[10] = "x" + "9" * (10 << 20)  # a 10 MB non-number in TotLen_Fwd_Pkts
    lines[3] = ",".join(fields)
    return _write(tmp / "huge.csv", "".join(lines))


def dash_in_argus_number(src: Path, tmp: Path) -> Path:
    lines = _lines(src / BOTIOT)
    fields = lines[4].split(";")
    fields[8] = "-"  # pkts: Argus CSVs have no unset marker
    lines[4] = ";".join(fields)
    return _write(tmp / "dash.csv", "".join(lines))


def truncated_pcap(src: Path, tmp: Path) -> Path:
    header = b"\xd4\xc3\xb2\xa1\x02\x00\x04\x00" + b"\x00" * 8 + b"\xff\xff\x00\x00\x01\x00\x00\x00"
    record = b"\x00" * 8 + b"\x3c\x00\x00\x00\x3c\x00\x00\x00" + b"\x00" * 20  # promises 60 bytes, has 20
    return _write(tmp / "cut.pcap", header + record)


def text_named_pcap(src: Path, tmp: Path) -> Path:
    return _write(tmp / "notes.pcap", "these are my notes, not a capture\n")


def mqtt_without_scenario(src: Path, tmp: Path) -> Path:
    return _write(tmp / "uniflow_mystery.csv", (src / "synthetic_uniflow_sparta.csv").read_text())


def iotid20_without_cat(src: Path, tmp: Path) -> Path:
    lines = _lines(src / IOTID20)
    return _write(tmp / "nocat.csv", "".join(",".join(line.rstrip("\n").split(",")[:-2]) + "\n" for line in lines))


def mqtt_without_is_attack(src: Path, tmp: Path) -> Path:
    lines = _lines(src / "synthetic_biflow_scan_A.csv")
    return _write(tmp / "biflow_scan_A.csv",
                  "".join(",".join(line.rstrip("\n").split(",")[:-1]) + "\n" for line in lines))


def zeek_dns_log(src: Path, tmp: Path) -> Path:
    text = (src / IOT23).read_text().replace("#path\tconn", "#path\tdns")
    return _write(tmp / "dns.log", text)


def zeek_types_mismatch(src: Path, tmp: Path) -> Path:
    lines = _lines(src / IOT23)
    lines = [line.replace("\tcount\tcount\tcount\tcount\t", "\tcount\t", 1) if line.startswith("#types")
             else line for line in lines]
    return _write(tmp / "conn.log.labeled", "".join(lines))


def stray_carriage_return_in_header(src: Path, tmp: Path) -> Path:
    lines = _lines(src / IOTID20)
    lines[0] = lines[0].replace("Flow_Duration", "Flow\r_Duration")
    return _write(tmp / "cr.csv", "".join(lines))


def blank_first_line(src: Path, tmp: Path) -> Path:
    return _write(tmp / "blank_first.csv", "\n" + (src / BOTIOT).read_text())


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
    "duplicated_header": (duplicated_header, "duplicated column name 'pkts'", 1),
    "huge_field": (huge_field, "column 'TotLen_Fwd_Pkts': expected a number, found 'x99999", 4),
    "dash_in_argus_number": (dash_in_argus_number, "column 'pkts': expected an integer, found '-'", 5),
    "truncated_pcap": (truncated_pcap, "pcap capture", None),
    "text_named_pcap": (text_named_pcap, "unrecognised format", 1),
    "mqtt_without_scenario": (mqtt_without_scenario, "cannot tell the MQTT-IoT-IDS2020 scenario", None),
    "iotid20_without_cat": (iotid20_without_cat, "without the label column Cat", 1),
    "mqtt_without_is_attack": (mqtt_without_is_attack, "lacks the label column is_attack", 1),
    "zeek_dns_log": (zeek_dns_log, "Zeek 'dns' log; expected a conn log", 1),
    "zeek_types_mismatch": (zeek_types_mismatch, "'#types' has", None),
    "stray_carriage_return_in_header": (stray_carriage_return_in_header, "cannot split the first line", 1),
    "blank_first_line": (blank_first_line, "the first line is empty", 1),
}


def crlf_botiot(src: Path, tmp: Path) -> Path:
    return _write(tmp / "crlf.csv", (src / BOTIOT).read_bytes().replace(b"\n", b"\r\n"))


def extreme_numbers(src: Path, tmp: Path) -> Path:
    lines = _lines(src / IOTID20)
    for row, value in ((2, "1e999"), (3, "nan"), (4, "-Infinity")):
        fields = lines[row].split(",")
        fields[21] = value  # Flow_Pkts/s
        lines[row] = ",".join(fields)
    return _write(tmp / "extreme.csv", "".join(lines))


def blank_lines_inside(src: Path, tmp: Path) -> Path:
    lines = _lines(src / BOTIOT)
    return _write(tmp / "blank_inside.csv", "".join(lines[:5]) + "\n\n" + "".join(lines[5:]))


def csv_named_pcap(src: Path, tmp: Path) -> Path:
    return _write(tmp / "flows.pcap", (src / BOTIOT).read_text())


# Inputs that are valid after all (documented in the README): they ingest.
SUCCESS = {
    "crlf_botiot": crlf_botiot,  # CRLF line ends read like LF
    "extreme_numbers": extreme_numbers,  # 1e999 → inf, nan → NaN, -Infinity → -inf (preprocessing zeroes them)
    "blank_lines_inside": blank_lines_inside,  # blank lines are skipped
    "csv_named_pcap": csv_named_pcap,  # the format comes from the header, not the name
}


# --- inputs for `iotids detect` -------------------------------------------------------

ARGUS_HEADER = ("StartTime,Flgs,Proto,SrcAddr,Sport,DstAddr,Dport,TotPkts,TotBytes,State,Dur,SrcPkts,DstPkts,"
                "SrcBytes,DstBytes\n")
ARGUS_ROW = "1545404132.353979, e s      ,6,192.168.1.195,48986,185.244.25.235,6667,3,222,REQ,3.1,3,0,222,0\n"


def argus_missing_columns(src: Path, tmp: Path) -> Path:
    return _write(tmp / "argus.csv", "StartTime,Proto,SrcAddr,Sport,DstAddr,Dport\n1.0,6,a,1,b,2\n")


def argus_bad_port(src: Path, tmp: Path) -> Path:
    return _write(tmp / "argus.csv", ARGUS_HEADER + ARGUS_ROW * 3 + ARGUS_ROW.replace(",6667,", ",http,"))


def nfstream_missing_columns(src: Path, tmp: Path) -> Path:
    return _write(tmp / "nf.csv", "src_ip,dst_ip,bidirectional_first_seen_ms,src2dst_packets\na,b,1,2\n")


def _pcap_header() -> bytes:
    return struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)


def pcap_corrupt_length(src: Path, tmp: Path) -> Path:
    record = struct.pack("<IIII", 1, 0, 1 << 30, 1 << 30) + b"\x00" * 64  # announces 1 GiB
    return _write(tmp / "corrupt.pcap", _pcap_header() + record)


def pcap_header_cut(src: Path, tmp: Path) -> Path:
    return _write(tmp / "cut-header.pcap", _pcap_header()[:12])


def pcapng_truncated(src: Path, tmp: Path) -> Path:
    block = struct.pack("<II", 0x0A0D0D0A, 28) + struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1)  # 20 of 28 bytes
    return _write(tmp / "cut.pcapng", block)


def wrong_dataset_for_bundle(src: Path, tmp: Path) -> Path:
    return _write(tmp / "normal.csv", (src / "synthetic_normal.csv").read_text())  # MQTT packet level


DETECT_CASES = {
    "argus_missing_columns": (argus_missing_columns, "Argus CSV lacks columns", 1),
    "argus_bad_port": (argus_bad_port, "column 'dport': expected a port number", 5),
    "nfstream_missing_columns": (nfstream_missing_columns, "NFStream CSV lacks columns", 1),
    "truncated_pcap": (truncated_pcap, "truncated pcap: the record at byte 24", None),
    "pcap_corrupt_length": (pcap_corrupt_length, "corrupt pcap record at byte 24", None),
    "pcap_header_cut": (pcap_header_cut, "24-byte file header is incomplete", None),
    "pcapng_truncated": (pcapng_truncated, "truncated or corrupt pcapng block at byte 0", None),
    "text_named_pcap": (text_named_pcap, "unrecognised format", 1),
    "wrong_dataset_for_bundle": (wrong_dataset_for_bundle, "cannot score mqtt-packet input", None),
    "empty": (empty, "empty", None),
}
