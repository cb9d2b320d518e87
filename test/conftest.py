"""Test-wide settings: loopback-only ROS 2 discovery, a private domain, no hub access."""
import os

os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
os.environ.setdefault("ROS_DOMAIN_ID", str(os.getpid() % 100 + 1))
os.environ["HF_HUB_OFFLINE"] = "1"
# shared memory for big messages, UDP on 127.0.0.1 only
os.environ.setdefault("FASTDDS_DEFAULT_PROFILES_FILE", os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "config", "fastdds_loopback.xml"))
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["YOLO_OFFLINE"] = "1"
# ultralytics reads its config folder at import: keep it inside the project's build area
_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("YOLO_CONFIG_DIR", os.path.join(_REPO, "build", "ultralytics"))
# what nodes write under $ROS_HOME (the ONNX exports of the models, default reports) stays in the build area
os.environ.setdefault("ROS_HOME", os.path.join(_REPO, "build", "ros_home"))

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from beam_predictor.deepsense.fixture import FixtureConfig, write_fixture  # noqa: E402

REPO = Path(__file__).resolve().parents[1]

# Small but complete scenarios: every modality, two passes, one NaN power row in seven.
TINY = dict(passes=2, frames_per_pass=6, image_width=96, image_height=64, lidar_points=256,
            nan_power_every=7)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The project's shared real-data folder (beside the clone, or $BEAM_PREDICTOR_SHARED_DATA)."""
    return Path(os.environ.get("BEAM_PREDICTOR_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def tiny_fixture():
    """The FixtureConfig of `make_scenario` for a layout (to regenerate its expected frames)."""
    return lambda layout="s31", **overrides: FixtureConfig(layout=layout, **{**TINY, **overrides})


@pytest.fixture(scope="session")
def make_scenario(tmp_path_factory):
    """Build (and cache per session) a tiny fixture scenario; returns a fresh copy each call."""
    import shutil
    built: dict = {}

    def make(layout: str = "s31", **overrides) -> Path:
        key = (layout, tuple(sorted(overrides.items())))
        if key not in built:
            out = tmp_path_factory.mktemp(f"scenario_{layout}")
            write_fixture(out, FixtureConfig(layout=layout, **{**TINY, **overrides}), progress=False)
            built[key] = out
        copy = tmp_path_factory.mktemp(f"copy_{layout}")
        shutil.copytree(built[key], copy, dirs_exist_ok=True)
        return copy

    return make


@pytest.fixture(scope="session")
def sample_windows(tmp_path_factory):
    """The sample scenario's frame table and windows, built offline (features, tracker boxes) into a
    private cache.  Needs the sample (`make test` builds it)."""
    import dataclasses

    from beam_predictor.model.data import load_frame_table, make_windows, select_passes
    from beam_predictor.runtime.config import tracker_settings
    from model_helpers import SAMPLE, model_config_for_tests
    if not (SAMPLE / "scenario.csv").is_file():
        pytest.fail(f"{SAMPLE} is missing: `make test` builds it (or `make demo`)")
    cfg = model_config_for_tests()
    tracker = tracker_settings()
    tracker = dataclasses.replace(tracker, weights=str(REPO / tracker.weights))
    cache = tmp_path_factory.mktemp("sample_cache")
    table = load_frame_table(SAMPLE, REPO / "models" / "encoders", cfg.fusion.modalities, tracker,
                             cache_dir=cache, progress=False)
    return table, cfg, make_windows(table, cfg, select_passes(table, "all")), tracker
