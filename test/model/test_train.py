import numpy as np

from beam_predictor.model.metrics import topk_accuracy
from beam_predictor.model.predictor import BeamPredictor
from beam_predictor.model.train import fit, predict
from model_helpers import synthetic_windows, tiny_config


def test_output_shapes_for_standard_and_few_shot():
    for task in ({"history": 8, "horizon": 5}, {"history": 3, "horizon": 10}):
        cfg = tiny_config(task=task)
        w = synthetic_windows(4, cfg, num_codewords=6)
        p = predict(BeamPredictor(cfg, num_codewords=6), w)
        assert p["beam"].shape == (4, task["horizon"] + 1, 64)
        assert p["pa"].shape == (4, task["horizon"] + 1, 6)
        np.testing.assert_allclose(p["beam"].sum(-1), 1.0, rtol=1e-5)


def test_tiny_model_overfits_a_tiny_batch():
    cfg = tiny_config(train={"epochs": 150, "batch_size": 16, "lr": 3e-3, "weight_decay": 0.0},
                      fusion={"modality_dropout": 0.0, "dropout": 0.0},
                      backbone={"kind": "gpt2", "gpt2_layers": 2, "gpt2_width": 32, "gpt2_heads": 2,
                                "unfreeze_last": 2, "dropout": 0.0})
    w = synthetic_windows(16, cfg)
    model, history = fit(cfg, w, w, num_codewords=4, progress=False)
    assert history[-1]["train_beam"] < 0.1 * history[0]["train_beam"]
    p = predict(model, w)
    assert topk_accuracy(p["beam"][:, 1:], w.beam[:, 1:], ks=(1,))[1] == 1.0
    assert (p["pa"].argmax(-1) == w.pa_gain_db.argmax(-1)).mean() == 1.0


def test_training_is_seeded():
    cfg = tiny_config(train={"epochs": 2, "batch_size": 8})
    w = synthetic_windows(16, cfg)
    a, _ = fit(cfg, w, w, 4, progress=False)
    b, _ = fit(cfg, w, w, 4, progress=False)
    np.testing.assert_array_equal(predict(a, w)["beam"], predict(b, w)["beam"])
