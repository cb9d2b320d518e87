"""The beam predictor: adapters, alignment, fusion, kinematic and box tokens, backbone, heads.

Data flow for one window of L = ``task.input_len`` steps (the arrays of
:meth:`beam_predictor.window.HistoryWindow.arrays`):

1. The cached encoder features (B, L, n_mod, M) are standardised with training statistics
   (buffers, stored in the checkpoint) and passed through one trainable linear adapter per
   modality.  The encoders are frozen (their features are cached), so the adapters are
   what the alignment loss (eq. 21) shapes.
2. :class:`ModalityFusion` turns each step's modality tokens into one fused vector (eqs. 14-16).
3. Kinematic tokens (``inputs.kinematics``): the GPS constant-velocity extrapolation gives
   one token per predicted offset 0..T (beam coordinate, its rate, distance, ... of
   :data:`beam_predictor.window.KIN_FIELDS`) through a linear map plus an offset embedding.
4. Box tokens (``inputs.box``): the tracker's UE box series, C * N_p + 1 tokens (paper 003).
5. The backbone (LLM or baseline) sees [L fused | T+1 kinematic | box tokens]; the output
   projection maps each hidden state back to M (paper 000, III-E).
6. How L input tokens become T + 1 outputs: the projected states of all tokens are
   flattened and one linear layer maps them to (T + 1) x 64 beam logits, offsets 0..T
   (offset 0 is the current frame).  This is the flatten-and-project head of time-series
   LLMs (GPT4TS/Time-LLM): every future step can use every input, the LLM runs once per
   window instead of T autoregressive passes, and the number of outputs does not depend
   on H.  The PA head maps the same vector to (T + 1) x K codeword logits.
7. Physics-informed residual (``inputs.prior``): the beam logits are
   ``log prior + head``, where :class:`GeometricPrior` is log P(beam | extrapolated beam
   coordinate) with learned beam centres (the angle -> beam calibration of the real
   array), and the head's last layer starts at zero.  With ``inputs.reflection`` the
   prior is a mixture of the direct path and the path through the site's strongest
   reflector (:class:`Reflection`, a learned wall), weighted per offset by the network's
   probability that the direct path is blocked.  With little data the predictor starts
   from geometry; the network learns what geometry cannot see (blockage, manoeuvres,
   GPS dropouts).

Modality dropout (training): each input (every encoder modality, the box series, the
kinematics) is silenced for a whole window with probability ``fusion.modality_dropout``,
never all of them, so the model degrades gracefully when a sensor goes quiet.
"""
from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from beam_predictor import contract
from beam_predictor.model.backbones import build_backbone
from beam_predictor.model.box_tokens import BoxTokenizer
from beam_predictor.model.config import ModelConfig
from beam_predictor.model.fusion import ModalityFusion
from beam_predictor.window import BOX_CHANNELS, DISTANCE_SCALE_M, KIN, KIN_CHANNELS


class GeometricPrior(nn.Module):
    """log P(beam | extrapolated beam coordinate beta): a robust mixture of a geometric part and a floor.

    P(b | beta) = (1 - eps) softmax_b(-kappa (beta - c_b)^2) + eps / B.  The centre c_b of
    beam b is where that beam wins on the real (impaired) array; the centres start at b
    (the ideal codebook), are calibrated from the training labels by :meth:`calibrate`
    and then train with everything else.  kappa sets how sharp the geometry is; the floor
    eps (learned) bounds what a label far from the geometry costs (a blocked UE whose best
    beam is a reflection), so such frames do not swamp the fit.  A window without
    kinematics gets a flat prior.
    """

    def __init__(self, num_beams: int, width_beams: float, floor: float = 0.05):
        super().__init__()
        self.num_beams = num_beams
        self.centres = nn.Parameter(torch.arange(num_beams, dtype=torch.float32))
        self.log_kappa = nn.Parameter(torch.tensor(math.log(1.0 / (2.0 * width_beams ** 2))))
        self.floor_logit = nn.Parameter(torch.tensor(math.log(floor / (1.0 - floor))))

    @torch.no_grad()
    def calibrate(self, beta: np.ndarray, label: np.ndarray, min_count: int = 3) -> int:
        """Centres from data: the median beam coordinate of the samples labelled with each beam;
        beams seen fewer than ``min_count`` times are interpolated.  Returns the beams calibrated."""
        beta, label = np.asarray(beta, float).ravel(), np.asarray(label).ravel()
        known, centre = [], []
        for b in range(self.num_beams):
            x = beta[label == b]
            if len(x) >= min_count:
                known.append(b)
                centre.append(float(np.median(x)))
        if len(known) >= 2:
            beams = np.arange(self.num_beams)
            fill = np.interp(beams, known, centre)
            lo, hi = known[0], known[-1]          # beyond the calibrated range: keep the ideal spacing
            fill[:lo] = centre[0] - (lo - beams[:lo])
            fill[hi + 1:] = centre[-1] + (beams[hi + 1:] - hi)
            self.centres.copy_(torch.from_numpy(fill).float())
        return len(known)

    def fit(self, beta: np.ndarray, label: np.ndarray, steps: int = 300, lr: float = 0.05) -> float:
        """Calibrate, then fit the prior alone to (beta, label) pairs by full-batch Adam on the
        cross-entropy (a 66-parameter fit); returns the final loss."""
        beta, label = np.asarray(beta, np.float32).ravel(), np.asarray(label).ravel()
        self.calibrate(beta, label)
        b, y = torch.from_numpy(beta)[:, None], torch.from_numpy(label).long()
        none = torch.zeros(len(b), dtype=torch.bool)
        opt = torch.optim.Adam(self.parameters(), lr=lr)
        with torch.enable_grad():
            for _ in range(steps):
                loss = nn.functional.cross_entropy(self(b, none)[:, 0], y)
                opt.zero_grad()
                loss.backward()
                opt.step()
        return float(loss.detach())

    def forward(self, beta: torch.Tensor, missing: torch.Tensor) -> torch.Tensor:
        """beta (B, S), missing (B,) -> (B, S, num_beams) log-probabilities (0 without kinematics)."""
        geometric = torch.log_softmax(-self.log_kappa.exp() * (beta.unsqueeze(-1) - self.centres) ** 2, -1)
        eps = torch.sigmoid(self.floor_logit)
        logp = torch.logaddexp(torch.log1p(-eps) + geometric, torch.log(eps / self.num_beams))
        return logp.masked_fill(missing[:, None, None], 0.0)


class Reflection(nn.Module):
    """The site's strongest specular reflector, learned: a wall parallel to the array axis,
    ``distance`` metres out along the boresight (the facade across the street).

    A UE whose line of sight is blocked is often best served through it; mirrored across
    the wall, the UE becomes an image source whose direction gives a second beam
    coordinate.  The wall's distance is fitted from the training labels
    (:meth:`calibrate`) and then trained; how likely the reflected path is at each offset
    (blockage) is the network's call.
    """

    def __init__(self, num_beams: int, fov_deg: float, distance_m: float = 20.0):
        super().__init__()
        self.half_fov = math.radians(fov_deg) / 2
        self.spacing = 2 * self.half_fov / (num_beams - 1)
        self.distance = nn.Parameter(torch.tensor(float(distance_m)))

    def image_beta(self, kin: torch.Tensor, distance: torch.Tensor | None = None) -> torch.Tensor:
        """Beam coordinate (B, S) of the UE's image in the wall, from the kinematic features (B, S, C)."""
        wall = self.distance if distance is None else distance
        d3 = kin[..., KIN["distance"]] * DISTANCE_SCALE_M
        along = torch.sin(kin[..., KIN["psi"]]) * d3                   # along the array axis
        ahead = kin[..., KIN["front"]] * d3                            # along the boresight
        height2 = (d3 ** 2 - along ** 2 - ahead ** 2).clamp_min(0.0)
        mirrored = 2 * wall - ahead
        ux = along / torch.sqrt(along ** 2 + mirrored ** 2 + height2).clamp_min(1e-6)
        return (torch.asin(ux.clamp(-1.0, 1.0)) + self.half_fov) / self.spacing

    @torch.no_grad()
    def calibrate(self, kin: np.ndarray, label: np.ndarray, prior: GeometricPrior, far_beams: float = 4.0,
                  candidates=np.arange(1.0, 60.0, 0.25)) -> float:
        """Wall distance that explains most training targets the direct geometry misses by at least
        ``far_beams`` (the label's beam is the prior's best guess for the image); returns the share
        of those targets it explains."""
        kin_t = torch.from_numpy(np.asarray(kin, np.float32))
        label_t = torch.from_numpy(np.asarray(label)).long()
        none = torch.zeros(kin_t.shape[0], dtype=torch.bool)
        direct = prior(kin_t[..., KIN["beam"]] * (prior.num_beams - 1), none).argmax(-1)
        far = (direct - label_t).abs() >= far_beams
        if not far.any():
            return 0.0
        best, best_hits = float(self.distance), -1
        for d in candidates:
            guess = prior(self.image_beta(kin_t, torch.tensor(float(d))), none).argmax(-1)
            hits = int(((guess - label_t).abs() <= 1)[far].sum())
            if hits > best_hits:
                best, best_hits = float(d), hits
        self.distance.fill_(best)
        return best_hits / int(far.sum())


class BeamPredictor(nn.Module):
    def __init__(self, cfg: ModelConfig, num_codewords: int = 0):
        super().__init__()
        self.cfg = cfg
        n, m = len(cfg.fusion.modalities), cfg.fusion.feature_dim
        length, steps = cfg.task.input_len, cfg.task.horizon + 1
        self.register_buffer("feat_mean", torch.zeros(n, m))
        self.register_buffer("feat_std", torch.ones(n, m))
        self.adapter_weight = nn.Parameter(torch.eye(m).repeat(n, 1, 1))
        self.adapter_bias = nn.Parameter(torch.zeros(n, m))
        self.fusion = ModalityFusion(cfg.fusion)
        self.num_codewords = num_codewords if cfg.pa.enabled else 0
        seq_len = length
        self.kin_map = self.kin_offset = None
        if cfg.inputs.kinematics:
            self.kin_map = nn.Linear(KIN_CHANNELS, m)
            self.kin_offset = nn.Parameter(torch.zeros(steps, m))
            seq_len += steps
        self.box = BoxTokenizer(BOX_CHANNELS, length, m, cfg.pa) if cfg.inputs.box else None
        if self.box is not None:
            seq_len += self.box.num_tokens
        self.backbone = build_backbone(cfg.backbone, m, seq_len, length)
        self.out_proj = nn.Linear(self.backbone.hidden_size, m)
        flat = self.backbone.out_len * m
        # with kinematic tokens (and a backbone that keeps every token), offset k's beams come from
        # the state of its own kinematic token: one small map shared by the offsets
        self.per_offset = self.kin_map is not None and self.backbone.out_len == seq_len
        self.beam_head = nn.Sequential(nn.Dropout(cfg.backbone.dropout),
                                       nn.Linear(m, contract.NUM_BEAMS) if self.per_offset
                                       else nn.Linear(flat, steps * contract.NUM_BEAMS))
        self.prior = self.reflection = self.block_head = None
        if cfg.inputs.prior:
            self.prior = GeometricPrior(contract.NUM_BEAMS, cfg.inputs.prior_width_beams)
            nn.init.zeros_(self.beam_head[1].weight)          # start from the geometric prior
            nn.init.zeros_(self.beam_head[1].bias)
        if cfg.inputs.prior and cfg.inputs.reflection:
            self.reflection = Reflection(contract.NUM_BEAMS, contract.CODEBOOK_FOV_DEG)
            self.block_head = nn.Linear(m, 1) if self.per_offset else nn.Linear(flat, steps)
            nn.init.zeros_(self.block_head.weight)            # the reflected path starts unlikely
            nn.init.constant_(self.block_head.bias, cfg.inputs.reflection_logit)
        self.pa_head = nn.Linear(flat, steps * self.num_codewords) if self.num_codewords else None
        self.source = self.backbone.source

    def prepare(self, train, image_encoder=None) -> list[nn.Parameter]:
        """Before training (:mod:`beam_predictor.model.registry`): the feature statistics of the
        training windows, the geometric prior fitted alone to their labels (the angle -> beam
        calibration), then the reflector's distance.  Returns the prior's parameters, which train
        at ``inputs.prior_lr``."""
        observed = ~train.inputs["pad"]
        self.set_feature_stats(train.inputs["feats"][observed], train.inputs["missing"][observed])
        if self.prior is None:
            return []
        has_kin = ~train.inputs["kin_missing"]
        beta = train.inputs["kin"][has_kin][..., KIN["beam"]] * (contract.NUM_BEAMS - 1)
        self.prior.fit(beta, train.beam[has_kin])
        params = list(self.prior.parameters())
        if self.reflection is not None:
            self.reflection.calibrate(train.inputs["kin"][has_kin], train.beam[has_kin], self.prior)
            params += list(self.reflection.parameters())
        return params

    def set_feature_stats(self, feats: np.ndarray, missing: np.ndarray) -> None:
        """Per-modality mean/std of the training features (only present rows count)."""
        for i in range(feats.shape[-2]):
            rows = feats[..., i, :][~missing[..., i]]
            if len(rows):
                self.feat_mean[i] = torch.from_numpy(rows.mean(0))
                self.feat_std[i] = torch.from_numpy(np.maximum(rows.std(0), 1e-3))

    def adapt(self, feats: torch.Tensor, missing: torch.Tensor) -> torch.Tensor:
        x = (feats - self.feat_mean) / self.feat_std
        x = torch.einsum("blnm,nmk->blnk", x, self.adapter_weight) + self.adapter_bias
        return x.masked_fill(missing.unsqueeze(-1), 0.0)

    def drop_inputs(self, missing: torch.Tensor, box_seen: torch.Tensor,
                    kin_missing: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Training-time dropout of whole inputs per window: each encoder modality, the box
        series and the kinematics, with probability ``fusion.modality_dropout``; one stays."""
        p = self.cfg.fusion.modality_dropout
        n = missing.shape[-1]
        groups = n + (self.box is not None) + (self.kin_map is not None)
        if not self.training or p <= 0 or groups < 2:
            return missing, box_seen, kin_missing
        b = missing.shape[0]
        drop = torch.rand(b, groups, device=missing.device) < p
        drop[torch.arange(b), torch.randint(0, groups, (b,), device=missing.device)] = False
        missing = missing | drop[:, None, :n]
        if self.box is not None:
            box_seen = box_seen & ~drop[:, n, None]
        if self.kin_map is not None:
            kin_missing = kin_missing | drop[:, -1]
        return missing, box_seen, kin_missing

    def forward(self, x: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """``x``: the tensors of :data:`beam_predictor.window.INPUT_KEYS` (batched)."""
        pad = x["pad"]
        box_seen = (x["box"][..., -1] > 0) & ~pad
        missing, box_seen, kin_missing = self.drop_inputs(x["missing"], box_seen, x["kin_missing"])
        aligned = self.adapt(x["feats"], missing)
        fused, _ = self.fusion(aligned, missing)
        tokens, token_pad = [fused], [pad]
        if self.kin_map is not None:
            kin = (self.kin_map(x["kin"]) + self.kin_offset).masked_fill(kin_missing[:, None, None], 0.0)
            tokens.append(kin)
            token_pad.append(kin_missing[:, None].expand(-1, kin.shape[1]))
        if self.box is not None:
            box_tokens, unseen = self.box(x["box"], box_seen)
            tokens.append(box_tokens.masked_fill(unseen[:, None, None], 0.0))
            token_pad.append(unseen[:, None].expand(-1, box_tokens.shape[1]))
        states = self.out_proj(self.backbone(torch.cat(tokens, 1), torch.cat(token_pad, 1)))
        z = states.flatten(1)
        b, steps, length = z.shape[0], self.cfg.task.horizon + 1, self.cfg.task.input_len
        if self.per_offset:
            logits = self.beam_head(states[:, length:length + steps])
        else:
            logits = self.beam_head(z).view(b, steps, contract.NUM_BEAMS)
        if self.prior is not None:
            beta = x["kin"][..., KIN["beam"]] * (contract.NUM_BEAMS - 1)
            prior = self.prior(beta, kin_missing)
            if self.reflection is not None:
                block = (self.block_head(states[:, length:length + steps]).squeeze(-1) if self.per_offset
                         else self.block_head(z)).view(b, steps)
                image = self.prior(self.reflection.image_beta(x["kin"]), kin_missing)
                mixed = torch.logaddexp(nn.functional.logsigmoid(-block)[..., None] + prior,
                                        nn.functional.logsigmoid(block)[..., None] + image)
                prior = mixed.masked_fill(kin_missing[:, None, None], 0.0)
                out_block = torch.sigmoid(block)
            logits = logits + prior
        out = {"beam_logits": logits, "aligned": aligned, "missing": missing}
        if self.reflection is not None:
            out["reflected"] = out_block                # probability of the reflected path per offset
        if self.pa_head is not None:
            out["pa_logits"] = self.pa_head(z).view(b, steps, self.num_codewords)
        return out


def parameter_counts(model: nn.Module) -> tuple[int, int]:
    """(trainable, total) parameter counts."""
    total = sum(p.numel() for p in model.parameters())
    return sum(p.numel() for p in model.parameters() if p.requires_grad), total
