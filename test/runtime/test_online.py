import numpy as np
import pytest

from beam_predictor.model import checkpoint
from beam_predictor.model.predictor import BeamPredictor
from beam_predictor.model.train import predict
from beam_predictor.runtime.online import OnlinePredictor, resolve_device
from model_helpers import synthetic_windows, tiny_config


def test_online_window_gives_the_offline_prediction(tmp_path):
    cfg = tiny_config(task={"history": 3, "horizon": 2, "input_len": 4})
    model = BeamPredictor(cfg, num_codewords=4).eval()
    book = np.arange(8.0).reshape(4, 2)
    path = checkpoint.save(tmp_path / "m.pt", model, checkpoint.CheckpointMeta(pa_codebook=book))
    w = synthetic_windows(1, cfg)
    w.box[0, 1:, :] = [[0.1, 0.2, 0.3, 0.4, 1.0], [0.1, 0.2, 0.3, 0.4, 0.0], [0.2, 0.2, 0.4, 0.4, 1.0]]
    offline = predict(model, w)
    online = OnlinePredictor(str(path), top_k=3)
    for j in range(1, 4):                                      # the three observed steps
        visible = w.box[0, j, 4] > 0
        feats = {m: w.feats[0, j, i] for i, m in enumerate(cfg.fusion.modalities)}
        online.window.push(j * 100_000_000, feats,
                           tuple(w.box[0, j, :4]) if visible else None)
    p = online.predict()
    assert p.beams.shape == (3, 3) and p.probs.shape == (3, 3) and p.pa_positions.shape == (3, 2)
    np.testing.assert_array_equal(p.beams, np.argsort(-offline["beam"][0], axis=-1)[:, :3])
    np.testing.assert_allclose(p.probs, np.sort(offline["beam"][0], axis=-1)[:, ::-1][:, :3], rtol=1e-5)
    np.testing.assert_array_equal(p.pa_codeword, offline["pa"][0].argmax(-1))
    np.testing.assert_array_equal(p.pa_positions, book[p.pa_codeword])


def test_cuda_request_without_cuda_is_a_clear_error():
    import torch
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(ValueError, match="CUDA is not available"):
        resolve_device("cuda:0")
