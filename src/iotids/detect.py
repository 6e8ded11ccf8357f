"""Score flow records with a bundle and raise alerts.

Inputs: any recognised flow file (Zeek conn.log, CICFlowMeter CSV, Argus
CSV, MQTT-IoT-IDS2020 flows, NFStream CSV) or a pcap, which a flow meter
turns into flow records first (``iotids.flowmeter``). Which inputs a bundle
can score follows from its feature schema: a ``common`` bundle scores every
format with a common-schema recipe; a ``seed`` bundle scores the formats
whose native columns it was trained on.

Rows are read lazily and scored in bounded batches, so memory does not grow
with the input. ``follow`` tails a growing log and scores lines as they are
completed.

A flow is flagged when its decided class is not ``Normal``. The decision is
the bundle's (argmax, or calibrated thresholds when the bundle has them);
with ``threshold`` P, a flow is flagged when its calibrated probability of
not being Normal is at least P, and named after its likeliest attack class.
"""

from __future__ import annotations

import dataclasses
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from iotids.bundle import bundle_id, load_bundle
from iotids.dataset import class_table
from iotids.decision import classify, log_probabilities
from iotids.errors import InputError, IotidsError
from iotids.evaluate import evaluate_predictions
from iotids.flowmeter import Timeouts, is_capture, measure
from iotids.schema import (
    COMMON_SOURCES,
    ENDPOINT_FIELDS,
    FAMILIES,
    SEED_ADAPTERS,
    common_features,
    endpoints,
)
from iotids.sources import Layout, diagnose, scan, sniff
from iotids.sources.layout import first_line, last_line_problem

BENIGN = "Normal"
BACKENDS = ("auto", "torch", "onnx", "onnx-int8")
RACE_ROWS = 1024  # rows each runtime scores when `auto` times them against each other
_PREFIX = "@"  # alert fields inside the scoring frame, apart from feature names


@dataclass(frozen=True)
class DetectOptions:
    threshold: float | None = None
    batch_size: int = 8192
    meter: str = "nfstream"
    timeouts: Timeouts = Timeouts()


@dataclass
class InputReport:
    """What scoring one input found."""

    path: str
    format: str
    meter: str | None = None
    flows: int = 0
    flagged: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)
    evaluation: dict | None = None
    unlabeled: int = 0  # labelled rows whose label has no class in the bundle's task

    @property
    def flows_per_second(self) -> float:
        return self.flows / self.seconds if self.seconds > 0 else 0.0

    def to_json(self) -> dict:
        return dataclasses.asdict(self) | {"flows_per_second": round(self.flows_per_second, 1),
                                           "flagged_total": sum(self.flagged.values())}


def _flows_per_second(logits: Callable[[np.ndarray], np.ndarray], width: int) -> float:
    """Best of three timed runs on RACE_ROWS rows of ``width`` inputs, after one warm-up."""
    x = np.random.default_rng(0).uniform(-1, 1, (RACE_ROWS, width)).astype(np.float32)
    logits(x)
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        logits(x)
        best = min(best, time.perf_counter() - start)
    return RACE_ROWS / max(best, 1e-9)


class Scorer:
    """A loaded bundle, ready to score flow tables of the formats it fits."""

    def __init__(self, bundle_dir: str | Path, backend: str = "auto") -> None:
        if backend not in BACKENDS:
            raise IotidsError(f"unknown backend {backend!r}; choose one of: {', '.join(BACKENDS)}")
        self.bundle = load_bundle(bundle_dir)
        self.bundle_dir = Path(bundle_dir)
        self.id = bundle_id(bundle_dir)
        task = self.bundle.meta.get("task") or {}
        self.schema = task.get("schema") or "seed"
        self.task = "binary" if task.get("binary") else task.get("task") or "iotds2"
        self.trained_on = list(task.get("formats") or [])
        self.classes = self.bundle.classes
        self.benign = self.classes.index(BENIGN) if BENIGN in self.classes else None
        self.decision = self.bundle.meta.get("decision")
        self.speeds: dict[str, float] = {}  # flows/s per runtime, when `auto` measured them
        self.backend, self._onnx = self._open_backend(backend)

    def _open_backend(self, backend: str):
        """The runtime asked for; ``auto``: whichever of torch and onnxruntime
        scores this architecture faster on this machine (they trade places by
        model and CPU), timed on a small batch when the bundle is loaded."""
        if backend == "torch":
            return "torch", None
        try:
            import onnxruntime  # noqa: F401
        except ImportError:
            if backend != "auto":
                raise IotidsError(f"--backend {backend}: onnxruntime is not installed") from None
            return "torch", None
        from iotids.onnx_export import OnnxModel

        session = OnnxModel(self.bundle.model, int8=backend == "onnx-int8")
        if backend != "auto":
            return backend, session
        width = len(self.bundle.features)
        self.speeds = {"torch": _flows_per_second(self._torch_logits, width),
                       "onnx": _flows_per_second(session.logits, width)}
        return ("onnx", session) if self.speeds["onnx"] >= self.speeds["torch"] else ("torch", None)

    # --- which inputs fit --------------------------------------------------------

    def fitting_formats(self) -> list[str]:
        if self.schema == "common":
            return list(COMMON_SOURCES)
        families = {FAMILIES[f] for f in self.trained_on if f in FAMILIES}
        return [f for f, family in FAMILIES.items()
                if family in families or any((family, b) in SEED_ADAPTERS for b in families)]

    def check(self, layout: Layout) -> None:
        if self.schema == "seed" and not self.trained_on:
            raise InputError(self.bundle_dir, "this seed-schema bundle does not name the formats it was trained "
                                              "on (made by an older iotids); train it again")
        fits = self.fitting_formats()
        if layout.format not in fits:
            trained = f"trained on {', '.join(self.trained_on)}" if self.trained_on else "from an older iotids"
            raise InputError(layout.path, f"a {self.schema}-schema bundle ({trained}) cannot score "
                                          f"{layout.format} input; inputs that fit: {', '.join(fits) or 'none'}")

    # --- scoring -----------------------------------------------------------------

    def frame(self, layout: Layout, rows: pl.LazyFrame) -> tuple[pl.LazyFrame, list[str]]:
        """Alert fields, row_id, label_raw and the 64 model inputs of a flow table; and warnings."""
        available = set(rows.collect_schema().names())
        keep = [e.alias(_PREFIX + e.meta.output_name()) for e in endpoints(layout.format, available)]
        keep += ["row_id", "label_raw"]
        warnings: list[str] = []
        if self.schema == "common":
            rows = rows.select(*keep, *common_features(layout.format))
            keep = [_PREFIX + f for f in ENDPOINT_FIELDS] + ["row_id", "label_raw"]
        else:
            families = {FAMILIES.get(f) for f in self.trained_on}
            translated: set[str] = set()
            for (family, target), (adapter, target_columns) in SEED_ADAPTERS.items():
                if FAMILIES.get(layout.format) == family and target in families:
                    exprs = adapter()
                    needed = sorted({c for e in exprs for c in e.meta.root_names()} - available)
                    if needed:
                        raise InputError(layout.path, f"lacks columns {', '.join(needed)} needed to compute the "
                                                      "bundle's CICFlowMeter-style inputs; write the flows with "
                                                      "`iotids flows --meter nfstream`")
                    rows = rows.with_columns(exprs)
                    translated |= set(target_columns)
            have = set(rows.collect_schema().names())
            used = [f for f in self.bundle.features if f in self.bundle.preprocessor.features_]
            # Columns of other sources are 0 for these rows in training too; what
            # matters is a translated input lacking columns of the family it stands in for.
            absent = [f for f in used if f in translated and f not in have]
            if absent:
                warnings.append(f"{len(absent)} of the bundle's {len(used)} input columns are absent from this "
                                f"{layout.format} input and read as 0: {', '.join(absent[:8])}"
                                + (" …" if len(absent) > 8 else ""))
        return self.bundle.preprocessor.model_inputs(rows, self.bundle.features, keep=keep), warnings

    def logits(self, x: np.ndarray) -> np.ndarray:
        if self._onnx is not None:
            return self._onnx.logits(x)
        return self._torch_logits(x)

    def _torch_logits(self, x: np.ndarray) -> np.ndarray:
        import torch

        from iotids.train import predict_logits

        return predict_logits(self.bundle.model, torch.from_numpy(x)).numpy()

    def decide(self, logits: np.ndarray, threshold: float | None) -> tuple[np.ndarray, np.ndarray]:
        """(class ids, attack score = calibrated probability of not being Normal)."""
        log_p = log_probabilities(logits, self.decision)
        if self.benign is None:  # no Normal class: every flow is an alert of its class
            return classify(logits, self.decision), np.exp(log_p.max(1))
        score = 1.0 - np.exp(log_p[:, self.benign])
        if threshold is None:
            return classify(logits, self.decision), score
        attack = log_p.copy()
        attack[:, self.benign] = -np.inf
        return np.where(score >= threshold, attack.argmax(1), self.benign), score


# --- one input -----------------------------------------------------------------------


class _Tally:
    """Counts, alerts and (for labelled input) true and predicted classes, batch by batch."""

    def __init__(self, scorer: Scorer, layout: Layout, report: InputReport, on_alert: Callable[[dict], None],
                 threshold: float | None) -> None:
        self.scorer, self.layout, self.report = scorer, layout, report
        self.on_alert, self.threshold = on_alert, threshold
        self.labels = class_table(layout.source, scorer.task if scorer.task != "binary" else "iotds2",
                                  scorer.task == "binary") if layout.label_columns else None
        self.y_true: list[np.ndarray] = []
        self.y_pred: list[np.ndarray] = []

    def add(self, batch: pl.DataFrame, features: list[str], row_offset: int = 0) -> None:
        if batch.height == 0:
            return
        x = batch.select(features).to_numpy().astype(np.float32, copy=False)
        predicted, score = self.scorer.decide(self.scorer.logits(x), self.threshold)
        self.report.flows += batch.height
        classes = self.scorer.classes
        flagged = np.flatnonzero(predicted != self.scorer.benign) if self.scorer.benign is not None \
            else np.arange(batch.height)
        if len(flagged):
            names, counts = np.unique(predicted[flagged], return_counts=True)
            for c, n in zip(names, counts, strict=True):
                self.report.flagged[classes[c]] = self.report.flagged.get(classes[c], 0) + int(n)
            fields = batch.select([_PREFIX + f for f in ENDPOINT_FIELDS] + ["row_id"])[flagged].rows()
            for row, i in zip(fields, flagged, strict=True):
                alert = dict(zip(ENDPOINT_FIELDS, row[:-1], strict=True))
                self.on_alert(alert | {"class": classes[predicted[i]], "score": round(float(score[i]), 6),
                                       "bundle": self.scorer.id, "input": self.report.path,
                                       "row": int(row[-1]) + row_offset})
        if self.labels is not None:
            known = batch.select(pl.col("label_raw").str.to_lowercase().alias("_label_key")).with_row_index("_i") \
                .join(self.labels, on="_label_key", how="inner").sort("_i")
            self.report.unlabeled += batch.height - known.height
            self.y_true.append(known["_class"].to_numpy().astype(np.int16))
            self.y_pred.append(predicted[known["_i"].to_numpy()].astype(np.int16))

    def finish(self, started: float) -> InputReport:
        self.report.seconds = round(time.perf_counter() - started, 3)
        self.report.flagged = dict(sorted(self.report.flagged.items(), key=lambda kv: -kv[1]))
        if self.y_true and sum(len(y) for y in self.y_true):
            result = evaluate_predictions(np.concatenate(self.y_true), np.concatenate(self.y_pred),
                                          self.scorer.classes)
            result["rows_without_class"] = self.report.unlabeled
            self.report.evaluation = result
        return self.report


def _batches(layout: Layout, frame: pl.LazyFrame, size: int) -> Iterator[pl.DataFrame]:
    try:
        yield from frame.collect_batches(chunk_size=size)
    except pl.exceptions.PolarsError as exc:
        raise diagnose(layout, first_line(exc)) from None


def detect_file(scorer: Scorer, path: str | Path, options: DetectOptions,
                on_alert: Callable[[dict], None]) -> InputReport:
    """Score one flow file or pcap; alerts go to ``on_alert`` as they are found."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "no such file")
    started = time.perf_counter()
    if is_capture(path):
        with tempfile.TemporaryDirectory(prefix="iotids-flows-") as scratch:
            flows = measure(path, Path(scratch) / f"{path.stem}.{options.meter}.csv", options.meter, options.timeouts)
            try:
                layout = dataclasses.replace(sniff(flows), capture=path.stem)
            except InputError as exc:
                raise InputError(path, f"{options.meter} found no flows in the capture ({exc.message})") from None
            return _score_layout(scorer, layout, options, on_alert, started, str(path), options.meter)
    return _score_layout(scorer, sniff(path), options, on_alert, started, str(path), None)


def _score_layout(scorer: Scorer, layout: Layout, options: DetectOptions, on_alert, started: float,
                  shown: str, meter: str | None) -> InputReport:
    scorer.check(layout)
    if last_line_problem(layout):
        raise diagnose(layout, "the last line is incomplete")
    frame, warnings = scorer.frame(layout, scan(layout))
    report = InputReport(shown, layout.format, meter, warnings=warnings)
    tally = _Tally(scorer, layout, report, on_alert, options.threshold)
    for batch in _batches(layout, frame, options.batch_size):
        tally.add(batch, scorer.bundle.features)
    return tally.finish(started)


# --- a growing log -------------------------------------------------------------------

CHUNK_BYTES = 4 << 20  # the most new bytes scored at once


def follow(scorer: Scorer, path: str | Path, options: DetectOptions, on_alert: Callable[[dict], None],
           on_batch: Callable[[InputReport], None] = lambda report: None, poll: float = 0.2,
           idle_exit: float | None = None, stop: Callable[[], bool] = lambda: False) -> InputReport:
    """Score the rows already in ``path``, then every line appended to it.

    Only complete lines (ending in a newline) are read. A file that shrinks
    (rotated or truncated) is read again from its start. Returns when
    ``stop()`` is true or nothing was appended for ``idle_exit`` seconds.
    """
    path = Path(path)
    started = time.perf_counter()
    layout = _wait_for_layout(path, poll, idle_exit, stop)
    if layout is None:
        return InputReport(str(path), "unknown")
    scorer.check(layout)
    report = InputReport(str(path), layout.format)
    tally = _Tally(scorer, layout, report, on_alert, options.threshold)
    offset, lines_read, idle = 0, 0, 0.0
    with tempfile.TemporaryDirectory(prefix="iotids-follow-") as scratch:
        chunk_path = Path(scratch) / path.name
        identity = _identity(path)
        while not stop():
            now = _identity(path)
            size = now[2] if now else 0
            if now is None or now[:2] != identity[:2] or size < offset:  # rotated or truncated: start again
                offset, lines_read, identity = 0, 0, now or identity
            data = b""
            if size > offset:
                try:
                    with path.open("rb") as handle:
                        handle.seek(offset)
                        data = handle.read(min(size - offset, CHUNK_BYTES))
                except FileNotFoundError:  # rotated away between the two looks
                    data = b""
                if data and b"\n" not in data and len(data) == CHUNK_BYTES:
                    raise InputError(path, f"a line longer than {CHUNK_BYTES >> 20} MiB", line=lines_read + 1)
                data = data[: data.rfind(b"\n") + 1]
            if not data:
                time.sleep(poll)
                idle += poll
                if idle_exit is not None and idle >= idle_exit:
                    break
                continue
            idle = 0.0
            skip = layout.header_lines if offset == 0 and layout.comment_prefix is None else 0
            body = data.split(b"\n", skip)[-1] if skip else data
            chunk_path.write_bytes(body)
            piece = dataclasses.replace(layout, path=chunk_path, header_lines=0)
            frame, warnings = scorer.frame(piece, scan(piece))
            report.warnings = sorted(set(report.warnings) | set(warnings))
            try:
                rows_before = report.flows
                for batch in _batches(piece, frame, options.batch_size):
                    tally.add(batch, scorer.bundle.features, row_offset=rows_before)
            except InputError as exc:
                line = None if exc.line is None else exc.line + lines_read + skip
                raise InputError(path, exc.message, line=line, column=exc.column) from None
            offset += len(data)
            lines_read += data.count(b"\n")
            report.seconds = round(time.perf_counter() - started, 3)
            on_batch(report)
    return tally.finish(started)


def _identity(path: Path) -> tuple[int, int, int] | None:
    """(device, inode, size) of ``path``, or None while it does not exist."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return stat.st_dev, stat.st_ino, stat.st_size


def _wait_for_layout(path: Path, poll: float, idle_exit: float | None, stop: Callable[[], bool]) -> Layout | None:
    """Sniff ``path`` once it holds a header and a first complete row."""
    waited = 0.0
    while not stop():
        if path.exists() and path.stat().st_size > 0 and not is_capture(path):
            try:
                return sniff(path)
            except InputError as exc:
                if "header only" not in exc.message and "no flow rows" not in exc.message:
                    raise
        elif path.exists() and is_capture(path):
            raise InputError(path, "--follow reads a growing flow log or CSV, not a pcap")
        time.sleep(poll)
        waited += poll
        if idle_exit is not None and waited >= idle_exit:
            raise InputError(path, f"no flow rows appeared within {idle_exit:g} s")
    return None
