"""Training of the LLM-PASS network (paper 003): two stages, DWA over the per-user losses.

* Stage 1 (``train.adapter_epochs``): the LLM frozen; the token maps, user slots and the
  head train (AdamW, ``train.lr``).
* Stage 2 (``train.lora_epochs``): LoRA adapters (peft) join in the LLM's attention
  (``train.lora_lr``).
* Loss (eq. 44): sum_u lambda_u CE_u over the users' codeword cross-entropies, the weights
  from dynamic weight averaging (Liu et al., DWA): lambda_u(t) = U softmax_u(r_u / T) with
  r_u = L_u(t-1) / L_u(t-2), equal for the first two epochs.
* The epoch with the best validation Top-1 (mean over users) is kept; epoch 0 is the
  untrained network, which is the geometric prior (the head starts at zero), so training
  is kept only where it beats the prior on the validation passes.

Why DWA is written here: it is four lines and no maintained library ships it for plain torch.
"""
from __future__ import annotations

import copy

import numpy as np
import torch
from tqdm import tqdm

from beam_predictor.model.pass_net import PassNet
from beam_predictor.window import USER_KEYS

INPUT_KEYS = tuple(k for k in USER_KEYS if k != "tracked") + ("prior",)


def tensors(inputs: dict[str, np.ndarray], rows=None) -> dict[str, torch.Tensor]:
    out = {}
    for k in INPUT_KEYS:
        v = inputs[k] if rows is None else inputs[k][rows]
        out[k] = torch.from_numpy(np.ascontiguousarray(v))
    return out


def dwa_weights(history: list[np.ndarray], temperature: float) -> np.ndarray:
    """(U,) DWA weights from the per-user mean losses of the past epochs."""
    u = len(history[-1]) if history else 1
    if len(history) < 2:
        return np.ones(u)
    r = history[-1] / np.maximum(history[-2], 1e-12)
    e = np.exp((r - r.max()) / temperature)
    return u * e / e.sum()


@torch.no_grad()
def predict(model: PassNet, inputs: dict[str, np.ndarray], batch: int = 256) -> np.ndarray:
    """(F, U, K) codeword probabilities."""
    model.eval()
    n = len(inputs["box"])
    out = [torch.softmax(model(tensors(inputs, slice(i, i + batch))), -1).numpy() for i in range(0, n, batch)]
    return np.concatenate(out) if out else np.zeros((0, model.users, model.num_codewords))


def _top1(model, inputs, y) -> float:
    return float((predict(model, inputs).argmax(-1) == y).mean()) if len(y) else float("nan")


def train_pass(cfg, train_inputs: dict, y_train: np.ndarray, val_inputs: dict, y_val: np.ndarray,
               num_codewords: int, progress: bool = True) -> tuple[PassNet, list[dict]]:
    """Fit :class:`PassNet` on labels ``y`` (F, U); returns the best-validation model and the history."""
    tc = cfg.train
    torch.manual_seed(tc.seed)
    rng = np.random.default_rng(tc.seed)
    model = PassNet(cfg, num_codewords)
    ce = torch.nn.CrossEntropyLoss(reduction="none")
    y_t = torch.from_numpy(y_train.astype(np.int64))
    losses: list[np.ndarray] = []
    model.kept = {"stage": "prior", "epoch": 0, "loss": float("nan"),
                  "val_top1": _top1(model, val_inputs, y_val), "weights": []}
    history: list[dict] = [model.kept]
    best = (model.kept["val_top1"], copy.deepcopy(model))
    stages = [("adapters", tc.adapter_epochs, model.adapter_parameters(), tc.lr)]
    if tc.lora_epochs:
        stages.append(("lora", tc.lora_epochs, None, tc.lora_lr))
    n = len(y_train)
    for stage, epochs, params, lr in stages:
        if stage == "lora":
            params = model.adapter_parameters() + model.add_lora()
        opt = torch.optim.AdamW(params, lr=lr, weight_decay=tc.weight_decay)
        for _ in tqdm(range(epochs), desc=f"pass {stage}", disable=not progress):
            weights = torch.from_numpy(dwa_weights(losses, tc.dwa_temperature)).float()
            model.train()
            sums = np.zeros(cfg.users)
            order = rng.permutation(n)
            for i in range(0, n, tc.batch_size):
                rows = order[i:i + tc.batch_size]
                logits = model(tensors(train_inputs, rows))                     # (B, U, K)
                per_user = ce(logits.flatten(0, 1), y_t[rows].flatten()).view(len(rows), -1).mean(0)
                loss = (weights * per_user).sum()
                opt.zero_grad()
                loss.backward()
                opt.step()
                sums += per_user.detach().numpy() * len(rows)
            losses.append(sums / max(n, 1))
            top1 = _top1(model, val_inputs, y_val)
            history.append({"stage": stage, "epoch": len(history), "loss": float(losses[-1].mean()),
                            "val_top1": top1, "weights": weights.numpy().round(3).tolist()})
            if top1 > best[0]:
                model.kept = history[-1]
                best = (top1, copy.deepcopy(model))          # the whole model: LoRA changes its layout
    return best[1], history


def run_pass(data, cfg, progress: bool = True) -> tuple[dict, PassNet]:
    """Train on ``data``'s train passes (validation: val), evaluate on test; the results and the model.

    ``data`` is a :class:`beam_predictor.model.pass_data.PassSet`, ``cfg`` a PassConfig."""
    from beam_predictor.config import to_mapping
    from beam_predictor.model import pass_eval
    from beam_predictor.model.pass_data import labels
    data = data.first_users(cfg.users).for_pas(cfg.num_pas)
    link = data.links[data.grid(cfg.num_pas)]                                  # (F, U, N, K)
    y = labels(data, cfg)
    part = {s: data.split == s for s in ("train", "val", "test")}
    for s, m in part.items():
        if not m.any():
            raise ValueError(f"{data.name}: no {s} frames")
    sub = {s: {k: v[m] for k, v in data.inputs.items()} for s, m in part.items()}
    model, history = train_pass(cfg, sub["train"], y[part["train"]], sub["val"], y[part["val"]],
                                link.shape[-1], progress)
    probs = predict(model, sub["test"])
    fixed = pass_eval.fixed_codewords(link[part["train"]])
    t = part["test"]
    tracked, geometry = data.inputs["tracked"][t], data.geometry[t]
    if cfg.users == 1:
        metrics = pass_eval.evaluate_single(link[t][:, 0, 0], y[t][:, 0], probs[:, 0], tracked[:, 0],
                                            geometry[:, 0], int(fixed[0]), cfg.link, cfg.train.seed)
    else:
        metrics = pass_eval.evaluate_multi(link[t], data.channels[t], data.ula, y[t], probs, tracked,
                                           geometry, fixed, data.noise_w, cfg.link, cfg.train.seed)
    return {"scenario": data.name, "config": to_mapping(cfg), "backbone": model.source, "kept": model.kept,
            "fixed": fixed.tolist(),
            "label_search": (f"Top-{cfg.link.top_k} per user, {cfg.link.top_k ** cfg.users} MMSE sum rates "
                             "per frame")
            if cfg.users > 1 else "best gain", "history": history, **metrics}, model
