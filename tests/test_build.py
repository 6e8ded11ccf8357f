"""iotids build on SYNTHETIC flows (and on the real samples when present)."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest

from iotids.build import BuildOptions, build
from iotids.dataset import ROW_BITS, SPLITS
from iotids.errors import IotidsError
from iotids.features import Preprocessor
from iotids.ingest import ingest


@pytest.fixture(scope="module")
def flows(synthetic_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("flows")
    ingest([synthetic_dir], out)
    return out


@pytest.fixture(scope="module")
def task(flows, tmp_path_factory):
    out = tmp_path_factory.mktemp("task")
    return out, build(flows, out, BuildOptions(seed=1))


def test_task_directory(task):
    out, manifest = task
    assert manifest["classes"][0] == "Normal" and len(manifest["classes"]) == 17
    assert len(manifest["features"]) == 64 and manifest["synthetic"] is True
    for side in SPLITS:
        table = pl.read_parquet(out / f"{side}.parquet")
        assert table.columns == ["source", "capture", "label", *manifest["features"]]
        assert table.height == manifest["rows"][side]
        values = table.select(manifest["features"]).to_numpy()
        assert np.isfinite(values).all() and values.min() >= -1 and values.max() <= 1
    on_disk = json.loads((out / "manifest.json").read_text())
    assert on_disk["ranking"] == manifest["ranking"]
    # identifiers and labels never become features
    for name in ("ts", "uid", "saddr", "Flow_ID", "label", "category", "attack", "is_attack"):
        assert name not in manifest["ranking"]


def test_statistics_come_from_train_only(task):
    out, _ = task
    pre = Preprocessor.load(out / "preprocessor.json")
    train = pl.read_parquet(out / "split" / "train.parquet")
    everything = pl.concat([pl.read_parquet(out / "split" / f"{s}.parquet") for s in SPLITS],
                           how="diagonal_relaxed")
    def cleaned(frame: pl.DataFrame, name: str) -> pl.Series:
        # the preprocessor's definition: NaN, ±inf and null count as 0
        column = frame[name].cast(pl.Float64) if name in frame.columns else pl.Series([0.0] * frame.height)
        return column.fill_nan(0.0).fill_null(0.0).map_elements(
            lambda v: v if np.isfinite(v) else 0.0, return_dtype=pl.Float64)

    differs = 0
    for name, (low, high) in pre.numeric_.items():
        column = cleaned(train, name)
        assert (low, high) == (column.min(), column.max()), name
        differs += cleaned(everything, name).max() != column.max()
    assert differs > 0  # val/test hold values train does not: the check above could fail
    train_proto = set(train["proto"].drop_nulls())
    assert set(pre.categories_["proto"]) <= train_proto


def test_splits_are_disjoint_and_stratified(task):
    out, manifest = task
    keys = [set(pl.read_parquet(out / "split" / f"{s}.parquet")["key"]) for s in SPLITS]
    assert not (keys[0] & keys[1] or keys[0] & keys[2] or keys[1] & keys[2])
    for name, n in manifest["class_counts"]["train"].items():
        total = sum(manifest["class_counts"][s].get(name, 0) for s in SPLITS)
        assert abs(n / total - 0.7) < 0.05


def split_grouped(groups: dict[str, list[int]], seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(side, table, label) of every row under the grouped split, for tables
    (captures) whose rows carry the labels in ``groups``, in order."""
    from iotids.split import assign_grouped, block_counts, grouped_rule

    frames = {t: pl.LazyFrame({"key": [(t << ROW_BITS) + r for r in range(len(labels))], "label": labels},
                              schema={"key": pl.Int64, "label": pl.Int32})
              for t, labels in enumerate(groups.values())}
    sizes = {t: len(labels) for t, labels in enumerate(groups.values())}
    counts = pl.concat([block_counts(lambda f=f: f, t, sizes[t]) for t, f in frames.items()])
    plan = assign_grouped(counts, seed)
    rows = pl.concat([f.with_columns(grouped_rule(plan[t], sizes[t]).expr().alias("side")) for t, f in frames.items()])
    rows = rows.collect()
    return rows["side"].to_numpy(), rows["key"].to_numpy() >> ROW_BITS, rows["label"].to_numpy()


def test_grouped_split_never_shares_a_capture():
    # every class in >= 3 captures: whole captures, each on one side
    split, tables, _ = split_grouped({str(g): [g % 2] * 20 + [2] * 5 for g in range(12)})
    for table in np.unique(tables):
        assert len(set(split[tables == table])) == 1  # one side per capture
    assert set(split) == {0, 1, 2}


def test_grouped_split_cuts_rare_captures_into_time_blocks():
    split, tables, _ = split_grouped({"a": [0] * 100, "b": [1] * 100, "c": [0] * 50})
    for table in range(3):
        rows = split[tables == table]
        assert set(rows) == {0, 1, 2}  # every side, in blocks
        assert (np.diff(rows) != 0).sum() <= 9  # 10 contiguous blocks at most


def test_random_split_is_seeded(flows, tmp_path):
    keys = {}
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        build(flows, tmp_path / name, BuildOptions(seed=seed, k=8))
        keys[name] = pl.read_parquet(tmp_path / name / "split" / "train.parquet")["key"].to_list()
    assert keys["a"] == keys["b"] and keys["a"] != keys["c"]


def test_common_schema_and_grouped(flows, tmp_path):
    manifest = build(flows, tmp_path, BuildOptions(schema="common", split="grouped", dedup=True, k=16))
    assert len(manifest["features"]) == 16
    assert set(manifest["ranking"]) == {"duration", "dst_port", "proto", "state", "fwd_pkts", "bwd_pkts",
                                        "fwd_bytes", "bwd_bytes", "pkts_per_s", "bytes_per_s",
                                        "fwd_mean_size", "bwd_mean_size"}
    assert manifest["padding"] == ["pad_0", "pad_1", "pad_2", "pad_3"]
    assert any("padded" in w for w in manifest["warnings"])


def test_iotid20_binary(flows, tmp_path):
    manifest = build(flows, tmp_path, BuildOptions(task="iotid20", binary=True, k=8))
    assert manifest["classes"] == ["Normal", "Anomaly"]
    assert {i["source"] for i in manifest["inputs"]} == {"iotid20"}


def test_bad_builds(flows, tmp_path, cli):
    only_iot23 = tmp_path / "iot23"
    only_iot23.mkdir()
    for path in flows.glob("iot23-*.parquet"):
        (only_iot23 / path.name).write_bytes(path.read_bytes())
    result = cli("build", only_iot23, "--task", "iotid20", "--out", tmp_path / "t")
    assert result.code == 2 and "no flow tables of the iotid20 task" in result.stderr
    result = cli("build", flows, "--schema", "common", "--k", "100", "--out", tmp_path / "t")
    assert result.code == 2 and "padding goes up to 64" in result.stderr
    result = cli("build", tmp_path / "nowhere", "--out", tmp_path / "t")
    assert result.code == 2 and "not a directory" in result.stderr
    with pytest.raises(IotidsError, match="at least 1"):
        build(flows, tmp_path / "t", BuildOptions(k=0))


def test_cli_build_json(flows, tmp_path, cli):
    result = cli("build", flows, "--out", tmp_path / "t", "--k", "32", "--json")
    assert result.code == 0, result.stderr
    manifest = json.loads(result.stdout)
    assert len(manifest["features"]) == 32 and manifest["k"] == 32


@pytest.mark.parametrize("schema", ["seed", "common"])
@pytest.mark.parametrize("split", ["random", "grouped"])
def test_real_iot23_and_botiot(shared_data, tmp_path_factory, schema, split):
    flows = tmp_path_factory.getbasetemp() / "real_flows"
    if not (flows / "ingest.json").exists():
        ingest([shared_data / "iot23", shared_data / "botiot"], flows)
    manifest = build(flows, tmp_path_factory.mktemp("real"), BuildOptions(schema=schema, split=split))
    assert sum(manifest["rows"].values()) == 23_145 + 4_426 + 1_374 + 142
    counts = {c: sum(manifest["class_counts"][s].get(c, 0) for s in SPLITS) for c in manifest["classes"]}
    assert counts["DDoS"] == 14_394 and counts["Theft"] == 118 and counts["FileDownload"] == 6
    assert manifest["duplicates"]["duplicate_rows"] > 0
    assert manifest["synthetic"] is False


def test_grouped_split_cuts_captures_when_whole_ones_miss_a_side():
    # Anomalies sit in three captures, but a big benign-only capture can take
    # a whole side: then their captures are cut into time blocks instead.
    split, _, labels = split_grouped({"a": [0] * 100 + [1] * 10, "b": [0] * 100 + [1] * 10,
                                      "c": [0] * 100 + [1] * 10, "d": [0] * 600})
    for side in range(3):
        assert set(labels[split == side]) == {0, 1}, side


def test_holdout_split_needs_a_known_capture(flows, tmp_path):
    with pytest.raises(IotidsError, match="needs --holdout"):
        build(flows, tmp_path / "a", BuildOptions(split="holdout"))
    with pytest.raises(IotidsError, match="no flow table of capture 'nowhere'"):
        build(flows, tmp_path / "b", BuildOptions(split="holdout", holdout="nowhere"))
    manifest = build(flows, tmp_path / "c", BuildOptions(split="holdout", holdout="CTU-IoT-Synthetic-Capture-1-1",
                                                         k=16))
    test = pl.read_parquet(tmp_path / "c" / "split" / "test.parquet")
    assert set(test["capture"]) == {"CTU-IoT-Synthetic-Capture-1-1"}
    assert manifest["rows"]["test"] == test.height


def test_split_test_scores_new_data_with_another_tasks_preprocessing(synthetic_dir, tmp_path, cli):
    ingest([synthetic_dir], tmp_path / "flows", workers=1)
    first = build(tmp_path / "flows", tmp_path / "a", BuildOptions(task="iotid20"))
    with pytest.raises(IotidsError, match="--split test .* needs --like"):
        build(tmp_path / "flows", tmp_path / "b", BuildOptions(task="iotid20", split="test"))
    second = build(tmp_path / "flows", tmp_path / "b", BuildOptions(task="iotid20", split="test",
                                                                    like=str(tmp_path / "a")))
    assert second["rows"]["train"] == second["rows"]["val"] == 0 and second["schema"] == "seed"
    assert second["rows"]["test"] == sum(first["rows"].values())
    assert second["features"] == first["features"]
    assert not [w for w in second["warnings"] if w.startswith(("train:", "val:"))]
    result = cli("baseline", tmp_path / "a", "--test-task", tmp_path / "b", "--json")
    assert result.code == 0, result.stderr
    assert json.loads(result.stdout)["rows"] == second["rows"]["test"]


def test_like_takes_the_reused_tasks_schema(synthetic_dir, tmp_path):
    ingest([synthetic_dir], tmp_path / "flows", workers=1)
    build(tmp_path / "flows", tmp_path / "common", BuildOptions(task="iotid20", schema="common"))
    reused = build(tmp_path / "flows", tmp_path / "b", BuildOptions(task="iotid20", schema=None, split="test",
                                                                    like=str(tmp_path / "common")))
    assert reused["schema"] == "common"
    with pytest.raises(IotidsError, match="built with the common schema"):
        build(tmp_path / "flows", tmp_path / "c", BuildOptions(task="iotid20", schema="seed", split="test",
                                                               like=str(tmp_path / "common")))


def test_row_ids_with_gaps_dedup_and_grouped(synthetic_dir, tmp_path):
    # Blank lines take row ids (they name file lines) but leave no rows: a
    # table's row ids then reach past its row count.
    import pyarrow.parquet as pq

    lines = (synthetic_dir / "synthetic_iotid20.csv").read_text().splitlines()
    gappy = tmp_path / "in" / "synthetic_iotid20.csv"
    gappy.parent.mkdir()
    gappy.write_text("\n".join(lines[:5] + ["", "", ""] + lines[5:]) + "\n")
    ingest([gappy], tmp_path / "flows")
    table = next((tmp_path / "flows").glob("*.parquet"))
    assert pl.read_parquet(table)["row_id"].max() >= pq.read_metadata(table).num_rows
    plain = build(tmp_path / "flows", tmp_path / "plain", BuildOptions(schema="common", k=8))
    manifest = build(tmp_path / "flows", tmp_path / "t", BuildOptions(schema="common", split="grouped", dedup=True,
                                                                      k=8))
    total = sum(plain["rows"].values())
    assert sum(manifest["rows"].values()) == total - manifest["duplicates"]["dropped"] > 0
