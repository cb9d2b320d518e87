"""Per-frame table (encoder features + labels) and the sliding windows the predictors learn from.

A :class:`FrameTable` holds, for every frame of a scenario, the cached encoder features of
each modality with their missing masks, the 64-beam power, the UE box and the PASS
codeword gains.  :func:`make_windows` cuts each pass into samples: the H observed frames
t-H+1..t (left-padded to ``input_len``) and the targets at offsets 0..T (frame t and the T
future frames).  Windows never cross a pass, so train/val/test passes never mix.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from beam_predictor.deepsense.reader import ReaderConfig, ScenarioReader
from beam_predictor.model.config import TaskConfig
from beam_predictor.sensing.dataset import scenario_key
from beam_predictor.sensing.features import encode, prepare_for_encoders

BOX_CHANNELS = 5      # u_min, v_min, u_max, v_max (over image size), visible


@dataclass
class FrameTable:
    index: np.ndarray                    # (F,)
    seq: np.ndarray                      # (F,)
    split: np.ndarray                    # (F,) str
    beam: np.ndarray                     # (F,) 0-based optimal beam
    power: np.ndarray                    # (F, 64) linear power (NaN rows allowed)
    features: dict[str, np.ndarray]      # modality -> (F, M)
    missing: dict[str, np.ndarray]       # modality -> (F,) bool
    box: np.ndarray                      # (F, 5) normalised UE box, forward-filled; last column visible
    pa_gain_db: np.ndarray               # (F, K) gain of every PASS codeword (NaN when the data has none)
    pa_codebook: np.ndarray | None       # (K, num_pas) PA positions in metres along the waveguide
    encoder_versions: dict[str, str]

    def __len__(self) -> int:
        return len(self.index)


def _twin_meta(scenario: Path) -> dict:
    """The twin's twin_meta.json (camera, PA codebook), or {} for scenarios without one."""
    path = scenario / "twin_meta.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def _labels(scenario: Path, meta: dict, cache_dir: Path | None, progress: bool) -> dict[str, np.ndarray]:
    """Power, box and PASS gains of every frame (cached, keyed by the CSV's content)."""
    cache = None if cache_dir is None else cache_dir / f"labels-{scenario_key(scenario)}.npz"
    if cache is not None and cache.is_file():
        z = np.load(cache)
        return {k: z[k] for k in z.files}
    cam = meta.get("camera")
    size = None if cam is None else (float(cam["width"]), float(cam["height"]))
    reader = ScenarioReader(scenario, ReaderConfig(modalities=("power",)))
    rows: dict[str, list] = {k: [] for k in ("index", "seq", "split", "beam", "power", "box", "pa")}
    last_box = np.zeros(4, np.float32)
    for f in tqdm(reader, total=len(reader), desc=f"labels {scenario.name}", disable=not progress):
        if rows["seq"] and rows["seq"][-1] != f.seq_index:
            last_box = np.zeros(4, np.float32)          # a new pass: forget the previous UE's box
        rows["index"].append(f.index)
        rows["seq"].append(f.seq_index)
        rows["split"].append(f.extras.get("split", ""))
        rows["beam"].append(f.beam - 1)
        rows["power"].append(f.power)
        text = f.extras.get("ue_bbox", "").strip()
        visible = bool(text) and size is not None
        if visible:
            u0, v0, u1, v1 = (float(v) for v in text.split())
            last_box = np.array([u0 / size[0], v0 / size[1], u1 / size[0], v1 / size[1]], np.float32)
        rows["box"].append(np.append(last_box, float(visible)).astype(np.float32))
        pa_file = f.extras.get("unit1_pass", "")
        rows["pa"].append(np.abs(np.load(scenario / pa_file)) if pa_file else None)
    k = next((len(g) for g in rows["pa"] if g is not None), 1)
    pa = np.stack([20 * np.log10(np.maximum(g, 1e-15)) if g is not None else np.full(k, np.nan)
                   for g in rows["pa"]]).astype(np.float32)
    out = {"index": np.array(rows["index"]), "seq": np.array(rows["seq"]),
           "split": np.array(rows["split"], dtype="<U8"), "beam": np.array(rows["beam"]),
           "power": np.stack(rows["power"]).astype(np.float32), "box": np.stack(rows["box"]),
           "pa_gain_db": pa}
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(".tmp.npz")
        np.savez(tmp, **out)
        tmp.replace(cache)
    return out


def load_frame_table(scenario: str | Path, encoders: str | Path, modalities,
                     cache_dir: str | Path | None = "build/cache", progress: bool = True) -> FrameTable:
    """Features of ``modalities`` (encoder_<modality>.pt in ``encoders``) plus labels of a scenario."""
    scenario, encoders = Path(scenario), Path(encoders)
    cache = None if cache_dir is None else Path(cache_dir)
    ckpts = {m: encoders / f"encoder_{m}.pt" for m in modalities}
    for m, p in ckpts.items():
        if not p.is_file():
            raise FileNotFoundError(f"{p}: no encoder checkpoint for modality '{m}' "
                                    f"(build it with `make pretrain`)")
    prepared = {}

    def prepared_set():                # only on a feature-cache miss, and then once
        if "set" not in prepared:
            prepared["set"] = prepare_for_encoders(scenario, ckpts, cache_dir=cache, progress=progress)
        return prepared["set"]

    feats = {m: encode(prepared_set, m, p, scenario, cache_dir=cache, progress=progress)
             for m, p in ckpts.items()}
    meta = _twin_meta(scenario)
    labels = _labels(scenario, meta, cache, progress)
    for m, f in feats.items():
        if not np.array_equal(f.index, labels["index"]):
            raise ValueError(f"{scenario}: cached {m} features do not match the CSV's frames; "
                             f"delete {cache} and re-run")
    book = meta.get("pass_codebook_m")
    codebook = None if book is None else np.asarray(book, dtype=np.float64)
    return FrameTable(index=labels["index"], seq=labels["seq"], split=labels["split"], beam=labels["beam"],
                      power=labels["power"], features={m: f.features for m, f in feats.items()},
                      missing={m: f.missing for m, f in feats.items()}, box=labels["box"],
                      pa_gain_db=labels["pa_gain_db"], pa_codebook=codebook,
                      encoder_versions={m: f.version for m, f in feats.items()})


@dataclass
class Windows:
    feats: np.ndarray       # (N, L, n_mod, M) float32, zeros where missing or padded
    missing: np.ndarray     # (N, L, n_mod) bool (padded steps count as missing)
    pad: np.ndarray         # (N, L) bool, True on the left padding
    box: np.ndarray         # (N, L, 5) float32
    beam: np.ndarray        # (N, T+1) int64, offsets 0..T
    power: np.ndarray       # (N, T+1, 64) float32
    pa_gain_db: np.ndarray  # (N, T+1, K) float32
    seq: np.ndarray         # (N,) pass of the window
    frame: np.ndarray       # (N,) dataset index of the window's current frame t

    def __len__(self) -> int:
        return len(self.beam)

    def subset(self, rows) -> "Windows":
        return Windows(**{k: getattr(self, k)[rows] for k in self.__dataclass_fields__})


def select_passes(table: FrameTable, split: str, ratio: float = 1.0, seed: int = 0) -> np.ndarray:
    """Passes of ``split`` ("all": every pass); a seeded random ``ratio`` of them (at least one)."""
    passes = np.unique(table.seq if split == "all" else table.seq[table.split == split])
    if ratio < 1.0 and len(passes):
        keep = max(1, int(round(ratio * len(passes))))
        passes = np.sort(np.random.default_rng(seed).choice(passes, keep, replace=False))
    return passes


def make_windows(table: FrameTable, task: TaskConfig, modalities, passes) -> Windows:
    """All windows of the given passes (a pass shorter than H + T gives none)."""
    h, t, length = task.history, task.horizon, task.input_len
    rows: dict[str, list] = {k: [] for k in Windows.__dataclass_fields__}
    feats = np.stack([table.features[m] for m in modalities], axis=1)        # (F, n_mod, M)
    missing = np.stack([table.missing[m] for m in modalities], axis=1)       # (F, n_mod)
    for p in passes:
        idx = np.nonzero(table.seq == p)[0]
        for c in range(h - 1, len(idx) - t):
            obs = idx[c - h + 1:c + 1]
            tgt = idx[c:c + t + 1]
            f = np.zeros((length,) + feats.shape[1:], np.float32)
            m = np.ones((length, feats.shape[1]), bool)
            b = np.zeros((length, BOX_CHANNELS), np.float32)
            f[length - h:], m[length - h:], b[length - h:] = feats[obs], missing[obs], table.box[obs]
            rows["feats"].append(f)
            rows["missing"].append(m)
            rows["pad"].append(np.arange(length) < length - h)
            rows["box"].append(b)
            rows["beam"].append(table.beam[tgt])
            rows["power"].append(table.power[tgt])
            rows["pa_gain_db"].append(table.pa_gain_db[tgt])
            rows["seq"].append(p)
            rows["frame"].append(table.index[idx[c]])
    if not rows["beam"]:
        raise ValueError(f"no window of H={h}, T={t} fits in passes {list(passes)[:5]}...")
    return Windows(**{k: np.stack(v) if k not in ("seq", "frame") else np.array(v) for k, v in rows.items()})
