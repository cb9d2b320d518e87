import numpy as np
import pytest
import torch

from beam_predictor.model import checkpoint
from beam_predictor.model.train import fit, predict
from model_helpers import synthetic_windows, tiny_config


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    cfg = tiny_config(train={"epochs": 2, "batch_size": 16})
    w = synthetic_windows(48, cfg)
    model, _ = fit(cfg, w, w, num_codewords=4, progress=False)
    return model, w


@pytest.mark.parametrize("dtype,tol", [("float32", 0.0), ("float16", 1e-2)])
def test_round_trip_gives_the_same_predictions(trained, tmp_path, dtype, tol):
    model, w = trained
    book = np.arange(8.0).reshape(4, 2)
    meta = checkpoint.CheckpointMeta(pa_codebook=book, fixed_codeword=2)
    path = checkpoint.save(tmp_path / "m.pt", model, meta,
                           dtype=dtype)
    loaded, meta = checkpoint.load(path)
    np.testing.assert_array_equal(meta.pa_codebook, book)
    assert meta.fixed_codeword == 2 and "RANDOM INIT" in meta.backbone_source
    a, b = predict(model, w), predict(loaded, w)
    np.testing.assert_allclose(a["beam"], b["beam"], atol=tol)
    np.testing.assert_allclose(a["pa"], b["pa"], atol=tol)


def test_checkpoint_stores_only_trainable_llm_weights(trained, tmp_path):
    model, _ = trained
    path = checkpoint.save(tmp_path / "m.pt", model, checkpoint.CheckpointMeta())
    state = torch.load(path, weights_only=False)["state"]
    llm = {k for k in state if k.startswith("backbone.llm.")}
    assert llm and all(k.startswith(("backbone.llm.h.1.", "backbone.llm.ln_f.")) for k in llm)


def test_changed_frozen_weights_are_refused(trained, tmp_path):
    model, _ = trained
    path = checkpoint.save(tmp_path / "m.pt", model, checkpoint.CheckpointMeta())
    blob = torch.load(path, weights_only=False)
    blob["config"]["backbone"]["init_seed"] = 5
    torch.save(blob, path)
    with pytest.raises(checkpoint.CheckpointError, match="frozen backbone"):
        checkpoint.load(path)


def test_bad_files_are_named(tmp_path):
    with pytest.raises(checkpoint.CheckpointError, match="not found"):
        checkpoint.load(tmp_path / "none.pt")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(checkpoint.CheckpointError, match="bad.pt"):
        checkpoint.load(bad)
