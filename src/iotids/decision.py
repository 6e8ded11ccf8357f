"""Post-training decisions chosen on the validation split.

- Calibration: one temperature T (logits / T) minimising the validation
  negative log-likelihood, so predicted probabilities mean what they say;
  argmax is unchanged.
- Per-class thresholds: additive offsets to the calibrated log-probabilities,
  chosen by coordinate ascent to maximise validation macro-F1. A rare class
  the model under-predicts gets a positive offset, i.e. a lower threshold.

Both are stored in the bundle (``decision``) and applied by ``classify``.
"""

from __future__ import annotations

import numpy as np

from iotids.evaluate import macro_f1

GRID = np.linspace(-4.0, 4.0, 33)
TEMPERATURES = np.exp(np.linspace(np.log(0.25), np.log(8.0), 41))


def log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(1, keepdims=True))


def fit_temperature(logits: np.ndarray, y: np.ndarray) -> float:
    """The temperature (on a log grid from 0.25 to 8) with the lowest validation NLL."""
    losses = [-log_softmax(logits / t)[np.arange(len(y)), y].mean() for t in TEMPERATURES]
    return float(TEMPERATURES[int(np.argmin(losses))])


def fit_offsets(log_probs: np.ndarray, y: np.ndarray, rounds: int = 2) -> tuple[np.ndarray, float, float]:
    """Per-class offsets maximising macro-F1 on (log_probs, y); (offsets, before, after)."""
    classes = log_probs.shape[1]
    offsets = np.zeros(classes)
    before = best = macro_f1(y, log_probs.argmax(1), classes)
    for _ in range(rounds):
        for c in range(classes):
            for value in GRID:
                trial = offsets.copy()
                trial[c] = value
                score = macro_f1(y, (log_probs + trial).argmax(1), classes)
                if score > best + 1e-9:
                    best, offsets = score, trial
    return offsets, before, best


def fit_decision(logits: np.ndarray, y: np.ndarray) -> dict:
    """Temperature and per-class offsets from validation logits."""
    temperature = fit_temperature(logits, y)
    offsets, before, after = fit_offsets(log_softmax(logits / temperature), y)
    return {"temperature": temperature, "offsets": [round(float(o), 4) for o in offsets],
            "val_macro_f1_before": round(before, 6), "val_macro_f1_after": round(after, 6)}


def log_probabilities(logits: np.ndarray, decision: dict | None) -> np.ndarray:
    """Calibrated log-probabilities (the decision's temperature; 1 without one)."""
    return log_softmax(logits / (decision["temperature"] if decision else 1.0))


def classify(logits: np.ndarray, decision: dict | None) -> np.ndarray:
    """Class ids: argmax of the logits, or of calibrated log-probabilities plus offsets."""
    if not decision:
        return logits.argmax(1)
    return (log_softmax(logits / decision["temperature"]) + np.asarray(decision["offsets"])).argmax(1)
