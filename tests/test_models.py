"""CNN1D/2D/3D shapes, FLOP counts and names."""

from __future__ import annotations

import pytest
import torch

from iotids.models import SHAPES, build_model


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_shapes(name):
    model = build_model(name, 17).eval()
    out = model(torch.randn(5, 64))
    assert out.shape == (5, 17)
    assert len(model.features) == 4  # four convolutional blocks
    assert model.flops_per_sample() > 1e6


def test_pooling_where_the_size_allows():
    pools = {name: sum(isinstance(m, (torch.nn.MaxPool1d, torch.nn.MaxPool2d, torch.nn.MaxPool3d))
                       for m in build_model(name, 2).modules()) for name in SHAPES}
    assert pools == {"cnn1d": 4, "cnn2d": 3, "cnn3d": 2}
    assert build_model("cnn1d", 2).flat == 256 * 4
    assert build_model("cnn2d", 2).flat == build_model("cnn3d", 2).flat == 256


def test_unknown_model():
    with pytest.raises(ValueError, match="unknown model"):
        build_model("cnn4d", 2)
