"""pcap → flow records, with real flow meters.

- ``argus``: the meter BoT-IoT was made with. ``argus -r PCAP -w RECORDS``
  then ``ra -nn -u -c , -s <BoT-IoT's Argus fields> - not man`` (management
  records left out) gives an ``argus-csv`` file.
- ``nfstream``: NFStream's native engine with statistical analysis gives an
  ``nfstream-csv`` file: NFStream's columns plus payload byte counts per
  direction (added by a plugin), from which the common schema and the
  CICFlowMeter-style columns are computed (docs/flowmeter.md).

The pcap is checked first (magic, then every record header) so a truncated
or foreign file ends in one clear error instead of a meter's partial output.
"""

from __future__ import annotations

import csv
import os
import shutil
import struct
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from iotids.atomic import atomic_path
from iotids.errors import InputError, IotidsError
from iotids.sources.meters import RA_FIELDS, RA_TITLES

METERS = ("argus", "nfstream")
_PCAP_MAGICS = {b"\xd4\xc3\xb2\xa1": "<", b"\xa1\xb2\xc3\xd4": ">", b"\x4d\x3c\xb2\xa1": "<", b"\xa1\xb2\x3c\x4d": ">"}
_PCAPNG_MAGIC = b"\x0a\x0d\x0d\x0a"
_RECORD_LIMIT = 1 << 18  # no link type has records this large; a bigger length means a corrupt header


@dataclass(frozen=True)
class Timeouts:
    """Flow timeouts in seconds. ``idle``: a flow without packets for this
    long ends (NFStream). ``active``: a longer flow is cut into records of
    this length (NFStream's active timeout, Argus' status interval ``-S``)."""

    idle: int = 120
    active: int = 1800


def is_capture(path: Path) -> bool:
    """Whether the file starts like a pcap or pcapng capture."""
    with path.open("rb") as handle:
        magic = handle.read(4)
    return magic in _PCAP_MAGICS or magic == _PCAPNG_MAGIC


def check_capture(path: Path) -> int:
    """Walk the record headers of a pcap/pcapng file; return the record count.

    Raises InputError naming the byte offset of a truncated or corrupt record.
    """
    size = path.stat().st_size
    with path.open("rb") as handle:
        magic = handle.read(4)
        if magic == _PCAPNG_MAGIC:
            return _check_pcapng(path, handle, size)
        if magic not in _PCAP_MAGICS:
            raise InputError(path, f"not a pcap or pcapng capture (starts with {magic.hex() or 'nothing'})")
        order = _PCAP_MAGICS[magic]
        if size < 24:
            raise InputError(path, "truncated pcap: the 24-byte file header is incomplete")
        handle.seek(24)
        offset, records = 24, 0
        while offset < size:
            header = handle.read(16)
            if len(header) < 16:
                raise InputError(path, f"truncated pcap: record header at byte {offset} is incomplete")
            included, original = struct.unpack(order + "8xII", header)
            if included > _RECORD_LIMIT or included > max(original, 1) and original:
                raise InputError(path, f"corrupt pcap record at byte {offset} (length {included})")
            if offset + 16 + included > size:
                raise InputError(path, f"truncated pcap: the record at byte {offset} ends after the file "
                                       f"({included} bytes announced)")
            offset += 16 + included
            handle.seek(offset)
            records += 1
    return records


def _check_pcapng(path: Path, handle, size: int) -> int:
    handle.seek(8)
    order = "<" if handle.read(4) == b"\x4d\x3c\x2b\x1a" else ">"
    offset, blocks = 0, 0
    while offset < size:
        handle.seek(offset)
        header = handle.read(8)
        if len(header) < 8:
            raise InputError(path, f"truncated pcapng: block header at byte {offset} is incomplete")
        _, length = struct.unpack(order + "II", header)
        if length < 12 or length % 4 or offset + length > size:
            raise InputError(path, f"truncated or corrupt pcapng block at byte {offset} (length {length})")
        offset += length
        blocks += 1
    return blocks


def measure(pcap: Path, out_csv: Path, meter: str = "nfstream", timeouts: Timeouts = Timeouts()) -> Path:
    """Turn ``pcap`` into a flow CSV at ``out_csv`` (written atomically)."""
    if meter not in METERS:
        raise IotidsError(f"unknown flow meter {meter!r}; choose one of: {', '.join(METERS)}")
    check_capture(pcap)
    run: Callable[[Path, Path, Timeouts], None] = _argus if meter == "argus" else _nfstream
    with atomic_path(out_csv) as tmp:
        run(pcap, tmp, timeouts)
    return out_csv


def _tool(name: str) -> str:
    # Debian installs argus in /usr/sbin, which a normal user's PATH may lack.
    found = shutil.which(name, path=f"{os.environ.get('PATH', '')}{os.pathsep}/usr/sbin{os.pathsep}/sbin")
    if found is None:
        raise IotidsError(f"`{name}` not found: install the Debian packages argus-server and argus-client "
                          "(`make tools` does), or use --meter nfstream")
    return found


def _argus(pcap: Path, out_csv: Path, timeouts: Timeouts) -> None:
    argus, ra = _tool("argus"), _tool("ra")
    titles = {field: title for title, field in RA_TITLES.items()}
    with tempfile.TemporaryDirectory(prefix="iotids-argus-") as scratch:
        records = Path(scratch) / "flows.argus"
        _run([argus, "-r", str(pcap), "-w", str(records), "-S", str(timeouts.active)], pcap)
        if not records.exists():
            raise InputError(pcap, "argus wrote no flow records")
        with out_csv.open("w", encoding="utf-8") as handle:  # streamed: ra's output can be large
            _run([ra, "-nn", "-u", "-r", str(records), "-c", ",", "-s", *RA_FIELDS, "-", "not", "man"], pcap, handle)
    with out_csv.open(encoding="utf-8", errors="replace") as handle:
        first = handle.readline().rstrip("\n")
    expected = ",".join(titles[f] for f in RA_FIELDS)
    if first != expected:
        raise IotidsError(f"{pcap}: ra printed an unexpected header {first!r}; expected {expected!r}")


def _run(command: list[str], pcap: Path, stdout=subprocess.DEVNULL) -> None:
    done = subprocess.run(command, stdout=stdout, stderr=subprocess.PIPE, text=True, errors="replace", check=False)
    if done.returncode != 0:
        problem = (done.stderr.strip().splitlines() or [f"exit code {done.returncode}"])[-1]
        raise InputError(pcap, f"{Path(command[0]).name} failed: {problem}")


# NFStream columns written to nfstream-csv; the statistics are its
# statistical_analysis set, and the two payload counts come from PayloadBytes.
NFSTREAM_COLUMNS = (
    "src_ip", "src_mac", "src_port", "dst_ip", "dst_mac", "dst_port", "protocol", "ip_version", "vlan_id",
    "bidirectional_first_seen_ms", "bidirectional_last_seen_ms", "bidirectional_duration_ms",
    "bidirectional_packets", "bidirectional_bytes",
    "src2dst_first_seen_ms", "src2dst_last_seen_ms", "src2dst_duration_ms", "src2dst_packets", "src2dst_bytes",
    "dst2src_first_seen_ms", "dst2src_last_seen_ms", "dst2src_duration_ms", "dst2src_packets", "dst2src_bytes",
    "src2dst_payload_bytes", "dst2src_payload_bytes",
    *(f"{d}_{s}_ps" for d in ("bidirectional", "src2dst", "dst2src") for s in ("min", "mean", "stddev", "max")),
    *(f"{d}_{s}_piat_ms" for d in ("bidirectional", "src2dst", "dst2src") for s in ("min", "mean", "stddev", "max")),
    *(f"{d}_{f}_packets" for d in ("bidirectional", "src2dst", "dst2src")
      for f in ("syn", "cwr", "ece", "urg", "ack", "psh", "rst", "fin")),
)


def _payload_plugin():
    from nfstream import NFPlugin

    class PayloadBytes(NFPlugin):
        """Payload (transport data) bytes per direction; NFStream itself counts IP bytes."""

        def on_init(self, packet, flow):
            flow.udps.src2dst_payload_bytes = 0
            flow.udps.dst2src_payload_bytes = 0
            self.on_update(packet, flow)

        def on_update(self, packet, flow):
            if packet.direction == 0:
                flow.udps.src2dst_payload_bytes += packet.payload_size
            else:
                flow.udps.dst2src_payload_bytes += packet.payload_size

    return PayloadBytes()


def _nfstream(pcap: Path, out_csv: Path, timeouts: Timeouts) -> None:
    try:
        from nfstream import NFStreamer
    except ImportError:
        raise IotidsError("nfstream is not installed (`pip install nfstream`), or use --meter argus") from None
    streamer = NFStreamer(source=str(pcap), statistical_analysis=True, n_dissections=0, n_meters=1,
                          idle_timeout=timeouts.idle, active_timeout=timeouts.active, udps=_payload_plugin())
    with out_csv.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(NFSTREAM_COLUMNS)
        try:
            for flow in streamer:
                udps = flow.udps
                writer.writerow([udps.src2dst_payload_bytes if name == "src2dst_payload_bytes"
                                 else udps.dst2src_payload_bytes if name == "dst2src_payload_bytes"
                                 else getattr(flow, name) for name in NFSTREAM_COLUMNS])
        except (ValueError, OSError) as exc:
            raise InputError(pcap, f"nfstream could not read the capture ({exc})") from None
