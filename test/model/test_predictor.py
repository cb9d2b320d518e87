"""The predictor's physics-informed parts: geometric prior, input dropout, masking."""
import numpy as np
import torch

from beam_predictor.model.predictor import BeamPredictor, GeometricPrior
from model_helpers import synthetic_windows, tiny_config
from beam_predictor.model.train import to_tensors


def test_prior_starts_at_the_ideal_codebook_and_calibrates_a_squint():
    prior = GeometricPrior(64, width_beams=0.5)
    beta = torch.tensor([[10.2, 40.0]])
    assert prior(beta, torch.tensor([False])).argmax(-1).tolist() == [[10, 40]]
    # labels one beam above the geometric coordinate (an impaired array's squint)
    rng = np.random.default_rng(0)
    b = rng.uniform(0, 62, 4000)
    prior.fit(b, np.round(b + 1).astype(int), steps=200)
    out = prior(torch.tensor([[10.2, 40.0]]), torch.tensor([False]))
    assert out.argmax(-1).tolist() == [[11, 41]]
    assert torch.allclose(out.exp().sum(-1), torch.ones(1, 2))               # a distribution
    # a window without kinematics gets a flat prior
    assert torch.all(prior(beta, torch.tensor([True])) == 0)


def test_prior_floor_bounds_the_cost_of_a_far_label():
    prior = GeometricPrior(64, width_beams=0.5, floor=0.05)
    logp = prior(torch.tensor([[5.0]]), torch.tensor([False]))[0, 0]
    assert logp[60] > np.log(0.05 / 64) - 1e-4                               # not -kappa * 55^2


def test_untrained_predictor_with_prior_predicts_the_prior():
    cfg = tiny_config(task={"history": 3, "horizon": 2, "input_len": 4})
    model = BeamPredictor(cfg, num_codewords=4).eval()
    w = synthetic_windows(3, cfg)
    w.inputs["kin"][..., 0] = np.array([10, 20, 30])[:, None] / 63
    with torch.no_grad():
        out = model(to_tensors(w))["beam_logits"]
    assert out.argmax(-1).tolist() == [[10] * 3, [20] * 3, [30] * 3]


def test_input_dropout_silences_whole_windows_and_keeps_one_input():
    cfg = tiny_config(fusion={"modality_dropout": 0.9})
    model = BeamPredictor(cfg).train()
    n = len(cfg.fusion.modalities)
    missing = torch.zeros(500, 4, n, dtype=torch.bool)
    seen = torch.ones(500, 4, dtype=torch.bool)
    kin_missing = torch.zeros(500, dtype=torch.bool)
    m, s, k = model.drop_inputs(missing, seen, kin_missing)
    assert m.any() and (~s).any() and k.any()
    assert torch.equal(m[:, 0], m[:, 3]) and torch.equal(s[:, 0], s[:, 3])    # whole-window silence
    everything_off = m.all(dim=(1, 2)) & ~s.any(dim=1) & k
    assert not everything_off.any()
    assert model.eval().drop_inputs(missing, seen, kin_missing)[0] is missing


def test_a_window_that_never_saw_the_box_ignores_the_box_values():
    cfg = tiny_config(task={"history": 3, "horizon": 1, "input_len": 4}, inputs={"kinematics": False,
                                                                                 "prior": False})
    model = BeamPredictor(cfg).eval()
    w = synthetic_windows(2, cfg)
    x = to_tensors(w)
    with torch.no_grad():
        base = model(x)["beam_logits"]
        x["box"][..., :4] = 5.0                       # coordinates, but the visible flag stays 0
        torch.testing.assert_close(model(x)["beam_logits"], base)
        x["box"][:, -1, 4] = 1.0                      # now the UE was seen once
        assert not torch.allclose(model(x)["beam_logits"], base)
