"""Convert a DeepSense scenario folder into a rosbag2 (mcap by default, or sqlite3).

The bag is written under a temporary sibling path and renamed into place only when
every frame has been written, so a failed or interrupted conversion never leaves a
partial bag behind.  Message timestamps equal the header stamps (the CSV time).
"""
from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
from tqdm import tqdm

from beam_predictor import contract as C
from beam_predictor.atomic import partial_dir, replace_dir
from beam_predictor.bag.integrity import seal
from beam_predictor.bag.messages import (PASS_LINKS_KEY, PASS_PAS_KEY, encode_array, frame_to_messages,
                                         navsat_msg, tf_static_msg, typestore)
from beam_predictor.deepsense.errors import DeepSenseError
from beam_predictor.deepsense.reader import ReaderConfig, ReadReport, ScenarioReader

STORAGES = ("mcap", "sqlite3")


@dataclass(frozen=True)
class ConvertConfig:
    """Scenario -> bag conversion (config/convert.yaml)."""

    storage: str = "mcap"
    reader: ReaderConfig = field(default_factory=ReaderConfig)


@dataclass
class ConvertResult:
    bag: Path
    frames: int
    messages: int
    seconds: float
    report: ReadReport


def rosbags_qos(qos: C.QoS):
    """The contract QoS as rosbags' offered-QoS record (stored in the bag metadata)."""
    from rosbags.interfaces import (Qos, QosDurability, QosHistory, QosLiveliness,
                                    QosReliability, QosTime)
    zero = QosTime(0, 0)
    return Qos(history=QosHistory.KEEP_LAST, depth=qos.depth,
               reliability=(QosReliability.RELIABLE if qos.reliability == "reliable"
                            else QosReliability.BEST_EFFORT),
               durability=(QosDurability.TRANSIENT_LOCAL if qos.durability == "transient_local"
                           else QosDurability.VOLATILE),
               deadline=zero, lifespan=zero, liveliness=QosLiveliness.AUTOMATIC,
               liveliness_lease_duration=zero, avoid_ros_namespace_conventions=False)


class BagSink:
    """Write contract messages to a rosbags Writer, adding each topic's connection lazily."""

    def __init__(self, writer):
        self.writer = writer
        self.store = typestore()
        self.connections: dict[str, object] = {}
        self.count = 0

    def write(self, topic: C.Topic, msg, stamp_ns: int) -> None:
        conn = self.connections.get(topic.name)
        if conn is None:
            conn = self.writer.add_connection(topic.name, topic.msgtype, typestore=self.store,
                                              offered_qos_profiles=[rosbags_qos(topic.qos)])
            self.connections[topic.name] = conn
        self.writer.write(conn, stamp_ns, self.store.serialize_cdr(msg, topic.msgtype))
        self.count += 1


@lru_cache(maxsize=4)
def _pas_grid(root: Path) -> str:
    """The PA counts of a twin's stored PASS links (config.pinching.pas_grid of its twin_meta.json)."""
    from beam_predictor.physics.site import TWIN_META
    meta = root / TWIN_META
    try:
        grid = json.loads(meta.read_text())["config"]["pinching"]["pas_grid"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DeepSenseError(f"a scenario with unit1_pass_mu needs its twin's pinching.pas_grid ({exc})",
                             file=meta) from exc
    return " ".join(str(int(p)) for p in grid)


def _embed_pass_links(frame, root: Path) -> None:
    """A multi-user twin's ``unit1_pass_mu`` file into the frame info (``pass_mu_links`` and the PA counts
    ``pass_mu_pas``), so a bag alone lets the beamformer score PASS commands."""
    cell = frame.extras.get("unit1_pass_mu", "").strip()
    if not cell:
        return
    frame.extras[PASS_PAS_KEY] = _pas_grid(root)
    try:
        frame.extras[PASS_LINKS_KEY] = encode_array(np.load(root / cell))
    except (OSError, ValueError) as exc:
        raise DeepSenseError(f"unreadable PASS links ({exc})", row=frame.index, file=root / cell,
                             field="unit1_pass_mu") from exc


def convert(scenario: str | Path, bag: str | Path, config: ConvertConfig | None = None,
            overwrite: bool = False, progress: bool = True) -> ConvertResult:
    """Convert ``scenario`` to the rosbag2 folder ``bag``; see the module docstring."""
    from rosbags.rosbag2 import StoragePlugin, Writer

    config = config or ConvertConfig()
    if config.storage not in STORAGES:
        raise ValueError(f"unknown storage '{config.storage}'; choose one of {STORAGES}")
    bag = Path(bag)
    if bag.exists() and not overwrite:
        raise FileExistsError(f"{bag} exists; pass overwrite=True (--overwrite) to replace it")
    reader = ScenarioReader(scenario, config.reader)
    # The storage file is named after the bag folder, so write <tmp>/<name> and move it.
    tmp = partial_dir(bag)
    plugin = StoragePlugin.MCAP if config.storage == "mcap" else StoragePlugin.SQLITE3
    start = time.perf_counter()
    frames = 0
    try:
        with Writer(tmp / bag.name, version=9, storage_plugin=plugin) as writer:
            writer.set_custom_data("beam_predictor.source", reader.csv_path.name)
            writer.set_custom_data("beam_predictor.schema", json.dumps(reader.schema.roles, sort_keys=True))
            sink = BagSink(writer)
            last_bs = None
            for frame in tqdm(reader, total=len(reader), desc=f"convert -> {bag.name}", unit="frame",
                              disable=not progress):
                if frames == 0:
                    sink.write(C.TF_STATIC, tf_static_msg(frame.stamp_ns), frame.stamp_ns)
                if frame.bs_latlon is not None and (last_bs is None or (frame.bs_latlon != last_bs).any()):
                    sink.write(C.BS_GPS, navsat_msg(frame.bs_latlon, float("nan"), frame.stamp_ns,
                                                    C.BS_GPS.frame_id), frame.stamp_ns)
                    last_bs = frame.bs_latlon
                _embed_pass_links(frame, reader.root)
                for topic, msg in frame_to_messages(frame):
                    sink.write(topic, msg, frame.stamp_ns)
                frames += 1
        if frames == 0:
            raise DeepSenseError("no frame could be converted", file=reader.csv_path)
        for mcap_file in (tmp / bag.name).glob("*.mcap"):
            seal(mcap_file)                    # a CRC on every chunk: damage is found, not read as data
        replace_dir(tmp / bag.name, bag)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return ConvertResult(bag=bag, frames=frames, messages=sink.count,
                         seconds=time.perf_counter() - start, report=reader.report)
