"""GPS error model of the twin's UE receiver (pure numpy): what ``unit2_loc`` and its quality columns say.

Per pass, from the UE antenna's true track (east/north metres from the base station, as
the CSV's ``ue_x``/``ue_y`` write it), the receiver reports, frame by frame:

* **white noise** of ``noise_m`` (1 sigma per axis), scaled by HDOP / ``hdop``;
* **a drifting bias**: a first-order Gauss-Markov process per axis with stationary sigma
  ``bias_m`` and correlation time ``bias_tau_s`` (b[k] = phi b[k-1] + sqrt(1 - phi^2)
  bias_m e, phi = exp(-dt / tau)), started from its stationary distribution;
* **delivery latency**: the fix of frame k is the position of frame k - ``latency_frames``
  (the first frames of a pass repeat its first position);
* **dropouts**: a two-state Markov chain enters an outage with probability
  ``dropout_rate`` per frame and stays in it for ``dropout_mean_frames`` on average.  An
  outage writes either no file (empty ``unit2_loc`` cell) or a NaN fix (share
  ``dropout_nan_share``); the reader turns both into a frame without a fix;
* **quality columns** as DeepSense writes them: ``unit2_mode_fix_type`` ("3D", "2D" when
  HDOP exceeds ``hdop_2d``, "NoFix" in an outage) and ``unit2_hdop`` (``hdop`` times a
  slow log-normal wander of ``hdop_wander`` sigma, larger while the bias is large).

Presets (``gps.preset``): ``rtk`` (RTK-level white noise only, the twin's first
benchmark), ``standard`` (a metre-level standalone receiver) and ``degraded`` (urban
multipath: drift, latency and dropouts).  ``custom`` uses the fields as given.  The GPS
draws come from a stream of their own, so datasets of one traffic seed differ only in GPS.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from beam_predictor.config import ConfigError

NOT_ERROR_MODEL = ("origin_lat", "origin_lon", "origin_alt", "preset")    # the other GpsConfig fields
# preset -> field values of GpsConfig (the fields not named keep their defaults)
GPS_PRESETS = {
    "rtk": dict(noise_m=0.02, bias_m=0.0, latency_frames=0, dropout_rate=0.0, hdop=0.7),
    "standard": dict(noise_m=0.3, bias_m=1.5, bias_tau_s=60.0, latency_frames=1, dropout_rate=0.0, hdop=1.1),
    "degraded": dict(noise_m=0.8, bias_m=3.0, bias_tau_s=15.0, latency_frames=2, dropout_rate=0.03,
                     dropout_mean_frames=5.0, dropout_nan_share=0.5, hdop=1.8, hdop_wander=0.4),
}


@dataclass(frozen=True)
class GpsTrack:
    """What the receiver reports for each frame of a pass."""

    east_m: np.ndarray          # reported fix, metres from the base station (NaN in an outage)
    north_m: np.ndarray
    written: np.ndarray         # bool: a file is written (False: empty cell)
    fix_type: list[str]
    hdop: np.ndarray


def resolve(gps) -> dict:
    """The error-model fields of ``GpsConfig`` after its preset."""
    fields = {f.name: getattr(gps, f.name) for f in dataclasses.fields(gps) if f.name not in NOT_ERROR_MODEL}
    if gps.preset == "custom":
        return fields
    if gps.preset not in GPS_PRESETS:
        raise ConfigError(f"gps.preset: unknown preset '{gps.preset}'; "
                          f"known: {sorted(GPS_PRESETS) + ['custom']}")
    preset = GPS_PRESETS[gps.preset]
    defaults = {f.name: f.default for f in dataclasses.fields(gps)}
    for key, value in preset.items():      # a field the preset fixes must not be set to something else
        if fields[key] != defaults[key] and fields[key] != value:
            raise ConfigError(f"gps.{key}: {fields[key]} is set, but preset '{gps.preset}' fixes it at "
                              f"{value}; use preset: custom to set the fields yourself")
    return {**fields, **preset}


def receiver_track(east_m: np.ndarray, north_m: np.ndarray, gps, frame_rate_hz: float,
                   rng: np.random.Generator) -> GpsTrack:
    """The reported fixes of one pass from the true antenna track (metres east/north of the BS)."""
    p = resolve(gps)
    n = len(east_m)
    dt = 1.0 / frame_rate_hz
    lag = np.maximum(np.arange(n) - int(p["latency_frames"]), 0)
    true = np.stack([np.asarray(east_m, float)[lag], np.asarray(north_m, float)[lag]], axis=1)
    bias = np.zeros((n, 2))
    if p["bias_m"] > 0:
        phi = float(np.exp(-dt / p["bias_tau_s"]))
        e = rng.standard_normal((n, 2))
        bias[0] = p["bias_m"] * e[0]
        for k in range(1, n):
            bias[k] = phi * bias[k - 1] + np.sqrt(1 - phi ** 2) * p["bias_m"] * e[k]
    wander = np.exp(p["hdop_wander"] * _smooth(rng.standard_normal(n), 10))
    hdop = p["hdop"] * wander
    if p["bias_m"] > 0:
        hdop = hdop * (1 + 0.5 * np.linalg.norm(bias, axis=1) / (p["bias_m"] * np.sqrt(2)))
    noise = p["noise_m"] * (hdop / p["hdop"])[:, None] * rng.standard_normal((n, 2))
    fix = true + bias + noise
    out = np.zeros(n, dtype=bool)
    if p["dropout_rate"] > 0:
        leave = 1.0 / max(p["dropout_mean_frames"], 1.0)
        u = rng.random(n)
        state = False
        for k in range(n):
            state = (u[k] >= leave) if state else (u[k] < p["dropout_rate"])
            out[k] = state
    nan_outage = rng.random(n) < p["dropout_nan_share"]
    # one choice per outage: its first frame decides
    starts = out & ~np.concatenate([[False], out[:-1]])
    choice = np.maximum.accumulate(np.where(starts, np.arange(n), 0))
    nan_frame = out & nan_outage[choice]
    fix[out] = np.nan
    fix_type = ["NoFix" if o else ("2D" if h > p["hdop_2d"] else "3D") for o, h in zip(out, hdop)]
    return GpsTrack(east_m=fix[:, 0], north_m=fix[:, 1], written=~out | nan_frame, fix_type=fix_type,
                    hdop=hdop)


def _smooth(x: np.ndarray, width: int) -> np.ndarray:
    """A moving average scaled back to unit variance (a slow, zero-mean wander)."""
    if x.size < 2:
        return np.zeros_like(x)
    w = min(width, x.size)
    y = np.convolve(x, np.ones(w) / w, mode="same")
    return y * np.sqrt(w)
