"""The beam-predictor command line: the demo's steps, and errors as exit code 2 with the location."""
from beam_predictor.cli import main


def test_fixture_convert_inventory(tmp_path, capsys):
    cfg = tmp_path / "fixture.yaml"
    cfg.write_text("passes: 1\nframes_per_pass: 4\nimage_width: 64\nimage_height: 48\nlidar_points: 64\n")
    assert main(["fixture", str(tmp_path / "scen"), "--config", str(cfg), "--layout", "s9"]) == 0
    assert main(["convert", str(tmp_path / "scen"), str(tmp_path / "bag"), "--storage", "sqlite3"]) == 0
    out = capsys.readouterr().out
    assert "wrote 4 frames" in out and "/bs/radar/cube" in out and "(sqlite3)" in out
    assert main(["inventory", str(tmp_path / "bag")]) == 0
    assert "/deepsense/frame_info" in capsys.readouterr().out


def test_convert_error_and_skip_bad(make_scenario, tmp_path, capsys):
    scenario = make_scenario("s31")
    (scenario / "unit2" / "GPS_data" / "gps_location_3.txt").write_text("oops\n")
    assert main(["convert", str(scenario), str(tmp_path / "bag")]) == 2
    err = capsys.readouterr().err
    assert "row 3" in err and "unit2_loc" in err and "gps_location_3.txt" in err
    assert not (tmp_path / "bag").exists()
    assert main(["convert", str(scenario), str(tmp_path / "bag"), "--skip-bad"]) == 0
    out = capsys.readouterr().out
    assert "skipped 1 bad row(s)" in out and "gps_location_3.txt" in out and "wrote 11 frames" in out
    assert "NaN power" in out


def test_beams(tmp_path, capsys):
    for i, peak in enumerate([5, 5, 9]):
        (tmp_path / f"mmWave_power_{i}.txt").write_text("".join(
            f"{1.0 if b == peak - 1 else 0.1}\n" for b in range(64)))
    assert main(["beams", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "3 power files" in out and "    5 : 2" in out and "    9 : 1" in out


def test_bad_config_is_reported(tmp_path, capsys):
    cfg = tmp_path / "fixture.yaml"
    cfg.write_text("passes: 1\nframes_per_pas: 4\n")
    assert main(["fixture", str(tmp_path / "scen"), "--config", str(cfg)]) == 2
    assert "frames_per_pas" in capsys.readouterr().err
