"""Paper 004's data: a sparse beam sweep as model input, the fine codebook's best beam as label.

A base station sweeps only ``coarse`` beams (every (fine / coarse)-th beam of its fine codebook,
:func:`beam_predictor.physics.array.sparse_beams`) and predicts the best of the ``fine`` beams.

* **Twin scenarios** store each frame's channel (``unit1_channel_ofdm``, else the narrowband
  ``unit1_channel``).  The sweep's received powers (RSRP) are synthesised at a chosen SNR, with
  the noise added to the channel before beamforming, element-wise CN(0, ||H||^2 / 10^(SNR/10)) on
  each subcarrier, and the power averaged over the subcarriers (eqs. 12, 14-15;
  :func:`beam_predictor.physics.array.beam_power`).  The label is the best beam of the clean
  channel through the same codebook.  The codebook is the site's own impaired array (its element
  errors from ``twin_meta.json``): what the base station measures with, for any fine size.
* **Real scenarios** have only the 64 measured powers: the sweep is the 16 of them at the sparse
  indices and the label the measured best beam; the SNR is the measurement's own, so only the
  16 -> 64 task runs.
* **Positions** (the paper's training-only supervision, eq. 19) come from the UE's GPS fix in site
  metres (along the array axis, along the boresight), NaN without a fix (and for a scenario without
  a site file: the dual models then train without eq. 19).  Never a model input.

Frames whose sweep has a NaN power, or whose channel is zero (no path reached the array), are
masked: left out of training and counted apart in evaluation (``SweepSet.valid``), never zeroed.
Non-learned anchors and the rate of Table VI are here too.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from beam_predictor.config import ConfigError
from beam_predictor.deepsense import ReaderConfig, ScenarioReader
from beam_predictor.deepsense.splits import pass_splits, split_column
from beam_predictor.physics.array import beam_power, impaired_codebook, sparse_beams, steering
from beam_predictor.physics.site import TWIN_META, find_site_file, load_site

MEASURED_BEAMS = 64     # the powers a real scenario stores


@dataclass
class SweepSet:
    """One scenario's frames for the sparse-sweep task."""

    name: str
    seq: np.ndarray                 # (n,) pass
    split: np.ndarray               # (n,) train / val / test
    power: np.ndarray               # (n, 64) the stored (measured) power
    position: np.ndarray            # (n, 2) site metres from the GPS fix, NaN without one
    channel: np.ndarray | None      # (n, F, N) complex64, None for a real scenario
    array: dict | None              # the site array's parameters (twin_meta.json config.array)
    _clean: dict = field(default_factory=dict, init=False, repr=False, compare=False)   # fine -> power

    def __len__(self) -> int:
        return len(self.seq)

    def subset(self, rows) -> "SweepSet":
        rows = np.asarray(rows)
        return SweepSet(self.name, self.seq[rows], self.split[rows], self.power[rows], self.position[rows],
                        None if self.channel is None else self.channel[rows], self.array)

    @property
    def has_channel(self) -> bool:
        return self.channel is not None

    def weights(self, fine: int) -> np.ndarray:
        """(fine, N) the site array's codebook of ``fine`` beams."""
        if self.array is None:
            raise ConfigError(f"{self.name}: a {fine}-beam codebook needs the stored channels of a twin "
                              f"scenario; this one has only the {MEASURED_BEAMS} measured powers")
        a = self.array
        return impaired_codebook(fine, a["fov_deg"], a["num_antennas"], a["phase_error_deg"],
                                 a["gain_error_db"], a["impairment_seed"])

    def _check_fine(self, fine: int, coarse: int) -> None:
        sparse_beams(fine, coarse)      # raises for a size that is not a multiple
        if not self.has_channel and fine != MEASURED_BEAMS:
            raise ConfigError(f"{self.name}: only the {MEASURED_BEAMS} measured powers are stored, so the "
                              f"fine codebook must have {MEASURED_BEAMS} beams, not {fine}")

    def clean_power(self, fine: int) -> np.ndarray:
        """(n, fine) noise-free power of every fine beam (the measured power for a real scenario)."""
        if not self.has_channel:
            return self.power.astype(np.float64)
        if fine not in self._clean:           # labels, losses and rates all read it: synthesised once
            self._clean[fine] = beam_power(self.channel, self.weights(fine))
        return self._clean[fine]

    def valid(self, fine: int, coarse: int) -> np.ndarray:
        """(n,) frames with a usable sweep and label (a path reached the array; no NaN power)."""
        self._check_fine(fine, coarse)
        if self.has_channel:
            return np.abs(self.channel).reshape(len(self), -1).max(axis=1) > 0
        sweep = self.power[:, sparse_beams(fine, coarse)]
        return np.isfinite(sweep).all(axis=1) & np.isfinite(self.power).any(axis=1)

    def labels(self, fine: int) -> np.ndarray:
        """(n,) best fine beam, 0-based (-1 where no power is finite)."""
        p = self.clean_power(fine)
        ok = np.isfinite(p).any(axis=1)
        return np.where(ok, np.argmax(np.nan_to_num(p, nan=-np.inf), axis=1), -1)

    def sweep(self, fine: int, coarse: int, snr_db: float | None, rng: np.random.Generator) -> np.ndarray:
        """(n, coarse) received power of the sparse sweep (NaN stays NaN: masked downstream).

        Twin: synthesised at ``snr_db`` with a fresh noise draw from ``rng``.  Real: the stored
        powers, whose noise is the measurement's (``snr_db`` must then be None).
        """
        self._check_fine(fine, coarse)
        idx = sparse_beams(fine, coarse)
        if not self.has_channel:
            if snr_db is not None:
                raise ConfigError(f"{self.name}: a real scenario's sweep has the measurement's own noise; "
                                  "no SNR can be set")
            return self.power[:, idx].astype(np.float64)
        if snr_db is None:
            raise ConfigError(f"{self.name}: a twin sweep needs an SNR (task.snr_db)")
        return beam_power(self.channel, self.weights(fine)[idx], rng=rng, snr_db=snr_db)

    def rate(self, fine: int, chosen: np.ndarray, snr_db: float | None) -> np.ndarray:
        """(n,) achievable rate log2(1 + |h^H f|^2 / N) of the chosen fine beams (Table VI), bit/s/Hz,
        with the noise power N = ||H||^2 / 10^(SNR/10) of eq. 15 (twin scenarios only; NaN where
        no path reached the array)."""
        if not self.has_channel or snr_db is None:
            raise ConfigError(f"{self.name}: the rate needs the stored channels and an SNR")
        gain = self.clean_power(fine)[np.arange(len(self)), chosen]
        norm2 = np.mean(np.sum(np.abs(self.channel) ** 2, axis=-1), axis=-1)
        out = np.full(len(self), np.nan)
        ok = norm2 > 0
        out[ok] = np.log2(1 + gain[ok] / (norm2[ok] / 10 ** (snr_db / 10)))
        return out


def sweep_features(sweep: np.ndarray) -> np.ndarray:
    """(n, 2, coarse) float32 model input: the powers over the row's maximum, and in dB over the
    maximum / 40 dB (floored at -40 dB).  Scale-free: the absolute power depends on the distance.
    Rows with a NaN stay NaN (the caller masks them)."""
    s = np.asarray(sweep, np.float64)
    peak = np.max(s, axis=1, keepdims=True)
    rel = s / np.where(peak > 0, peak, 1.0)
    db = np.maximum(10 * np.log10(np.maximum(rel, 1e-4)), -40.0) / 40.0
    db = np.where(np.isnan(rel), np.nan, db)
    return np.stack([rel, db], axis=1).astype(np.float32)


def load_sweep_set(root: str | Path) -> SweepSet:
    """A scenario folder's frames: measured power, GPS position, split and (twin) channels."""
    root = Path(root)
    reader = ScenarioReader(root, ReaderConfig(modalities=("power", "gps")))
    site = load_site(root) if find_site_file(root) is not None else None     # None: no position targets
    seq, power, pos, channel = [], [], [], []
    have_channel = None
    for f in reader:
        seq.append(f.seq_index)
        power.append(f.power if f.power is not None else np.full(MEASURED_BEAMS, np.nan))
        fix = f.ue_latlon
        known = site is not None and fix is not None and np.isfinite(fix).all()
        pos.append(site.site_xy(site.local_en(fix)) if known else np.full(2, np.nan))
        cell = f.extras.get("unit1_channel_ofdm", "").strip() or f.extras.get("unit1_channel", "").strip()
        if have_channel is None:
            have_channel = bool(cell)
        if have_channel:
            if not cell:
                raise ConfigError(f"{reader.csv_path}: row {f.index} has no stored channel "
                                  "(unit1_channel_ofdm / unit1_channel) while earlier rows have one")
            h = np.load(root / cell)
            channel.append(h if h.ndim == 2 else h[None, :])
    if not seq:
        raise ConfigError(f"{reader.csv_path}: no frames")
    seq = np.asarray(seq)
    array = None
    if have_channel:
        meta = root / TWIN_META
        if not meta.is_file():
            raise ConfigError(f"{meta}: the stored channels need the site array's parameters (config.array)")
        array = json.loads(meta.read_text())["config"]["array"]
    return SweepSet(name=root.name, seq=seq, split=split_column(seq, pass_splits(root)),
                    power=np.asarray(power, np.float64), position=np.asarray(pos, np.float64),
                    channel=np.stack(channel).astype(np.complex64) if have_channel else None, array=array)


# --- non-learned anchors ---------------------------------------------------------------------
def sparse_argmax(sweep: np.ndarray, fine: int) -> np.ndarray:
    """(n, fine) scores: the fine beam of the strongest sparse beam (no extra measurement)."""
    n, coarse = sweep.shape
    idx = sparse_beams(fine, coarse)
    scores = np.full((n, fine), -np.inf)
    best = np.argmax(np.nan_to_num(sweep, nan=-np.inf), axis=1)
    scores[np.arange(n), idx[best]] = 0.0
    return scores


def hierarchical_search(s: SweepSet, sweep: np.ndarray, fine: int, snr_db: float | None,
                        rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """(n, fine) scores of hierarchical codebook search (HC) and its beams measured per frame.

    Stage 1 is the sparse sweep; stage 2 measures the fine beams of the strongest sparse beam's
    sector (the fine/coarse beams nearest to it, at the same SNR) and keeps the strongest.  With
    only the 64 stored powers, stage 2 reads them (their own noise)."""
    n, coarse = sweep.shape
    step = fine // coarse
    centre = sparse_beams(fine, coarse)[np.argmax(np.nan_to_num(sweep, nan=-np.inf), axis=1)]
    sector = np.clip(centre[:, None] - step // 2 + np.arange(step)[None, :], 0, fine - 1)
    if s.has_channel:
        # one new noise draw on the channel for stage 2's measurement occasion
        full = beam_power(s.channel, s.weights(fine), rng=rng, snr_db=snr_db)
        measured = full[np.arange(n)[:, None], sector]
    else:
        measured = s.power[np.arange(n)[:, None], sector]
    scores = np.full((n, fine), -np.inf)
    best = sector[np.arange(n), np.argmax(np.nan_to_num(measured, nan=-np.inf), axis=1)]
    scores[np.arange(n), best] = 0.0
    return scores, coarse + step


def pattern_fit(s: SweepSet, sweep: np.ndarray, fine: int, grid: int = 4001) -> np.ndarray:
    """(n, fine) scores of a single-path fit (no learning): the sweep is matched against the sparse
    beams' pattern toward each direction of a dense grid of direction cosines (the whole half space)
    (correlation of the mean-removed profiles, so the path's gain and the noise floor drop out);
    each direction scores the fine beam that serves it best.  Near the maximum-likelihood angle
    estimate for one plane wave in white noise: what geometry alone gets from the sweep."""
    w = s.weights(fine) if s.has_channel else None
    if w is None:
        raise ConfigError(f"{s.name}: the single-path fit needs the array's codebook (a twin scenario)")
    a = steering(np.linspace(-1.0, 1.0, grid), w.shape[1])     # every visible direction cosine
    pattern = np.abs(a @ w[sparse_beams(fine, sweep.shape[1])].conj().T) ** 2
    pattern -= pattern.mean(axis=1, keepdims=True)
    pattern /= np.linalg.norm(pattern, axis=1, keepdims=True)
    serving = np.argmax(np.abs(a @ w.conj().T), axis=1)
    y = sweep - np.mean(sweep, axis=1, keepdims=True)
    corr = np.nan_to_num(y, nan=0.0) @ pattern.T                         # (n, grid)
    scores = np.full((len(sweep), fine), -np.inf)
    for b in np.unique(serving):
        scores[:, b] = corr[:, serving == b].max(axis=1)
    scores[~np.isfinite(sweep).all(axis=1)] = np.nan
    return scores
