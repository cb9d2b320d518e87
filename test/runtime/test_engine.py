"""The ONNX Runtime path of every model stage gives torch's outputs, within a stated tolerance.

Exports go to this test session's $ROS_HOME (conftest: build/ros_home), as the nodes make them.
Tolerances: ONNX Runtime and torch sum convolutions and matrix products in different orders,
so they agree to float32 rounding: the encoders' features (O(1)) within 1e-4 absolute; the
predictor's logits (up to about 10, through six MiniLM layers) within 1e-4 absolute plus 1e-4
relative, and the top-1 beam is the same on every window.  YOLO's boxes agree within a
hundredth of a pixel, their confidences within 1e-4, with the same track ids (both runtimes
letterbox to the same 320 x 320 square).
"""
import cv2
import numpy as np
import pytest

from beam_predictor.deepsense.reader import ScenarioReader
from beam_predictor.runtime import engine
from beam_predictor.runtime.online import OnlinePredictor
from beam_predictor.sensing.online import MODALITIES, OnlineEncoder
from model_helpers import REPO, SAMPLE

TOL = 1e-4
RAW = {"image": lambda f: f.image_jpeg, "radar": lambda f: f.radar, "lidar": lambda f: f.lidar,
       "gps": lambda f: f.ue_latlon}


@pytest.fixture(scope="module")
def frames():
    if not (SAMPLE / "scenario.csv").is_file():
        pytest.fail(f"{SAMPLE} is missing: `make test` builds it (or `make demo`)")
    return [f for i, f in enumerate(ScenarioReader(SAMPLE)) if i % 6 == 0]   # 19 frames, three passes


@pytest.mark.parametrize("modality", MODALITIES)
def test_encoders_in_onnxruntime_match_torch(modality, frames):
    path = REPO / "models" / "encoders" / f"encoder_{modality}.pt"
    fast = OnlineEncoder(modality, path, runtime="onnxruntime")
    ref = OnlineEncoder(modality, path, runtime="torch")
    assert fast.session is not None and ref.session is None
    encoded = 0
    for f in frames:
        a, reason_a, _ = fast.encode(RAW[modality](f))
        b, reason_b, _ = ref.encode(RAW[modality](f))
        assert reason_a == reason_b
        if b is not None:
            np.testing.assert_allclose(a, b, rtol=0, atol=TOL)
            encoded += 1
    assert encoded >= len(frames) // 2


def test_predictor_in_onnxruntime_matches_torch_and_keeps_the_frozen_llm(sample_windows):
    table = sample_windows[0]
    path = str(REPO / "models" / "m2beamllm.pt")
    fast, ref = OnlinePredictor(path, runtime="onnxruntime"), OnlinePredictor(path, runtime="torch")
    assert fast.session is not None and "runtime onnxruntime" in fast.description
    # every frozen weight of MiniLM the graph computes with is bit-identical to the checkpoint's; the
    # word embeddings are not in the graph (the model feeds MiniLM embeddings, not token ids)
    stored, expected, unused = fast.frozen_check
    assert stored == expected and unused == ["embeddings.word_embeddings.weight"]
    compared = 0
    for i in range(len(table)):
        frame = table.frame_input(i, fast.modalities)
        fast.window.push(frame)
        ref.window.push(frame)
        if not fast.window.ready:
            continue
        arrays = fast.window.arrays()
        a, b = fast.logits(arrays), ref.logits(arrays)
        assert a.keys() == b.keys()
        for key in a:
            np.testing.assert_allclose(a[key], b[key], rtol=TOL, atol=TOL, err_msg=key)
        pa, pb = fast.predict(arrays), ref.predict(arrays)
        np.testing.assert_array_equal(pa.beams[:, 0], pb.beams[:, 0])
        compared += 1
    assert compared >= 80


SECOND_START = """
import sys
from beam_predictor.runtime.online import OnlinePredictor
from beam_predictor.sensing.online import OnlineEncoder
p = OnlinePredictor(sys.argv[1], runtime="onnxruntime")
e = OnlineEncoder("radar", sys.argv[2], runtime="onnxruntime")
print(p.description, "|", "torch imported" if "torch" in sys.modules else "no torch")
print(*p.predict().beams[:, 0])
"""


def test_a_second_start_serves_the_verified_export_without_torch_and_a_tampered_one_is_refused(
        tmp_path, monkeypatch):
    """The first start exports and checks, and writes the serving bundle; the next start (a respawned
    node) reads the bundle: no torch import, the same prediction.  A cached export whose LLM weights are
    not the checkpoint's (tampered, stale) fails its bundle's digest, then the weight check."""
    import subprocess
    import sys

    import onnx
    from onnx import numpy_helper
    monkeypatch.setenv("ROS_HOME", str(tmp_path))
    path = str(REPO / "models" / "m2beamllm.pt")
    radar = str(REPO / "models" / "encoders" / "encoder_radar.pt")
    first = OnlinePredictor(path, runtime="onnxruntime")
    OnlineEncoder("radar", radar, runtime="onnxruntime")
    assert "from the checkpoint" in first.description
    second = subprocess.run([sys.executable, "-c", SECOND_START, path, radar], capture_output=True, text=True,
                            timeout=300)
    description, beams = second.stdout.strip().splitlines()[-2:]
    assert "(from the verified export's bundle, no torch) | no torch" in description, second.stderr[-2000:]
    assert beams.split() == [str(b) for b in first.predict().beams[:, 0]]
    model = onnx.load(str(first.session.path))
    for t in model.graph.initializer:
        if t.name == "model.backbone.llm.encoder.layer.0.attention.self.query.weight":
            t.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(t) * np.float32(1.001), t.name))
    onnx.save(model, str(first.session.path))
    with pytest.raises(engine.ExportError, match="frozen LLM weights differ"):
        OnlinePredictor(path, runtime="onnxruntime")


def test_tracker_in_onnxruntime_matches_torch(frames):
    from beam_predictor.physics.site import read_site
    from beam_predictor.sensing.tracker import CameraModel, UETracker
    camera = CameraModel(read_site(SAMPLE / "twin_meta.json"))
    weights = REPO / "models" / "yolo_twin.pt"
    fast = UETracker(weights, camera, runtime="onnxruntime", threads=1)
    ref = UETracker(weights, camera, runtime="torch")
    assert fast.onnx is not None and fast.onnx.is_file()
    seen = 0
    for f in frames[:12]:                                       # in stamp order, as the node sees them
        image = cv2.imdecode(np.frombuffer(f.image_jpeg, np.uint8), cv2.IMREAD_COLOR)
        boxes_a, ue_a = fast.track(f.stamp_ns, image, f.ue_latlon)
        boxes_b, ue_b = ref.track(f.stamp_ns, image, f.ue_latlon)
        assert boxes_a.shape == boxes_b.shape
        np.testing.assert_allclose(boxes_a[:, :4], boxes_b[:, :4], atol=0.01)
        np.testing.assert_allclose(boxes_a[:, 4], boxes_b[:, 4], atol=1e-4)
        np.testing.assert_array_equal(boxes_a[:, 5], boxes_b[:, 5])             # the same track ids
        assert ue_a.lost == ue_b.lost
        seen += len(boxes_a)
    assert seen > 0
    # the session ultralytics opened was replaced by a one-thread one
    assert fast.model.predictor.model.backend.session.get_session_options().intra_op_num_threads == 1


def test_runtime_choice():
    assert engine.resolve_runtime("auto", "cpu") == "onnxruntime"
    assert engine.resolve_runtime("auto", "cuda:0") == "torch"
    assert engine.resolve_runtime("torch", "cpu") == "torch"
    with pytest.raises(ValueError, match="serves on the CPU"):
        engine.resolve_runtime("onnxruntime", "cuda")
    with pytest.raises(ValueError, match="choose from"):
        engine.resolve_runtime("tensorrt", "cpu")


def test_export_key_follows_the_checkpoint_bytes(tmp_path):
    a, b = tmp_path / "a.pt", tmp_path / "b.pt"
    a.write_bytes(b"one checkpoint")
    b.write_bytes(b"another checkpoint")
    assert engine.file_key(a) != engine.file_key(b)
    assert engine.file_key(a, (1, 2)) != engine.file_key(a, (1, 3))


def test_model_kind_without_an_export_is_served_by_torch_or_refused(tmp_path, sample_windows):
    from beam_predictor.config import config_path, load_config
    from beam_predictor.model import checkpoint
    from beam_predictor.model.config import ModelConfig
    from beam_predictor.model.registry import build_model
    cfg = load_config(ModelConfig, config_path("model_mlm_bp.yaml"))
    table = sample_windows[0]
    path = checkpoint.save(tmp_path / "mlm.pt", build_model(cfg).eval(),
                           checkpoint.CheckpointMeta(site=table.site, image_prep={"size": 64}))
    assert OnlinePredictor(str(path)).runtime == "torch"
    with pytest.raises(engine.ExportError, match="not exportable"):
        OnlinePredictor(str(path), runtime="onnxruntime")
