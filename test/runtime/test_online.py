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
