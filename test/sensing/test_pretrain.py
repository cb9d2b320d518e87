"""Prepared-input cache and encoder pre-training on a tiny fixture scenario."""
import numpy as np
import pytest
import torch

from beam_predictor.sensing.config import EncoderConfig, ImagePrepConfig, LidarPrepConfig, SensingConfig
from beam_predictor.sensing.dataset import prepare
from beam_predictor.sensing.pretrain import PretrainConfig, topk_accuracy, train_modality

SMALL = SensingConfig(image=ImagePrepConfig(size=32), lidar=LidarPrepConfig(grid=16),
                      encoder=EncoderConfig(feature_dim=16, image_width=4, lidar_width=4,
                                            radar_channels=(4, 8)))


def test_topk_by_hand():
    logits = torch.tensor([[0.1, 0.9, 0.0], [0.5, 0.2, 0.3], [0.0, 0.1, 0.2]])
    labels = torch.tensor([1, 2, 0])
    acc = topk_accuracy(logits, labels, ks=(1, 2, 3))
    assert acc == {1: pytest.approx(1 / 3), 2: pytest.approx(2 / 3), 3: 1.0}


def test_prepare_caches_and_masks_missing(make_scenario, tmp_path):
    scenario = make_scenario("s31")
    # markers intact (the reader accepts it) but undecodable: preprocessing flags it missing
    (scenario / "unit1" / "camera_data" / "image_2.jpg").write_bytes(b"\xff\xd8" + b"\x00" * 64 + b"\xff\xd9")
    data = prepare(scenario, SMALL, cache_dir=tmp_path, progress=False)
    assert data.inputs["image"].shape == (12, 3, 32, 32) and data.inputs["radar"].shape == (12, 1, 128, 64)
    assert data.inputs["lidar"].shape == (12, 1, 16, 16) and data.inputs["gps"].shape == (12, 2)
    assert list(data.index) == list(range(1, 13)) and (data.beam >= 1).all()
    assert data.missing["image"][1] and not data.missing["image"][0]
    assert (data.inputs["image"][1] == 0).all()
    (cached,) = tmp_path.glob("prepared-*.npz")
    again = prepare(scenario, SMALL, cache_dir=tmp_path, progress=False)
    np.testing.assert_array_equal(again.inputs["radar"], data.inputs["radar"])
    np.testing.assert_array_equal(again.gps_scaler.low, data.gps_scaler.low)
    # a changed preprocessing config is a different cache entry
    prepare(scenario, SensingConfig(image=ImagePrepConfig(size=16), encoder=SMALL.encoder), ("image",),
            cache_dir=tmp_path, progress=False)
    assert len(list(tmp_path.glob("prepared-*.npz"))) == 2


def test_gps_encoder_learns_the_beam(make_scenario):
    scenario = make_scenario("s31", passes=4, frames_per_pass=10)
    data = prepare(scenario, SMALL, ("gps",), progress=False)
    data.split[:] = "train"
    data.split[::5] = "val"
    data.split[2::5] = "test"
    cfg = PretrainConfig(epochs=5, epochs_by_modality={"gps": 60}, batch_size=8, lr=1e-2, modalities=("gps",),
                         sensing=SMALL)
    _, metrics, history = train_modality(data, "gps", cfg, progress=False)
    assert len(history) == 60 and history[-1]["train_loss"] < history[0]["train_loss"]
    assert metrics["test_top3"] >= 0.5 and metrics["train_frames"] == 24


def test_feature_cache_hits_and_invalidates_on_new_checkpoint(make_scenario, tmp_path):
    from beam_predictor.sensing.features import encode
    from beam_predictor.sensing.pretrain import save_checkpoint
    scenario = make_scenario("s31")
    data = prepare(scenario, SMALL, ("gps", "lidar"), progress=False)
    data.split[:] = "train"
    cfg = PretrainConfig(epochs=1, epochs_by_modality={}, batch_size=4, modalities=("lidar",), sensing=SMALL)
    model, metrics, _ = train_modality(data, "lidar", cfg, progress=False)
    ckpt = tmp_path / "encoder_lidar.pt"
    save_checkpoint(ckpt, model, "lidar", cfg, data, metrics)
    first = encode(data, "lidar", ckpt, scenario, cache_dir=tmp_path / "cache", progress=False)
    assert first.features.shape == (12, 16) and not first.missing.any()
    with torch.inference_mode():
        direct = model.encoder.eval()(torch.from_numpy(data.inputs["lidar"])).numpy()
    np.testing.assert_allclose(first.features, direct, rtol=1e-5, atol=1e-6)
    (entry,) = (tmp_path / "cache").glob("features-*.npz")
    np.savez(entry, index=first.index, features=np.full_like(first.features, 7.0), missing=first.missing)
    assert (encode(data, "lidar", ckpt, scenario, cache_dir=tmp_path / "cache").features == 7.0).all()  # hit
    with torch.no_grad():
        model.encoder.fc.bias.add_(1.0)
    save_checkpoint(ckpt, model, "lidar", cfg, data, metrics)                 # a new encoder version
    fresh = encode(data, "lidar", ckpt, scenario, cache_dir=tmp_path / "cache", progress=False)
    assert fresh.version != first.version
    np.testing.assert_allclose(fresh.features, direct + 1.0, rtol=1e-5, atol=1e-5)
