"""Paper 003's data: a multi-user twin scenario as per-user model inputs, PASS links and labels.

Inputs are what the live graph has: every user's box from the tracker (one YOLO + ByteTrack
pass, each user associated through its own GPS fix, :func:`beam_predictor.sensing.boxes.track_users`)
and every user's GPS fix, pushed frame by frame through :class:`beam_predictor.window.UsersWindow`,
the step the fusion node runs.  The twin's true positions and boxes never enter.

Labels and scores come from the stored links (``unit1_pass_mu``: every user's channel through
every codeword of every waveguide, per-PA blockage included):

* single user (``users: 1``): the UE's codeword with the best gain on waveguide 0;
* several users: the Top-K combination with the best MMSE sum rate at ``link.tx_power_dbm``
  (:func:`beam_predictor.physics.pass_system.best_combination`).

A frame's users are units 2 (the UE), 3, ... 1 + ``users``; user u is served by waveguide u.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from tqdm import tqdm

from beam_predictor.config import ConfigError, from_mapping
from beam_predictor.deepsense import ReaderConfig, ScenarioReader
from beam_predictor.deepsense.splits import pass_splits, split_column
from beam_predictor.physics import pass_system as ps
from beam_predictor.physics import pinching
from beam_predictor.physics.array import codebook, codebook_angles_rad
from beam_predictor.physics.site import TWIN_META, load_site
from beam_predictor.window import USER_KEYS, UsersWindow, WindowSpec


@dataclass
class PassSet:
    name: str
    index: np.ndarray              # (F,) frame index
    seq: np.ndarray                # (F,) pass
    split: np.ndarray              # (F,) train / val / test
    units: tuple[int, ...]         # DeepSense units of the users (2 the UE)
    pas_grid: tuple[int, ...]      # PA counts of ``links``
    links: np.ndarray              # (G, F, U, N, K) complex: user u through waveguide n's codeword k
    channels: np.ndarray           # (F, U, M) complex: every user's element channel (massive-MIMO baseline)
    inputs: dict[str, np.ndarray]  # UsersWindow arrays per frame, (F, U, ...), and the codebook "prior"
    priors: dict[int, np.ndarray]  # (F, U, K) codebook prior of each PA count (``inputs["prior"]``: for_pas)
    geometry: np.ndarray           # (F, U) codeword focused nearest the user's newest accepted fix (-1: none)
    noise_w: float
    ula: np.ndarray                # (B, M) the array's 64-beam codebook (unit norm)
    pinching: object = None        # twin.config.PinchingConfig: the site's waveguides
    array: dict | None = None      # the twin's array section (carrier, position on the street)
    site: object = None            # physics.site.SiteGeometry

    def grid(self, num_pas: int) -> int:
        if num_pas not in self.pas_grid:
            raise ConfigError(f"{self.name}: num_pas {num_pas} is not among the stored PA counts "
                              f"{list(self.pas_grid)} (the twin's pinching.pas_grid)")
        return self.pas_grid.index(num_pas)

    def for_pas(self, num_pas: int) -> "PassSet":
        """The same set with the codebook prior of ``num_pas`` PAs per waveguide as the prior input."""
        self.grid(num_pas)
        return replace(self, inputs={**self.inputs, "prior": self.priors[num_pas]})

    def first_users(self, n: int) -> "PassSet":
        """The same frames with users 0 .. n-1 only (the single-user case from a multi-user twin)."""
        if n > len(self.units):
            raise ConfigError(f"{self.name}: {n} users asked for, the set holds {len(self.units)}")
        return replace(self, units=self.units[:n], links=self.links[:, :, :n], channels=self.channels[:, :n],
                       inputs={k: v[:, :n] for k, v in self.inputs.items()}, geometry=self.geometry[:, :n],
                       priors={p: v[:, :n] for p, v in self.priors.items()})

    def subset(self, mask: np.ndarray) -> "PassSet":
        return replace(self, index=self.index[mask], seq=self.seq[mask], split=self.split[mask],
                       links=self.links[:, mask], channels=self.channels[mask],
                       inputs={k: v[mask] for k, v in self.inputs.items()}, geometry=self.geometry[mask],
                       priors={p: v[mask] for p, v in self.priors.items()})


def single_labels(link: np.ndarray) -> np.ndarray:
    """(F,) the UE's best codeword on waveguide 0 by gain; ``link`` (F, U, N, K)."""
    return np.abs(link[:, 0, 0]).argmax(-1)


def multi_labels(link: np.ndarray, top_k: int, power_w: float, noise_w: float,
                 progress: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(F, U) label combinations and (F,) their sum rates; ``link`` (F, U, N, K)."""
    combos, rates = [], []
    for frame in tqdm(link, desc="labels", disable=not progress):
        c, r = ps.best_combination(frame, top_k, power_w, noise_w)
        combos.append(c)
        rates.append(r)
    return np.array(combos), np.array(rates)


def labels(data: PassSet, cfg, num_pas: int | None = None) -> np.ndarray:
    """(F, U) the labels of ``cfg`` (users, num_pas, link) on ``data``."""
    link = data.links[data.grid(num_pas or cfg.num_pas)]
    if cfg.users == 1:
        return single_labels(link)[:, None]
    return multi_labels(link, cfg.link.top_k, float(ps.dbm_to_w(cfg.link.tx_power_dbm)), data.noise_w)[0]


def load_pass_set(root: str | Path, cfg, tracker, cache_dir: str | Path | None = None,
                  progress: bool = True) -> PassSet:
    """A multi-user twin scenario's frames for ``cfg`` (PassConfig); ``tracker``: TrackerSettings."""
    from beam_predictor.sensing.boxes import track_users
    root = Path(root)
    meta_path = root / TWIN_META
    if not meta_path.is_file():
        raise ConfigError(f"{root}: no {TWIN_META}; paper 003 needs a twin scenario with stored PASS links "
                          "(make dataset-multiuser)")
    meta = json.loads(meta_path.read_text())["config"]
    from beam_predictor.twin.config import PinchingConfig
    pin = from_mapping(PinchingConfig, meta["pinching"], where=f"{meta_path}: config.pinching")
    ps.check_users(cfg.users, pin.num_waveguides)
    units = tuple(range(2, 2 + cfg.users))
    site = load_site(root)
    reader = ScenarioReader(root, ReaderConfig(modalities=("gps",)))
    have = {unit for unit, _ in reader.schema.user_locs}
    missing = [u for u in units[1:] if u not in have]
    if missing:
        raise ConfigError(f"{reader.csv_path}: {cfg.users} users asked for, but no unit{missing[0]}_loc "
                          "column "
                          "(a multi-user twin: traffic.extra_ues)")
    # one tracking pass serves every user count of a multi-user scenario (the UE's boxes are the same)
    boxes = track_users(root, tracker, site, cache_dir, progress) if have else \
        {2: _single_boxes(root, tracker, site, cache_dir, progress)}
    spec = WindowSpec(modalities=(), feature_dim=0, history=cfg.net.history, input_len=cfg.net.history,
                      horizon=0,
                      frame_period_s=1.0 / float(meta.get("frame_rate_hz", 10.0)))
    window = UsersWindow(spec, site, units)
    row = {int(i): k for k, i in enumerate(boxes[2].index)}
    index, seq, links, channels, per_frame = [], [], [], [], []
    for f in tqdm(reader, total=len(reader), desc=f"pass {root.name}", disable=not progress):
        cell = f.extras.get("unit1_pass_mu", "").strip()
        if not cell:
            raise ConfigError(f"{reader.csv_path}: row {f.index} has no unit1_pass_mu (a twin built before "
                              "multi-user PASS links; rebuild it)")
        k = row[f.index]
        fixes = {2: f.ue_latlon, **f.users_latlon}
        window.push(f.stamp_ns, {u: (boxes[u].box[k] if boxes[u].visible[k] else None) for u in units}, fixes)
        per_frame.append(window.arrays())
        mu = np.load(root / cell)
        links.append(mu[:, :cfg.users])
        channels.append(np.load(root / f.extras["unit1_channel_mu"].strip())[:cfg.users])
        index.append(f.index)
        seq.append(f.seq_index)
    if not index:
        raise ConfigError(f"{reader.csv_path}: no frames")
    seq = np.asarray(seq)
    inputs = {key: np.concatenate([a[key] for a in per_frame]) for key in USER_KEYS}
    array = meta["array"]
    priors = {}
    for pas in pin.pas_grid:
        books = ps.waveguide_books(pin, float(array["frequency_hz"]), int(pas))
        priors[int(pas)] = np.stack([codebook_prior(inputs["pos"][:, u], inputs["pos_missing"][:, u],
                                                    books[u], ps.waveguide(pin, u), array)
                                     for u in range(cfg.users)], 1)
    noise = ps.noise_power_w(float(array["bandwidth_hz"]), cfg.link.noise_figure_db)
    data = PassSet(name=root.name, index=np.asarray(index), seq=seq,
                   split=split_column(seq, pass_splits(root)),
                   units=units, pas_grid=tuple(int(p) for p in pin.pas_grid),
                   links=np.stack(links, axis=1), channels=np.stack(channels),
                   inputs=inputs, geometry=geometry_codewords(inputs, pin, array), noise_w=noise,
                   priors=priors, ula=codebook(codebook_angles_rad(int(array["num_beams"]),
                                                                   float(array["fov_deg"])),
                                               int(array["num_antennas"])),
                   pinching=pin, array=array, site=site)
    return data.for_pas(cfg.num_pas)


def _single_boxes(root, tracker, site, cache_dir, progress):
    from beam_predictor.sensing.boxes import track_scenario
    return track_scenario(root, tracker, site, cache_dir, progress)


def newest_fix(pos: np.ndarray, pos_missing: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(..., 3) the window's newest accepted position (site metres) and (...,) whether there is one."""
    have = ~pos_missing
    newest = np.where(have.any(-1), have.shape[-1] - 1 - np.argmax(have[..., ::-1], axis=-1), 0)
    return np.take_along_axis(pos, newest[..., None, None], axis=-2)[..., 0, :], have.any(-1)


def fix_world(pos: np.ndarray, pos_missing: np.ndarray, array: dict) -> tuple[np.ndarray, np.ndarray]:
    """(..., 3) the newest accepted fix of each window in world metres (the twin's street frame: the
    array's place plus the site metres) and (...,) whether there is one."""
    xyz, have = newest_fix(pos, pos_missing)
    return np.asarray(array["position"], float) + xyz, have


def codebook_prior(pos: np.ndarray, pos_missing: np.ndarray, book: np.ndarray, wg, array: dict) -> np.ndarray:
    """(F, K) what the site's geometry alone says of each codeword: its gain in dB at the user's newest
    GPS position, assuming line of sight, minus the best codeword's, over 10 (0 without a fix).

    ``pos`` (F, L, 3) site metres from the window, ``book`` (K, P) the waveguide's codebook, ``wg``
    its pinching config (scene coordinates, the array at ``array["position"]``).  A model input: it
    uses the GPS fix and what the base station knows of its own waveguides, nothing else."""
    ue, have = fix_world(pos, pos_missing, array)
    out = np.zeros((len(pos), len(book)), np.float32)
    ones = np.ones(book.shape)
    freq = float(array["frequency_hz"])
    for f in np.nonzero(have)[0]:
        g = pinching.gain_db(pinching.effective_channels(book, ue[f], ones, wg, freq))
        out[f] = (g - g.max()) / 10.0
    return out


def geometry_codewords(inputs: dict, pin, array: dict) -> np.ndarray:
    """The geometric anchor: per frame and user u, the codeword of waveguide u whose focus is nearest the
    newest accepted GPS fix in the street plane (site metres + the array's place); -1 without one.
    The geometric codebook's foci lie on one line along the street: the nearest along the street."""
    targets = ps.waveguide_targets(pin)[..., :2]                               # (N, K, 2) world
    xyz, have = newest_fix(inputs["pos"], inputs["pos_missing"])
    world = xyz[..., :2] + np.asarray(array["position"], float)[:2]            # (F, U, 2)
    u = world.shape[1]
    out = ((world[:, :, None, :] - targets[None, :u]) ** 2).sum(-1).argmin(-1)
    return np.where(have, out, -1)
