"""Per-frame table (the live graph's inputs + labels) and the windows the predictors learn from.

A :class:`FrameTable` holds, for every frame of a scenario, what the fusion node receives
live: the cached encoder features of each modality with their missing masks, the UE box
of the detector + tracker (:mod:`beam_predictor.sensing.boxes`, the same step the tracker
node runs), the UE's GPS fix and the stamp; and, apart from them, the labels: the 64-beam
power, the optimal beam, the PASS codeword gains and the evaluation-only frame category.
:func:`make_windows` pushes each pass frame by frame through
:class:`beam_predictor.window.HistoryWindow` (the fusion node's window) and cuts a sample
wherever the window is full and the T future frames exist: inputs from the H observed
frames t-H+1..t, targets at offsets 0..T.  Windows never cross a pass, so
train/val/test passes never mix.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from beam_predictor.atomic import write_npz
from beam_predictor.config import to_mapping
from beam_predictor.deepsense.reader import ReaderConfig, ScenarioReader, scenario_key
from beam_predictor.deepsense.site import scenario_site
from beam_predictor.deepsense.splits import SplitConfig, pass_splits, split_column
from beam_predictor.model.config import POSITION_KINDS, ModelConfig
from beam_predictor.model.eval_labels import frame_category
from beam_predictor.physics.site import SiteError, SiteGeometry, find_site_file
from beam_predictor.sensing.beam_history import (BEAM_MODALITY, POWER_MODALITIES, SWEEP_BEAMS, SWEEP_MODALITY,
                                                 SWEEP_VERSION, beam_series, sparse_power, sweep_series)
from beam_predictor.sensing.beam_history import VERSION as BEAM_VERSION
from beam_predictor.sensing.boxes import TrackerSettings, track_scenario
from beam_predictor.sensing.dataset import prepare
from beam_predictor.sensing.features import ModalityFeatures, encode, load_encoder, prepare_for_encoders
from beam_predictor.window import FrameInput, HistoryWindow, stack


@dataclass
class FrameTable:
    index: np.ndarray                    # (F,) dataset frame index
    seq: np.ndarray                      # (F,) pass
    split: np.ndarray                    # (F,) str
    stamp_ns: np.ndarray                 # (F,) int64 header stamp
    # inputs, as the live graph delivers them
    features: dict[str, np.ndarray]      # modality -> (F, M)
    missing: dict[str, np.ndarray]       # modality -> (F,) bool
    box: np.ndarray                      # (F, 4) tracker's UE box over the image size (zeros: not visible)
    box_visible: np.ndarray              # (F,) bool
    latlon: np.ndarray                   # (F, 2) UE GPS fix, NaN when none
    # labels (never inputs)
    beam: np.ndarray                     # (F,) 0-based optimal beam
    power: np.ndarray                    # (F, 64) linear power (NaN rows allowed)
    pa_gain_db: np.ndarray               # (F, K) gain of every PASS codeword (NaN when the data has none)
    category: np.ndarray                 # (F,) eval_labels category of the frame (evaluation only)
    pa_codebook: np.ndarray | None       # (K, num_pas) PA positions in metres along the waveguide
    encoder_versions: dict[str, str]
    site: SiteGeometry | None            # None: the scenario has no site file (no kinematics then)
    box_version: str = ""
    # the camera image itself, preprocessed as the image encoder was trained (models of paper 002)
    image: np.ndarray | None = None      # (F, 3, S, S) float32, zeros where missing
    image_missing: np.ndarray | None = None
    image_prep: dict | None = None       # the ImagePrepConfig that made them (stored in checkpoints)
    image_encoder: Path | None = None    # the pretrained image encoder whose preprocessing that is

    def __len__(self) -> int:
        return len(self.index)

    def frame_input(self, i: int, modalities) -> FrameInput:
        """Frame ``i`` as the fusion node receives it."""
        feats = {m: None if self.missing[m][i] else self.features[m][i] for m in modalities}
        fix = self.latlon[i] if np.isfinite(self.latlon[i]).all() else None
        box = tuple(self.box[i]) if self.box_visible[i] else None
        image = None if self.image is None or self.image_missing[i] else self.image[i]
        return FrameInput(int(self.stamp_ns[i]), feats, box, fix, image)


def _twin_meta(scenario: Path) -> dict:
    """The twin's twin_meta.json (PA codebook, evaluation categories), or {} for scenarios without one."""
    path = scenario / "twin_meta.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def _labels(scenario: Path, meta: dict, site: SiteGeometry | None, cache_dir: Path | None,
            progress: bool) -> dict[str, np.ndarray]:
    """Stamps, GPS fixes, power, PASS gains and categories of every frame (cached by the CSV's content
    and the site, which decides the categories)."""
    site_key = "nosite" if site is None else \
        hashlib.sha256(json.dumps(site.radio.to_dict(), sort_keys=True).encode()).hexdigest()[:8]
    cache = None if cache_dir is None else cache_dir / f"labels-{scenario_key(scenario)}-{site_key}.npz"
    if cache is not None and cache.is_file():
        z = np.load(cache)
        return {k: z[k] for k in z.files}
    reader = ScenarioReader(scenario, ReaderConfig(modalities=("power", "gps")))
    keys = ("index", "seq", "stamp_ns", "beam", "power", "latlon", "pa", "category")
    rows: dict[str, list] = {k: [] for k in keys}
    for f in tqdm(reader, total=len(reader), desc=f"labels {scenario.name}", disable=not progress):
        rows["index"].append(f.index)
        rows["seq"].append(f.seq_index)
        rows["stamp_ns"].append(f.stamp_ns)
        rows["beam"].append(f.beam - 1)
        rows["power"].append(f.power)
        rows["latlon"].append(f.ue_latlon if f.ue_latlon is not None else np.full(2, np.nan))
        pa_file = f.extras.get("unit1_pass", "")
        rows["pa"].append(np.abs(np.load(scenario / pa_file)) if pa_file else None)
        rows["category"].append(frame_category(f.extras, meta, site))
    k = next((len(g) for g in rows["pa"] if g is not None), 1)
    pa = np.stack([20 * np.log10(np.maximum(g, 1e-15)) if g is not None else np.full(k, np.nan)
                   for g in rows["pa"]]).astype(np.float32)
    out = {"index": np.array(rows["index"]), "seq": np.array(rows["seq"]),
           "stamp_ns": np.array(rows["stamp_ns"], np.int64),
           "beam": np.array(rows["beam"]), "power": np.stack(rows["power"]).astype(np.float32),
           "latlon": np.stack(rows["latlon"]).astype(np.float64), "pa_gain_db": pa,
           "category": np.array(rows["category"], np.int8)}
    if cache is not None:
        write_npz(cache, **out)
    return out


def load_frame_table(scenario: str | Path, encoders: str | Path, modalities, tracker: TrackerSettings | None,
                     cache_dir: str | Path | None = "build/cache", progress: bool = True,
                     split_cfg: SplitConfig | None = None, feature_dim: int = 64,
                     images: bool = False, sweep_snr_db: float | None = None) -> FrameTable:
    """Features of ``modalities`` (encoder_<modality>.pt in ``encoders``; the past beams of
    :mod:`beam_predictor.sensing.beam_history`, ``feature_dim`` wide), the tracker's UE boxes
    (none when ``tracker`` is None), GPS fixes and labels of a scenario; the split of each
    pass is :func:`beam_predictor.deepsense.splits.pass_splits`'s.  With ``images``, also every
    camera image preprocessed as ``encoders``/encoder_image.pt was trained (models that read the
    image themselves).  The ``sweep`` modality reads the measured power's 16 sparse beams (what the
    live encoder node reads); with ``sweep_snr_db`` (twin scenarios) the sweep is synthesised from the
    stored channels at that SNR instead (:mod:`beam_predictor.model.sweep`, one seeded noise draw), to
    measure what the sweep adds at a chosen SNR."""
    scenario, encoders = Path(scenario), Path(encoders)
    cache = None if cache_dir is None else Path(cache_dir)
    meta = _twin_meta(scenario)
    site = scenario_site(scenario) if find_site_file(scenario) is not None else None
    labels = _labels(scenario, meta, site, cache, progress)
    labels["split"] = split_column(labels["seq"], pass_splits(scenario, split_cfg, cache))
    ckpts = {m: encoders / f"encoder_{m}.pt" for m in modalities if m not in POWER_MODALITIES}
    for m, p in ckpts.items():
        if not p.is_file():
            raise FileNotFoundError(f"{p}: no encoder checkpoint for modality '{m}' "
                                    f"(build it with `make pretrain`)")
    prepared = {}

    def prepared_set():                # only on a feature-cache miss, and then once
        if "set" not in prepared:
            prepared["set"] = prepare_for_encoders(scenario, ckpts, cache_dir=cache, progress=progress,
                                                   split_cfg=split_cfg)
        return prepared["set"]

    feats = {m: encode(prepared_set, m, p, scenario, cache_dir=cache, progress=progress)
             for m, p in ckpts.items()}
    for m, f in feats.items():
        if not np.array_equal(f.index, labels["index"]):
            raise ValueError(f"{scenario}: cached {m} features do not match the CSV's frames; "
                             f"delete {cache} and re-run")
    if BEAM_MODALITY in modalities:
        f, miss = beam_series(labels["stamp_ns"], labels["seq"], labels["beam"], labels["power"].shape[1],
                              feature_dim)
        feats[BEAM_MODALITY] = ModalityFeatures(labels["index"], f, miss, BEAM_VERSION)
    if SWEEP_MODALITY in modalities:
        sweep, version = sparse_power(labels["power"]), SWEEP_VERSION
        if sweep_snr_db is not None:
            from beam_predictor.model.sweep import load_sweep_set
            s = load_sweep_set(scenario)
            sweep = s.sweep(labels["power"].shape[1], SWEEP_BEAMS, sweep_snr_db,
                            np.random.default_rng([0, 17, int(round(10 * sweep_snr_db)) + 1000]))
            version = f"{SWEEP_VERSION}-snr{sweep_snr_db:g}dB"
        f, miss = sweep_series(labels["stamp_ns"], labels["seq"], sweep, feature_dim)
        feats[SWEEP_MODALITY] = ModalityFeatures(labels["index"], f, miss, version)
    feats = {m: feats[m] for m in modalities}
    n = len(labels["index"])
    box, visible, box_version = np.zeros((n, 4), np.float32), np.zeros(n, bool), ""
    if tracker is not None:
        boxes = track_scenario(scenario, tracker, site, cache_dir=cache, progress=progress)
        if not np.array_equal(boxes.index, labels["index"]):
            raise ValueError(f"{scenario}: cached boxes do not match the CSV's frames; delete {cache} and "
                             "re-run")
        box, visible, box_version = boxes.box, boxes.visible, boxes.version
    image = image_missing = image_prep = None
    if images:
        image, image_missing, image_prep = _images(scenario, encoders / "encoder_image.pt", labels["index"],
                                                   cache, progress, split_cfg)
    book = meta.get("pass_codebook_m")
    return FrameTable(index=labels["index"], seq=labels["seq"], split=labels["split"],
                      stamp_ns=labels["stamp_ns"], features={m: f.features for m, f in feats.items()},
                      missing={m: f.missing for m, f in feats.items()}, box=box, box_visible=visible,
                      latlon=labels["latlon"], beam=labels["beam"], power=labels["power"],
                      pa_gain_db=labels["pa_gain_db"], category=labels["category"],
                      pa_codebook=None if book is None else np.asarray(book, dtype=np.float64),
                      encoder_versions={m: f.version for m, f in feats.items()}, site=site,
                      box_version=box_version, image=image, image_missing=image_missing,
                      image_prep=image_prep, image_encoder=encoders / "encoder_image.pt" if images else None)


def _images(scenario: Path, encoder: Path, index: np.ndarray, cache: Path | None, progress: bool,
            split_cfg: SplitConfig | None) -> tuple[np.ndarray, np.ndarray, dict]:
    """Every frame's camera image, preprocessed by the image encoder's config (cached)."""
    if not encoder.is_file():
        raise FileNotFoundError(f"{encoder}: no image encoder checkpoint (build it with `make pretrain`); "
                                "its preprocessing makes the image input")
    _, sensing, _ = load_encoder(encoder)
    prepared = prepare(scenario, sensing, ("image",), cache_dir=cache, progress=progress, split_cfg=split_cfg)
    if not np.array_equal(prepared.index, index):
        raise ValueError(f"{scenario}: cached images do not match the CSV's frames; delete {cache} and "
                         "re-run")
    return prepared.inputs["image"], prepared.missing["image"], to_mapping(sensing.image)


@dataclass
class Windows:
    inputs: dict[str, np.ndarray]   # beam_predictor.window.INPUT_KEYS, batched (N, ...)
    beam: np.ndarray                # (N, T+1) int64 optimal beam at offsets 0..T
    power: np.ndarray               # (N, T+1, 64) float32
    pa_gain_db: np.ndarray          # (N, T+1, K) float32
    past_beam: np.ndarray           # (N, H) optimal beams of the observed frames (anchors only)
    beam_before: np.ndarray         # (N,) optimal beam of frame t-H, -1 before the pass (delayed anchors)
    category: np.ndarray            # (N, T+1) eval_labels category of each target frame
    seq: np.ndarray                 # (N,) pass of the window
    frame: np.ndarray               # (N,) dataset index of the window's current frame t
    stamp: np.ndarray               # (N,) stamp of the current frame t

    def __len__(self) -> int:
        return len(self.beam)

    def subset(self, rows) -> "Windows":
        fields = {k: getattr(self, k)[rows] for k in self.__dataclass_fields__ if k != "inputs"}
        return Windows(inputs={k: v[rows] for k, v in self.inputs.items()}, **fields)


def select_passes(table: FrameTable, split: str, ratio: float = 1.0, seed: int = 0) -> np.ndarray:
    """Passes of ``split`` ("all": every pass); a seeded random ``ratio`` of them (at least one)."""
    passes = np.unique(table.seq if split == "all" else table.seq[table.split == split])
    if ratio < 1.0 and len(passes):
        keep = max(1, int(round(ratio * len(passes))))
        passes = np.sort(np.random.default_rng(seed).choice(passes, keep, replace=False))
    return passes


def make_windows(table: FrameTable, cfg: ModelConfig, passes) -> Windows:
    """All windows of the given passes, built by the fusion node's window (a pass shorter than
    H + T gives none)."""
    spec = cfg.window_spec()
    h, t = spec.history, spec.horizon
    site = table.site if cfg.needs_site else None
    if cfg.needs_site and site is None:
        what = "inputs.kinematics" if cfg.inputs.kinematics else f"kind {cfg.kind} (positions in site metres)"
        raise SiteError(f"{what} needs the scenario's site geometry: add a site.yaml "
                        "(`beam-predictor site init`) or set inputs.kinematics and inputs.prior to false")
    if spec.image and table.image is None:
        raise ValueError(f"kind {cfg.kind} reads the camera image: load the frame table with images=True")
    if spec.image and table.image.shape[-1] != spec.image_size:
        raise ValueError(f"paper002.image_size {spec.image_size} differs from the image encoder's input size "
                         f"{table.image.shape[-1]} (its sensing config image.size)")
    arrays, rows = [], {k: [] for k in Windows.__dataclass_fields__ if k != "inputs"}
    for p in passes:
        idx = np.nonzero(table.seq == p)[0]
        window = HistoryWindow(spec, site)
        for c, i in enumerate(idx):
            window.push(table.frame_input(i, spec.modalities))
            if not window.ready or c + t >= len(idx):
                continue
            tgt = idx[c:c + t + 1]
            arrays.append(window.arrays())
            rows["beam"].append(table.beam[tgt])
            rows["power"].append(table.power[tgt])
            rows["pa_gain_db"].append(table.pa_gain_db[tgt])
            rows["past_beam"].append(table.beam[idx[c - h + 1:c + 1]])
            rows["beam_before"].append(table.beam[idx[c - h]] if c >= h else -1)
            rows["category"].append(table.category[tgt])
            rows["seq"].append(p)
            rows["frame"].append(table.index[i])
            rows["stamp"].append(table.stamp_ns[i])
    if not arrays:
        lengths = {int(p): int((table.seq == p).sum()) for p in passes}
        raise ValueError(f"no window fits: a window needs H + T = {h} + {t} = {h + t} frames of one pass "
                         f"(a gap over {spec.gap_reset_s} s splits a pass), and the passes have "
                         f"{lengths if len(lengths) <= 12 else dict(list(lengths.items())[:12])} frames")
    labels = {k: np.stack(v) if k not in ("seq", "frame", "stamp", "beam_before") else np.array(v)
              for k, v in rows.items()}
    inputs = stack(arrays)
    if cfg.kind in POSITION_KINDS:
        _check_range(inputs, labels["frame"], cfg.paper002.max_range_m)
    return Windows(inputs=inputs, **labels)


def _check_range(inputs: dict[str, np.ndarray], frame: np.ndarray, max_range_m: float) -> None:
    """A model that reads positions must not train on fixes far outside the site (a wrong
    bs_latlon, or a fix from elsewhere): the error names the field and the frame."""
    dist = np.where(inputs["pos_missing"], 0.0, np.linalg.norm(inputs["pos"][..., :2], axis=-1))
    if (dist > max_range_m).any():
        w, _ = np.unravel_index(dist.argmax(), dist.shape)
        raise ValueError(f"unit2_loc (the UE's GPS fix) of the window ending at frame {frame[w]} lies "
                         f"{dist.max():.0f} m from the array, beyond paper002.max_range_m {max_range_m:g}: "
                         "check site.yaml's bs_latlon, or raise the limit")
