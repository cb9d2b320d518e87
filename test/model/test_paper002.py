"""Paper 002: MLM-BP (positions as text, LoRA image encoder, norm-only MiniLM, mean pool + MLP) and
its baselines, on the windows every predictor shares."""
import numpy as np
import pytest
import torch
from torch import nn

from beam_predictor.config import ConfigError
from beam_predictor.model import checkpoint
from beam_predictor.model.backbones import minilm_package_dir
from beam_predictor.model.config import Paper002Config, with_overrides
from beam_predictor.model.data import make_windows
from beam_predictor.model.paper002 import PositionText, position_text
from beam_predictor.model.predictor import parameter_counts
from beam_predictor.model.registry import build_model
from beam_predictor.sensing.features import load_encoder
from beam_predictor.window import FrameInput, HistoryWindow
from model_helpers import REPO, SITE, synthetic_table, tiny_config

IMAGE_ENCODER = REPO / "models" / "encoders" / "encoder_image.pt"
PAPER_TASK = {"task": {"history": 1, "horizon": 0, "input_len": 8},
              "inputs": {"box": False, "kinematics": False, "prior": False, "reflection": False},
              "backbone": {"kind": "minilm", "unfreeze_last": 0, "train_norms_only": True}}
MINILM_NORMS = 13 * 2 * 384          # embeddings + 2 per block x 6 blocks, weight and bias of 384 each


def paper_config(kind="mlm_bp", **over):
    cfg = tiny_config(**PAPER_TASK, kind=kind)
    return with_overrides(cfg, over) if over else cfg


def batch(n=3, history=1, length=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    pad = torch.zeros(n, length, dtype=torch.bool)
    pad[:, :length - history] = True
    return {"pos": torch.randn(n, length, 3, generator=g) * 20,
            "pos_missing": torch.zeros(n, length, dtype=torch.bool), "pad": pad,
            "image": torch.randn(n, 3, 112, 112, generator=g),
            "image_missing": torch.zeros(n, dtype=torch.bool)}


def test_position_text_and_how_numbers_tokenise():
    assert position_text(np.array([[12.34, -4.5, -3.3]]), np.array([False])) == "Position: 12.3, -4.5, -3.3"
    two = position_text(np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]]), np.array([False, True]))
    assert two == "Position: 1.0, 2.0, 3.0; unknown"
    text = PositionText(Paper002Config(), 1, minilm_package_dir())
    tokens = text.tokenizer.tokenize("Position: 12.3, -4.5, -3.3")
    assert tokens == ["position", ":", "12", ".", "3", ",", "-", "4", ".", "5", ",", "-", "3", ".", "3"]


def test_nearby_positions_embed_nearby():
    """Mean word embedding of the text, and MiniLM's mean output state: 10 cm apart is closer than 30 m."""
    model = build_model(paper_config()).eval()
    pos = torch.tensor([[[12.3, -4.5, -3.3]], [[12.4, -4.5, -3.3]], [[-18.0, 21.5, -3.3]]])
    ids, pad = model.text(pos, torch.zeros(3, 1, dtype=torch.bool), torch.zeros(3, 1, dtype=torch.bool))
    keep = (~pad).unsqueeze(-1).float()
    with torch.no_grad():
        emb = model.backbone.llm.embeddings.word_embeddings(ids)
        states = model.backbone(emb, pad)
    for x in (emb, states):
        mean = (x * keep).sum(1) / keep.sum(1)
        near, far = (mean[0] - mean[1]).norm(), (mean[0] - mean[2]).norm()
        assert near < 0.5 * far


def test_norms_only_minilm_trains_exactly_its_layernorms():
    from beam_predictor.model.backbones import build_backbone
    from beam_predictor.model.config import BackboneConfig
    bb = build_backbone(BackboneConfig(kind="minilm", unfreeze_last=0, train_norms_only=True), 0, 8, 0)
    assert sum(p.numel() for p in bb.llm.parameters() if p.requires_grad) == MINILM_NORMS == 9_984
    assert all("LayerNorm" in n for n, p in bb.llm.named_parameters() if p.requires_grad)
    assert isinstance(bb.input, nn.Identity)


def test_mlm_bp_trainable_parameters_are_pinned():
    """LoRA (r = 8) on the 20 convolutions + BatchNorm, the aligner, MiniLM's norms, the 3-layer head."""
    model = build_model(paper_config())
    trunk = model.image.trunk
    base = [m.base_layer for m in trunk.modules() if hasattr(m, "lora_A")]
    assert len(base) == 20
    lora = sum(8 * (c.in_channels * c.kernel_size[0] * c.kernel_size[1] + c.out_channels) for c in base)
    bn = sum(2 * m.num_features for m in trunk.modules() if isinstance(m, nn.BatchNorm2d))
    aligner = (128 * 384 + 384) + (384 * 384 + 384)
    head = (384 * 512 + 512) + (512 * 256 + 256) + (256 * 128 + 128) + (128 * 64 + 64)
    trainable, total = parameter_counts(model)
    assert trainable == lora + bn + aligner + MINILM_NORMS + head == 652_088
    full = build_model(paper_config(paper002={"lora": False}))
    full_trunk = sum(p.numel() for p in full.image.trunk.parameters())
    assert parameter_counts(full)[0] == full_trunk + aligner + MINILM_NORMS + head
    assert not any(p.requires_grad for n, p in model.image.trunk.named_parameters()
                   if "lora_" not in n and "base_layer" in n)


@pytest.mark.skipif(not IMAGE_ENCODER.is_file(), reason="no pretrained image encoder")
def test_lora_starts_from_the_pretrained_encoder():
    model = build_model(paper_config())
    model.prepare(None, IMAGE_ENCODER)
    pretrained, _, _ = load_encoder(IMAGE_ENCODER)
    x = torch.randn(2, 3, 112, 112)
    model.eval()
    with torch.no_grad():
        np.testing.assert_allclose(model.image.trunk(x).numpy(), pretrained.trunk[:-2](x).numpy(), atol=1e-5)
    assert "encoder_image.pt" in model.source
    with pytest.raises(ConfigError, match="image_width"):
        build_model(paper_config(paper002={"image_width": 8})).prepare(None, IMAGE_ENCODER)


@pytest.mark.parametrize("kind", ["mlm_bp", "position_dnn", "vision_cnn", "resnet_position"])
def test_every_paper002_model_reads_only_its_inputs(kind):
    torch.manual_seed(0)
    model = build_model(paper_config(kind), num_codewords=4).eval()
    x = batch()
    with torch.no_grad():
        out = model(x)
        assert out["beam_logits"].shape == (3, 1, 64) and out["pa_logits"].shape == (3, 1, 4)
        other_image = model({**x, "image": torch.randn(3, 3, 112, 112)})["beam_logits"]
        other_pos = model({**x, "pos": x["pos"] + 30.0})["beam_logits"]
    reads_image, reads_pos = kind != "position_dnn", kind != "vision_cnn"
    assert (not torch.allclose(out["beam_logits"], other_image)) == reads_image
    assert (not torch.allclose(out["beam_logits"], other_pos)) == reads_pos


def test_mlm_bp_without_camera_still_predicts():
    model = build_model(paper_config()).eval()
    x = batch()
    x["image_missing"][:] = True
    with torch.no_grad():
        logits = model(x)["beam_logits"]
    assert torch.isfinite(logits).all()


def test_mlm_bp_needs_minilm():
    with pytest.raises(ConfigError, match="tokenizer"):
        tiny_config(kind="mlm_bp")          # the tiny config's backbone is a random GPT-2


def test_window_carries_positions_in_site_metres_and_the_newest_image():
    cfg = paper_config("vision_cnn", task={"history": 2, "horizon": 0, "input_len": 3})
    spec = cfg.window_spec()
    assert spec.image and spec.image_size == 112
    window = HistoryWindow(spec, SITE)
    latlon = synthetic_table([2]).latlon
    image = np.full((3, 112, 112), 0.5, np.float32)
    window.push(FrameInput(0, {}, None, latlon[0], None))
    window.push(FrameInput(100_000_000, {}, None, latlon[1], image))
    a = window.arrays()
    np.testing.assert_allclose(a["pos"][0, 1:, :2], [[-5.0, 12.0], [-4.0, 12.0]], atol=1e-3)
    np.testing.assert_allclose(a["pos"][0, 1:, 2], SITE.ue_antenna_height_m - SITE.array_height_m)
    np.testing.assert_array_equal(a["pos_missing"][0], [True, False, False])
    assert a["image"].shape == (1, 3, 112, 112) and not a["image_missing"][0]
    assert a["image"][0, 0, 0, 0] == 0.5
    with pytest.raises(ValueError, match="image has shape"):
        window.push(FrameInput(200_000_000, {}, None, None, np.zeros((3, 8, 8), np.float32)))


def test_a_position_far_outside_the_site_is_an_error_naming_the_field():
    table = synthetic_table([4], speed=10.0)
    table.latlon[2] = table.latlon[2] + 0.01            # about 1 km north
    cfg = paper_config("position_dnn", inputs={"box": False, "kinematics": False, "prior": False},
                       paper002={"max_range_m": 200.0})
    with pytest.raises(ValueError, match="unit2_loc.*frame 3.*max_range_m 200"):
        # (a window that accepts every fix, so the far one reaches the model input)
        make_windows(table, with_overrides(cfg, {"inputs": {"gps_max_jump_m": 1e6}}), [1])


def test_checkpoint_round_trip_of_mlm_bp(tmp_path):
    model = build_model(paper_config(), num_codewords=4)
    with torch.no_grad():
        for p in model.parameters():
            if p.requires_grad:
                p.add_(0.01 * torch.randn_like(p))
    model.eval()
    path = checkpoint.save(tmp_path / "mlm.pt", model, checkpoint.CheckpointMeta(
        site=SITE, image_prep={"size": 112, "mean": [0.5] * 3, "std": [0.2] * 3, "min_std": 2.0}))
    assert path.stat().st_size < 8e6                    # the frozen MiniLM is not stored
    loaded, meta = checkpoint.load(path)
    x = batch()
    with torch.no_grad():
        np.testing.assert_allclose(loaded(x)["beam_logits"].numpy(), model(x)["beam_logits"].numpy(),
                                   atol=1e-5)
    assert meta.image_prep["size"] == 112 and "MLM-BP" in meta.backbone_source
