import numpy as np
import pytest

from beam_predictor.runtime.closed_loop import (ClosedLoopMetrics, FrameLedger, LoopSample, SimulatedArray,
                                                SimulatedWaveguide)
from beam_predictor.twin.config import PinchingConfig


def test_array_applies_codebook_weights_and_scores_mis_steering():
    arr = SimulatedArray(16)
    w = arr.apply(10)
    assert w.shape == (16,) and np.isclose(np.linalg.norm(w), 1.0)
    assert arr.gain_loss_db(10, 10) == pytest.approx(0.0)
    assert arr.gain_loss_db(12, 10) > arr.gain_loss_db(11, 10) > 0
    with pytest.raises(ValueError, match="codebook"):
        arr.apply(64)


def test_waveguide_optimal_codeword_beats_a_far_one():
    g = SimulatedWaveguide(PinchingConfig(), 60e9)
    k = len(g.codebook) // 2
    target = [g.cfg.start[0] + (k + 0.5) * g.cfg.length_m / len(g.codebook), g.cfg.target_y, g.cfg.target_z]
    assert g.gain_db(g.codebook[k], target) > g.gain_db(g.codebook[0], target) + 3
    with pytest.raises(ValueError, match="outside"):
        g.apply([-1.0, 2.0])


def test_waveguide_scores_a_command_with_blockage():
    g = SimulatedWaveguide(PinchingConfig(), 60e9)
    k = len(g.codebook) // 2
    gains = np.full(len(g.codebook), -90.0)
    gains[k], gains[k + 1] = -80.0, -300.0               # the best codeword, and one with every PA blocked
    target = [g.cfg.start[0] + (k + 1.5) * g.cfg.length_m / len(g.codebook), g.cfg.target_y, g.cfg.target_z]
    info = {"pass_codeword": str(k + 1), "ue_x": str(target[0]), "ue_y": str(target[1]),
            "ue_z": str(target[2]), "pass_gains_db": " ".join(f"{v:.2f}" for v in gains)}
    assert g.codeword(g.codebook[k + 1][::-1]) == k + 1
    assert g.pa_loss_db(g.codebook[k + 1], info) == pytest.approx(220.0)      # every PA blocked
    assert g.pa_loss_db(g.codebook[k], info) == 0.0
    off = g.codebook[k] + 0.001                                           # not a codeword: the LoS model
    assert g.pa_loss_db(off, info) == pytest.approx(g.gain_db(g.codebook[k], target) - g.gain_db(off, target))
    assert np.isnan(g.pa_loss_db(g.codebook[k], {}))


def test_metrics_summary_and_report(tmp_path):
    m = ClosedLoopMetrics()
    for i, (applied, optimal) in enumerate([(3, 3), (4, 3), (3, 3), (10, 3)]):
        m.record(LoopSample(i * 100_000_000, applied, optimal, applied == optimal,
                            abs(applied - optimal) <= 1,
                            float(abs(applied - optimal)), 0.0, float("nan"), 10.0 * (i + 1), 5.0))
    s = m.summary()
    assert s["frames"] == 4 and s["top1"] == 0.5 and s["top3"] == 0.75
    assert s["power_loss_mean_db"] == pytest.approx((0 + 1 + 0 + 7) / 4)
    assert s["e2e_p50_ms"] == pytest.approx(25.0)
    out = m.write_report(tmp_path / "r", {"frames_dropped": 0})
    assert (out / "frames.csv").read_text().count("\n") == 5
    assert (out / "closed_loop.png").stat().st_size > 0
    assert "frames_dropped" in (out / "summary.json").read_text()


def test_watchdog_warns_when_frames_come_without_commands_and_clears_when_they_return():
    from beam_predictor.runtime.closed_loop import CommandWatchdog
    w = CommandWatchdog(1.0, now=0.0, warmup_frames=3)
    for t in (5.0, 5.4, 5.8):                          # the replay starts long after the node: a slow
        w.frame(t)                                     # warm-up (3 frames over 1.2 s, 0.25x) is no outage
    assert w.check(6.2) is None
    w.command(6.2)
    w.frame(6.5)
    assert w.check(6.9) is None                        # within the timeout
    w.frame(7.4)
    silent, text = w.check(7.5)                        # frames, no command for 1.3 s
    assert silent and "no /bp/beam_command for 1.3 s" in text
    assert w.check(7.7) is None                        # said once
    w.command(8.5)
    w.frame(8.5)
    silent, text = w.check(8.6)
    assert not silent and "again after 2.4 s" in text
    assert w.check(20.0) is None                       # the replay ended: no frames, nothing to say
    for t in (30.0, 30.5, 31.0, 31.5):                 # a new pass: the warm-up again, then silence counts
        w.frame(t)
    assert w.check(31.9) is None
    w.frame(32.0)
    silent, text = w.check(32.6)                       # 1.1 s after the first frame past the warm-up
    assert silent and "for 1.1 s" in text


def feed(ledger: FrameLedger, stamps, seq: int, commanded) -> list:
    """Measured frames at ``stamps`` (s) of pass ``seq``; commands for those in ``commanded``; returns the
    keys scored."""
    done = []
    for t in stamps:
        ns = int(t * 1e9)
        ledger.info(ns, {"seq_index": str(seq)}, 0.0)
        key = ledger.power(ns, np.ones(4), 0.0)
        if t in commanded:
            ledger.command(ns, "cmd", 0.0, 1.0)
        if ledger.ready(key) is not None:
            ledger.mark_scored(key)
            done.append(key)
    return done


def test_ledger_matches_commands_by_stamp_and_counts_coverage():
    ledger = FrameLedger(match_window_s=5.0)
    stamps = [0.25 * i for i in range(10)]                      # 0 ... 2.25 s
    scored = feed(ledger, stamps, 0, set(stamps[3:8]))       # warm-up of 3, two dropped at the end
    assert [k[1] for k in scored] == [int(t * 1e9) for t in stamps[3:8]]
    assert ledger.ready(scored[0]) is None                     # scored once
    cov = ledger.coverage()
    assert cov["warmup_frames_per_pass"] == 3 and cov["frames_after_warmup"] == 7
    assert cov["commands_scored"] == 5 and cov["frames_dropped"] == 2 and cov["stamp_epochs"] == 1
    assert ledger.coverage(final=False)["frames_after_warmup"] == 3      # 0.75 ... 1.25 s; the rest in flight
    late = ledger.command(int(50e9), "cmd", 0.0, 1.0)                       # no frame of that stamp
    assert ledger.ready(late) is None and ledger.coverage()["commands_unmatched"] == 1


def test_stamps_that_jump_back_start_a_new_epoch_and_are_scored_again():
    ledger = FrameLedger(match_window_s=5.0)
    stamps = [10 + 0.1 * i for i in range(60)]                 # a 6 s pass, looped
    first = feed(ledger, stamps, 0, set(stamps[3:]))
    second = feed(ledger, stamps, 0, set(stamps[3:]))
    assert len(first) == len(second) == 57
    assert {k[0] for k in first} == {0} and {k[0] for k in second} == {1}
    cov = ledger.coverage()
    assert cov["stamp_epochs"] == 2 and cov["commands_scored"] == 114 and cov["frames_dropped"] == 0
    assert cov["warmup_frames_per_pass"] == 3                  # positions restart with the epoch
    assert len(ledger.truth) <= 52                             # forgotten beyond the match window


def test_refinement_applies_the_strongest_measured_candidate_and_scores_the_curve(tmp_path):
    from beam_predictor.runtime.closed_loop import loss_db, refine_beam, refine_curve
    power = np.full(64, 1.0)
    power[[5, 6, 7]] = [4.0, 10.0, 8.0]
    ranked = [7, 5, 6, 30]
    assert refine_beam(power, ranked, 0) == 7                 # K = 0: the prediction
    assert refine_beam(power, ranked, 1) == 7
    assert refine_beam(power, ranked, 3) == 6                 # the optimal one is the third candidate
    assert loss_db(power, 7) == pytest.approx(10 * np.log10(10 / 8))
    nan = power.copy()
    nan[6] = np.nan                                           # a lost measurement is skipped, not chosen
    assert refine_beam(nan, ranked, 3) == 7
    assert refine_beam(np.full(64, np.nan), ranked, 3) == 7   # nothing measured: the prediction
    curve = refine_curve(power, ranked, (0, 3, 5, 16))
    assert set(curve) == {0, 3}                               # K beyond the 4 candidates: left out
    assert curve[3] == 0.0 and curve[0] > 0
    m = ClosedLoopMetrics()
    for i in range(3):
        m.record(LoopSample(i, 7, 6, False, True, curve[0], 0.0, float("nan"), 1.0, 1.0), curve)
    rows = {c["k"]: c for c in m.summary()["refine_curve"]}
    assert rows[3]["power_loss_mean_db"] == 0.0 and rows[3]["overhead"] == pytest.approx(3 / 64)
    assert rows[0]["optimal_share"] == 0.0 and rows[3]["frames"] == 3
    out = m.write_report(tmp_path / "r")
    assert (out / "refine.csv").read_text().splitlines()[0].startswith("k,overhead")
