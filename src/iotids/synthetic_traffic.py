"""SYNTHETIC traffic for trying detection without any real capture.

``write_traffic`` writes ``synthetic_capture.pcap`` (made-up Ethernet/IPv4
packets: a device's HTTPS sessions and DNS lookups, a long-lived IRC-like
session to one server, and a SYN scan of a /24 answered by resets) and
``synthetic_conn.log`` (an unlabelled Zeek conn.log of made-up flows). They
exercise the readers and flow meters; what a model says about them says
nothing about real traffic.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from iotids.atomic import atomic_path
from iotids.labels import LABEL_MAP
from iotids.synthetic import PREFIX, draw, write_zeek

_SYN, _ACK, _PSH, _FIN, _RST = 0x02, 0x10, 0x08, 0x01, 0x04


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _ip(address: str) -> bytes:
    return bytes(int(part) for part in address.split("."))


def _packet(src: str, dst: str, proto: int, transport: bytes) -> bytes:
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(transport), 0, 0x4000, 64, proto, 0, _ip(src), _ip(dst))
    header = header[:10] + struct.pack("!H", _checksum(header)) + header[12:]
    ethernet = b"\x02\x00\x00\x00\x00\x02" + b"\x02\x00\x00\x00\x00\x01" + b"\x08\x00"
    return ethernet + header + transport


def _tcp(src: str, dst: str, sport: int, dport: int, seq: int, ack: int, flags: int, payload: bytes = b"") -> bytes:
    segment = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, 64240, 0, 0) + payload
    pseudo = _ip(src) + _ip(dst) + struct.pack("!BBH", 0, 6, len(segment))
    segment = segment[:16] + struct.pack("!H", _checksum(pseudo + segment)) + segment[18:]
    return _packet(src, dst, 6, segment)


def _udp(src: str, dst: str, sport: int, dport: int, payload: bytes) -> bytes:
    return _packet(src, dst, 17, struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload)


def _session(rng: np.random.Generator, t: float, client: str, server: str, sport: int, dport: int,
             exchanges: int, gap: float, size: tuple[int, int]) -> list[tuple[float, bytes]]:
    """A TCP session: handshake, request/response exchanges, FIN both ways."""
    c, s = int(rng.integers(1 << 30)), int(rng.integers(1 << 30))
    out = [(t, _tcp(client, server, sport, dport, c, 0, _SYN)),
           (t + 0.02, _tcp(server, client, dport, sport, s, c + 1, _SYN | _ACK)),
           (t + 0.04, _tcp(client, server, sport, dport, c + 1, s + 1, _ACK))]
    c, s, t = c + 1, s + 1, t + 0.05
    for _ in range(exchanges):
        ask, answer = bytes(int(rng.integers(*size))), bytes(int(rng.integers(*size)))
        out += [(t, _tcp(client, server, sport, dport, c, s, _PSH | _ACK, ask)),
                (t + 0.03, _tcp(server, client, dport, sport, s, c + len(ask), _PSH | _ACK, answer))]
        c, s, t = c + len(ask), s + len(answer), t + gap * float(rng.uniform(0.5, 1.5))
    out += [(t, _tcp(client, server, sport, dport, c, s, _FIN | _ACK)),
            (t + 0.02, _tcp(server, client, dport, sport, s, c + 1, _FIN | _ACK)),
            (t + 0.04, _tcp(client, server, sport, dport, c + 1, s + 1, _ACK))]
    return out


def capture_packets(seed: int = 0) -> list[tuple[float, bytes]]:
    """The packets of the synthetic capture, in time order."""
    rng = np.random.default_rng(seed)
    start, device, infected = 1_700_000_000.0, "192.168.1.10", "192.168.1.20"
    packets: list[tuple[float, bytes]] = []
    for k in range(20):  # HTTPS sessions and DNS lookups of a healthy device
        t = start + 15 * k
        packets += _session(rng, t, device, "52.1.2.3", 40000 + k, 443, int(rng.integers(2, 6)), 0.2, (80, 900))
        query = bytes(int(rng.integers(30, 60)))
        packets += [(t - 0.1, _udp(device, "192.168.1.1", 50000 + k, 53, query)),
                    (t - 0.08, _udp("192.168.1.1", device, 53, 50000 + k, query + bytes(40)))]
    # A long-lived IRC-like session: small messages every few seconds.
    packets += _session(rng, start + 1, infected, "185.0.0.1", 48000, 6667, 60, 4.0, (40, 120))
    for port in range(1, 121):  # a SYN scan of one host, answered by resets
        t = start + 100 + 0.01 * port
        packets += [(t, _tcp(infected, "192.168.1.30", 60000, port, 1000, 0, _SYN)),
                    (t + 0.001, _tcp("192.168.1.30", infected, port, 60000, 0, 1001, _RST | _ACK))]
    return sorted(packets, key=lambda p: p[0])


def write_pcap(path: Path, packets: list[tuple[float, bytes]]) -> Path:
    """A classic little-endian pcap (Ethernet link type), written atomically."""
    parts = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]
    for t, frame in packets:
        seconds = int(t)
        parts.append(struct.pack("<IIII", seconds, int(round((t - seconds) * 1e6)) % 1_000_000, len(frame),
                                 len(frame)) + frame)
    with atomic_path(path) as tmp:
        tmp.write_bytes(b"".join(parts))
    return path


def write_traffic(out_dir: str | Path, *, seed: int = 0, rows: int = 200) -> list[Path]:
    """Write the synthetic capture and an unlabelled conn.log under ``out_dir``."""
    out = Path(out_dir)
    rng = np.random.default_rng(seed)
    flows = draw(rng, list(LABEL_MAP["iot23"]), "iot23", rows)
    return [write_pcap(out / f"{PREFIX}capture.pcap", capture_packets(seed)),
            write_zeek(out / f"{PREFIX}conn.log", flows, rng, labeled=False)]
