"""The live step of LLM-PASS (paper 003): every user's box and fix in, every user's PA command out.

Per frame, :class:`OnlinePass` pushes each user's tracker box and GPS fix (keyed by DeepSense
unit; the live tracker keys them by track) into the same :class:`beam_predictor.window.UsersWindow`
the offline set is built with, computes the same codebook prior
(:func:`beam_predictor.model.pass_data.codebook_prior`), runs the network and applies the
same serving rule (:func:`beam_predictor.model.pass_eval.serve`: an untracked user gets the
fallback codeword, counted).  A command per user: its waveguide, codeword, PA positions and
its share of the transmit power (MMSE with an equal split, eq. 14).

A test replays a multi-user twin through it and checks every command against the offline
evaluation's choice, frame by frame; the ``llm_pass`` node (:mod:`beam_predictor.nodes.pass_node`)
runs it on the tracker's per-user boxes and every user's fix.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from beam_predictor.config import ConfigError
from beam_predictor.model.pass_data import codebook_prior, geometry_codewords
from beam_predictor.model.pass_eval import serve
from beam_predictor.model.pass_train import predict
from beam_predictor.physics import pass_system as ps
from beam_predictor.window import UsersWindow, WindowSpec


@dataclass(frozen=True)
class UserCommand:
    unit: int                 # the user's DeepSense unit (2 the UE)
    waveguide: int
    codeword: int             # 0-based
    positions_m: np.ndarray   # (num_pas,) PA positions from the waveguide's feed
    power_share: float        # of the total transmit power
    fallback: bool            # served by the fallback codeword (no box in the window)


class OnlinePass:
    def __init__(self, model, cfg, site, pinching, array: dict, fixed: np.ndarray,
                 frame_period_s: float = 0.1):
        ps.check_users(cfg.users, pinching.num_waveguides)
        self.model, self.cfg, self.pin, self.array = model, cfg, pinching, array
        self.units = tuple(range(2, 2 + cfg.users))
        spec = WindowSpec(modalities=(), feature_dim=0, history=cfg.net.history, input_len=cfg.net.history,
                          horizon=0, frame_period_s=frame_period_s)
        self.window = UsersWindow(spec, site, self.units)
        self.books = ps.waveguide_books(pinching, float(array["frequency_hz"]), cfg.num_pas)
        self.fixed = np.asarray(fixed)
        self.fallbacks = 0

    @classmethod
    def from_bundle(cls, bundle, site, frame_period_s: float = 0.1) -> "OnlinePass":
        """From a loaded checkpoint (:class:`beam_predictor.model.pass_checkpoint.PassBundle`); ``site``
        None: the site it was trained at."""
        site = site if site is not None else bundle.site
        if site is None:
            raise ConfigError("LLM-PASS needs a site geometry (the checkpoint stores none): give the node's "
                              "site parameter")
        return cls(bundle.model, bundle.cfg, site, bundle.pinching, bundle.array, bundle.fixed,
                   frame_period_s)

    def step(self, stamp_ns: int, boxes: dict, fixes: dict) -> list[UserCommand]:
        """One frame: ``boxes`` and ``fixes`` by unit (None or absent: not seen / no fix)."""
        self.window.push(stamp_ns, boxes, fixes)
        x = self.window.arrays()
        x["prior"] = np.stack([codebook_prior(x["pos"][:, u], x["pos_missing"][:, u], self.books[u],
                                              ps.waveguide(self.pin, u), self.array)
                               for u in range(len(self.units))], 1)
        probs = predict(self.model, x)
        choice, fallback = serve(probs.argmax(-1), x["tracked"], geometry_codewords(x, self.pin, self.array),
                                 self.fixed)
        self.fallbacks += int(fallback.sum())
        share = 1.0 / len(self.units)
        return [UserCommand(unit, u, int(choice[0, u]), self.books[u][choice[0, u]], share,
                            bool(fallback[0, u])) for u, unit in enumerate(self.units)]
