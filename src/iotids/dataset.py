"""Task tables: flow tables → one labelled table per task, deduplicated and split.

No table is held in memory: each flow table's task rows are a lazy frame
(``TaskRows``) streamed once per pass; which side of the split a row goes to
is an expression (iotids.split) and duplicates are found in partitions
(iotids.duplicates), so a build's memory does not grow with its rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow.parquet as pq

from iotids.errors import IotidsError
from iotids.ingest import read_metadata
from iotids.labels import LABEL_MAP, TASKS, to_class
from iotids.schema import common_features, seed_features
from iotids.split import ROW_BITS, SideRule

TASK_SOURCES: dict[str, tuple[str, ...]] = {
    "iotds2": ("botiot", "iotid20", "iotds2", "mqtt", "iot23"),
    "iotid20": ("iotid20",),
}
# Of MQTT-IoT-IDS2020's three feature levels one enters a task, so that a
# flow is not counted three times: biflow, the level closest to a flow record.
TASK_FORMATS_SKIPPED = ("mqtt-packet", "mqtt-uniflow", "zeek-conn")

SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class FlowTable:
    path: Path
    index: int
    meta: dict
    rows: int  # 1 + the largest row id (row ids count data lines, so blank lines leave gaps)

    @property
    def source(self) -> str:
        return self.meta["source"]

    @property
    def format(self) -> str:
        return self.meta["format"]


def class_names(task: str, binary: bool) -> tuple[str, ...]:
    return TASKS["binary"] if binary else TASKS[task]


def class_counts(rows: pl.LazyFrame, names: Sequence[str]) -> dict[str, int]:
    """Rows per class name, in class-id order, from a frame with a ``label`` id column (streamed)."""
    counts = rows.group_by("label").len().sort("label").collect(engine="streaming")
    return {names[c]: int(n) for c, n in counts.iter_rows()}


def find_flow_tables(flows_dir: str | Path, task: str) -> list[FlowTable]:
    """The flow tables under ``flows_dir`` that feed ``task``."""
    folder = Path(flows_dir)
    if not folder.is_dir():
        raise IotidsError(f"{folder}: not a directory of flow tables (make one with `iotids ingest`)")
    tables = []
    for path in sorted(folder.glob("*.parquet")):
        meta = read_metadata(path)
        if meta["source"] in TASK_SOURCES[task] and meta["format"] not in TASK_FORMATS_SKIPPED:
            tables.append(FlowTable(path, len(tables), meta, _row_id_span(path)))
    if not tables:
        raise IotidsError(
            f"{folder}: no flow tables of the {task} task's sources ({', '.join(TASK_SOURCES[task])}); "
            "ingest the dataset files first"
        )
    return tables


def _row_id_span(path: Path) -> int:
    """1 + the largest row id of a flow table, from its Parquet statistics (no data read)."""
    meta = pq.read_metadata(path)
    column = meta.schema.names.index("row_id")
    largest = -1
    for g in range(meta.num_row_groups):
        stats = meta.row_group(g).column(column).statistics
        if stats is None or not stats.has_min_max:
            return int(pl.scan_parquet(path).select(pl.col("row_id").max()).collect().item() or -1) + 1
        largest = max(largest, int(stats.max))
    return largest + 1


def class_table(source: str, task: str, binary: bool) -> pl.DataFrame:
    """label_raw (lower case) → class id for one source; labels outside the task left out."""
    names = class_names(task, binary)
    rows = []
    for raw in LABEL_MAP.get(source, {}):
        in_task = to_class(source, raw, task)
        if in_task is None:
            continue
        cls = to_class(source, raw, "binary") if binary else in_task
        rows.append((raw.casefold(), names.index(cls)))
    # "_class", not "label": IoT-23 has a native column called label.
    return pl.DataFrame(rows, schema={"_label_key": pl.String, "_class": pl.Int32}, orient="row")


def task_frame(table: FlowTable, task: str, binary: bool, schema: str) -> pl.LazyFrame:
    """One flow table as task rows: key, source, capture, label (class id), features."""
    lf = pl.scan_parquet(table.path)
    if schema == "common":
        features = common_features(table.format)
    else:
        names = seed_features(lf.collect_schema(), table.source, table.meta["label_columns"])
        features = [pl.col(name) for name in names]
    return (
        lf.with_columns(pl.col("label_raw").str.to_lowercase().alias("_label_key"))
        # Left order kept: rows in file order, so every build writes the same bytes.
        .join(class_table(table.source, task, binary).lazy(), on="_label_key", how="inner", maintain_order="left")
        .select(
            (pl.lit(table.index << ROW_BITS, pl.Int64) + pl.col("row_id")).alias("key"),
            "source", "capture", pl.col("_class").alias("label"), *features,
        )
    )


def feature_columns(frame: pl.LazyFrame) -> list[str]:
    return [c for c in frame.collect_schema().names() if c not in ("key", "source", "capture", "label")]


@dataclass(frozen=True)
class TaskRows:
    """One flow table's task rows, as a recipe: data only, so that it travels
    to a cluster worker, which makes the lazy frame there (``rows()``)."""

    table: FlowTable
    task: str
    binary: bool
    schema: str
    keep: np.ndarray | None = None  # packed bits over row ids: False = dropped as a duplicate

    def __call__(self) -> pl.LazyFrame:
        frame = task_frame(self.table, self.task, self.binary, self.schema)
        if self.keep is None:
            return frame
        bits = np.unpackbits(self.keep, count=self.table.rows).astype(bool)
        return frame.filter(pl.lit(pl.Series(bits)).gather(pl.col("key") - (self.table.index << ROW_BITS)))


def write_sides(rows: TaskRows, rule: SideRule, folder: str) -> list[str]:
    """One job: a table's task rows on each side of the split, one Parquet
    file per side in ``folder`` (the parts ``iotids build`` merges); their paths."""
    frame, side = rows(), rule.expr()
    paths = []
    for sid, name in enumerate(SPLITS):
        path = Path(folder) / f"{name}-{rows.table.index:06d}.parquet"
        frame.filter(side == sid).sink_parquet(path)
        paths.append(str(path))
    return paths


SOURCE_HOLDOUT = "source:"  # a holdout naming a whole source dataset, e.g. "source:botiot"


def held_out_tables(tables: list[FlowTable], holdout: str) -> set[int]:
    """Indexes of the tables of one capture (or, as ``source:NAME``, of one source dataset)."""
    if holdout.startswith(SOURCE_HOLDOUT):
        source = holdout.removeprefix(SOURCE_HOLDOUT)
        held = {t.index for t in tables if t.source == source}
        what, known = "source", sorted({t.source for t in tables})
    else:
        held = {t.index for t in tables if t.meta["capture"] == holdout}
        what, known = "capture", sorted({t.meta["capture"] for t in tables})
    if not held:
        name = holdout.removeprefix(SOURCE_HOLDOUT)
        raise IotidsError(f"no flow table of {what} {name!r}; {what}s: {', '.join(known)}")
    if len(held) == len(tables):
        raise IotidsError(f"holding out {holdout!r} leaves no rows to train on")
    return held


def unplaced_classes(counts: dict[str, dict[str, int]]) -> dict[str, list[str]]:
    """Classes missing from a side of the split, from the rows per side and class: {side: [class, …]}."""
    everywhere = {name for side in counts.values() for name, n in side.items() if n}
    missing = {}
    for side in SPLITS:
        absent = sorted(everywhere - {name for name, n in counts.get(side, {}).items() if n})
        if absent:
            missing[side] = absent
    return missing
