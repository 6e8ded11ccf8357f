"""Class vocabularies and the tables that map every source label to them.

The tables are data: one row per source label, read by every stage. Why each
row maps where it does is written in ``docs/labels.md``; change a mapping
there and here together.

A source label (``label_raw`` in a flow table) is the label text exactly as
the file writes it, label columns joined with ``/``:

- ``botiot``:  ``category/subcategory``      e.g. ``Theft/Data_Exfiltration``
- ``iotid20``: ``Cat/Sub_Cat``               e.g. ``Mirai/Mirai-Ackflooding``
- ``iotds2``:  ``Cat`` (ready-made IoT-DS-2 CSV, already one of the 17 classes)
- ``mqtt``:    ``scenario/is_attack``        e.g. ``sparta/1``
- ``iot23``:   ``label/detailed-label``      e.g. ``Malicious/C&C-HeartBeat``

Lookups ignore letter case: the IoT-23 honeypot captures write ``benign``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from iotids.errors import IotidsError

IOTDS2_CLASSES: tuple[str, ...] = (
    "Normal",             # 0
    "DDoS",               # 1
    "DoS",                # 2
    "MITM ARP Spoofing",  # 3
    "Mirai",              # 4
    "MQTT_bruteforce",    # 5
    "Sparta",             # 6
    "Theft",              # 7
    "Attack",             # 8
    "C&C",                # 9
    "FileDownload",       # 10
    "HeartBeat",          # 11
    "Okiru",              # 12
    "Reconnaissance",     # 13
    "Port Scan",          # 14
    "Torii",              # 15
    "Flood",              # 16
)
IOTID20_CLASSES: tuple[str, ...] = ("Normal", "Mirai", "DoS", "Scan", "MITM ARP Spoofing")
BINARY_CLASSES: tuple[str, ...] = ("Normal", "Anomaly")

TASKS: dict[str, tuple[str, ...]] = {
    "iotds2": IOTDS2_CLASSES,
    "iotid20": IOTID20_CLASSES,
    "binary": BINARY_CLASSES,
}

SOURCES: tuple[str, ...] = ("botiot", "iotid20", "iotds2", "mqtt", "iot23")

# source -> label_raw -> (IoT-DS-2 class, IoTID20 class or None when the label
# is not part of the IoTID20 task). Binary is derived: Normal, else Anomaly.
LABEL_MAP: dict[str, dict[str, tuple[str, str | None]]] = {
    "botiot": {
        "Normal/Normal": ("Normal", None),
        "DDoS/TCP": ("DDoS", None),
        "DDoS/UDP": ("DDoS", None),
        "DDoS/HTTP": ("DDoS", None),
        "DoS/TCP": ("DoS", None),
        "DoS/UDP": ("DoS", None),
        "DoS/HTTP": ("DoS", None),
        "Reconnaissance/Service_Scan": ("Reconnaissance", None),
        "Reconnaissance/OS_Fingerprint": ("Reconnaissance", None),
        "Theft/Keylogging": ("Theft", None),
        "Theft/Data_Exfiltration": ("Theft", None),
    },
    "iotid20": {
        "Normal/Normal": ("Normal", "Normal"),
        "Mirai/Mirai-Hostbruteforceg": ("Mirai", "Mirai"),
        "Mirai/Mirai-UDP Flooding": ("Flood", "Mirai"),
        "Mirai/Mirai-HTTP Flooding": ("Flood", "Mirai"),
        "Mirai/Mirai-Ackflooding": ("Flood", "Mirai"),
        "DoS/DoS-Synflooding": ("DoS", "DoS"),
        "Scan/Scan Port OS": ("Reconnaissance", "Scan"),
        "Scan/Scan Hostport": ("Port Scan", "Scan"),
        "MITM ARP Spoofing/MITM ARP Spoofing": ("MITM ARP Spoofing", "MITM ARP Spoofing"),
    },
    # The ready-made IoT-DS-2 CSV already holds the 17 class names in `Cat`.
    "iotds2": {
        name: (name, name if name in IOTID20_CLASSES else None) for name in IOTDS2_CLASSES
    },
    # Attack captures also carry normal background traffic (is_attack 0).
    "mqtt": {
        "normal/0": ("Normal", None),
        "scan_A/0": ("Normal", None),
        "scan_sU/0": ("Normal", None),
        "sparta/0": ("Normal", None),
        "mqtt_bruteforce/0": ("Normal", None),
        "scan_A/1": ("Reconnaissance", None),
        "scan_sU/1": ("Port Scan", None),
        "sparta/1": ("Sparta", None),
        "mqtt_bruteforce/1": ("MQTT_bruteforce", None),
    },
    # Combined IoT-23 labels: a malware family named anywhere wins (Mirai,
    # Okiru, Torii); otherwise the last, most specific activity wins.
    "iot23": {
        "Benign/-": ("Normal", None),
        "Malicious/Attack": ("Attack", None),
        "Malicious/C&C": ("C&C", None),
        "Malicious/C&C-FileDownload": ("FileDownload", None),
        "Malicious/C&C-HeartBeat": ("HeartBeat", None),
        "Malicious/C&C-HeartBeat-Attack": ("Attack", None),
        "Malicious/C&C-HeartBeat-FileDownload": ("FileDownload", None),
        "Malicious/C&C-HeartBeat-PartOfAHorizontalPortScan": ("Port Scan", None),
        "Malicious/C&C-Mirai": ("Mirai", None),
        "Malicious/C&C-PartOfAHorizontalPortScan": ("Port Scan", None),
        "Malicious/C&C-Torii": ("Torii", None),
        "Malicious/DDoS": ("DDoS", None),
        "Malicious/FileDownload": ("FileDownload", None),
        "Malicious/Okiru": ("Okiru", None),
        "Malicious/Okiru-Attack": ("Okiru", None),
        "Malicious/PartOfAHorizontalPortScan": ("Port Scan", None),
    },
}

# The same table keyed case-insensitively, built once.
_FOLDED: dict[str, dict[str, tuple[str, str | None]]] = {
    source: {raw.casefold(): classes for raw, classes in table.items()}
    for source, table in LABEL_MAP.items()
}


@dataclass(frozen=True)
class UnmappedLabel:
    source: str
    label_raw: str
    count: int


class UnmappedLabelsError(IotidsError):
    """Some source labels have no class: lists every one with its row count."""

    def __init__(self, unmapped: list[UnmappedLabel]) -> None:
        self.unmapped = unmapped
        listed = "; ".join(f"{u.source} {u.label_raw!r} ({u.count} rows)" for u in unmapped)
        super().__init__(
            f"{len(unmapped)} label(s) have no class mapping: {listed}. "
            "Add them to iotids.labels.LABEL_MAP (see docs/labels.md)."
        )


def to_class(source: str, label_raw: str, task: str = "iotds2") -> str | None:
    """The class of one source label in ``task``; None if the label is unknown
    or (for ``iotid20``) not part of that task."""
    classes = _FOLDED.get(source, {}).get(label_raw.casefold())
    if classes is None:
        return None
    iotds2, iotid20 = classes
    if task == "iotds2":
        return iotds2
    if task == "iotid20":
        return iotid20
    if task == "binary":
        return "Normal" if iotds2 == "Normal" else "Anomaly"
    raise ValueError(f"unknown task {task!r}; expected one of {', '.join(TASKS)}")


def class_counts(
    source: str, label_counts: Mapping[str, int], task: str = "iotds2"
) -> dict[str, int]:
    """Sum label counts into class counts for ``task`` (classes in task order).

    Raises UnmappedLabelsError listing every label without an IoT-DS-2 class.
    Labels outside the IoTID20 task are left out of ``iotid20`` counts.
    """
    unmapped = [
        UnmappedLabel(source, raw, n)
        for raw, n in label_counts.items()
        if to_class(source, raw) is None
    ]
    if unmapped:
        raise UnmappedLabelsError(unmapped)
    counts = dict.fromkeys(TASKS[task], 0)
    for raw, n in label_counts.items():
        cls = to_class(source, raw, task)
        if cls is not None:
            counts[cls] += n
    return {cls: n for cls, n in counts.items() if n}


def mapping_rows() -> list[tuple[str, str, str, str, str]]:
    """Every table row as (source, label_raw, IoT-DS-2 class, IoTID20 class, binary)."""
    rows = []
    for source, table in LABEL_MAP.items():
        for raw in table:
            rows.append(
                (
                    source,
                    raw,
                    to_class(source, raw, "iotds2") or "",
                    to_class(source, raw, "iotid20") or "-",
                    to_class(source, raw, "binary") or "",
                )
            )
    return rows
