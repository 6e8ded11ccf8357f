"""CNN1D, CNN2D and CNN3D on the 64 selected features, as in the study.

Each model: the 64 inputs reshaped (64×1, 8×8 or 4×4×4), four convolutional
blocks, one dense layer, an output layer. The study gives the structure but
not every size; where it is silent these are our choices (recorded in every
bundle through ``params``):

- block i (i = 1…4): convolution with ``channels[i]`` = 32, 64, 128, 256
  filters, kernel 3, stride 1, "same" padding → batch norm → ReLU →
  max-pooling by 2 while every spatial side is still ≥ 2 → dropout 0.1;
- dense: flatten → 256 units → ReLU → dropout 0.3; output: one unit per class
  (logits; softmax is in the loss).

Spatial sizes through the blocks (pooling "where the size allows"):

- CNN1D: 64 → 32 → 16 → 8 → 4, flatten 256·4 = 1024
- CNN2D: 8×8 → 4×4 → 2×2 → 1×1 → 1×1 (no pooling in block 4), flatten 256
- CNN3D: 4×4×4 → 2×2×2 → 1×1×1 → 1×1×1 → 1×1×1 (pooling in blocks 1–2), flatten 256

Transfer learning replaces ``output`` with two new dense layers (``head`` =
hidden sizes, (128,) by default: dense 256 → 128 → ReLU → dropout →
classes); ``features`` and ``dense`` are the transferred trunk.
"""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass

import torch
from torch import nn

INPUTS = 64
SHAPES: dict[str, tuple[int, ...]] = {"cnn1d": (64,), "cnn2d": (8, 8), "cnn3d": (4, 4, 4)}
_CONV = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}
_NORM = {1: nn.BatchNorm1d, 2: nn.BatchNorm2d, 3: nn.BatchNorm3d}
_POOL = {1: nn.MaxPool1d, 2: nn.MaxPool2d, 3: nn.MaxPool3d}


@dataclass(frozen=True)
class CNNParams:
    """Everything that fixes a model's shape; stored in bundles."""

    name: str
    classes: int
    channels: tuple[int, ...] = (32, 64, 128, 256)
    kernel: int = 3
    dense: int = 256
    dropout_conv: float = 0.1
    dropout_dense: float = 0.3
    head: tuple[int, ...] = ()  # hidden sizes of a transfer head; () = one output layer

    def to_json(self) -> dict:
        return asdict(self) | {"channels": list(self.channels), "head": list(self.head)}


class CNN(nn.Module):
    """A convolutional classifier over the 64 features in 1, 2 or 3 dimensions."""

    def __init__(self, params: CNNParams) -> None:
        super().__init__()
        if params.name not in SHAPES:
            raise ValueError(f"unknown model {params.name!r}; expected one of {', '.join(SHAPES)}")
        self.params = params
        self.shape = SHAPES[params.name]
        dims = len(self.shape)
        blocks: list[nn.Module] = []
        size = list(self.shape)
        channels_in = 1
        for channels in params.channels:
            layers: list[nn.Module] = [
                _CONV[dims](channels_in, channels, params.kernel, padding=params.kernel // 2),
                _NORM[dims](channels),
                nn.ReLU(inplace=True),
            ]
            if min(size) >= 2:  # pooling where the size allows
                layers.append(_POOL[dims](2))
                size = [s // 2 for s in size]
            layers.append(nn.Dropout(params.dropout_conv))
            blocks.append(nn.Sequential(*layers))
            channels_in = channels
        self.features = nn.Sequential(*blocks)
        flat = channels_in * int(torch.tensor(size).prod())
        self.dense = nn.Sequential(nn.Flatten(), nn.Linear(flat, params.dense), nn.ReLU(inplace=True),
                                   nn.Dropout(params.dropout_dense))
        self.output = _head(params.dense, params.head, params.classes, params.dropout_dense)
        self.flat = flat
        self.frozen_trunk = False

    def train(self, mode: bool = True) -> CNN:
        """As nn.Module.train, but a frozen trunk stays in eval mode (batch-norm
        statistics and dropout of the transferred layers do not change)."""
        super().train(mode)
        if self.frozen_trunk:
            self.features.eval()
            self.dense.eval()
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: (batch, 64) model inputs → (batch, classes) logits."""
        return self.output(self.dense(self.features(x.view(x.shape[0], 1, *self.shape))))

    def flops_per_sample(self) -> int:
        """Multiply-adds ×2 of the convolutions and dense layers for one sample."""
        total, size, channels_in = 0, list(self.shape), 1
        volume = self.params.kernel ** len(self.shape)
        for channels in self.params.channels:
            positions = int(torch.tensor(size).prod())
            total += 2 * positions * channels * channels_in * volume
            if min(size) >= 2:
                size = [s // 2 for s in size]
            channels_in = channels
        sizes = [self.params.dense, *self.params.head, self.params.classes]
        total += 2 * self.flat * self.params.dense + sum(2 * a * b for a, b in itertools.pairwise(sizes))
        return total


def _head(inputs: int, hidden: tuple[int, ...], classes: int, dropout: float) -> nn.Module:
    if not hidden:
        return nn.Linear(inputs, classes)
    layers: list[nn.Module] = []
    for size in hidden:
        layers += [nn.Linear(inputs, size), nn.ReLU(inplace=True), nn.Dropout(dropout)]
        inputs = size
    return nn.Sequential(*layers, nn.Linear(inputs, classes))


def transfer_model(source: CNN, classes: int, head: tuple[int, ...] = (128,), freeze: bool = True) -> CNN:
    """The source model's trunk (convolutions and dense layer) with a new head
    of two dense layers for ``classes`` outputs; the trunk frozen if asked."""
    params = CNNParams(**{**source.params.__dict__, "classes": classes, "head": tuple(head)})
    model = CNN(params)
    trunk = {k: v for k, v in source.state_dict().items() if not k.startswith("output.")}
    model.load_state_dict(trunk, strict=False)
    for parameter in [*model.features.parameters(), *model.dense.parameters()]:
        parameter.requires_grad_(not freeze)
    model.frozen_trunk = freeze
    return model


def build_model(name: str, classes: int, **overrides: object) -> CNN:
    """A model by name: ``cnn1d``, ``cnn2d`` or ``cnn3d``."""
    return CNN(CNNParams(name=name, classes=classes, **overrides))  # type: ignore[arg-type]
