"""The fusion node's H-step history and the model input built from it.

One step per synchronized frame: each modality's feature vector (or ``None`` when the
sensor was silent or unusable) and the UE box from the tracker (or ``None``).  The box is
normalised by the image size and forward-filled while the UE is not visible, exactly as
the training windows are built (:mod:`beam_predictor.model.data`).  A stamp gap longer
than ``gap_ns`` (a new pass, or a replay restart) clears the history.
"""
from __future__ import annotations

from collections import deque

import numpy as np

from beam_predictor.model.data import BOX_CHANNELS


class HistoryWindow:
    def __init__(self, modalities, feature_dim: int, history: int, input_len: int, gap_ns: int):
        self.modalities, self.m = tuple(modalities), feature_dim
        self.history, self.input_len, self.gap_ns = history, input_len, int(gap_ns)
        self.steps: deque = deque(maxlen=history)
        self.last_stamp: int | None = None
        self.last_box = np.zeros(4, np.float32)

    def reset(self) -> None:
        self.steps.clear()
        self.last_stamp = None
        self.last_box = np.zeros(4, np.float32)

    @property
    def ready(self) -> bool:
        return len(self.steps) == self.history

    def push(self, stamp_ns: int, features: dict[str, np.ndarray | None], box_xyxy_norm) -> None:
        """Add a step; ``box_xyxy_norm`` is (u0, v0, u1, v1) over the image size, or None if not visible."""
        if self.last_stamp is not None and (stamp_ns - self.last_stamp >
                                            self.gap_ns or stamp_ns < self.last_stamp):
            self.reset()
        self.last_stamp = stamp_ns
        feats = np.zeros((len(self.modalities), self.m), np.float32)
        missing = np.ones(len(self.modalities), bool)
        for i, mod in enumerate(self.modalities):
            f = features.get(mod)
            if f is not None:
                if f.shape != (self.m,):
                    raise ValueError(f"feature of '{mod}' has shape {f.shape}, expected ({self.m},)")
                feats[i], missing[i] = f, False
        visible = box_xyxy_norm is not None
        if visible:
            self.last_box = np.asarray(box_xyxy_norm, np.float32)
        box = np.append(self.last_box, float(visible)).astype(np.float32)
        self.steps.append((feats, missing, box))

    def arrays(self) -> dict[str, np.ndarray]:
        """Batch-of-one model inputs, left-padded to ``input_len`` like the training windows."""
        n, length = len(self.steps), self.input_len
        feats = np.zeros((1, length, len(self.modalities), self.m), np.float32)
        missing = np.ones((1, length, len(self.modalities)), bool)
        box = np.zeros((1, length, BOX_CHANNELS), np.float32)
        for j, (f, m, b) in enumerate(self.steps):
            k = length - n + j
            feats[0, k], missing[0, k], box[0, k] = f, m, b
        pad = (np.arange(length) < length - n)[None]
        return {"feats": feats, "missing": missing, "pad": pad, "box": box}
