import numpy as np
import pytest

from beam_predictor.model import checkpoint
from beam_predictor.model.data import make_windows
from beam_predictor.model.predictor import BeamPredictor
from beam_predictor.model.train import predict
from beam_predictor.runtime.online import OnlinePredictor, resolve_device
from model_helpers import synthetic_table, tiny_config


def test_online_window_gives_the_offline_prediction(tmp_path):
    cfg = tiny_config(task={"history": 3, "horizon": 2, "input_len": 4},
                      fusion={"modalities": ["image", "gps"]})
    import torch
    torch.manual_seed(0)               # a fixed network: a random one can rank two beams within rtol
    model = BeamPredictor(cfg, num_codewords=4).eval()
    table = synthetic_table([7], m=16)
    book = np.arange(8.0).reshape(4, 2)
    meta = checkpoint.CheckpointMeta(pa_codebook=book, site=table.site)
    path = checkpoint.save(tmp_path / "m.pt", model, meta)
    w = make_windows(table, cfg, [1])
    offline = predict(model, w)
    online = OnlinePredictor(str(path), top_k=3)
    for i in range(len(table)):                             # the frames, as the fusion node pushes them
        online.window.push(table.frame_input(i, cfg.fusion.modalities))
        j = i - (cfg.task.history - 1)
        if 0 <= j < len(w):
            p = online.predict()
            assert p.beams.shape == (3, 3) and p.probs.shape == (3, 3) and p.pa_positions.shape == (3, 2)
            # the online top-3 are the offline top-3 (ties aside) with the offline probabilities
            ranked = np.sort(offline["beam"][j], axis=-1)[:, ::-1][:, :3]
            np.testing.assert_allclose(p.probs, ranked, rtol=1e-5)
            chosen = np.take_along_axis(offline["beam"][j], p.beams, -1)
            np.testing.assert_allclose(chosen, p.probs, rtol=1e-5)
            np.testing.assert_array_equal(p.pa_codeword, offline["pa"][j].argmax(-1))
            np.testing.assert_array_equal(p.pa_positions, book[p.pa_codeword])


def test_kinematic_checkpoint_without_a_site_is_refused(tmp_path):
    cfg = tiny_config(task={"history": 3, "horizon": 2, "input_len": 4})
    path = checkpoint.save(tmp_path / "m.pt", BeamPredictor(cfg), checkpoint.CheckpointMeta())
    with pytest.raises(checkpoint.CheckpointError, match="site"):
        OnlinePredictor(str(path))


def test_cuda_request_without_cuda_is_a_clear_error():
    import torch
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(ValueError, match="CUDA is not available"):
        resolve_device("cuda:0")


def test_online_mlm_bp_reads_the_camera_jpeg_as_training_did(tmp_path):
    """Paper 002's model reads the image itself: the fusion node's JPEG path (OnlinePredictor.image)
    gives the offline windows' input, so the online prediction is the offline one."""
    import io

    from PIL import Image

    from beam_predictor.config import to_mapping
    from beam_predictor.model.config import with_overrides
    from beam_predictor.model.registry import build_model
    from beam_predictor.sensing.config import ImagePrepConfig
    from beam_predictor.sensing.preprocess import prep_image
    cfg = with_overrides(tiny_config(), {
        "kind": "mlm_bp", "task": {"history": 2, "horizon": 1, "input_len": 4},
        "inputs": {"box": False, "kinematics": False, "prior": False},
        "backbone": {"kind": "minilm", "unfreeze_last": 0, "train_norms_only": True}})
    model = build_model(cfg, num_codewords=0).eval()
    table = synthetic_table([5], m=16)
    prep = ImagePrepConfig()
    rng = np.random.default_rng(0)
    jpegs = []
    for _ in range(len(table)):
        buf = io.BytesIO()
        Image.fromarray(rng.integers(0, 255, (40, 60, 3), dtype=np.uint8)).save(buf, format="JPEG")
        jpegs.append(buf.getvalue())
    table.image = np.stack([prep_image(j, prep).value for j in jpegs])
    table.image_missing = np.zeros(len(table), bool)
    path = checkpoint.save(tmp_path / "mlm.pt", model,
                           checkpoint.CheckpointMeta(site=table.site, image_prep=to_mapping(prep)))
    w = make_windows(table, cfg, [1])
    offline = predict(model, w)
    online = OnlinePredictor(str(path), top_k=2)
    assert online.needs_image and not online.uses_box and online.modalities == ()
    for i in range(len(table)):
        frame = table.frame_input(i, ())
        frame.image = online.image(jpegs[i])
        online.window.push(frame)
        j = i - 1
        if 0 <= j < len(w):
            p = online.predict()
            np.testing.assert_allclose(p.probs, np.sort(offline["beam"][j], -1)[:, ::-1][:, :2], rtol=1e-4)
