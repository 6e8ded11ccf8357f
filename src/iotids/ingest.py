"""Ingest: native dataset files → one flow-table Parquet file each.

Each input is streamed (lazy scan → Parquet sink) so memory stays flat
whatever the file size; the output is written under a temporary name and
renamed only once it has been checked, so a bad input leaves nothing behind.
Every Parquet file records the input's path, size and SHA-256 in its
metadata, so later results can name the exact files they came from.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq

from iotids import __version__
from iotids.atomic import atomic_path, sweep, write_json
from iotids.cluster import Jobs
from iotids.errors import InputError, IotidsError, UnknownFormatError
from iotids.labels import UnmappedLabelsError, class_counts
from iotids.sources import Layout, diagnose, scan, sniff
from iotids.sources.layout import first_line, last_line_problem

FLOW_TABLE_VERSION = 1
METADATA_KEY = "iotids"
MANIFEST = "ingest.json"
SYNTHETIC_PREFIX = "synthetic_"
# Fixed row groups: left to Polars they follow its chunking, and a file's
# bytes must not depend on the machine (a Dask worker may have other cores).
ROW_GROUP_ROWS = 65_536


@dataclass(frozen=True)
class IngestedFile:
    """What ingest made of one input file."""

    path: str
    format: str
    source: str
    capture: str
    rows: int
    labels: dict[str, int]  # label text exactly as written -> rows
    sha256: str
    size: int
    output: str
    synthetic: bool


@dataclass(frozen=True)
class SkippedFile:
    """A file found in a directory that is not a dataset file."""

    path: str
    reason: str


@dataclass
class IngestReport:
    files: list[IngestedFile] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)

    def to_json(self) -> dict:
        return {
            "files": [asdict(f) for f in self.files],
            "skipped": [asdict(s) for s in self.skipped],
        }


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def discover(inputs: Iterable[str | Path]) -> tuple[list[Layout], list[SkippedFile]]:
    """Recognise every named file and every file under every named directory.

    A named file that is not a dataset file is an error; inside a directory
    such files (READMEs, pcaps, …) are skipped and reported.
    """
    layouts: list[Layout] = []
    skipped: list[SkippedFile] = []
    for item in inputs:
        path = Path(item)
        if not path.exists():
            raise InputError(path, "no such file or directory")
        if not path.is_dir():
            layouts.append(sniff(path))
            continue
        found = 0
        for member in sorted(p for p in path.rglob("*") if p.is_file()):
            if any(part.startswith(".") for part in member.relative_to(path).parts):
                continue
            try:
                layouts.append(sniff(member))
                found += 1
            except UnknownFormatError as exc:
                skipped.append(SkippedFile(str(member), exc.message.split(";")[0]))
        if not found:
            raise InputError(
                path, "directory holds no recognised dataset file (`iotids formats` lists them)"
            )
    return layouts, skipped


def output_names(layouts: list[Layout]) -> list[str]:
    """One distinct Parquet file name per input: ``<source>-<capture>.parquet``."""
    names: list[str] = []
    for layout in layouts:
        stem = f"{layout.source}-{layout.capture}"
        name, n = f"{stem}.parquet", 1
        while name in names:
            n += 1
            name = f"{stem}-{n}.parquet"
        names.append(name)
    return names


def ingest_file(layout: Layout, output: Path) -> IngestedFile:
    """Stream one recognised file to ``output``; raise InputError if it is bad."""
    path = layout.path
    size = path.stat().st_size
    sha256 = sha256_file(path)
    rows, labels = _write_flow_table(layout, output, sha256, size)
    return IngestedFile(
        path=str(path), format=layout.format, source=layout.source, capture=layout.capture,
        rows=rows, labels=labels, sha256=sha256, size=size, output=output.name,
        synthetic=_is_synthetic(path),
    )


def _is_synthetic(path: Path) -> bool:
    return any(part.startswith(SYNTHETIC_PREFIX) for part in path.parts)


def _write_flow_table(
    layout: Layout, output: Path, sha256: str, size: int
) -> tuple[int, dict[str, int]]:
    """Sink, check and count one flow table; (rows, label counts)."""
    path = layout.path
    if last_line_problem(layout):
        raise diagnose(layout, "the last line is incomplete")

    # A plain dict: a Python callback here can abort the interpreter at exit
    # when Polars' writer thread drops it late.
    document = {
        "flow_table_version": FLOW_TABLE_VERSION,
        "iotids_version": __version__,
        "input": {"path": str(path.resolve()), "size": size, "sha256": sha256},
        "format": layout.format,
        "source": layout.source,
        "capture": layout.capture,
        "label_columns": list(layout.label_columns),
        "synthetic": _is_synthetic(path),
    }
    metadata = {METADATA_KEY: json.dumps(document)}
    required = (*layout.required, "label_raw") if layout.label_columns else layout.required
    with atomic_path(output) as tmp:
        try:
            scan(layout).sink_parquet(tmp, metadata=metadata, compression_level=1,
                                       row_group_size=ROW_GROUP_ROWS)
        except pl.exceptions.PolarsError as exc:
            raise diagnose(layout, first_line(exc)) from None
        rows, nulls = _rows_and_nulls(tmp, required)
        if any(nulls.values()):
            empty = ", ".join(name for name, n in nulls.items() if n)
            raise diagnose(layout, f"empty values in required column(s) {empty}")
        if rows == 0:
            raise InputError(path, "no flow rows")
        labels = _label_counts(tmp) if layout.label_columns else {}
        try:
            class_counts(layout.source, labels)
        except UnmappedLabelsError as exc:
            raise InputError(path, str(exc)) from None
    return rows, labels


def ingest(
    inputs: Iterable[str | Path],
    out_dir: str | Path,
    *,
    workers: int = 1,
    scheduler: str | None = None,
    on_start: Callable[[list[Layout]], None] | None = None,
    on_file: Callable[[IngestedFile], None] | None = None,
) -> IngestReport:
    """Ingest files and directories into ``out_dir``; write ``ingest.json`` there.

    All inputs are recognised before any is read, so a wrong file fails fast.
    Files are read ``workers`` at a time here, or as tasks on the Dask cluster
    whose ``scheduler`` address is given (same outputs, byte for byte).
    ``on_start`` receives the recognised inputs, ``on_file`` each finished one.
    """
    out = Path(out_dir)
    layouts, skipped = discover(inputs)
    if on_start:
        on_start(layouts)
    # Absolute paths: a Dask worker's working directory is not ours.
    jobs = [(str(layout.path.absolute()), str((out / name).absolute()), str(layout.path), layout.capture)
            for layout, name in zip(layouts, output_names(layouts), strict=True)]
    with Jobs(scheduler, workers) as runner:
        out.mkdir(parents=True, exist_ok=True)
        sweep(out)
        runner.check_shared(out, [layout.path.absolute() for layout in layouts])
        files = runner.map(ingest_path, jobs, on_done=lambda i, done: on_file(done) if on_file else None)
    report = IngestReport(files, skipped)
    _update_manifest(out / MANIFEST, report)
    return report


def ingest_path(path: str, output: str, shown: str, capture: str) -> IngestedFile:
    """One job: recognise and ingest the file at ``path`` (absolute).

    The report and any error name it ``shown``, as the user did, and its
    capture is the one recognised from that name (a capture can come from the
    parent folder, which an absolute path may add). The Layout is rebuilt
    where the job runs rather than shipped there: it holds functions.
    """
    try:
        done = ingest_file(replace(sniff(path), capture=capture), Path(output))
    except InputError as exc:
        if exc.path != path:
            raise
        raise type(exc)(shown, exc.message, line=exc.line, column=exc.column) from None
    return replace(done, path=shown)


def default_workers() -> int:
    """Parallel files only when cores are to spare: Polars already uses them all."""
    return max(1, (os.cpu_count() or 1) // 4)


def read_metadata(parquet: str | Path) -> dict:
    """The iotids metadata ingest stored in a flow-table Parquet file."""
    raw = pq.read_metadata(parquet).metadata or {}
    if METADATA_KEY.encode() not in raw:
        raise InputError(parquet, "not a flow table written by `iotids ingest` (no iotids metadata)")
    return json.loads(raw[METADATA_KEY.encode()])


def _rows_and_nulls(parquet: Path, columns: Iterable[str]) -> tuple[int, dict[str, int]]:
    """Row count and null counts from the Parquet footer statistics (no data read)."""
    meta = pq.read_metadata(parquet)
    index = {meta.schema.column(i).name: i for i in range(meta.num_columns)}
    nulls = dict.fromkeys(columns, 0)
    for g in range(meta.num_row_groups):
        group = meta.row_group(g)
        for name in nulls:
            stats = group.column(index[name]).statistics
            nulls[name] += stats.null_count if stats is not None and stats.has_null_count else 0
    return meta.num_rows, nulls


def _label_counts(parquet: Path) -> dict[str, int]:
    counts = (
        pl.scan_parquet(parquet)
        .group_by("label_raw")
        .len()
        .sort(["len", "label_raw"], descending=[True, False])
        .collect()
    )
    return {label: n for label, n in counts.iter_rows()}


def _update_manifest(manifest: Path, report: IngestReport) -> None:
    """Merge this run's files into the directory's manifest, keyed by output."""
    entries: dict[str, dict] = {}
    if manifest.exists():
        try:
            entries = {e["output"]: e for e in json.loads(manifest.read_text())["files"]}
        except (ValueError, KeyError, TypeError) as exc:
            raise IotidsError(f"{manifest}: unreadable manifest ({exc}); remove it") from None
    entries.update({f.output: asdict(f) for f in report.files})
    write_json(
        manifest,
        {"format_version": 1, "files": sorted(entries.values(), key=lambda e: e["output"])},
    )
