"""Encoder pre-training (paper 000, eq. 19): each encoder alone classifies the current optimal beam.

Each modality's encoder gets a linear head over the 64 beams and is trained with
cross-entropy on the training passes (frames whose input is missing are left out),
keeping the weights of the best validation epoch.  The test passes give Top-1/Top-3:
the single-modality sanity table of the data.  Checkpoints hold the encoder and head
weights, the sensing config and the GPS scaler.
"""
from __future__ import annotations

import csv
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from beam_predictor import contract
from beam_predictor.config import to_mapping
from beam_predictor.sensing.config import SensingConfig
from beam_predictor.sensing.dataset import PreparedSet
from beam_predictor.sensing.encoders import build_encoder, parameter_count


@dataclass(frozen=True)
class PretrainConfig:
    """config/pretrain.yaml"""

    epochs: int = 12
    # cheap encoders train longer
    epochs_by_modality: dict[str, int] = field(default_factory=lambda: {"gps": 300})
    batch_size: int = 64
    lr: float = 1e-3
    lr_by_modality: dict[str, float] = field(default_factory=lambda: {"gps": 1e-2})
    weight_decay: float = 1e-4
    seed: int = 0
    modalities: tuple[str, ...] = ("image", "radar", "lidar", "gps")
    sensing: SensingConfig = field(default_factory=SensingConfig)


class BeamClassifier(nn.Module):
    def __init__(self, modality: str, cfg: SensingConfig):
        super().__init__()
        self.encoder = build_encoder(modality, cfg.encoder)
        self.head = nn.Linear(cfg.encoder.feature_dim, contract.NUM_BEAMS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(x))


def topk_accuracy(logits: torch.Tensor, labels: torch.Tensor, ks=(1, 3)) -> dict[int, float]:
    top = logits.topk(max(ks), dim=1).indices
    hit = top == labels[:, None]
    return {k: float(hit[:, :k].any(dim=1).float().mean()) for k in ks}


def _logits(model: nn.Module, x: np.ndarray, batch: int) -> torch.Tensor:
    model.eval()
    out = []
    with torch.inference_mode():
        for i in range(0, len(x), batch):
            out.append(model(torch.from_numpy(x[i:i + batch])))
    return torch.cat(out) if out else torch.zeros(0, contract.NUM_BEAMS)


def train_modality(data: PreparedSet, modality: str, cfg: PretrainConfig, progress: bool = True):
    """Train one encoder; returns (model, metrics dict, per-epoch history)."""
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    ok = ~data.missing[modality]
    rows = {s: np.intersect1d(data.rows(s), np.nonzero(ok)[0]) for s in ("train", "val", "test")}
    x, y = data.inputs[modality], torch.from_numpy(data.beam.astype(np.int64) - 1)
    model = BeamClassifier(modality, cfg.sensing)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr_by_modality.get(modality, cfg.lr),
                            weight_decay=cfg.weight_decay)
    loss_fn = nn.CrossEntropyLoss()
    best, best_state, history = -1.0, None, []
    start = time.perf_counter()
    epochs = cfg.epochs_by_modality.get(modality, cfg.epochs)
    for epoch in tqdm(range(epochs), desc=f"pretrain {modality}", disable=not progress):
        model.train()
        order = rng.permutation(rows["train"])
        total = 0.0
        for i in range(0, len(order), cfg.batch_size):
            idx = np.sort(order[i:i + cfg.batch_size])
            if len(idx) < 2:
                continue
            loss = loss_fn(model(torch.from_numpy(x[idx])), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        val = 0.0
        if len(rows["val"]):
            val = topk_accuracy(_logits(model, x[rows["val"]], 256), y[rows["val"]])[1]
        history.append({"epoch": epoch + 1, "train_loss": total / max(len(order), 1), "val_top1": val})
        if val > best:
            best, best_state = val, {k: v.detach().clone() for k, v in model.state_dict().items()}
    model.load_state_dict(best_state)
    test = {}
    if len(rows["test"]):
        test = topk_accuracy(_logits(model, x[rows["test"]], 256), y[rows["test"]])
    metrics = {"modality": modality, "params": parameter_count(model.encoder),
               "train_frames": len(rows["train"]),
               "test_frames": len(rows["test"]), "missing_frames": int((~ok).sum()),
               "test_top1": test.get(1, float("nan")), "test_top3": test.get(3, float("nan")),
               "best_val_top1": best, "train_seconds": time.perf_counter() - start}
    return model, metrics, history


def save_checkpoint(path: Path, model: BeamClassifier, modality: str, cfg: PretrainConfig,
                    data: PreparedSet, metrics: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"modality": modality, "state_dict": model.state_dict(), "sensing": to_mapping(cfg.sensing),
                "gps_scaler": data.gps_scaler.to_dict() if data.gps_scaler else None,
                "metrics": metrics}, path)


def write_report(out: Path, metrics: list[dict], histories: dict[str, list[dict]]) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "encoders.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(metrics[0]))
        w.writeheader()
        w.writerows(metrics)
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 3.5), dpi=90)
    names = [m["modality"] for m in metrics]
    pos = np.arange(len(names))
    a1.bar(pos - 0.2, [m["test_top1"] for m in metrics], 0.4, label="Top-1")
    a1.bar(pos + 0.2, [m["test_top3"] for m in metrics], 0.4, label="Top-3")
    a1.set(xticks=pos, xticklabels=names, ylim=(0, 1), title="single-modality beam accuracy (test passes)")
    a1.legend()
    for name, hist in histories.items():
        a2.plot([h["epoch"] for h in hist], [h["val_top1"] for h in hist], label=name)
    a2.set(xlabel="epoch", ylabel="val Top-1", title="training curves")
    a2.legend()
    fig.tight_layout()
    fig.savefig(out / "encoders.png")
    plt.close(fig)
