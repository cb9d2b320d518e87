"""Property-based fuzzing of the DeepSense parsers (hypothesis): whatever the bytes, a parser
returns a value or raises DeepSenseError naming the file (and the row, for the CSV), never
another exception.

Inputs: the tiny fixture's valid files, then truncated, byte-flipped, spliced with random or
non-UTF-8 bytes, or replaced outright; CSV cells replaced by NaN, inf, huge numbers, text,
non-UTF-8 bytes, or emptied, columns removed, the file cut short.  11,000 examples in all
(deterministic: hypothesis is derandomized here, so a failure reproduces).
"""
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from beam_predictor.deepsense import files
from beam_predictor.deepsense.errors import DeepSenseError
from beam_predictor.deepsense.reader import ScenarioReader

FUZZ = settings(max_examples=1500, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
PARSERS = {"power": (files.read_power, "unit1/mmWave_data/mmWave_power_1.txt"),
           "gps": (files.read_gps, "unit2/GPS_data/gps_location_1.txt"),
           "radar": (files.read_radar, "unit1/radar_data/radar_1.npy"),
           "lidar": (files.read_lidar, "unit1/lidar_data/lidar_1.ply"),
           "jpeg": (files.read_jpeg, "unit1/camera_data/image_1.jpg")}


@pytest.fixture(scope="module")
def seed(tmp_path_factory):
    from beam_predictor.deepsense.fixture import FixtureConfig, write_fixture
    root = tmp_path_factory.mktemp("fuzz_seed")
    write_fixture(root, FixtureConfig(layout="s31", passes=1, frames_per_pass=3, image_width=32,
                                      image_height=24, lidar_points=16), progress=False)
    return root


def mutated(valid: bytes):
    """Strategies of damaged versions of ``valid``."""
    n = len(valid)
    cut = st.integers(0, n).map(lambda k: valid[:k])
    flip = st.tuples(st.integers(0, max(0, n - 1)), st.binary(min_size=1, max_size=64)).map(
        lambda t: valid[:t[0]] + t[1] + valid[t[0] + len(t[1]):])
    splice = st.tuples(st.integers(0, n), st.sampled_from([b"\xff\xfe\x00", b"nan", b"inf", b"1e400", b"-5",
                                                           b"\x80\x81", b"\n\n", b"\x00" * 8])).map(
        lambda t: valid[:t[0]] + t[1] + valid[t[0]:])
    return st.one_of(cut, flip, splice, st.binary(max_size=256))


def check_parser(parser, path: Path, data: bytes) -> None:
    path.write_bytes(data)
    try:
        value = parser(path)
    except DeepSenseError as exc:
        assert str(path.name) in str(exc), exc                 # the error names the file
        return
    assert value is not None


@pytest.mark.parametrize("kind", sorted(PARSERS))
def test_file_parsers_return_a_value_or_a_deepsense_error(kind, seed, tmp_path):
    parser, name = PARSERS[kind]
    valid = (seed / name).read_bytes()
    target = tmp_path / Path(name).name

    @FUZZ
    @given(mutated(valid))
    def run(data):
        check_parser(parser, target, data)

    run()


CELLS = st.sampled_from(["nan", "NaN", "inf", "-inf", "1e308", "-1e308", "99999999999999999999", "", "abc",
                         "\udcff", "0", "-1", "3D", "[]", "['xx-yy']", "./missing.txt", "1.5"])


def test_scenario_csv_gives_frames_or_a_deepsense_error(seed, tmp_path):
    csv = next(seed.glob("*.csv"))
    rows = csv.read_text().splitlines()
    header = rows[0].split(",")
    work = tmp_path / "scenario"
    shutil.copytree(seed, work)
    target = work / csv.name

    @settings(max_examples=3500, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
    @given(st.lists(st.tuples(st.integers(1, len(rows) - 1), st.integers(0, len(header) - 1), CELLS),
                    max_size=4),
           st.lists(st.integers(0, len(header) - 1), max_size=2, unique=True),
           st.one_of(st.none(), st.integers(0, len("\n".join(rows)))),
           st.booleans())
    def run(edits, dropped, cut, latin1):
        table = [r.split(",") for r in rows]
        for row, col, value in edits:
            table[row][col] = value
        keep = [c for c in range(len(header)) if c not in dropped]
        text = "\n".join(",".join(r[c] for c in keep if c < len(r)) for r in table) + "\n"
        data = text.encode("utf-8", errors="surrogateescape")
        if latin1:
            data = data.replace(b"1", b"\xb9", 1)
        target.write_bytes(data[:cut] if cut is not None else data)
        try:
            for frame in ScenarioReader(work):
                assert frame.stamp_ns is not None
        except DeepSenseError as exc:
            assert target.name in str(exc) or "scenario" in str(exc), exc

    run()
