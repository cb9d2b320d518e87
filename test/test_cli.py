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


def test_sweep_on_a_real_layout_scenario_uses_the_64_measured_powers(tmp_path, capsys):
    cfg = tmp_path / "fixture.yaml"
    cfg.write_text("passes: 6\nframes_per_pass: 8\nimage_width: 64\nimage_height: 48\nlidar_points: 64\n")
    assert main(["fixture", str(tmp_path / "scen"), "--config", str(cfg), "--layout", "s9"]) == 0
    args = ["sweep", "--data", str(tmp_path / "scen"), "--model", "cnn_mlp", "--epochs", "2",
            "--out", str(tmp_path / "s.pt"), "--report", str(tmp_path / "rep")]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "16 -> 64 beams at the measurement's own noise" in out and "hc" in out and "pattern_fit" not in out
    rows = (tmp_path / "rep" / "results.csv").read_text().splitlines()
    assert [r.split(",")[0] for r in rows] == ["model", "cnn_mlp", "sparse_argmax", "hc"]
    assert main(args[:-4] + ["--checkpoint", str(tmp_path / "s.pt"), "--report", str(tmp_path / "rep2")]) == 0
    assert main(args + ["--fine", "256"]) == 2                 # only 64 powers are stored
    assert "must have 64 beams" in capsys.readouterr().err
    assert main(args + ["--fine", "100"]) == 2
    assert "not a multiple" in capsys.readouterr().err
    assert main(args + ["--snr", "5"]) == 2
    assert "SNR 5.0 dB is not in task.snr_grid_db" in capsys.readouterr().err
