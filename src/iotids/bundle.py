"""Model bundles: a directory with ``model.safetensors`` and ``bundle.json``.

``bundle.json`` holds everything needed to score new flows and to know where
the model came from: format version, architecture and its parameters, class
names, the preprocessor state, the selected features, the training
configuration and seed, metrics, library versions and the task it was built
from. Loading never unpickles anything: weights come from safetensors, the
rest is JSON, and every field is checked before a model is built.
"""

from __future__ import annotations

import json
import os
import platform
from dataclasses import dataclass
from pathlib import Path

from iotids import __version__
from iotids.atomic import atomic_path, write_json
from iotids.errors import InputError
from iotids.features import Preprocessor

FORMAT_VERSION = 1
KIND = "iotids.bundle"
WEIGHTS = "model.safetensors"
META = "bundle.json"
MAX_JSON_BYTES = 16 << 20
# Shapes beyond these are refused before any tensor is allocated.
LIMITS = {"classes": 1000, "channels": 4096, "kernel": 9, "dense": 16384}


@dataclass
class Bundle:
    model: object  # iotids.models.CNN (torch imported lazily)
    meta: dict
    preprocessor: Preprocessor

    @property
    def classes(self) -> list[str]:
        return self.meta["classes"]

    @property
    def features(self) -> list[str]:
        return self.meta["features"]


def bundle_id(directory: str | Path) -> str:
    """A short content hash of the bundle (its two files), named in alerts and by the service."""
    import hashlib

    digest = hashlib.sha256()
    for name in (META, WEIGHTS):
        with (Path(directory) / name).open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:16]


def library_versions() -> dict[str, str]:
    import numpy
    import polars
    import torch

    return {"iotids": __version__, "torch": torch.__version__, "numpy": numpy.__version__,
            "polars": polars.__version__, "python": platform.python_version()}


def save_bundle(directory: str | Path, model, meta: dict) -> Path:
    """Write weights and metadata; ``meta`` must hold classes, features,
    preprocessor, training (and may hold metrics, task, parent)."""
    from safetensors.torch import save_file

    out = Path(directory)
    document = {
        "format_version": FORMAT_VERSION,
        "kind": KIND,
        "architecture": model.params.to_json(),
        **meta,
        "tensors": {k: list(v.shape) for k, v in model.state_dict().items()},
        "versions": library_versions(),
    }
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    with atomic_path(out / WEIGHTS) as tmp:
        save_file(state, str(tmp), metadata={"format": "pt", "kind": KIND})
    write_json(out / META, document)
    return out


def load_bundle(directory: str | Path) -> Bundle:
    """Load and check a bundle; any problem is an InputError naming the file."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from iotids.models import CNN, CNNParams

    folder = Path(directory)
    meta_path, weights_path = _inside(folder, META), _inside(folder, WEIGHTS)
    meta = _read_meta(meta_path)
    params = _params(meta, meta_path)
    try:
        model = CNN(CNNParams(**params))
    except (TypeError, ValueError) as exc:
        raise InputError(meta_path, f"architecture: {exc}") from None
    expected = {k: list(v.shape) for k, v in model.state_dict().items()}
    if meta.get("tensors") != expected:
        raise InputError(meta_path, "'tensors' does not match the architecture")
    _check_magic(weights_path)
    try:
        state = load_file(str(weights_path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise InputError(weights_path, f"not a readable safetensors file ({exc})") from None
    missing = sorted(set(expected) - set(state))
    extra = sorted(set(state) - set(expected))
    if missing or extra:
        raise InputError(weights_path, f"tensors do not match the architecture: missing {missing[:5]}, "
                                       f"unexpected {extra[:5]}")
    for name, tensor in state.items():
        if list(tensor.shape) != expected[name]:
            raise InputError(weights_path, f"tensor {name!r} has shape {list(tensor.shape)}, "
                                           f"expected {expected[name]}")
        reference = model.state_dict()[name]
        if tensor.dtype != reference.dtype:
            raise InputError(weights_path, f"tensor {name!r} has dtype {tensor.dtype}, expected {reference.dtype}")
    model.load_state_dict(state, strict=True)
    model.eval()
    preprocessor = Preprocessor.from_json(meta.get("preprocessor"), f"{meta_path} (preprocessor)")
    features = meta.get("features")
    if not isinstance(features, list) or len(features) != 64 or not all(isinstance(f, str) for f in features):
        raise InputError(meta_path, "'features' must list the 64 model inputs")
    classes = meta.get("classes")
    if not isinstance(classes, list) or len(classes) != params["classes"]:
        raise InputError(meta_path, "'classes' must name one class per model output")
    _check_decision(meta.get("decision"), params["classes"], meta_path)
    return Bundle(model, meta, preprocessor)


def _check_decision(decision: object, classes: int, path: Path) -> None:
    """A decision (calibration and thresholds) must be a positive temperature and one offset per class."""
    if decision is None:
        return
    try:
        temperature = float(decision["temperature"])  # type: ignore[index]
        offsets = [float(o) for o in decision["offsets"]]  # type: ignore[index]
    except (KeyError, TypeError, ValueError):
        raise InputError(path, "malformed 'decision' (expected temperature and offsets)") from None
    if not (0 < temperature < 1e3) or len(offsets) != classes or not all(abs(o) < 1e3 for o in offsets):
        raise InputError(path, "'decision' must hold a temperature in (0, 1000) and one finite offset per class")


def _inside(folder: Path, name: str) -> Path:
    """``folder/name``, refusing links that lead outside the bundle."""
    if not folder.is_dir():
        raise InputError(folder, "not a bundle directory (expected model.safetensors and bundle.json)")
    path = folder / name
    if not path.exists():
        raise InputError(path, "missing from the bundle")
    real, root = os.path.realpath(path), os.path.realpath(folder)
    if os.path.commonpath([real, root]) != root:
        raise InputError(path, "is a link pointing outside the bundle; refused")
    return path


def _read_meta(path: Path) -> dict:
    if path.stat().st_size > MAX_JSON_BYTES:
        raise InputError(path, f"larger than {MAX_JSON_BYTES >> 20} MiB; refused")
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise InputError(path, f"not valid JSON ({exc})") from None
    if not isinstance(meta, dict) or meta.get("kind") != KIND:
        raise InputError(path, f"not an iotids bundle (expected kind {KIND!r})")
    if meta.get("format_version") != FORMAT_VERSION:
        raise InputError(path, f"bundle format version {meta.get('format_version')!r}; "
                               f"this iotids reads version {FORMAT_VERSION}")
    return meta


def _params(meta: dict, path: Path) -> dict:
    arch = meta.get("architecture")
    if not isinstance(arch, dict):
        raise InputError(path, "'architecture' missing")
    try:
        params = {
            "name": str(arch["name"]), "classes": int(arch["classes"]),
            "channels": tuple(int(c) for c in arch["channels"]), "kernel": int(arch["kernel"]),
            "dense": int(arch["dense"]), "dropout_conv": float(arch["dropout_conv"]),
            "dropout_dense": float(arch["dropout_dense"]),
            "head": tuple(int(h) for h in arch.get("head", ())),
        }
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(path, f"malformed 'architecture' ({exc!r})") from None
    if not 2 <= params["classes"] <= LIMITS["classes"]:
        raise InputError(path, f"'classes' {params['classes']} outside 2…{LIMITS['classes']}")
    if len(params["channels"]) != 4 or not all(1 <= c <= LIMITS["channels"] for c in params["channels"]):
        raise InputError(path, f"'channels' must be 4 sizes in 1…{LIMITS['channels']}")
    if params["kernel"] not in (1, 3, 5, 7, 9):
        raise InputError(path, "'kernel' must be odd and at most 9")
    if len(params["head"]) > 4 or not all(1 <= h <= LIMITS["dense"] for h in params["head"]):
        raise InputError(path, f"'head' must be at most 4 sizes in 1…{LIMITS['dense']}")
    if not 1 <= params["dense"] <= LIMITS["dense"]:
        raise InputError(path, f"'dense' outside 1…{LIMITS['dense']}")
    if not all(0.0 <= params[k] < 1.0 for k in ("dropout_conv", "dropout_dense")):
        raise InputError(path, "dropout must be in [0, 1)")
    return params


def _check_magic(path: Path) -> None:
    """A safetensors file starts with an 8-byte little-endian header length and '{'."""
    with path.open("rb") as handle:
        head = handle.read(9)
    size = path.stat().st_size
    if len(head) < 9 or head[8:9] != b"{" or int.from_bytes(head[:8], "little") > size - 8:
        raise InputError(path, "not a safetensors file (a pickle or other file renamed?); refused")
