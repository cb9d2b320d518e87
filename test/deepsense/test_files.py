"""Per-file readers and writers of the DeepSense layout, including every bad-input case."""
import numpy as np
import pytest

from beam_predictor.deepsense import files
from beam_predictor.deepsense.errors import DeepSenseError
from beam_predictor.deepsense.frame import best_beam


def test_power_round_trip_and_beam(tmp_path):
    power = np.linspace(1e-5, 1e-2, 64, dtype=np.float32)[::-1].copy()
    path = tmp_path / "p.txt"
    files.write_power(path, power)
    assert len(path.read_text().splitlines()) == 64
    np.testing.assert_array_equal(files.read_power(path), power)
    assert best_beam(power) == (1, False)


def test_power_nan_uses_nanargmax():
    power = np.ones(64, dtype=np.float32)
    power[10] = 5.0
    power[3] = np.nan
    assert best_beam(power) == (11, True)
    with pytest.raises(ValueError, match="NaN"):
        best_beam(np.full(64, np.nan))


@pytest.mark.parametrize("text, reason", [
    ("0.1\n" * 63, "expected 64 power values, found 63"),
    ("0.1\n" * 63 + "abc\n", "non-numeric power value"),
    ("0.1\n" * 63 + "inf\n", "infinite"),
    ("0.1\n" * 63 + "-0.5\n", "negative"),
])
def test_bad_power_file(tmp_path, text, reason):
    path = tmp_path / "bad.txt"
    path.write_text(text)
    with pytest.raises(DeepSenseError, match=reason) as info:
        files.read_power(path)
    assert info.value.file == str(path)


def test_gps(tmp_path):
    path = tmp_path / "g.txt"
    files.write_gps(path, (33.42071234567891, -111.92891234567891))
    np.testing.assert_array_equal(files.read_gps(path), [33.42071234567891, -111.92891234567891])
    for bad, reason in [("33.4\n", "expected latitude and longitude"), ("north\neast\n", "non-numeric"),
                        ("133.4\n-111.9\n", "out of range")]:
        path.write_text(bad)
        with pytest.raises(DeepSenseError, match=reason):
            files.read_gps(path)


@pytest.mark.parametrize("suffix", [".npy", ".mat"])
@pytest.mark.parametrize("chirps", [128, 250])
def test_radar_round_trip(tmp_path, suffix, chirps):
    rng = np.random.default_rng(0)
    cube = (rng.normal(size=(4, 256, chirps)) + 1j * rng.normal(size=(4, 256, chirps))).astype(np.complex64)
    path = tmp_path / f"r{suffix}"
    files.write_radar(path, cube)
    out = files.read_radar(path)
    assert out.dtype == np.complex64
    np.testing.assert_array_equal(out, cube)


def test_radar_wrong_shape_and_type(tmp_path):
    path = tmp_path / "r.npy"
    np.save(path, np.zeros((4, 256, 64), dtype=np.complex64))
    with pytest.raises(DeepSenseError, match=r"shape \(4, 256, 64\), expected \(4, 256, 128\)"):
        files.read_radar(path)
    np.save(path, np.zeros((4, 256, 128), dtype=np.float32))
    with pytest.raises(DeepSenseError, match="must be complex"):
        files.read_radar(path)
    path.write_bytes(b"not numpy")
    with pytest.raises(DeepSenseError, match="not a readable .npy"):
        files.read_radar(path)


@pytest.mark.parametrize("suffix", [".ply", ".mat"])
def test_lidar_round_trip(tmp_path, suffix):
    rng = np.random.default_rng(1)
    pts = np.column_stack([rng.normal(size=(500, 3)) * 10, rng.integers(0, 300, 500)]).astype(np.float32)
    path = tmp_path / f"l{suffix}"
    files.write_lidar(path, pts)
    out = files.read_lidar(path)
    assert out.shape == (500, 4) and out.dtype == np.float32
    # ASCII PLY stores doubles in repr form; float32 values survive exactly.
    np.testing.assert_array_equal(out, pts)


def test_lidar_binary_ply_and_missing_fields(tmp_path):
    from plyfile import PlyData, PlyElement
    rec = np.zeros(3, dtype=[("x", "f4"), ("y", "f4"), ("z", "f4")])
    rec["x"] = [1, 2, 3]
    path = tmp_path / "b.ply"
    PlyData([PlyElement.describe(rec, "vertex")], text=False).write(str(path))
    out = files.read_lidar(path)
    np.testing.assert_array_equal(out[:, 0], [1, 2, 3])
    np.testing.assert_array_equal(out[:, 3], 0)
    rec2 = np.zeros(3, dtype=[("x", "f4"), ("y", "f4")])
    PlyData([PlyElement.describe(rec2, "vertex")], text=True).write(str(path))
    with pytest.raises(DeepSenseError, match=r"lacks field\(s\) \['z'\]"):
        files.read_lidar(path)
    path.write_text("ply\nformat ascii 1.0\nelement vertex 5\nproperty float x\nend_header\n1\n")
    with pytest.raises(DeepSenseError, match="PLY body has 1 rows of 1 values, header says 5 of 1"):
        files.read_lidar(path)
    path.write_bytes(b"ply\nformat binary_little_endian 1.0\nelement vertex 5\n"
                     b"property float x\nend_header\n12")
    with pytest.raises(DeepSenseError, match="not a readable PLY"):
        files.read_lidar(path)


def test_ascii_fast_path_equals_plyfile(tmp_path):
    from plyfile import PlyData
    rng = np.random.default_rng(2)
    pts = np.column_stack([rng.normal(size=(300, 3)) * 30, rng.integers(0, 65535, 300)]).astype(np.float32)
    path = tmp_path / "a.ply"
    files.write_lidar(path, pts)
    v = PlyData.read(str(path))["vertex"].data
    assert v.dtype["x"] == np.float64 and v.dtype["intensity"] == np.uint16   # DeepSense types
    ref = np.column_stack([v["x"], v["y"], v["z"], v["intensity"]]).astype(np.float32)
    np.testing.assert_array_equal(files.read_lidar(path), ref)


def test_jpeg_checks(tmp_path):
    import io

    from PIL import Image
    buf = io.BytesIO()
    Image.new("RGB", (32, 16), (10, 20, 30)).save(buf, format="JPEG")
    data = buf.getvalue()
    path = tmp_path / "i.jpg"
    path.write_bytes(data)
    assert files.read_jpeg(path) == data
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DeepSenseError, match="truncated JPEG"):
        files.read_jpeg(path)
    path.write_bytes(b"GIF89a....")
    with pytest.raises(DeepSenseError, match="not a JPEG"):
        files.read_jpeg(path)
    with pytest.raises(DeepSenseError, match="file not found"):
        files.read_jpeg(tmp_path / "absent.jpg")
