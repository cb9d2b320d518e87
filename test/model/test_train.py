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


def _overfit(inputs: dict):
    cfg = tiny_config(train={"epochs": 150, "batch_size": 16, "lr": 3e-3, "weight_decay": 0.0},
                      fusion={"modality_dropout": 0.0, "dropout": 0.0}, inputs=inputs,
                      backbone={"kind": "gpt2", "gpt2_layers": 2, "gpt2_width": 32, "gpt2_heads": 2,
                                "unfreeze_last": 2, "dropout": 0.0})
    w = synthetic_windows(16, cfg)
    model, history = fit(cfg, w, w, num_codewords=4, progress=False)
    trained = [h for h in history if h["epoch"] > 0]                 # epoch 0: the prior alone
    p = predict(model, w)
    return trained, topk_accuracy(p["beam"][:, 1:], w.beam[:, 1:], ks=(1,))[1], p, w


def test_tiny_model_overfits_a_tiny_batch():
    trained, top1, p, w = _overfit({"kinematics": False, "prior": False})      # the paper's flatten head
    assert trained[-1]["train_beam"] < 0.1 * trained[0]["train_beam"]
    assert top1 == 1.0
    assert (p["pa"].argmax(-1) == w.pa_gain_db.argmax(-1)).mean() == 1.0


def test_per_offset_head_learns_what_the_prior_cannot_see():
    # the kinematics point every window at the same beam; the labels depend on the sensor features only
    trained, top1, _, _ = _overfit({})
    assert trained[-1]["train_beam"] < 0.5 * trained[0]["train_beam"]
    assert top1 > 0.5


def test_training_is_seeded():
    cfg = tiny_config(train={"epochs": 2, "batch_size": 8})
    w = synthetic_windows(16, cfg)
    a, _ = fit(cfg, w, w, 4, progress=False)
    b, _ = fit(cfg, w, w, 4, progress=False)
    np.testing.assert_array_equal(predict(a, w)["beam"], predict(b, w)["beam"])


def test_kept_epoch_is_the_best_validation_top1():
    cfg = tiny_config(train={"epochs": 4, "batch_size": 8})
    w = synthetic_windows(24, cfg)
    model, history = fit(cfg, w, w, 4, progress=False)
    kept = [h for h in history if h.get("kept")][-1]
    assert kept["val_top1"] == max(h["val_top1"] for h in history)
    p = predict(model, w)
    assert topk_accuracy(p["beam"][:, 1:], w.beam[:, 1:], ks=(1,))[1] == kept["val_top1"]
