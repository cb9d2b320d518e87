"""Beam and PA metrics (paper 000, eqs. 23-25; paper 003 gains).

* Top-K accuracy (eq. 23): the optimal beam is among the K most probable.
* DBA score (eqs. 24-25): the mean over k = 1..K of Y_k, where Y_k = 1 - mean over
  samples of the smallest min(|predicted - optimal| / Delta, 1) among the top-k
  predictions (beam indices as integers).
* Power loss: 10 log10(P[optimal] / P[top-1]) in dB from the measured 64-beam power;
  rows whose power has NaNs are left out.
* PA: codeword Top-K and the gain achieved by the predicted codeword, against the oracle
  codeword and a fixed placement (the one codeword best on average over training frames).
"""
from __future__ import annotations

import numpy as np


def topk_hits(scores: np.ndarray, target: np.ndarray, k: int) -> np.ndarray:
    """(…,) bool: ``target`` among the k highest ``scores`` (…, C)."""
    top = np.argsort(-scores, axis=-1)[..., :k]
    return (top == target[..., None]).any(axis=-1)


def topk_accuracy(scores: np.ndarray, target: np.ndarray, ks=(1, 3, 5)) -> dict[int, float]:
    return {k: float(topk_hits(scores, target, k).mean()) for k in ks}


def dba_score(scores: np.ndarray, target: np.ndarray, k: int, delta: float) -> float:
    """DBA score (eqs. 24-25) with the top-K predictions, K = ``k``; scores (…, C), target (…,) integer."""
    top = np.argsort(-scores, axis=-1)[..., :k]
    err = np.minimum(np.abs(top - target[..., None]) / delta, 1.0)          # (…, K)
    best_of_top = np.minimum.accumulate(err, axis=-1)                       # column j: best of the top j+1
    y = 1.0 - best_of_top.reshape(-1, k).mean(axis=0)                       # Y_1 .. Y_K
    return float(y.mean())


def power_loss_db(scores: np.ndarray, power: np.ndarray) -> np.ndarray:
    """(n,) dB lost by the top-1 beam against the best beam, NaN-power rows dropped."""
    pred = scores.argmax(axis=-1).reshape(-1)
    p = power.reshape(-1, power.shape[-1])
    ok = np.isfinite(p).all(axis=1)
    p, pred = p[ok], pred[ok]
    best = p.max(axis=1)
    got = np.maximum(p[np.arange(len(p)), pred], best * 1e-12)
    return 10 * np.log10(best / got)


def fixed_codeword(gain_db: np.ndarray) -> int:
    """0-based codeword with the highest mean linear gain over ``gain_db`` (n, K)."""
    ok = np.isfinite(gain_db).all(axis=1)
    return int(np.argmax((10 ** (gain_db[ok] / 10)).mean(axis=0)))


def pa_metrics(scores: np.ndarray, gain_db: np.ndarray, fixed: int) -> dict[str, float]:
    """Codeword Top-1/3 and mean achieved gain (dB) of predicted, oracle and fixed codewords."""
    s = scores.reshape(-1, scores.shape[-1])
    g = gain_db.reshape(-1, gain_db.shape[-1])
    ok = np.isfinite(g).all(axis=1)
    s, g = s[ok], g[ok]
    if not len(g):
        return {}
    best = g.argmax(axis=1)
    pred = s.argmax(axis=1)
    rows = np.arange(len(g))
    return {"pa_top1": float(topk_hits(s, best, 1).mean()), "pa_top3": float(topk_hits(s, best, 3).mean()),
            "pa_gain_pred_db": float(g[rows, pred].mean()), "pa_gain_oracle_db": float(g[rows, best].mean()),
            "pa_gain_fixed_db": float(g[:, fixed].mean()),
            "pa_loss_pred_db": float((g[rows, best] - g[rows, pred]).mean()),
            "pa_loss_fixed_db": float((g[rows, best] - g[:, fixed]).mean())}


def target_steps(num_steps: int) -> list[int]:
    """The offsets a task is scored on: the future ones 1..T, or offset 0 when T = 0 (the current
    beam from the current frame, paper 002's task)."""
    return list(range(1, num_steps)) if num_steps > 1 else [0]


def beam_metrics(scores: np.ndarray, beam: np.ndarray, power: np.ndarray, steps=None) -> dict[str, float]:
    """Summary over the chosen offsets ``steps`` (default: :func:`target_steps`)."""
    steps = target_steps(scores.shape[1]) if steps is None else list(steps)
    s, b, p = scores[:, steps], beam[:, steps], power[:, steps]
    out = {f"top{k}": v for k, v in topk_accuracy(s, b).items()}
    for delta in (1, 2):
        for k in (1, 2, 3):
            out[f"dba_k{k}_d{delta}"] = dba_score(s, b, k, delta)
    loss = power_loss_db(s, p)
    out["power_loss_mean_db"] = float(loss.mean()) if len(loss) else float("nan")
    out["power_loss_p95_db"] = float(np.percentile(loss, 95)) if len(loss) else float("nan")
    return out


def per_step_topk(scores: np.ndarray, beam: np.ndarray, ks=(1, 3, 5)) -> np.ndarray:
    """(T+1, len(ks)) Top-K accuracy at every offset."""
    return np.array([[topk_hits(scores[:, s], beam[:, s], k).mean()
                    for k in ks] for s in range(scores.shape[1])])
