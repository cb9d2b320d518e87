"""``beam-predictor``: the command-line entry point (one sub-command per job)."""
from __future__ import annotations

import argparse
import dataclasses
import sys
from collections import Counter
from pathlib import Path

from beam_predictor.config import ConfigError, config_path, load_config


def _cmd_fixture(args) -> int:
    from beam_predictor.deepsense.fixture import FixtureConfig, write_fixture
    cfg = load_config(FixtureConfig, args.config or config_path("fixture.yaml"),
                      overrides={"layout": args.layout, "passes": args.passes,
                                 "frames_per_pass": args.frames_per_pass, "seed": args.seed})
    csv_path = write_fixture(args.out, cfg)
    print(f"fixture scenario: {csv_path} ({cfg.passes} passes x {cfg.frames_per_pass} frames, "
          f"layout {cfg.layout})")
    return 0


def _cmd_convert(args) -> int:
    from beam_predictor.bag.convert import ConvertConfig, convert
    from beam_predictor.bag.reader import inventory
    cfg = load_config(ConvertConfig, args.config or config_path("convert.yaml"),
                      overrides={"storage": args.storage})
    if args.skip_bad:
        cfg = dataclasses.replace(cfg, reader=dataclasses.replace(cfg.reader, skip_bad=True))
    result = convert(args.scenario, args.bag, cfg, overwrite=args.overwrite)
    rep = result.report
    print(f"wrote {result.frames} frames ({result.messages} messages) to {result.bag} "
          f"in {result.seconds:.1f} s ({result.frames / max(result.seconds, 1e-9):.1f} frames/s)")
    if rep.nan_power_rows:
        print(f"{len(rep.nan_power_rows)} row(s) had NaN power, relabelled with nanargmax: "
              f"{rep.nan_power_rows}")
    if rep.gps_missing_rows:
        print(f"{len(rep.gps_missing_rows)} row(s) without a UE fix (no file or a NaN fix), kept without GPS")
    if rep.label_mismatch_rows:
        print(f"{len(rep.label_mismatch_rows)} row(s) whose beam label differs from argmax + 1 "
              f"(label kept): {rep.label_mismatch_rows}")
    if rep.stamps_adjusted:
        print(f"{rep.stamps_adjusted} non-increasing time stamp(s) moved 1 ns after their predecessor")
    if rep.bad_rows:
        print(f"skipped {len(rep.bad_rows)} bad row(s):")
        for _, why in rep.bad_rows:
            print(f"  {why}")
    print(inventory(result.bag).format())
    return 0


def _cmd_site(args) -> int:
    from beam_predictor.deepsense.site import draft_site, scenario_site
    if args.action == "init":
        path, todo = draft_site(args.scenario, overwrite=args.overwrite)
        print(f"drafted {path}")
        print("fill in by hand (measured at the site): " + ", ".join(todo))
        return 0
    site = scenario_site(args.scenario)
    print(f"site of {args.scenario}: consistent with its data")
    for key, value in site.to_dict().items():
        print(f"  {key}: {value}")
    return 0


def _cmd_bag_repair(args) -> int:
    from beam_predictor.bag.integrity import repair
    result = repair(args.bag, args.out)
    kept = ", ".join(f"{t} {n}" for t, n in sorted(result.by_topic.items()))
    print(f"{args.out}: {result.messages} messages kept ({kept})")
    print("nothing was lost" if not result.damaged else f"lost: {result.describe()}")
    return 0


def _cmd_inventory(args) -> int:
    from beam_predictor.bag.reader import inventory
    print(inventory(args.bag).format())
    return 0


def _cmd_beams(args) -> int:
    """Best beam (argmax + 1) of each DeepSense power file given or found in folders."""
    from beam_predictor.deepsense import files
    from beam_predictor.deepsense.frame import best_beam
    paths: list[Path] = []
    for p in map(Path, args.paths):
        paths.extend(sorted(p.glob("*.txt")) if p.is_dir() else [p])
    counts: Counter = Counter()
    for path in paths:
        beam, nan = best_beam(files.read_power(path))
        counts[beam] += 1
        if args.verbose:
            print(f"{path.name}\t{beam}{'  (NaN entries)' if nan else ''}")
    print(f"{len(paths)} power files; best beam (1-based) : count")
    for beam, n in sorted(counts.items()):
        print(f"  {beam:>3} : {n}")
    return 0


def _cmd_twin(args) -> int:
    from beam_predictor.twin.config import TwinConfig
    from beam_predictor.twin.generate import generate
    cfg = load_config(TwinConfig, args.config or config_path("twin.yaml"),
                      overrides={"passes": args.passes, "seed": args.seed})
    summary = generate(args.out, cfg, overwrite=args.overwrite, workers=args.workers, address=args.address)
    stages = summary["stage_seconds"]
    print(f"twin scenario: {args.out}: {summary['frames']} frames in {summary['passes']} passes, "
          f"{summary['seconds']:.1f} s ({summary['frames_per_second']:.2f} frames/s, "
          f"{summary['workers']} worker(s), {summary['backend']})")
    busy = sum(stages.values()) or 1.0
    print("time by stage (summed over workers): " + ", ".join(
        f"{k} {v:.1f} s ({100 * v / busy:.0f}%)" for k, v in sorted(stages.items(), key=lambda kv: -kv[1])))
    return 0


def _cmd_twin_gps(args) -> int:
    from beam_predictor.twin.variants import regps
    r = regps(args.source, args.out, args.preset, overwrite=args.overwrite)
    print(f"twin scenario: {args.out}: {r['frames']} frames in {r['passes']} passes with GPS preset "
          f"'{r['preset']}' ({r['no_fix_files']} frames without a fix file); sensor files linked from "
          f"{args.source}")
    return 0


def _split_cfg(args):
    """The split rules (config/splits.yaml), with ``--splits FILE`` as the explicit split file."""
    from beam_predictor.deepsense.splits import SplitConfig
    return load_config(SplitConfig, config_path("splits.yaml"), overrides={"file": args.splits})


def _cmd_pretrain(args) -> int:
    from beam_predictor.sensing.config import SensingConfig
    from beam_predictor.sensing.dataset import prepare
    from beam_predictor.sensing.pretrain import PretrainConfig, save_checkpoint, train_modality, write_report
    sensing = load_config(SensingConfig, args.sensing or config_path("sensing.yaml"))
    cfg = dataclasses.replace(load_config(PretrainConfig, args.config or config_path("pretrain.yaml"),
                                          overrides={"epochs": args.epochs}), sensing=sensing)
    data = prepare(args.data, sensing, cfg.modalities, cache_dir=args.cache, split_cfg=_split_cfg(args))
    out, metrics, histories = Path(args.out), [], {}
    for modality in cfg.modalities:
        model, m, hist = train_modality(data, modality, cfg)
        save_checkpoint(out / f"encoder_{modality}.pt", model, modality, cfg, data, m)
        metrics.append(m)
        histories[modality] = hist
    write_report(Path(args.report), metrics, histories)
    print(f"{'modality':<8}{'params':>11}{'train':>7}{'test':>6}{'missing':>8}{'Top-1':>8}{'Top-3':>8}"
          f"{'train s':>9}")
    for m in metrics:
        print(f"{m['modality']:<8}{m['params']:>11,}{m['train_frames']:>7}{m['test_frames']:>6}"
              f"{m['missing_frames']:>8}{100 * m['test_top1']:>7.1f}%{100 * m['test_top3']:>7.1f}%"
              f"{m['train_seconds']:>9.1f}")
    print(f"checkpoints: {out}; report: {args.report}")
    return 0


def _cmd_features(args) -> int:
    from beam_predictor.sensing.features import encode, prepare_for_encoders
    ckpts = {p.stem.split("_", 1)[1]: p for p in sorted(Path(args.encoders).glob("encoder_*.pt"))}
    if not ckpts:
        raise ConfigError(f"{args.encoders}: no encoder_<modality>.pt checkpoint")
    data = prepare_for_encoders(args.data, ckpts, cache_dir=args.cache)
    for modality, ckpt in ckpts.items():
        feats = encode(data, modality, ckpt, args.data, cache_dir=args.cache)
        print(f"{modality:<6} features {feats.features.shape} missing {int(feats.missing.sum())} "
              f"encoder version {feats.version} ({ckpt})")
    return 0


def _cmd_detector(args) -> int:
    import csv
    import shutil

    from beam_predictor.deepsense.site import scenario_site
    from beam_predictor.deepsense.splits import pass_splits
    from beam_predictor.sensing.detector import (DetectorConfig, evaluate_detector, setup_offline,
                                                 train_detector, write_yolo_dataset)
    from beam_predictor.sensing.track_eval import evaluate_tracking
    from beam_predictor.sensing.tracker import CameraModel, UETracker
    cfg = load_config(DetectorConfig, args.config or config_path("detector.yaml"),
                      overrides={"epochs": args.epochs})
    setup_offline(args.build)
    splits = pass_splits(args.data, _split_cfg(args))
    data_yaml = write_yolo_dataset(args.data, Path(args.build) / "yolo_dataset", cfg, splits)
    out = Path(args.out)
    if args.weights:                       # evaluate given weights, no training
        out = Path(args.weights)
    else:
        best = train_detector(data_yaml, cfg, Path(args.build) / "yolo_runs" / "detector")
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(best, out)
    det = evaluate_detector(out, data_yaml, cfg, split="test")
    tracker = UETracker(out, CameraModel(scenario_site(args.data)), cfg.conf, cfg.tracker, cfg.imgsz)
    trk = evaluate_tracking(args.data, tracker, splits, split="test")
    report = Path(args.report)
    report.mkdir(parents=True, exist_ok=True)
    with open(report / "detector.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["metric", "value"])
        w.writerows(sorted({**det, **trk}.items()))
    print(f"weights: {out} ({out.stat().st_size / 1e6:.1f} MB)")
    print(f"test passes: mAP50 {det['map50']:.3f}, mAP50-95 {det['map50_95']:.3f}, "
          f"precision {det['precision']:.3f}, recall {det['recall']:.3f}")
    print(f"UE association accuracy {100 * trk['ue_association_accuracy']:.1f} % of "
          f"{trk['ue_visible_frames']} visible frames (IoU >= 0.5); lost reported for "
          f"{100 * trk['lost_when_hidden']:.1f} % of {trk['hidden_frames']} hidden frames")
    print(f"tracker latency per frame: p50 {trk['latency_p50_ms']:.1f} ms, "
          f"p99 {trk['latency_p99_ms']:.1f} ms")
    return 0


def _frame_table(args, cfg):
    """The scenario's frame table for ``cfg``: encoder features, the live tracker's boxes, fixes, labels."""
    from beam_predictor.model.data import load_frame_table
    from beam_predictor.runtime.config import tracker_settings
    tracker = tracker_settings(args.params_file) if cfg.inputs.box else None
    return load_frame_table(args.data, args.encoders, cfg.feature_modalities, tracker, cache_dir=args.cache,
                            split_cfg=_split_cfg(args), feature_dim=cfg.fusion.feature_dim,
                            images=cfg.needs_image)


def _print_results(results) -> None:
    print(f"{'':<24}{'Top-1':>7}{'Top-3':>7}{'Top-5':>7}{'loss dB':>9}{'LoS-in':>8}{'LoS-out':>8}{'NLoS':>7}")
    for r in results:
        m = r.metrics
        cats = "".join(f"{100 * m[k]:>7.1f}%" if k in m else f"{'–':>8}"
                       for k in ("los_in_top1", "los_out_top1", "nlos_top1"))
        print(f"{r.model + ' ' + (r.task if r.task != 'standard' else ''):<24}{100 * m['top1']:>6.1f}%"
              f"{100 * m['top3']:>6.1f}%{100 * m['top5']:>6.1f}%{m['power_loss_mean_db']:>9.2f}{cats}")


def _cmd_train(args) -> int:
    from beam_predictor.model import checkpoint
    from beam_predictor.model.config import ModelConfig, with_overrides
    from beam_predictor.model.pipeline import evaluate_anchors, train_and_evaluate
    from beam_predictor.model.report import write_report
    cfg = load_config(ModelConfig, args.config or config_path("model.yaml"))
    over = {"train": {k: v for k, v in (("epochs", args.epochs), ("seed", args.seed),
                                        ("data_ratio", args.data_ratio)) if v is not None}}
    cfg = with_overrides(cfg, over, "command line")
    table = _frame_table(args, cfg)
    run = train_and_evaluate(cfg, table)
    anchors = evaluate_anchors(table, cfg)
    meta = checkpoint.CheckpointMeta(pa_codebook=table.pa_codebook, encoder_versions=table.encoder_versions,
                                     metrics=run.result.metrics, fixed_codeword=run.fixed_codeword,
                                     site=table.site, box_version=table.box_version,
                                     image_prep=table.image_prep)
    path = checkpoint.save(args.out, run.model, meta, dtype=args.dtype)
    write_report(args.report, [run.result] + anchors)
    m = run.result.metrics
    print(f"{run.model.source}; trainable {m['trainable_params']:,} of "
          f"{m['total_params']:,} parameters; trained in {m['train_seconds']:.0f} s "
          f"(kept epoch {m['kept_epoch']})")
    offsets = f"future offsets 1..{cfg.task.horizon}" if cfg.task.horizon else "offset 0 (the current beam)"
    print(f"test windows {m['windows']}, {offsets}:")
    _print_results([run.result] + anchors)
    print(f"checkpoint: {path} ({path.stat().st_size / 1e6:.1f} MB); report: {args.report}")
    return 0


def _cmd_pass(args) -> int:
    """Paper 003: train LLM-PASS for one or several users on a multi-user twin; the baselines on the
    same test frames; results.json and a printed summary."""
    import json
    from dataclasses import replace
    from beam_predictor.model.pass_config import PassConfig
    from beam_predictor.model.pass_data import load_pass_set
    from beam_predictor.model.pass_train import run_pass
    from beam_predictor.runtime.config import tracker_settings
    cfg = load_config(PassConfig, args.config or config_path("pass.yaml"))
    for key, value in (("users", args.users), ("num_pas", args.num_pas)):
        if value is not None:
            cfg = replace(cfg, **{key: value})
    if args.epochs is not None:
        cfg = replace(cfg, train=replace(cfg.train, adapter_epochs=args.epochs, lora_epochs=args.epochs))
    if args.lora_experts is not None:
        cfg = replace(cfg, net=replace(cfg.net, lora_experts=args.lora_experts))
    data = load_pass_set(args.data, cfg, tracker_settings(args.params_file), args.cache)
    result, model = run_pass(data, cfg)
    out = Path(args.report)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(result, indent=1))
    if args.save:
        import numpy as np
        from beam_predictor.model.pass_checkpoint import PassBundle, save_pass
        kept = {"scenario": data.name, "kept": result["kept"]}
        bundle = PassBundle(model, cfg, data.pinching, data.array, np.asarray(result["fixed"]), data.site,
                            kept)
        print(f"checkpoint: {save_pass(args.save, bundle)} ({bundle.description})")
    print(f"{data.name} test passes, {cfg.users} user(s), {cfg.num_pas} PAs per waveguide; backbone: "
          f"{result['backbone']}; {result['frames']} frames, fallback {100 * result['fallback']:.1f} % "
          "of users")
    if cfg.users == 1:
        for name, r in result["methods"].items():
            print(f"  {name:>16}: Top-1 {100 * r['top1']:5.1f} %  mean gain {r['gain_db']:7.2f} dB  "
                  f"({r['probes']} probes at {cfg.link.probe_snr_db:g} dB)")
        print(f"  gain of llm_probe over conventional at {cfg.link.probes} probes: "
              f"{result['gain_over_conventional_pct']:+.1f} %")
    else:
        row = next(r for r in result["sum_rate_curve"] if r["power_dbm"] == cfg.link.tx_power_dbm)
        for name in ("llm", "llm_probe", "conventional", "conventional_all", "geometry", "fixed",
                     "massive_mimo", "oracle"):
            top1 = result["top1"].get(name)
            print(f"  {name:>16}: sum rate {row[name]:6.2f} bit/s/Hz at {cfg.link.tx_power_dbm:g} dBm, "
                  f"served {100 * row[name + '_served']:5.1f} %"
                  + (f", Top-1 {100 * top1:5.1f} % of users" if top1 is not None else "")
                  + f", min power {result['min_power'][name]['median_dbm']:5.1f} dBm")
    print(f"report: {out / 'results.json'}")
    return 0


def _cmd_pass_codebook(args) -> int:
    """Paper 003, eqs. 26-27: the generated PASS codebook, fit on a multi-user twin's training frames (their
    GPS fixes), written into a twin config that builds the same twin with it."""
    import json
    from dataclasses import replace

    import yaml

    from beam_predictor.config import from_mapping, read_yaml, to_mapping
    from beam_predictor.model.pass_config import PassConfig
    from beam_predictor.model.pass_data import fix_world, load_pass_set
    from beam_predictor.physics import pass_system as ps
    from beam_predictor.physics.pass_codebook import generate_codebook
    from beam_predictor.runtime.config import tracker_settings
    from beam_predictor.twin.config import TwinConfig
    cfg = load_config(PassConfig, args.config or config_path("pass.yaml"))
    data = load_pass_set(args.data, cfg, tracker_settings(args.params_file), args.cache)
    doc = read_yaml(args.twin_config, "twin config")
    twin = from_mapping(TwinConfig, doc, str(args.twin_config))
    if to_mapping(replace(twin.pinching, codebook_positions={}, codebook_targets=())) != \
            to_mapping(replace(data.pinching, codebook_positions={}, codebook_targets=())):
        raise ConfigError(f"{args.twin_config}: its pinching section differs from {args.data}'s twin: the "
                          "codebook would be fit to other waveguides")
    train = data.split == "train"
    xyz, have = fix_world(data.inputs["pos"][train], data.inputs["pos_missing"][train], data.array)
    power, freq = float(ps.dbm_to_w(cfg.link.tx_power_dbm)), float(data.array["frequency_hz"])
    positions, records, targets = {}, [], None
    for pas in data.pas_grid:
        books, targets, record = generate_codebook(data.pinching, freq, pas, xyz, have, power,
                                                   data.noise_w, cfg.codebook, progress=True)
        positions[str(pas)] = books.round(7).tolist()
        records.append(record)
        print(f"{pas:>2} PAs: mean line-of-sight sum rate of the {record['frames']} training frames "
              f"(identity precoding, {cfg.link.tx_power_dbm:g} dBm): geometric "
              f"{record['objective_geometric']:.2f}, targets from the fixes "
              f"{record['objective_constructed']:.2f}, refined on the SINR "
              f"{record['objective_refined']:.2f} bit/s/Hz")
    doc.setdefault("pinching", {})
    doc["pinching"]["codebook_positions"] = positions
    doc["pinching"]["codebook_targets"] = targets.round(4).tolist()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    head = (f"# {args.twin_config} with the generated PASS codebook (beam-predictor pass-codebook --data "
            f"{args.data}); paper 003, eqs. 26-27.\n")
    out.write_text(head + yaml.safe_dump(doc, sort_keys=False, width=200))
    report = Path(args.report)
    report.mkdir(parents=True, exist_ok=True)
    (report / "codebook.json").write_text(json.dumps({"data": str(args.data), "records": records,
                                                      "config": to_mapping(cfg.codebook)}, indent=1))
    print(f"twin config: {out}\nreport: {report / 'codebook.json'}")
    return 0


def _cmd_sweep(args) -> int:
    """Paper 004: train one sparse-sweep predictor (or evaluate a checkpoint) and score the anchors on the
    same test frames; CSV + training-curve PNG in the report folder."""
    import csv
    from dataclasses import replace
    from beam_predictor.model.sweep import load_sweep_set
    from beam_predictor.model.sweep_config import SweepConfig, SweepTask, check_snr
    from beam_predictor.model.sweep_train import (anchor_results, evaluate_sweep, load_sweep, save_sweep,
                                                  train_sweep)
    from beam_predictor.runtime.closed_loop import pyplot
    cfg = load_config(SweepConfig, args.config or config_path("sweep.yaml"))
    task = {k: v for k, v in (("fine_beams", args.fine), ("snr_db", args.snr)) if v is not None}
    if task:
        cfg = replace(cfg, task=SweepTask(**{**dataclasses.asdict(cfg.task), **task}))
    if args.model:
        cfg = replace(cfg, net=replace(cfg.net, kind=args.model))
    if args.epochs is not None:
        cfg = replace(cfg, train=replace(cfg.train, epochs=args.epochs))
    data = load_sweep_set(args.data)
    if args.checkpoint:
        run = load_sweep(args.checkpoint)
        check_snr(cfg.task.snr_db, run.cfg.task.snr_grid_db)
        cfg = replace(run.cfg, task=replace(run.cfg.task, snr_db=cfg.task.snr_db))
        print(f"loaded {args.checkpoint}: {cfg.net.kind}, 16 -> {cfg.task.fine_beams} beams")
    else:
        run = train_sweep(cfg, data)
        path = save_sweep(run, args.out)
        print(f"trained {cfg.net.kind} (kept epoch {run.best_epoch} of {cfg.train.epochs}): {path}")
    snr = f"{cfg.task.snr_db:g} dB" if data.has_channel else "the measurement's own noise"
    rows = [{"model": cfg.net.kind, "beams_measured": cfg.task.coarse_beams,
             **evaluate_sweep(run, cfg, data)}]
    rows += [{"model": k, **v} for k, v in anchor_results(cfg, data).items()]
    out = Path(args.report)
    out.mkdir(parents=True, exist_ok=True)
    with (out / "results.csv").open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    print(f"{data.name} test passes, {cfg.task.coarse_beams} -> {cfg.task.fine_beams} beams at {snr}:")
    for r in rows:
        print(f"  {r['model']:>14}: Top-1 {100 * r['top1']:5.1f} %  Top-3 {100 * r['top3']:5.1f} %  "
              f"loss {r['power_loss_db']:.2f} dB  "
              + (f"rate {r['rate']:.2f} bit/s/Hz  " if r["rate"] == r["rate"] else "")
              + f"({r['beams_measured']} beams measured, {r['frames']} frames, {r['masked']} masked)")
    if run.history:
        plt = pyplot()
        fig, ax = plt.subplots(figsize=(6, 4))
        ax.plot([h["epoch"] for h in run.history], [100 * h["val_top1"] for h in run.history])
        ax.set_xlabel("epoch")
        ax.set_ylabel("validation Top-1 (%)")
        fig.tight_layout()
        fig.savefig(out / "training.png", dpi=110)
        plt.close(fig)
    print(f"report: {out}")
    return 0


def _cmd_evaluate(args) -> int:
    from beam_predictor.model import checkpoint
    from beam_predictor.model.data import make_windows, select_passes
    from beam_predictor.model.pipeline import inputs_of, silence
    from beam_predictor.model.report import RunResult, evaluate, write_report
    model, meta = checkpoint.load(args.checkpoint)
    cfg = model.cfg
    print(f"loaded {args.checkpoint}: {meta.backbone_source}")
    table = _frame_table(args, cfg)
    stale = {m: v for m, v in table.encoder_versions.items() if meta.encoder_versions.get(m, v) != v}
    if stale:
        print(f"warning: encoders differ from the ones the checkpoint was trained on: {sorted(stale)}")
    if meta.site is not None and table.site is not None and meta.site.radio != table.site.radio:
        print(f"warning: the checkpoint was trained at another site ({meta.site}); {args.data} is at "
              f"{table.site}")
    w = make_windows(table, cfg, select_passes(table, args.split))
    if args.closed_loop:
        return _compare_online(model, w, Path(args.closed_loop))
    results = []
    for drop in [()] + ([(m,) for m in inputs_of(cfg)] if args.each_missing else []):
        silenced = silence(w, cfg.feature_modalities, drop)
        metrics, per_step = evaluate(model, silenced, meta.fixed_codeword)
        label = "all present" if not drop else f"without {drop[0]}"
        results.append(RunResult(cfg.name, label, metrics, per_step))
        print(f"{label:<20} Top-1 {100 * metrics['top1']:5.1f} %  Top-3 {100 * metrics['top3']:5.1f} %  "
              f"Top-5 {100 * metrics['top5']:5.1f} %  power loss {metrics['power_loss_mean_db']:.2f} dB")
    write_report(args.report, results)
    print(f"report: {args.report}")
    return 0


def _compare_online(model, w, report: Path) -> int:
    """Offline Top-1 of the applied beam (offset 0) on the frames the live graph commanded."""
    from beam_predictor.runtime.closed_loop import compare_with_offline
    c = compare_with_offline(model, w, report)
    how = f", refined over the top {c['refine_k']}" if c["refine_k"] else ""
    print(f"on the {c['frames']} frames the live graph commanded (of {c['commanded']}: the last T frames of "
          f"a pass have no offline window, their future is not in the data); offset 0, the applied "
          f"beam{how}:")
    print(f"  offline Top-1 {100 * c['offline_top1']:.1f} % (beam-predictor evaluate, same checkpoint)")
    print(f"  online  Top-1 {100 * c['online_top1']:.1f} % (closed loop, {report})")
    print(f"  the applied beam differs from the offline top-1 on {c['differ']} of them")
    return 0


def _cmd_export(args) -> int:
    """The ONNX Runtime exports the graph's model nodes serve, built now (they are cached under
    $ROS_HOME/beam_predictor/onnx; a node builds a missing one at configure)."""
    from beam_predictor.runtime.graph import LAUNCH_ARGUMENTS, build_graph
    from beam_predictor.runtime.online import OnlinePredictor
    from beam_predictor.sensing.beam_history import POWER_MODALITIES
    from beam_predictor.sensing.online import OnlineEncoder, encoder_checkpoint
    from beam_predictor.sensing.tracker import UETracker
    specs = build_graph({k: getattr(args, k) for k in LAUNCH_ARGUMENTS if hasattr(args, k)}, args.config)
    for s in specs:
        p = s.parameters
        if s.name == "yolo_tracker":
            print(f"{s.name}: {UETracker(p['weights'], None, imgsz=p['imgsz'], runtime='onnxruntime').onnx}")
        elif s.module.endswith(".encoder_node"):
            for modality in p["modality"].split(","):
                if modality not in POWER_MODALITIES:
                    enc = OnlineEncoder(modality, encoder_checkpoint(modality, p["checkpoint"]),
                                        runtime="onnxruntime")
                    print(f"{s.name} ({modality}): {enc.session.path}")
        elif s.name == "llm_fusion":
            pred = OnlinePredictor(p["checkpoint"], runtime=p["runtime"], site=p["site"])
            print(f"{s.name}: " + (str(pred.session.path) if pred.session is not None else
                                   f"served by torch ({pred.description})"))
    return 0


def _cmd_launch(args) -> int:
    import json
    from beam_predictor.runtime.graph import LAUNCH_ARGUMENTS, build_graph
    from beam_predictor.runtime.runner import GraphRunner
    specs = build_graph({k: getattr(args, k) for k in LAUNCH_ARGUMENTS}, args.config)
    runner = GraphRunner(specs, args.logs, namespace=args.namespace, echo=("beamformer",))
    for s in runner.skipped:
        print(f"not started here ({s.package} is not installable; `ros2 launch` starts it): {s.name}")
    names = ", ".join(s.name for s in runner.specs)
    print(f"starting {len(runner.specs)} nodes (logs in {args.logs}): {names}")
    codes = runner.run(duration=args.duration)
    bad = {n: c for n, c in codes.items() if c not in (0, -2, 130)}
    from beam_predictor.config import output_dir
    report = output_dir(next(s.parameters["report"] for s in specs if s.name == "beamformer"),
                        "closed_loop") / "summary.json"
    ran = {s.name for s in runner.specs}
    if report.is_file():
        m = json.loads(report.read_text())
    if report.is_file() and "llm_fusion" in ran:
        print(f"\nclosed loop over {m.get('frames', 0)} commanded frames "
              f"({m.get('frames_after_warmup', 0)} after "
              f"warm-up of {m.get('warmup_frames_per_pass', 0)} frames per pass):")
        if m.get("frames"):
            print(f"  online Top-1 {100 * m['top1']:.1f} %, Top-3 {100 * m['top3']:.1f} %")
            print(f"  received-power loss {m['power_loss_mean_db']:.2f} dB mean, "
                  f"{m['power_loss_p95_db']:.2f} dB p95")
            print(f"  end-to-end latency p50 {m['e2e_p50_ms']:.1f} ms, p99 {m['e2e_p99_ms']:.1f} ms")
            for c in m.get("refine_curve", []):
                if c["k"] in (0, 3):
                    how = ("apply the prediction" if c["k"] == 0 else
                           f"measure the top {c['k']}, apply the best")
                    print(f"  K = {c['k']:<2} ({how}): power loss {c['power_loss_mean_db']:.2f} dB mean, "
                          f"{c['power_loss_p95_db']:.2f} dB p95, sweep overhead {100 * c['overhead']:.1f} % "
                          f"of a full sweep")
        print(f"  frames dropped {m.get('frames_dropped', 0)}")
    if report.is_file() and "llm_pass" in ran:
        p = m.get("pass", {})
        print(f"\nLLM-PASS closed loop over {p.get('frames', 0)} frames of {p.get('frames_measured', 0)} "
              f"replayed ({p.get('users', 0)} users):")
        if p.get("frames"):
            print(f"  MMSE sum rate {p['sum_rate_mean']:.2f} bit/s/Hz at {p['tx_power_dbm']:g} dBm, "
                  f"{100 * p['sum_rate_share_of_label']:.1f} % of the label's {p['label_sum_rate_mean']:.2f}")
            print(f"  codeword Top-1 {100 * p['top1']:.1f} % of users, served (min SINR) "
                  f"{100 * p['served']:.1f} %, fallback {100 * p['fallback']:.1f} %")
        print(f"  frames dropped {p.get('frames_dropped', 0)}")
    if report.is_file():
        print(f"report: {report.parent}")
    if bad:
        for n in bad:
            print(f"node {n} exited with {bad[n]}:\n{runner.tail(n)}", file=sys.stderr)
        return 1
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="beam-predictor", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("fixture", help="write a small fixture scenario in the DeepSense layout")
    p.add_argument("out", help="scenario folder to create")
    p.add_argument("--config", help="fixture YAML (default: the shipped config/fixture.yaml)")
    p.add_argument("--layout", choices=("s31", "s9", "s41"))
    p.add_argument("--passes", type=int)
    p.add_argument("--frames-per-pass", type=int)
    p.add_argument("--seed", type=int)
    p.set_defaults(func=_cmd_fixture)

    p = sub.add_parser("convert", help="convert a DeepSense scenario folder to a rosbag2")
    p.add_argument("scenario", help="scenario folder (with its CSV) or the CSV itself")
    p.add_argument("bag", help="rosbag2 folder to create")
    p.add_argument("--storage", choices=("mcap", "sqlite3"))
    p.add_argument("--config", help="convert YAML (default: the shipped config/convert.yaml)")
    p.add_argument("--skip-bad", action="store_true", help="skip bad rows and list them at the end")
    p.add_argument("--overwrite", action="store_true", help="replace an existing bag")
    p.set_defaults(func=_cmd_convert)

    p = sub.add_parser("twin", help="generate a DeepSense-format scenario from the ray-traced twin")
    p.add_argument("--config", help="twin YAML (default: the shipped config/twin.yaml)")
    p.add_argument("--out", required=True, help="scenario folder to create")
    p.add_argument("--passes", type=int)
    p.add_argument("--seed", type=int)
    p.add_argument("--workers", type=int, default=1,
                   help="Ray workers rendering passes in parallel (1: in this process)")
    p.add_argument("--address",
                   help="an existing Ray cluster (e.g. ray://head:10001); default: a local runtime")
    p.add_argument("--overwrite", action="store_true", help="replace an existing folder")
    p.set_defaults(func=_cmd_twin)

    p = sub.add_parser("twin-gps", help="a twin scenario with another GPS receiver preset (no re-rendering)")
    p.add_argument("source", help="a scenario folder written by beam-predictor twin")
    p.add_argument("--preset", required=True, help="rtk | standard | degraded (twin/gps.py)")
    p.add_argument("--out", required=True, help="scenario folder to create")
    p.add_argument("--overwrite", action="store_true", help="replace an existing folder")
    p.set_defaults(func=_cmd_twin_gps)

    p = sub.add_parser("pretrain", help="pre-train each modality's encoder on the current beam")
    p.add_argument("--data", required=True, help="scenario folder (see --splits)")
    p.add_argument("--config", help="pretrain YAML (default: the shipped config/pretrain.yaml)")
    p.add_argument("--sensing", help="sensing YAML (default: the shipped config/sensing.yaml)")
    p.add_argument("--epochs", type=int)
    p.add_argument("--out", default="models/encoders", help="checkpoint folder (shipped)")
    p.add_argument("--report", default="reports/pretrain", help="CSV + PNG report folder")
    p.add_argument("--cache", default="build/cache", help="preprocessed-input cache folder")
    p.add_argument("--splits", help="split file (seq_index, split) to use; default: the CSV's split column, "
                                    "else splits.csv beside it, else one drawn by config/splits.yaml")
    p.set_defaults(func=_cmd_pretrain)

    p = sub.add_parser("features", help="encode every frame with the pretrained encoders (cached)")
    p.add_argument("--data", required=True, help="scenario folder")
    p.add_argument("--encoders", default="models/encoders", help="folder of encoder_<modality>.pt")
    p.add_argument("--cache", default="build/cache", help="feature cache folder")
    p.set_defaults(func=_cmd_features)

    p = sub.add_parser("detector", help="train the YOLO detector on twin frames, evaluate the UE tracker")
    p.add_argument("--data", required=True, help="twin scenario folder (with YOLO labels and splits)")
    p.add_argument("--config", help="detector YAML (default: the shipped config/detector.yaml)")
    p.add_argument("--epochs", type=int)
    p.add_argument("--out", default="models/yolo_twin.pt", help="where the weights go (committed)")
    p.add_argument("--weights", help="evaluate these weights instead of training")
    p.add_argument("--build", default="build", help="work folder (dataset, runs, ultralytics config)")
    p.add_argument("--report", default="reports/detector", help="CSV report folder")
    p.add_argument("--splits", help="split file (seq_index, split) to use; default: the CSV's split column, "
                                    "else splits.csv beside it, else one drawn by config/splits.yaml")
    p.set_defaults(func=_cmd_detector)

    p = sub.add_parser("train", help="train a beam predictor (M2BeamLLM or a baseline) on cached features")
    p.add_argument("--data", required=True, help="scenario folder (see --splits)")
    p.add_argument("--config", help="model YAML (default: the shipped config/model.yaml)")
    p.add_argument("--encoders", default="models/encoders", help="folder of encoder_<modality>.pt")
    p.add_argument("--epochs", type=int)
    p.add_argument("--seed", type=int)
    p.add_argument("--data-ratio", type=float, help="fraction of training passes (few-shot)")
    p.add_argument("--out", default="checkpoints/model/m2beamllm.pt", help="checkpoint to write")
    p.add_argument("--params-file", help="ROS 2 parameters file whose yolo_tracker settings make the box "
                                         "series (default: the shipped config/v2i.params.yaml)")
    p.add_argument("--dtype", default="float32", choices=("float32", "float16"), help="stored weight type")
    p.add_argument("--report", default="reports/train", help="CSV + PNG report folder")
    p.add_argument("--cache", default="build/cache", help="feature cache folder")
    p.add_argument("--splits", help="split file (seq_index, split) to use; default: the CSV's split column, "
                                    "else splits.csv beside it, else one drawn by config/splits.yaml")
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("sweep", help="paper 004: predict the fine codebook's best beam from a sparse sweep "
                                     "(train one model, or --checkpoint; anchors on the same frames)")
    p.add_argument("--data", required=True, help="scenario folder (twin: stored channels; real: 64 powers)")
    p.add_argument("--config", help="sweep YAML (default: the shipped config/sweep.yaml)")
    p.add_argument("--model", help="net.kind: dual_auto, dual_gan, regnet, resnet, cnn_mlp, lstm")
    p.add_argument("--fine", type=int, help="fine codebook size (a multiple of the sparse sweep)")
    p.add_argument("--snr", type=float, help="SNR in dB (one of task.snr_grid_db)")
    p.add_argument("--epochs", type=int)
    p.add_argument("--checkpoint", help="evaluate this sweep checkpoint instead of training")
    p.add_argument("--out", default="checkpoints/sweep/sweep.pt", help="checkpoint to write")
    p.add_argument("--report", default="reports/sweep_run", help="CSV + PNG report folder")
    p.set_defaults(func=_cmd_sweep)

    p = sub.add_parser("pass", help="paper 003: LLM-PASS codeword selection for one or several users "
                                    "(trains, then the baselines on the same test frames)")
    p.add_argument("--data", required=True, help="multi-user twin scenario (make dataset-multiuser)")
    p.add_argument("--config", help="PASS YAML (default: the shipped config/pass.yaml)")
    p.add_argument("--users", type=int, help="users served at once (1: single user)")
    p.add_argument("--num-pas", type=int, help="PAs per waveguide (one of the twin's pinching.pas_grid)")
    p.add_argument("--epochs", type=int, help="epochs of each stage (adapters, LoRA)")
    p.add_argument("--lora-experts", type=int,
                   help="stage 2: 1 = one LoRA adapter; E > 1 = MoE-LoRA (eq. 43)")
    p.add_argument("--params-file", help="ROS 2 parameters file whose yolo_tracker settings make the boxes")
    p.add_argument("--cache", default="build/cache", help="box cache folder")
    p.add_argument("--report", default="reports/pass_run", help="results folder")
    p.add_argument("--save", help="write the kept model as an LLM-PASS checkpoint here (what the llm_pass "
                                  "node serves; models/llm_pass.pt is its default)")
    p.set_defaults(func=_cmd_pass)

    p = sub.add_parser("pass-codebook", help="paper 003, eqs. 26-27: the generated PASS codebook, fit on a "
                                             "multi-user twin's training fixes; writes a twin config with it")
    p.add_argument("--data", required=True, help="multi-user twin scenario (make dataset-multiuser)")
    p.add_argument("--twin-config", default=str(config_path("twin_multiuser.yaml")),
                   help="the twin config that built --data (the output is this config with the codebook)")
    p.add_argument("--out", required=True, help="twin YAML to write")
    p.add_argument("--config", help="PASS YAML (default: the shipped config/pass.yaml; its codebook section)")
    p.add_argument("--params-file", help="ROS 2 parameters file whose yolo_tracker settings make the boxes")
    p.add_argument("--cache", default="build/cache", help="box cache folder")
    p.add_argument("--report", default="reports/pass_codebook",
                   help="folder of the fit record (codebook.json)")
    p.set_defaults(func=_cmd_pass_codebook)

    p = sub.add_parser("evaluate", help="evaluate a predictor checkpoint on a split (CSV + PNG report)")
    p.add_argument("--checkpoint", default="models/m2beamllm.pt")
    p.add_argument("--data", required=True, help="scenario folder")
    p.add_argument("--encoders", default="models/encoders", help="folder of encoder_<modality>.pt")
    p.add_argument("--split", default="test", help="train, val, test or all")
    p.add_argument("--each-missing", action="store_true", help="also evaluate with each input silenced")
    p.add_argument("--closed-loop", help="a closed-loop report folder of `beam-predictor launch`: compare "
                                         "its online Top-1 with this checkpoint's offline Top-1 on the same "
                                         "frames")
    p.add_argument("--params-file", help="ROS 2 parameters file whose yolo_tracker settings make the box "
                                         "series (default: the shipped config/v2i.params.yaml)")
    p.add_argument("--report", default="reports/evaluate", help="CSV + PNG report folder")
    p.add_argument("--cache", default="build/cache", help="feature cache folder")
    p.add_argument("--splits", help="split file (seq_index, split) to use; default: the CSV's split column, "
                                    "else splits.csv beside it, else one drawn by config/splits.yaml")
    p.set_defaults(func=_cmd_evaluate)

    from beam_predictor.runtime.graph import LAUNCH_ARGUMENTS
    p = sub.add_parser("launch", help="start the V2I graph as processes (what `ros2 launch beam_predictor "
                                      "v2i.launch.py` starts)")
    for name, (default, doc) in LAUNCH_ARGUMENTS.items():
        p.add_argument(f"--{name.replace('_', '-')}", dest=name, default=default, help=doc)
    p.add_argument("--config", help="graph YAML (default: the shipped config/v2i.yaml)")
    p.add_argument("--logs", default="build/launch", help="one log file per node")
    p.add_argument("--duration", type=float, help="seconds to run without a bag (default: until Ctrl-C)")
    p.set_defaults(func=_cmd_launch)

    p = sub.add_parser("export", help="build the ONNX Runtime exports of the graph's models (what the nodes "
                                      "serve; cached under $ROS_HOME/beam_predictor/onnx)")
    for name in ("checkpoint", "params_file", "site", "runtime"):
        p.add_argument(f"--{name.replace('_', '-')}", dest=name, default=LAUNCH_ARGUMENTS[name][0],
                       help=LAUNCH_ARGUMENTS[name][1])
    p.add_argument("--config", help="graph YAML (default: the shipped config/v2i.yaml)")
    p.set_defaults(func=_cmd_export)

    p = sub.add_parser("site", help="draft a scenario's site.yaml (init), check it against its data (check)")
    p.add_argument("action", choices=("init", "check"))
    p.add_argument("scenario", help="scenario folder")
    p.add_argument("--overwrite", action="store_true", help="init: replace an existing site.yaml")
    p.set_defaults(func=_cmd_site)

    p = sub.add_parser("bag-repair", help="write a new bag from everything intact in a damaged or "
                                          "unindexed mcap bag (chunks failing their CRC and a cut-short tail "
                                          "are left out and reported; metadata.yaml rebuilt)")
    p.add_argument("bag", help="the damaged bag folder (its .mcap file is read, never changed)")
    p.add_argument("out", help="the new bag folder")
    p.set_defaults(func=_cmd_bag_repair)

    p = sub.add_parser("inventory", help="print a bag's topics, types and message counts")
    p.add_argument("bag")
    p.set_defaults(func=_cmd_inventory)

    p = sub.add_parser("beams", help="best beams of DeepSense 64-beam power files")
    p.add_argument("paths", nargs="+", help="power files or folders of them")
    p.add_argument("-v", "--verbose", action="store_true", help="one line per file")
    p.set_defaults(func=_cmd_beams)
    return parser


def main(argv: list[str] | None = None) -> int:
    from beam_predictor.bag.messages import MessageError
    from beam_predictor.bag.reader import BagError
    from beam_predictor.deepsense.errors import DeepSenseError
    from beam_predictor.model.checkpoint import CheckpointError
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (DeepSenseError, BagError, MessageError, ConfigError, CheckpointError, FileExistsError,
            FileNotFoundError) as exc:
        print(f"beam-predictor {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
