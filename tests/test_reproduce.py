"""iotids reproduce end to end on a small SYNTHETIC set: all four tasks, all
three models, report files, numbers consistent between results.json and report.md."""

from __future__ import annotations

import json
import re
import shutil

import polars as pl
import pytest

from iotids.errors import InputError, IotidsError
from iotids.report import TITLES
from iotids.reproduce import StudyConfig, load_config, reproduce
from iotids.synthetic import generate


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    data = tmp_path_factory.mktemp("data")
    generate(data, seed=5, rows=20)
    out = tmp_path_factory.mktemp("study")
    config = StudyConfig(epochs=1, batch_size=64, patience=1)
    lines: list[str] = []
    results = reproduce(data, out, config, log=lines.append)
    return data, out, config, results, lines


def test_all_tasks_and_models(study):
    _, out, _, results, _ = study
    assert set(results["tasks"]) == {"iotds2", "iotds2-binary", "iotid20", "iotid20-binary"}
    assert set(results["tasks"]["iotds2"]) == {"cnn1d", "cnn2d", "cnn3d", "lightgbm"}
    for target in ("iotds2-binary", "iotid20", "iotid20-binary"):
        assert {"cnn1d (transfer)", "cnn1d (scratch)", "cnn3d (transfer)", "lightgbm"} <= set(results["tasks"][target])
    assert results["not_run"] == {} and results["data"]["synthetic"] is True
    for name in ("results.json", "report.md", "report.html", "figures/f1-iotds2.png",
                 "figures/confusion-iotid20-cnn2d-transfer.png"):
        assert (out / name).is_file(), name
    parent = json.loads((out / "models" / "iotid20-cnn2d-transfer" / "bundle.json").read_text())["parent"]
    assert parent["bundle"].endswith("iotds2-cnn2d")


def test_report_matches_results(study):
    _, out, _, results, _ = study
    stored = json.loads((out / "results.json").read_text())
    markdown = (out / "report.md").read_text()
    assert "SYNTHETIC DATA" in markdown and "SYNTHETIC DATA" in (out / "report.html").read_text()
    for task, models in stored["tasks"].items():
        title = TITLES[task]
        for model, r in models.items():
            row = re.search(rf"\| {re.escape(title)} \| {re.escape(model)} \| ([0-9.]+) \| ([0-9.]+) \| "
                            rf"([0-9.]+) \[[0-9.]+, [0-9.]+\] \|", markdown)
            assert row, (task, model)
            assert row.groups() == (f"{100 * r['accuracy']:.2f}", f"{100 * r['weighted_f1']:.2f}",
                                    f"{r['macro_f1']:.3f}")
        first = next(iter(models.values()))
        assert f"macro F1 {first['macro_f1']:.4f}" in markdown
    r = stored["tasks"]["iotds2"]["lightgbm"]
    assert f"| IoT-DS-2, 17 classes | lightgbm | {100 * r['accuracy']:.2f} | {100 * r['weighted_f1']:.2f} |" in markdown


def test_rerun_skips_every_stage(study):
    data, out, config, results, _ = study
    lines: list[str] = []
    again = reproduce(data, out, config, log=lines.append)
    assert lines and all(line.endswith("unchanged, skipped") for line in lines)
    assert again["tasks"] == results["tasks"]


def test_missing_dataset_is_not_run(study, tmp_path):
    data, _, _, _, _ = study
    only = tmp_path / "data"
    shutil.copytree(data / "synthetic_iot23", only / "synthetic_iot23")
    lines: list[str] = []
    results = reproduce(only, tmp_path / "out", StudyConfig(models=("cnn2d",), epochs=1, batch_size=64,
                                                             scratch=False, baseline=False), log=lines.append)
    assert set(results["tasks"]) == {"iotds2", "iotds2-binary"}
    assert "IoT Network Intrusion Dataset.csv" in results["not_run"]["iotid20"]
    assert any("iotid20: skipped" in line for line in lines)
    assert "not run" in (tmp_path / "out" / "report.md").read_text()


def test_config_file(tmp_path):
    path = tmp_path / "study.toml"
    path.write_text('[study]\nmodels = ["cnn2d"]\nepochs = 3\n')
    assert load_config(path) == StudyConfig(models=("cnn2d",), epochs=3)
    path.write_text('[study]\nepoch = 3\n')
    with pytest.raises(InputError, match="unknown setting"):
        load_config(path)
    path.write_text('[study]\nepochs = "3"\n')
    with pytest.raises(InputError, match="must be int"):
        load_config(path)


def test_shipped_study_config():
    from pathlib import Path

    config = load_config(Path(__file__).parents[1] / "configs" / "study.toml")
    assert config.models == ("cnn1d", "cnn2d", "cnn3d") and config.k == 64 and config.split == "random"


def test_weak_class_variants(study, tmp_path):
    data, _, _, _, _ = study
    config = StudyConfig(models=("cnn2d",), epochs=1, batch_size=64, scratch=False, baseline=False,
                         weak_class_variants=("focal", "balanced"))
    results = reproduce(data, tmp_path / "out", config)
    weak = results["weak_classes"]
    assert set(weak["f1"]) == {"cnn2d", "cnn2d (focal)", "cnn2d (balanced)"}
    assert set(results["tasks"]["iotds2"]) >= {"cnn2d (focal)", "cnn2d (balanced)"}
    if weak["classes"]:
        assert "Weak classes" in (tmp_path / "out" / "report.md").read_text()
    with pytest.raises(IotidsError, match="weak_class_variants"):
        StudyConfig(weak_class_variants=("magic",)).check()


def test_leave_one_capture_out(study, tmp_path):
    data, _, _, _, _ = study
    config = StudyConfig(models=("cnn1d",), epochs=1, batch_size=64, scratch=False, leave_one_capture_out=True)
    results = reproduce(data, tmp_path / "out", config)
    folds = results["leave_one_capture_out"]
    assert sorted(folds) == [f"CTU-IoT-Synthetic-Capture-{i}-1" for i in (1, 2, 3)]
    for fold in folds.values():
        assert set(fold["models"]) == {"cnn1d", "lightgbm"}
        assert fold["models"]["cnn1d"]["rows"] == fold["test_rows"] > 0
    manifest = json.loads((tmp_path / "out" / "tasks" / "loco-CTU-IoT-Synthetic-Capture-2-1" / "manifest.json")
                          .read_text())
    assert manifest["split"] == "holdout" and manifest["holdout"] == "CTU-IoT-Synthetic-Capture-2-1"
    split = tmp_path / "out" / "tasks" / "loco-CTU-IoT-Synthetic-Capture-2-1" / "split"
    assert set(pl.read_parquet(split / "test.parquet")["capture"]) == {"CTU-IoT-Synthetic-Capture-2-1"}
    for side in ("train", "val"):
        assert "CTU-IoT-Synthetic-Capture-2-1" not in set(pl.read_parquet(split / f"{side}.parquet")["capture"])
    assert "Leave one IoT-23 capture out" in (tmp_path / "out" / "report.md").read_text()


def test_grouped_and_leave_one_dataset_out_protocols(study, tmp_path):
    data, _, _, _, _ = study
    config = StudyConfig(models=("cnn1d",), epochs=1, batch_size=64, scratch=False,
                         protocols=("study", "grouped", "leave-one-dataset-out"))
    results = reproduce(data, tmp_path / "out", config)
    grouped = results["protocols"]["grouped"]
    assert set(grouped["models"]) == {"cnn1d", "lightgbm"}
    cnn = grouped["models"]["cnn1d"]
    assert cnn["ci95_groups"]["groups"] >= 2 and len(cnn["ci95_groups"]["macro_f1"]) == 2
    manifest = json.loads((tmp_path / "out" / "tasks" / "protocol-grouped" / "manifest.json").read_text())
    assert manifest["split"] == "grouped"  # grouped splits are tested in test_build

    lodo = results["protocols"]["leave-one-dataset-out"]["folds"]
    assert set(lodo) == {"botiot", "iot23", "iotid20", "mqtt"}
    for source, fold in lodo.items():
        manifest = json.loads((tmp_path / "out" / "tasks" / f"lodo-{source}" / "manifest.json").read_text())
        assert manifest["schema"] == "common" and manifest["holdout"] == f"source:{source}"
        test_sources = set(pl.read_parquet(tmp_path / "out" / "tasks" / f"lodo-{source}" / "test.parquet")["source"])
        assert test_sources == {source}
        assert "Normal" in fold["only_classes"]  # every source has benign traffic
        for result in fold["models"].values():
            assert set(result["report"]) <= set(fold["only_classes"]) | set(manifest["classes"])
            assert result["rows"] + result["rows_left_out"] == fold["test_rows"]
    report = (tmp_path / "out" / "report.md").read_text()
    assert "IoT-DS-2 under each evaluation protocol" in report and "leave-one-dataset-out" in report
    with pytest.raises(IotidsError, match="protocols must be among"):
        StudyConfig(protocols=("magic",)).check()


def test_group_bootstrap_is_wider_than_row_bootstrap():
    import numpy as np

    from iotids.evaluate import bootstrap_ci, bootstrap_ci_groups

    rng = np.random.default_rng(0)
    groups = np.repeat(np.arange(6), 500)
    y_true = rng.integers(0, 2, len(groups))
    good = np.isin(groups, [0, 1, 2])  # half the captures are easy, half are guesses
    y_pred = np.where(good, y_true, rng.integers(0, 2, len(groups)))
    rows, captures = bootstrap_ci(y_true, y_pred, 2), bootstrap_ci_groups(y_true, y_pred, groups, 2)
    width = lambda ci: ci["accuracy"][1] - ci["accuracy"][0]  # noqa: E731
    assert captures["groups"] == 6 and width(captures) > 2 * width(rows)
    assert bootstrap_ci_groups(y_true, y_pred, np.zeros(len(groups)), 2) == {"groups": 1}
