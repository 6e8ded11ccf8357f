"""``iotids reproduce``: the whole study in one command.

ingest → build IoT-DS-2 (preprocessing, RFE-64) → train CNN1D/2D/3D →
evaluate → build the three transfer targets with the IoT-DS-2 preprocessor
and features → transfer (and train from scratch, for comparison) →
evaluate → LightGBM baseline per task → report.

Every stage writes under OUT_DIR and records a fingerprint of its inputs in
``OUT_DIR/stages.json``; a rerun skips stages whose fingerprint is unchanged,
so an interrupted run resumes (a half-trained model resumes from its
checkpoint). A task whose dataset is absent is skipped with one line and
shows in the report as not run.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
import tomllib
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

from iotids import __version__
from iotids.atomic import write_json
from iotids.dataset import TASK_FORMATS_SKIPPED, TASK_SOURCES
from iotids.errors import InputError, IotidsError

MODELS = ("cnn1d", "cnn2d", "cnn3d")
# The four results of the study: (task, binary, built like the IoT-DS-2 task?).
TASKS: dict[str, tuple[str, bool]] = {
    "iotds2": ("iotds2", False),
    "iotds2-binary": ("iotds2", True),
    "iotid20": ("iotid20", False),
    "iotid20-binary": ("iotid20", True),
}
TRANSFER_TARGETS = ("iotds2-binary", "iotid20", "iotid20-binary")
# Rare-class variants: how each changes the training configuration.
WEAK_CLASS_VARIANTS: dict[str, dict] = {
    "class-weights": {"class_weights": True},
    "focal": {"loss": "focal"},
    "balanced": {"sampling": "balanced"},
    "thresholds": {"tune_thresholds": True},
}
PROTOCOLS = ("study", "grouped", "leave-one-capture-out", "leave-one-dataset-out")
EXPECTED_FILES = {
    "iotds2": "BoT-IoT CSVs, IoTID20 'IoT Network Intrusion Dataset.csv', MQTT-IoT-IDS2020 biflow_*.csv "
              "or IoT-23 conn.log.labeled",
    "iotid20": "IoTID20's 'IoT Network Intrusion Dataset.csv' (format iotid20-cic)",
}


@dataclass(frozen=True)
class StudyConfig:
    models: tuple[str, ...] = MODELS
    split: str = "random"
    schema: str = "seed"
    dedup: bool = False
    k: int = 64
    epochs: int = 30
    batch_size: int = 1024
    patience: int = 5
    freeze: bool = True
    precision: str = "auto"
    seed: int = 0
    baseline: bool = True
    scratch: bool = True  # also train the transfer targets from scratch, for comparison
    # Rare-class variants of the first model on IoT-DS-2, compared with it class by class:
    # any of class-weights, focal, balanced, thresholds.
    weak_class_variants: tuple[str, ...] = ()
    # Evaluation protocols run besides the main one (the study's: random split), each
    # training the first model and LightGBM: grouped, leave-one-capture-out,
    # leave-one-dataset-out ("study" names the main run and adds nothing).
    protocols: tuple[str, ...] = ()
    # The same as listing leave-one-capture-out in protocols (kept for older configs).
    leave_one_capture_out: bool = False

    def extra_protocols(self) -> tuple[str, ...]:
        chosen = set(self.protocols) | ({"leave-one-capture-out"} if self.leave_one_capture_out else set())
        if self.split == "grouped":
            chosen.discard("grouped")  # the main run is grouped already
        return tuple(p for p in PROTOCOLS if p in chosen and p != "study")

    def check(self) -> StudyConfig:
        odd_protocols = [p for p in self.protocols if p not in PROTOCOLS]
        if odd_protocols:
            raise IotidsError(f"protocols must be among {', '.join(PROTOCOLS)}; got {', '.join(odd_protocols)}")
        odd = [v for v in self.weak_class_variants if v not in WEAK_CLASS_VARIANTS]
        if odd:
            raise IotidsError(f"weak_class_variants must be among {', '.join(WEAK_CLASS_VARIANTS)}; "
                              f"got {', '.join(odd)}")
        unknown = [m for m in self.models if m not in MODELS]
        if unknown or not self.models:
            raise IotidsError(f"models must be among {', '.join(MODELS)}; got {', '.join(self.models) or 'none'}")
        if self.split not in ("random", "grouped") or self.schema not in ("seed", "common"):
            raise IotidsError("split must be random or grouped; schema seed or common")
        if self.epochs < 1 or self.batch_size < 1 or self.k < 1:
            raise IotidsError("epochs, batch_size and k must be at least 1")
        return self


def load_config(path: str | Path, base: StudyConfig = StudyConfig()) -> StudyConfig:
    """Settings from a TOML file (table [study], keys as StudyConfig's fields)."""
    try:
        document = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(path, f"cannot read: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(path, f"not valid TOML ({exc})") from None
    study = document.get("study", {})
    names = {f.name: f for f in fields(StudyConfig)}
    unknown = sorted(set(study) - set(names))
    if unknown:
        raise InputError(path, f"unknown setting(s) {', '.join(unknown)} in [study]; known: {', '.join(names)}")
    values = {k: tuple(v) if k in ("models", "weak_class_variants", "protocols") else v for k, v in study.items()}
    for key, value in values.items():
        expected = type(getattr(base, key))
        if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
            raise InputError(path, f"[study] {key} must be {expected.__name__}, not {value!r}")
    return replace(base, **values).check()


class Stages:
    """Fingerprints of finished stages, so reruns skip what has not changed."""

    def __init__(self, out: Path, log: Callable[[str], None]) -> None:
        self.path = out / "stages.json"
        self.log = log
        self.done: dict = json.loads(self.path.read_text()) if self.path.exists() else {}

    def run(self, name: str, inputs: object, output: Path, action: Callable[[], dict]) -> tuple[str, dict]:
        """Run ``action`` unless ``name`` finished before with the same inputs;
        return (fingerprint, the action's result)."""
        fingerprint = hashlib.sha256(json.dumps([__version__, inputs], sort_keys=True,
                                                default=str).encode()).hexdigest()[:16]
        previous = self.done.get(name)
        if previous and previous["fingerprint"] == fingerprint and output.exists():
            self.log(f"{name}: unchanged, skipped")
            return fingerprint, previous["result"]
        if previous and output.exists() and previous["fingerprint"] != fingerprint:
            shutil.rmtree(output) if output.is_dir() else output.unlink()
        self.log(f"{name}: running")
        started = time.perf_counter()
        result = action()
        seconds = round(time.perf_counter() - started, 2)
        self.done[name] = {"fingerprint": fingerprint, "seconds": seconds, "result": result}
        write_json(self.path, self.done)
        return fingerprint, result

    def seconds(self) -> dict[str, float]:
        return {name: entry["seconds"] for name, entry in self.done.items()}


def data_fingerprint(data_dir: Path) -> list:
    """Names, sizes and modification times of every file under the data directory."""
    if not data_dir.exists():
        raise InputError(data_dir, "no such file or directory")
    files = [data_dir] if data_dir.is_file() else sorted(p for p in data_dir.rglob("*") if p.is_file())
    return [(str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in files]


def reproduce(data_dir: str | Path, out_dir: str | Path, config: StudyConfig,
              log: Callable[[str], None] = lambda line: None) -> dict:
    """Run the study; write results.json, report.md and report.html; return the results."""
    from iotids.baseline import run_baseline
    from iotids.build import BuildOptions, build
    from iotids.evaluate import confusion_png, evaluate_bundle
    from iotids.ingest import ingest
    from iotids.report import write_report
    from iotids.train import TrainConfig, train

    config.check()
    data, out = Path(data_dir), Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stages = Stages(out, log)
    flows = out / "flows"
    ingest_fp, ingested = stages.run("ingest", data_fingerprint(data), flows,
                                     lambda: ingest([data], flows).to_json())
    results: dict = {"tasks": {}, "not_run": {}}
    task_fp: dict[str, str] = {}
    manifests: dict[str, dict] = {}
    for name, (task, binary) in TASKS.items():
        like = None if name == "iotds2" else str(out / "tasks" / "iotds2")
        if like and "iotds2" not in task_fp:
            results["not_run"][name] = "the IoT-DS-2 task it is built like did not run"
            continue
        if not any(f["source"] in TASK_SOURCES[task] and f["format"] not in TASK_FORMATS_SKIPPED
                   for f in ingested["files"]):
            reason = f"no {task} flows: looked under {data} for {EXPECTED_FILES[task]}"
            log(f"{name}: skipped, {reason}")
            results["not_run"][name] = reason
            continue
        options = BuildOptions(task=task, binary=binary, schema=config.schema, split=config.split,
                               dedup=config.dedup, seed=config.seed, k=config.k, like=like)
        folder = out / "tasks" / name
        task_fp[name], manifests[name] = stages.run(
            f"build {name}", [ingest_fp, task_fp.get("iotds2"), asdict(options)], folder,
            lambda options=options, folder=folder: build(flows, folder, options))

    def train_stage(stage: str, task: str, folder: Path, train_config: TrainConfig, upstream: list) -> str:
        fingerprint, _ = stages.run(stage, [*upstream, asdict(train_config)], folder,
                                    lambda: train(out / "tasks" / task, folder, train_config))
        return fingerprint

    def evaluate_stage(label: str, task: str, bundle: Path, upstream: str, only_classes: list[str] | None = None,
                       group_ci: bool | None = None) -> dict:
        """Evaluate on the test split; ``group_ci`` None: intervals over captures when the split is grouped."""
        image = out / "figures" / f"confusion-{label}.png"
        by_groups = config.split == "grouped" if group_ci is None else group_ci
        inputs = [upstream] if only_classes is None and group_ci is None else [upstream, only_classes, group_ci]

        def action() -> dict:
            result = evaluate_bundle(bundle, out / "tasks" / task, only_classes=only_classes, group_ci=by_groups)
            result["confusion_png"] = str(confusion_png(result, image, f"{label} (test)").relative_to(out))
            meta = json.loads((bundle / "bundle.json").read_text())
            result["train_seconds"] = meta["training"]["seconds"]
            result["epochs_run"] = meta["training"]["epochs_run"]
            return result

        return stages.run(f"evaluate {label}", inputs, image, action)[1]

    common = dict(epochs=config.epochs, batch_size=config.batch_size, patience=config.patience,
                  precision=config.precision, seed=config.seed)
    for model in config.models:
        if "iotds2" not in task_fp:
            break
        source = out / "models" / f"iotds2-{model}"
        source_fp = train_stage(f"train iotds2-{model}", "iotds2", source, TrainConfig(model=model, **common),
                                [task_fp["iotds2"]])
        _record(results, "iotds2", model, evaluate_stage(f"iotds2-{model}", "iotds2", source, source_fp))
        for target in TRANSFER_TARGETS:
            if target not in task_fp:
                continue
            variants = {"transfer": TrainConfig(model=model, transfer_from=str(source), freeze=config.freeze,
                                                **common)}
            if config.scratch:
                variants["scratch"] = TrainConfig(model=model, **common)
            for variant, train_config in variants.items():
                label = f"{target}-{model}-{variant}"
                folder = out / "models" / label
                fp = train_stage(f"train {label}", target, folder, train_config,
                                 [task_fp[target], source_fp if variant == "transfer" else None])
                _record(results, target, f"{model} ({variant})",
                        evaluate_stage(label, target, folder, fp))
    if "iotds2" in task_fp and config.weak_class_variants:
        model = config.models[0]
        for variant in config.weak_class_variants:
            label = f"iotds2-{model}-{variant}"
            folder = out / "models" / label
            fp = train_stage(f"train {label}", "iotds2", folder,
                             TrainConfig(model=model, **common, **WEAK_CLASS_VARIANTS[variant]), [task_fp["iotds2"]])
            _record(results, "iotds2", f"{model} ({variant})", evaluate_stage(label, "iotds2", folder, fp))
        results["weak_classes"] = _weak_class_table(results["tasks"]["iotds2"], model, config.weak_class_variants)
    extra = config.extra_protocols() if "iotds2" in task_fp else ()
    protocol = _Protocol(out, flows, config, stages, ingest_fp, train_stage, evaluate_stage, common)
    if "grouped" in extra:
        results.setdefault("protocols", {})["grouped"] = protocol.grouped()
    if "leave-one-capture-out" in extra:
        results["leave_one_capture_out"] = protocol.leave_one_capture_out(ingested)
    if "leave-one-dataset-out" in extra:
        results.setdefault("protocols", {})["leave-one-dataset-out"] = protocol.leave_one_dataset_out(ingested)
    if config.baseline:
        for name, fp in task_fp.items():
            saved = out / "models" / f"{name}-lightgbm"
            result = stages.run(f"baseline {name}", [fp, config.seed], saved,
                                lambda name=name, saved=saved: run_baseline(
                                    out / "tasks" / name, seed=config.seed, out=saved,
                                    group_ci=config.split == "grouped"))[1]
            _record(results, name, "lightgbm", result)
    results |= {
        "data": {"directory": str(data.resolve()), "files": ingested["files"],
                 "synthetic": any(f["synthetic"] for f in ingested["files"])},
        "config": asdict(config),
        "tasks_built": {name: {k: m[k] for k in ("classes", "rows", "class_counts", "duplicates", "warnings",
                                                   "split", "schema", "seed")} for name, m in manifests.items()},
        "seconds": stages.seconds(),
        "versions": _versions(),
    }
    write_json(out / "results.json", results)
    write_report(results, out)
    return results


class _Protocol:
    """The extra evaluation protocols that train the first model and LightGBM on
    a task built another way, and score its test split."""

    def __init__(self, out: Path, flows: Path, config: StudyConfig, stages: Stages, ingest_fp: str,
                 train_stage, evaluate_stage, common: dict) -> None:
        self.out, self.flows, self.config, self.stages = out, flows, config, stages
        self.ingest_fp, self.train_stage, self.evaluate_stage, self.common = (ingest_fp, train_stage,
                                                                             evaluate_stage, common)

    def _fold(self, name: str, options, only_classes=None, group_ci: bool | None = None) -> dict:
        """Build task ``name``, train and evaluate the first model and LightGBM on it.
        ``group_ci`` None: the CNN as the main run's evaluation, LightGBM without."""
        from iotids.baseline import run_baseline
        from iotids.build import build
        from iotids.train import TrainConfig

        config, out = self.config, self.out
        folder = out / "tasks" / name
        fp, manifest = self.stages.run(f"build {name}", [self.ingest_fp, asdict(options)], folder,
                                       lambda: build(self.flows, folder, options))
        shared = only_classes(manifest) if only_classes else None
        fold = {"warnings": manifest["warnings"], "test_rows": manifest["rows"]["test"],
                "class_counts": manifest["class_counts"], "only_classes": shared, "models": {}}
        if shared == []:
            fold["not_run"] = "no class occurs in both the training and the held-out data"
            return fold
        model = config.models[0]
        bundle = out / "models" / f"{name}-{model}"
        train_fp = self.train_stage(f"train {name}-{model}", name, bundle, TrainConfig(model=model, **self.common),
                                    [fp])
        fold["models"][model] = self.evaluate_stage(f"{name}-{model}", name, bundle, train_fp, shared, group_ci)
        if config.baseline:
            saved = out / "models" / f"{name}-lightgbm"
            inputs = [fp, config.seed] if shared is None and group_ci is None else [fp, config.seed, shared, group_ci]
            fold["models"]["lightgbm"] = self.stages.run(
                f"baseline {name}", inputs, saved,
                lambda: run_baseline(folder, seed=config.seed, out=saved, only_classes=shared,
                                     group_ci=bool(group_ci)))[1]
        return fold

    def leave_one_capture_out(self, ingested: dict) -> dict:
        """Per IoT-23 capture: IoT-DS-2 with that capture as the test split."""
        from iotids.build import BuildOptions

        c = self.config
        captures = sorted({f["capture"] for f in ingested["files"] if f["source"] == "iot23"})
        return {capture: self._fold(f"loco-{capture}", BuildOptions(
                    task="iotds2", schema=c.schema, split="holdout", holdout=capture, dedup=c.dedup, seed=c.seed,
                    k=c.k)) for capture in captures}

    def grouped(self) -> dict:
        """IoT-DS-2 with whole captures (or time blocks of them) on one side only;
        intervals also over captures."""
        from iotids.build import BuildOptions

        c = self.config
        options = BuildOptions(task="iotds2", schema=c.schema, split="grouped", dedup=c.dedup, seed=c.seed, k=c.k)
        return self._fold("protocol-grouped", options, group_ci=True)

    def leave_one_dataset_out(self, ingested: dict) -> dict:
        """Common schema; each source dataset in turn is the test split, scored on
        the classes that the other sources also have."""
        from iotids.build import BuildOptions
        from iotids.dataset import SOURCE_HOLDOUT

        sources = sorted({f["source"] for f in ingested["files"]
                          if f["source"] in TASK_SOURCES["iotds2"] and f["format"] not in TASK_FORMATS_SKIPPED})
        if len(sources) < 2:
            return {"not_run": f"needs two source datasets or more; found {', '.join(sources) or 'none'}"}
        c = self.config
        folds = {}
        for source in sources:
            options = BuildOptions(task="iotds2", schema="common", split="holdout", holdout=SOURCE_HOLDOUT + source,
                                   dedup=c.dedup, seed=c.seed, k=c.k)
            folds[source] = self._fold(f"lodo-{source}", options, only_classes=_shared_classes, group_ci=False)
        return {"folds": folds}


def _shared_classes(manifest: dict) -> list[str]:
    counts = manifest["class_counts"]
    return [c for c in manifest["classes"] if counts["train"].get(c) and counts["test"].get(c)]


def _weak_class_table(per_model: dict, model: str, variants: tuple[str, ...]) -> dict:
    """Per-class F1 of the plain model and of each rare-class variant, for every
    class whose plain F1 is below 0.9 (the weak ones in this data)."""
    plain = per_model[model]["report"]
    weak = [name for name, row in plain.items() if row["f1"] < 0.9]
    return {"model": model, "classes": weak,
            "f1": {label: {c: per_model[label]["report"].get(c, {}).get("f1", 0.0) for c in weak}
                   for label in (model, *(f"{model} ({v})" for v in variants))}}


def _record(results: dict, task: str, model: str, result: dict) -> None:
    results["tasks"].setdefault(task, {})[model] = result


def _versions() -> dict:
    from iotids.bundle import library_versions

    return library_versions()
