"""Preprocessor and RFE helpers: the study's preprocessing, fitted on train only."""

from __future__ import annotations

import json
import math

import numpy as np
import polars as pl
import pytest

from iotids.errors import InputError
from iotids.features import Preprocessor, rank_features, selected_features


def _train() -> pl.LazyFrame:
    return pl.LazyFrame({
        "label": [0, 1, 0, 1],
        "source": ["iot23"] * 4,
        "capture": ["c"] * 4,
        "ts": [1.0, 2.0, 3.0, 4.0],  # an identifier: dropped
        "bytes": [0.0, 10.0, float("nan"), float("inf")],
        "constant": [5, 5, 5, 5],
        "proto": ["tcp", "udp", "tcp", None],
    })


def test_fit_learns_train_statistics_only():
    pre = Preprocessor().fit(_train())
    assert pre.features_ == ["bytes", "constant", "proto"]
    assert pre.numeric_["bytes"] == (0.0, 10.0)  # NaN and inf count as 0
    assert pre.categories_["proto"] == ["tcp", "udp"]  # most frequent first


def test_transform_scales_clips_and_encodes():
    pre = Preprocessor().fit(_train())
    test = pl.LazyFrame({
        "label": [0, 0, 1], "source": ["x"] * 3, "capture": ["y"] * 3,
        "bytes": [5.0, 1e9, -float("inf")],
        "constant": [5, 7, None],
        "proto": ["udp", "icmp", "tcp"],  # icmp never seen in train
    })
    out = pre.transform(test).collect()
    assert out["bytes"].to_list() == [0.0, 1.0, -1.0]  # mid, clipped, inf → 0 → min
    assert out["constant"].to_list() == [0.0, 0.0, 0.0]
    # codes: unseen 0, tcp 1, udp 2 over [0, 2] → -1, 0, 1
    assert out["proto"].to_list() == [1.0, -1.0, 0.0]
    assert out.columns == ["source", "capture", "label", "bytes", "constant", "proto"]


def test_missing_column_is_zero_before_scaling():
    pre = Preprocessor().fit(_train())
    out = pre.transform(pl.LazyFrame({"label": [1], "proto": ["tcp"]})).collect()
    assert out["bytes"].to_list() == [-1.0]  # 0 scaled with train min 0


def test_json_round_trip_is_exact(tmp_path):
    pre = Preprocessor().fit(_train())
    path = tmp_path / "p.json"
    pre.save(path)
    again = Preprocessor.load(path)
    assert again.to_json() == pre.to_json()
    frame = _train()
    assert pre.transform(frame).collect().equals(again.transform(frame).collect())


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d.update(format_version=99), "version 99"),
        (lambda d: d.update(kind="something"), "not an iotids preprocessor"),
        (lambda d: d.pop("numeric"), "malformed"),
        (lambda d: d["features"].append("ghost"), "disagree"),
    ],
)
def test_bad_state_is_refused(tmp_path, edit, message):
    document = Preprocessor().fit(_train()).to_json()
    edit(document)
    path = tmp_path / "p.json"
    path.write_text(json.dumps(document))
    with pytest.raises(InputError, match=message):
        Preprocessor.load(path)


def test_unfitted_transform_is_an_error():
    with pytest.raises(RuntimeError, match="not fitted"):
        Preprocessor().transform(_train())


def test_rank_features_keeps_the_informative_ones():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 600)
    noise = rng.normal(size=(600, 6))
    signal = np.column_stack([y + rng.normal(0, 0.1, 600), -y + rng.normal(0, 0.1, 600)])
    x = np.column_stack([noise[:, :3], signal[:, :1], noise[:, 3:], signal[:, 1:]])
    names = [f"f{i}" for i in range(x.shape[1])]
    ranking = rank_features(x, y, names, 2, seed=0)
    kept, padding = selected_features(ranking, 2)
    assert set(kept) == {"f3", "f7"} and padding == []
    assert all(ranking[n] > 1 for n in names if n not in kept)


def test_padding_when_features_are_few():
    ranking = rank_features(np.zeros((4, 2)), np.array([0, 1, 0, 1]), ["a", "b"], 4, seed=0)
    assert selected_features(ranking, 4) == (["a", "b"], ["pad_0", "pad_1"])
    assert not math.isnan(sum(ranking.values()))
