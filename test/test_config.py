"""Config dataclasses load from YAML; unknown keys and wrong types are named errors."""
from dataclasses import dataclass, field

import pytest

from beam_predictor.bag.convert import ConvertConfig
from beam_predictor.config import ConfigError, config_path, load_config, to_mapping
from beam_predictor.deepsense.fixture import FixtureConfig


@dataclass(frozen=True)
class Inner:
    rate: float = 1.0
    names: tuple[str, ...] = ("a",)


@dataclass(frozen=True)
class Outer:
    n: int = 1
    inner: Inner = field(default_factory=Inner)
    maybe: str | None = None


def test_shipped_configs_load():
    conv = load_config(ConvertConfig, config_path("convert.yaml"))
    assert conv.storage == "mcap" and "radar" in conv.reader.modalities
    fix = load_config(FixtureConfig, config_path("fixture.yaml"))
    assert (fix.image_width, fix.image_height, fix.lidar_points) == (960, 540, 16384)


def test_nested_and_coercion(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("n: 3\ninner:\n  rate: 2\n  names: [x, y]\n")
    cfg = load_config(Outer, path, overrides={"maybe": "m", "n": None})
    assert cfg == Outer(n=3, inner=Inner(rate=2.0, names=("x", "y")), maybe="m")
    assert to_mapping(cfg) == {"n": 3, "inner": {"rate": 2.0, "names": ["x", "y"]}, "maybe": "m"}


@pytest.mark.parametrize("text, where", [
    ("m: 1\n", "unknown key(s) ['m']"),
    ("inner:\n  rat: 1\n", ".inner: unknown key(s) ['rat']"),
    ("n: one\n", ".n: expected int"),
    ("n: true\n", ".n: expected int"),
    ("inner: 3\n", ".inner: expected a mapping"),
    ("[1, 2]\n", "expected a mapping at the top level"),
    ("n: [\n", "not valid YAML"),
])
def test_errors_name_file_and_key(tmp_path, text, where):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(Outer, path)
    assert str(path) in str(info.value) and where in str(info.value)


def test_missing_file_and_section(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(Outer, tmp_path / "nope.yaml")
    (tmp_path / "c.yaml").write_text("a: {n: 2}\n")
    assert load_config(Outer, tmp_path / "c.yaml", section="a").n == 2
    with pytest.raises(ConfigError, match="no section 'b'"):
        load_config(Outer, tmp_path / "c.yaml", section="b")


def test_twin_sample_differs_from_benchmark_only_in_size():
    import dataclasses

    from beam_predictor.twin.config import TwinConfig
    bench = load_config(TwinConfig, config_path("twin.yaml"))
    sample = load_config(TwinConfig, config_path("twin_sample.yaml"))
    assert (sample.camera.width, sample.camera.height, sample.lidar_ascii) == (960, 540, True)
    same = dataclasses.replace(sample, seed=bench.seed, passes=bench.passes, lidar_ascii=bench.lidar_ascii,
                               traffic=dataclasses.replace(sample.traffic, motion=bench.traffic.motion),
                               camera=dataclasses.replace(sample.camera, width=bench.camera.width,
                                                          height=bench.camera.height))
    assert same == bench


def test_twin_constant_differs_from_benchmark_only_in_motion():
    import dataclasses

    from beam_predictor.twin.config import TwinConfig
    bench = load_config(TwinConfig, config_path("twin.yaml"))
    constant = load_config(TwinConfig, config_path("twin_constant.yaml"))
    assert constant.traffic.motion == "constant" and bench.traffic.motion == "realistic"
    realistic = dataclasses.replace(constant.traffic, motion="realistic")
    assert dataclasses.replace(constant, traffic=realistic) == bench
