"""Bundles trained end to end (ingest, build, train) for the detection tests."""

from __future__ import annotations

from pathlib import Path


def train_bundle(flows_source: Path, work: Path, options, epochs: int) -> Path:
    from iotids.build import build
    from iotids.ingest import ingest
    from iotids.train import TrainConfig, train

    ingest([flows_source], work / "flows", workers=1)
    build(work / "flows", work / "task", options)
    train(work / "task", work / "bundle", TrainConfig(model="cnn1d", epochs=epochs, batch_size=64))
    return work / "bundle"
