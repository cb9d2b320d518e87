"""Encoders: shapes, the missing mask, and the paper-sized image trunk is exactly ResNet-18."""
import torch

from beam_predictor.sensing.config import EncoderConfig
from beam_predictor.sensing.encoders import build_encoder, parameter_count


def test_shapes_and_missing_rows():
    cfg = EncoderConfig(feature_dim=32, image_width=8, lidar_width=8, radar_channels=(8, 16))
    inputs = {"image": torch.randn(3, 3, 64, 64), "radar": torch.randn(3, 1, 64, 32),
              "lidar": torch.randn(3, 1, 32, 32), "gps": torch.rand(3, 2)}
    missing = torch.tensor([False, True, False])
    for name, x in inputs.items():
        enc = build_encoder(name, cfg).eval()
        out = enc(x, missing)
        assert out.shape == (3, 32)
        assert torch.all(out[1] == 0) and torch.any(out[0] != 0)


def test_width_64_trunk_is_torchvision_resnet18():
    from torchvision.models import resnet18
    reference = resnet18(weights=None)
    trunk_params = parameter_count(reference) - parameter_count(reference.fc)
    ours = build_encoder("image", EncoderConfig(image_width=64, feature_dim=64))
    assert parameter_count(ours.trunk) == trunk_params == 11_176_512
