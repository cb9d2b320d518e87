import torch

from beam_predictor.model.config import FusionConfig
from beam_predictor.model.fusion import ModalityFusion


def make(**kw):
    torch.manual_seed(0)
    return ModalityFusion(FusionConfig(modalities=("image", "radar", "gps"), feature_dim=8, heads=2,
                                       ffn_dim=16,
                                       dropout=0.0, **kw)).eval()


def test_shapes_and_missing_values_ignored():
    fusion = make()
    feats = torch.randn(2, 5, 3, 8)
    missing = torch.zeros(2, 5, 3, dtype=torch.bool)
    missing[:, :, 1] = True
    out, empty = fusion(feats, missing)
    assert out.shape == (2, 5, 8) and not empty.any()
    changed = feats.clone()
    changed[:, :, 1] = 100.0                       # garbage in the missing modality changes nothing
    torch.testing.assert_close(fusion(changed, missing)[0], out)


def test_step_with_nothing_present_is_zero_and_flagged():
    fusion = make()
    missing = torch.zeros(1, 3, 3, dtype=torch.bool)
    missing[0, 1] = True
    out, empty = fusion(torch.randn(1, 3, 3, 8), missing)
    assert empty.tolist() == [[False, True, False]]
    assert torch.all(out[0, 1] == 0) and torch.isfinite(out).all()
