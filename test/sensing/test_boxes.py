"""The offline box series is keyed by what decides it: weights, camera model, tracker settings."""
import json

from beam_predictor.sensing.boxes import TrackerSettings, _version


def test_box_cache_version_changes_with_weights_settings_and_camera(tmp_path):
    weights = tmp_path / "w.pt"
    weights.write_bytes(b"weights-a")
    meta = tmp_path / "twin_meta.json"
    meta.write_text(json.dumps({"camera": {"width": 384}}))
    base = _version(TrackerSettings(str(weights)), meta)
    assert base == _version(TrackerSettings(str(weights)), meta)
    assert base != _version(TrackerSettings(str(weights), conf=0.5), meta)
    assert base != _version(TrackerSettings(str(weights), gap_reset_s=2.0), meta)
    assert base != _version(TrackerSettings(str(weights)), None)
    weights.write_bytes(b"weights-b")
    assert base != _version(TrackerSettings(str(weights)), meta)
