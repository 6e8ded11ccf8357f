"""Preprocessing (the study's: drop identifiers, encode categoricals, NaN → 0,
min-max to [-1, 1]) and recursive feature elimination.

``Preprocessor`` follows scikit-learn's contract: ``__init__`` stores
parameters, ``fit`` learns attributes ending in ``_`` from the *train* split
only and returns self, ``transform`` applies them to any split (as Polars
expressions, so it streams). Its state is JSON with a format version.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import polars as pl

from iotids.atomic import write_json
from iotids.errors import InputError
from iotids.schema import ALL_IDENTIFIERS

FORMAT_VERSION = 1
KIND = "iotids.Preprocessor"
MAX_CATEGORIES = 1000  # the most frequent values of a text column get codes; the rest share 0
RESERVED = ("key", "source", "capture", "label", "row_id", "label_raw", "split")
MAX_PAD = 64  # padding with zero columns goes up to the study's 64 inputs, no further


class Preprocessor:
    """Turns task rows into model inputs in [-1, 1].

    Numeric columns: NaN, ±inf and null → 0, then min-max scaled with the
    train minimum and maximum and clipped (a constant column becomes 0).
    Text columns: the train values, most frequent first, get codes 1…n;
    unseen values and null get the reserved code 0; codes are then scaled
    like numbers.
    """

    def __init__(self, drop: Iterable[str] = ALL_IDENTIFIERS) -> None:
        self.drop = tuple(sorted(set(drop)))

    def fit(self, frame: pl.LazyFrame) -> Preprocessor:
        schema = frame.collect_schema()
        features = [c for c in schema.names() if c not in RESERVED and c not in self.drop]
        text = [c for c in features if schema[c] in (pl.String, pl.Categorical)]
        self.categories_: dict[str, list[str]] = {}
        for name in text:
            counts = (frame.group_by(name).len().drop_nulls(name)
                      .sort(["len", name], descending=[True, False]).head(MAX_CATEGORIES)
                      .collect(engine="streaming"))
            self.categories_[name] = counts[name].to_list()
        numbers = [c for c in features if c not in self.categories_]
        bounds = frame.select(
            *(_clean(c).min().alias(f"min:{c}") for c in numbers),
            *(_clean(c).max().alias(f"max:{c}") for c in numbers),
        ).collect(engine="streaming").row(0, named=True) if numbers else {}
        self.numeric_: dict[str, tuple[float, float]] = {
            c: (_finite(bounds[f"min:{c}"]), _finite(bounds[f"max:{c}"])) for c in numbers
        }
        self.features_: list[str] = features
        return self

    def expressions(self, available: Iterable[str]) -> list[pl.Expr]:
        """One expression per feature, in ``features_`` order; a feature the
        frame lacks (another source's column) is 0 before scaling."""
        have = set(available)
        exprs = []
        for name in self.features_:
            if name in self.categories_:
                values = self.categories_[name]
                code = (pl.col(name).cast(pl.Enum(values), strict=False).to_physical().cast(pl.Float64) + 1.0
                        if name in have and values else pl.lit(None, pl.Float64)).fill_null(0.0)
                low, high = 0.0, float(len(values))
            else:
                code = _clean(name) if name in have else pl.lit(0.0)
                low, high = self.numeric_[name]
            exprs.append(_scale(code, low, high).alias(name))
        return exprs

    def transform(self, frame: pl.LazyFrame, keep: Iterable[str] = ("source", "capture", "label")) -> pl.LazyFrame:
        """``keep`` columns as they are, then every feature scaled to [-1, 1]."""
        self._check_fitted()
        available = frame.collect_schema().names()
        return frame.select(*[c for c in keep if c in available], *self.expressions(available))

    def model_inputs(self, frame: pl.LazyFrame, features: list[str], keep: Iterable[str] = ()) -> pl.LazyFrame:
        """``keep`` columns, then the model's inputs in ``features`` order (the
        selected features scaled; a padding feature, unknown to the
        preprocessor, is the constant 0)."""
        self._check_fitted()
        available = frame.collect_schema().names()
        scaled = dict(zip(self.features_, self.expressions(available), strict=True))
        return frame.select(*keep, *(scaled[f] if f in scaled else pl.lit(0.0).alias(f) for f in features))

    def to_json(self) -> dict:
        self._check_fitted()
        return {
            "format_version": FORMAT_VERSION,
            "kind": KIND,
            "drop": list(self.drop),
            "features": self.features_,
            "numeric": {c: list(b) for c, b in self.numeric_.items()},
            "categories": self.categories_,
        }

    @classmethod
    def from_json(cls, document: dict, origin: str = "preprocessor") -> Preprocessor:
        """Rebuild from ``to_json`` output; a wrong kind, version or shape is an InputError."""
        if not isinstance(document, dict) or document.get("kind") != KIND:
            raise InputError(origin, f"not an iotids preprocessor (expected kind {KIND!r})")
        if document.get("format_version") != FORMAT_VERSION:
            raise InputError(origin, f"preprocessor format version {document.get('format_version')!r}; "
                                     f"this iotids reads version {FORMAT_VERSION}")
        try:
            self = cls(document["drop"])
            self.features_ = [str(c) for c in document["features"]]
            self.numeric_ = {str(c): (float(b[0]), float(b[1])) for c, b in document["numeric"].items()}
            self.categories_ = {str(c): [str(v) for v in vs] for c, vs in document["categories"].items()}
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise InputError(origin, f"malformed preprocessor state ({exc!r})") from None
        if set(self.features_) != set(self.numeric_) | set(self.categories_):
            raise InputError(origin, "malformed preprocessor state: features and statistics disagree")
        return self

    def save(self, path: Path) -> None:
        write_json(path, self.to_json())

    @classmethod
    def load(cls, path: Path) -> Preprocessor:
        try:
            document = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise InputError(path, f"cannot read preprocessor JSON ({exc})") from None
        return cls.from_json(document, str(path))

    def _check_fitted(self) -> None:
        if not hasattr(self, "features_"):
            raise RuntimeError("Preprocessor is not fitted; call fit() on the train split first")


def _clean(name: str) -> pl.Expr:
    """A numeric (or boolean) column as float, NaN/±inf/null → 0."""
    value = pl.col(name).cast(pl.Float64)
    return pl.when(value.is_finite()).then(value).otherwise(0.0).fill_null(0.0)


def _finite(value: float | None) -> float:
    return float(value) if value is not None and math.isfinite(value) else 0.0


def _scale(value: pl.Expr, low: float, high: float) -> pl.Expr:
    if high <= low:
        return pl.lit(0.0)
    return ((value - low) / (high - low) * 2.0 - 1.0).clip(-1.0, 1.0)


# --- feature selection ------------------------------------------------------------------


def rank_features(x: np.ndarray, y: np.ndarray, names: list[str], k: int, seed: int) -> dict[str, int]:
    """RFE ranking (1 = kept) of ``names`` down to ``k`` with a small random forest.

    With ``k`` or fewer features every one ranks 1. The forest is small and
    the sample is capped by the caller so this takes seconds on two cores.
    """
    if len(names) <= k:
        return dict.fromkeys(names, 1)
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.feature_selection import RFE

    forest = RandomForestClassifier(n_estimators=30, max_depth=12, n_jobs=2, random_state=seed)
    rfe = RFE(forest, n_features_to_select=k, step=0.1).fit(x, y)
    return {name: int(rank) for name, rank in zip(names, rfe.ranking_, strict=True)}


def selected_features(ranking: dict[str, int], k: int) -> tuple[list[str], list[str]]:
    """The kept features (ranking order, ties by name) and zero padding names up to ``k``."""
    kept = sorted((n for n, r in ranking.items() if r == 1), key=lambda n: (ranking[n], n))[:k]
    kept = [n for n in ranking if n in kept]  # keep the preprocessor's column order
    padding = [f"pad_{i}" for i in range(k - len(kept))]
    return kept, padding
