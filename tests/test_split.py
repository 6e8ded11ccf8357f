"""Split rules in bounded memory (iotids.split) and duplicates (iotids.duplicates), on SYNTHETIC keys."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from iotids.duplicates import find_duplicates
from iotids.split import (
    DRAW,
    assign_counts,
    assign_grouped,
    block_counts,
    cut_draws,
    draw,
    grouped_rule,
    side_by_cuts,
)


def _splitmix(keys: np.ndarray, seed: int) -> np.ndarray:
    with np.errstate(over="ignore"):
        z = keys.astype(np.uint64) + np.uint64((0x9E3779B97F4A7C15 * (seed + 1)) % 2**64)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def test_draw_is_splitmix64_and_never_ties():
    keys = np.concatenate([np.arange(50_000), (3 << 40) + np.arange(50_000)])
    got = pl.DataFrame({"key": keys}).select(draw(7))[DRAW].to_numpy()
    assert np.array_equal(got, _splitmix(keys, 7))
    assert len(np.unique(got)) == len(keys)


def _tables(sizes: dict[int, int], seed: int = 0) -> list[pl.LazyFrame]:
    """Two tables whose rows carry the classes in ``sizes`` (class: rows), shuffled."""
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.repeat(list(sizes), list(sizes.values()))).astype(np.int32)
    half = len(labels) // 2
    return [pl.LazyFrame({"key": (t << 40) + np.arange(len(part)), "label": part})
            for t, part in enumerate((labels[:half], labels[half:]))]


@pytest.mark.parametrize("seed", [0, 5])
def test_random_cuts_give_exact_counts_per_class(seed):
    sizes = {0: 300_000, 1: 1, 2: 2, 3: 3, 4: 11, 5: 70_001}
    frames = _tables(sizes)
    cuts = {c: [assign_counts(n)[0], sum(assign_counts(n)[:2])] for c, n in sizes.items()}
    sources = [lambda f=f: f for f in frames]
    side = side_by_cuts(cut_draws(sources, cuts, seed), seed)
    sides = pl.concat([f.select("label", side.alias("side")) for f in frames]).collect()
    for c, n in sizes.items():
        got = sides.filter(pl.col("label") == c)["side"].value_counts().sort("side")
        assert dict(got.iter_rows()) == {s: k for s, k in enumerate(assign_counts(n)) if k}
    other = pl.concat([f.select(side_by_cuts(cut_draws(sources, cuts, seed + 1), seed + 1)) for f in frames]).collect()
    assert not np.array_equal(other.to_series().to_numpy(), sides["side"].to_numpy())


def test_grouped_keeps_captures_whole_unless_a_class_needs_cutting():
    # Class 1 lives in tables 0-4 (enough captures); class 2 only in table 5: table 5 is cut.
    frames = {t: pl.LazyFrame({"key": (t << 40) + np.arange(1_000),
                               "label": np.where(np.arange(1_000) % 4 == 0, 1 if t < 5 else 2, 0).astype(np.int32)})
              for t in range(6)}
    counts = pl.concat([block_counts(lambda f=f: f, t, 1_000, 10) for t, f in frames.items()])
    plan = assign_grouped(counts, seed=0, blocks=10)
    assert isinstance(plan[5], dict) and sorted(set(plan[5].values())) == [0, 1, 2]
    assert all(isinstance(plan[t], int) for t in range(5))  # five whole captures reach every side
    assert {plan[t] for t in range(5)} == {0, 1, 2}
    sides = pl.concat([f.select("label", grouped_rule(plan[t], 1_000).expr().alias("side"))
                       for t, f in frames.items()]).collect()
    for c in (0, 1, 2):
        assert set(sides.filter(pl.col("label") == c)["side"]) == {0, 1, 2}
    for t in range(5):
        assert frames[t].select(grouped_rule(plan[t], 1_000).expr()).collect().n_unique() == 1


def test_duplicates_counted_and_dropped_in_partitions(tmp_path, monkeypatch):
    import iotids.duplicates as duplicates

    monkeypatch.setattr(duplicates, "PARTITION_ROWS", 300)  # force several partitions
    values = np.array([1, 1, 2, 3, 3, 3] * 100)  # 600 rows, 3 distinct feature values
    labels = np.array([0, 0, 0, 1, 1, 2] * 100, dtype=np.int32)
    frames = [pl.LazyFrame({"key": (t << 40) + np.arange(300), "label": labels[t * 300:(t + 1) * 300],
                            "f": values[t * 300:(t + 1) * 300]}) for t in range(2)]
    sources = [lambda f=f: f for f in frames]
    stats, masks = find_duplicates(sources, {0: 300, 1: 300}, tmp_path / "work", drop=True)
    # distinct (features, class): (1,0) (2,0) (3,1) (3,2) → 4 kept; value 3 carries two classes (300 rows)
    assert (stats.rows, stats.duplicate_rows, stats.conflicting_rows, stats.dropped) == (600, 596, 300, 596)
    kept = pl.concat([f.collect().filter(np.unpackbits(masks[t], count=300).astype(bool))
                      for t, f in enumerate(frames)])
    assert kept.height == 4 and sorted(kept["key"].to_list()) == [0, 2, 3, 5]  # the first row of each
    assert not (tmp_path / "work").exists()
    stats, masks = find_duplicates(sources, {0: 300, 1: 300}, tmp_path / "work", drop=False)
    assert stats.dropped == 0 and masks == {}
