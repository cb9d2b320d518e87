"""Preprocessed per-frame arrays of a scenario, computed once and cached on disk.

:func:`prepare` streams a scenario folder (or a bag) through the preprocessing of every
requested modality and stores, per modality, the stacked inputs, a missing mask and the
reasons, plus the frame index, pass, split and beam label.  The cache file is keyed by
the scenario's CSV content and the preprocessing config, so a changed scenario or config
is recomputed, never silently reused.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from beam_predictor.atomic import write_npz
from beam_predictor.deepsense.reader import ReaderConfig, ScenarioReader, scenario_key
from beam_predictor.deepsense.splits import SplitConfig, pass_splits, split_column
from beam_predictor.sensing.config import SensingConfig
from beam_predictor.sensing.preprocess import GpsScaler, Prepared, prep_image, prep_lidar, prep_radar

READER_MODALITY = {"image": "camera", "radar": "radar", "lidar": "lidar", "gps": "gps"}


@dataclass
class PreparedSet:
    index: np.ndarray            # (N,) dataset frame index
    seq: np.ndarray              # (N,) pass
    split: np.ndarray            # (N,) "train" / "val" / "test" (deepsense.splits)
    beam: np.ndarray             # (N,) 1-based optimal beam
    inputs: dict[str, np.ndarray]     # modality -> (N, ...) float32 (zeros where missing)
    missing: dict[str, np.ndarray]    # modality -> (N,) bool
    gps_scaler: GpsScaler | None

    def rows(self, split: str) -> np.ndarray:
        return np.nonzero(self.split == split)[0]


def _prep_key(cfg: SensingConfig, modalities, scaler: GpsScaler | None, splits: dict[int, str]) -> str:
    blob = json.dumps({"prep": {k: v for k, v in asdict(cfg).items() if k != "encoder"},
                       "modalities": sorted(modalities), "gps_scaler": scaler.to_dict() if scaler else None,
                       # the GPS scaler is fitted on the training passes
                       "train": None if scaler else sorted(k for k, v in splits.items() if v == "train")},
                      sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def prepare(scenario: str | Path, cfg: SensingConfig, modalities=("image", "radar", "lidar", "gps"),
            cache_dir: str | Path | None = None, progress: bool = True,
            gps_scaler: GpsScaler | None = None, split_cfg: SplitConfig | None = None) -> PreparedSet:
    """Preprocess every frame of ``scenario`` (cached under ``cache_dir`` when given).

    GPS is min-max scaled with ``gps_scaler`` (a trained encoder's) when given, else with a
    scaler fitted on this scenario's training passes (encoder pre-training).  The split of
    each pass is :func:`beam_predictor.deepsense.splits.pass_splits`'s.
    """
    scenario = Path(scenario)
    splits = pass_splits(scenario, split_cfg, cache_dir)
    cache = None
    if cache_dir is not None:
        cache = Path(cache_dir) / \
                     f"prepared-{scenario_key(scenario)}-{_prep_key(cfg, modalities, gps_scaler, splits)}.npz"
        if cache.is_file():
            out = _load(cache)
            out.split = split_column(out.seq, splits)
            return out
    reader = ScenarioReader(scenario, ReaderConfig(modalities=tuple(READER_MODALITY[m] for m in modalities)))
    preps = {"image": lambda f: prep_image(f.image_jpeg, cfg.image),
             "radar": lambda f: prep_radar(f.radar, cfg.radar),
             "lidar": lambda f: prep_lidar(f.lidar, cfg.lidar)}
    results: dict[str, list[Prepared]] = {m: [] for m in modalities}
    meta: dict[str, list] = {"index": [], "seq": [], "split": [], "beam": [], "latlon": []}
    for f in tqdm(reader, total=len(reader), desc=f"prepare {scenario.name}", disable=not progress):
        for key, value in (("index", f.index), ("seq", f.seq_index), ("split", splits[f.seq_index]),
                           ("beam", f.beam), ("latlon", f.ue_latlon)):
            meta[key].append(value)
        for m in modalities:
            if m != "gps":
                results[m].append(preps[m](f))        # the frame's raw data is dropped right after
    split = np.array(meta["split"], dtype="<U8")
    scaler = gps_scaler
    if "gps" in modalities and scaler is None:
        fit_on = [ll for ll, s in zip(meta["latlon"], split) if s == "train" and ll is not None]
        scaler = GpsScaler.fit(np.stack(fit_on))
    if "gps" in modalities:
        results["gps"] = [scaler(ll) for ll in meta["latlon"]]
    inputs, missing = {}, {}
    for m in modalities:
        shape = next((r.value.shape for r in results[m] if not r.missing), None)
        if shape is None:
            raise ValueError(f"{scenario}: no usable {m} input in any frame")
        inputs[m] = np.stack([r.value if not r.missing else np.zeros(shape, np.float32) for r in results[m]])
        missing[m] = np.array([r.missing for r in results[m]])
    out = PreparedSet(index=np.array(meta["index"]), seq=np.array(meta["seq"]), split=split,
                      beam=np.array(meta["beam"]), inputs=inputs, missing=missing, gps_scaler=scaler)
    if cache is not None:
        write_npz(cache, index=out.index, seq=out.seq, split=out.split, beam=out.beam,
                  gps_scaler=json.dumps(scaler.to_dict() if scaler else None),
                  **{f"in_{k}": v for k, v in inputs.items()}, **{f"miss_{k}": v for k, v in missing.items()})
    return out


def _load(path: Path) -> PreparedSet:
    z = np.load(path, allow_pickle=False)
    scaler = json.loads(str(z["gps_scaler"]))
    return PreparedSet(index=z["index"], seq=z["seq"], split=z["split"], beam=z["beam"],
                       inputs={k[3:]: z[k] for k in z.files if k.startswith("in_")},
                       missing={k[5:]: z[k] for k in z.files if k.startswith("miss_")},
                       gps_scaler=GpsScaler.from_dict(scaler) if scaler else None)
