"""Read a rosbag2 (mcap or sqlite3) back into the typed frames of the scenario reader.

Messages are grouped into frames by header stamp.  Bags written by the converter
carry log time == header stamp; bags recorded live log a little after the stamp, so
a frame is emitted once the log time has passed its stamp by ``reorder_window_s``.
Topics outside the contract are skipped and listed in :attr:`BagFrameReader.skipped_topics`;
a contract topic with the wrong message type is an error naming the topic.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import yaml

from beam_predictor import contract as C
from beam_predictor.bag.messages import frame_from_messages, latlon, stamp_ns, typestore
from beam_predictor.deepsense.frame import Frame, Modality

TOPIC_MODALITY = {C.CAMERA.name: Modality.CAMERA, C.LIDAR.name: Modality.LIDAR,
                  C.RADAR.name: Modality.RADAR, C.POWER.name: Modality.POWER,
                  C.UE_GPS.name: Modality.GPS, C.BS_GPS.name: Modality.GPS,
                  **{t.name: Modality.POWER for t in C.ARRAY_POWER_TOPICS},
                  **{t.name: Modality.GPS for t in C.USER_GPS_TOPICS.values()}}


class BagError(ValueError):
    """A bag that cannot be read as a beam_predictor bag; names the bag and topic."""


@dataclass(frozen=True)
class BagInventory:
    path: Path
    storage: str
    topics: dict[str, tuple[str, int]]     # topic -> (message type, count)
    start_ns: int      # stamp of the first message
    last_ns: int       # stamp of the last message

    def format(self) -> str:
        lines = [f"bag {self.path} ({self.storage}), {(self.last_ns - self.start_ns) / 1e9:.2f} s"]
        width = max((len(t) for t in self.topics), default=5)
        for topic, (msgtype, count) in sorted(self.topics.items()):
            lines.append(f"  {topic:<{width}}  {count:>6}  {msgtype}")
        return "\n".join(lines)


REPAIR = "`beam-predictor bag-repair {bag} <new folder>` writes a bag of everything intact"
_CHECKED: dict[tuple, None] = {}        # (file, size, mtime) of MCAP files scanned whole in this process


def check_mcap(path: Path) -> None:
    """Refuse a bag folder whose MCAP file is damaged (a chunk failing its CRC, a file cut short), or
    whose metadata.yaml is missing, naming the damage and the repair command (module
    :mod:`beam_predictor.bag.integrity`).  Each file is scanned once per process."""
    from beam_predictor.bag.integrity import scan
    files = sorted(path.glob("*.mcap"))
    if not (path / "metadata.yaml").is_file():
        if files:
            raise BagError(f"{path}: no metadata.yaml beside {files[0].name}; " + REPAIR.format(bag=path)
                           + " (with the metadata rebuilt from the file, as `ros2 bag reindex`)")
        raise BagError(f"{path}: not a rosbag2 folder (no metadata.yaml)")
    for f in files:
        st = f.stat()
        key = (str(f.resolve()), st.st_size, st.st_mtime_ns)
        if key in _CHECKED:
            continue
        result = scan(f)
        if result.damaged:
            raise BagError(f"damaged bag: {result.describe()}; " + REPAIR.format(bag=path))
        _CHECKED[key] = None


def open_bag(path: Path):
    from rosbags.rosbag2 import Reader, ReaderError
    path = Path(path)
    check_mcap(path)
    try:
        reader = Reader(path)
        reader.open()
    except (ReaderError, OSError, KeyError, ValueError) as exc:
        raise BagError(f"{path}: cannot open bag ({exc})") from None
    return reader


def inventory(path: str | Path) -> BagInventory:
    """Topics, types and counts from the bag's metadata."""
    reader = open_bag(Path(path))
    try:
        topics: dict[str, tuple[str, int]] = {}
        for conn in reader.connections:
            _, count = topics.get(conn.topic, (conn.msgtype, 0))
            topics[conn.topic] = (conn.msgtype, count + conn.msgcount)
        meta = yaml.safe_load((Path(path) / "metadata.yaml").read_text())
        storage = meta.get("rosbag2_bagfile_information", {}).get("storage_identifier", "?")
        # rosbags' end_time is one past the last message.
        return BagInventory(Path(path), storage, topics, reader.start_time, reader.end_time - 1)
    finally:
        reader.close()


class BagFrameReader:
    """Iterate a bag's frames (same :class:`Frame` as the scenario reader)."""

    def __init__(self, path: str | Path, modalities=None, reorder_window_s: float = 0.5):
        self.path = Path(path)
        self.modalities = Modality.parse(modalities)
        self.window_ns = int(reorder_window_s * 1e9)
        self.skipped_topics: dict[str, str] = {}
        inv = inventory(self.path)
        for topic, (msgtype, _) in inv.topics.items():
            expected = C.BAG_TOPICS.get(topic)
            if expected is None:
                self.skipped_topics[topic] = msgtype
            elif expected.msgtype != msgtype:
                raise BagError(f"{self.path}: topic {topic} has type {msgtype}, "
                               f"the contract says {expected.msgtype}")
        self.inventory = inv

    def __len__(self) -> int:
        """Number of frames (FRAME_INFO messages, else the most frequent sensor topic)."""
        counts = {t: n for t, (_, n) in self.inventory.topics.items() if t in C.TOPICS_BY_NAME}
        if C.FRAME_INFO.name in counts:
            return counts[C.FRAME_INFO.name]
        return max((n for t, n in counts.items() if t != C.BS_GPS.name), default=0)

    def _wanted(self, topic: str) -> bool:
        if topic not in C.TOPICS_BY_NAME:
            return False
        mod = TOPIC_MODALITY.get(topic)
        return mod is None or mod in self.modalities

    def __iter__(self) -> Iterator[Frame]:
        store = typestore()
        reader = open_bag(self.path)
        pending: dict[int, dict[str, object]] = {}
        bs = None
        emitted = 0

        def emit(stamp: int) -> Frame:
            nonlocal emitted
            frame = frame_from_messages(pending.pop(stamp), stamp, emitted)
            frame.bs_latlon = bs
            emitted += 1
            return frame

        try:
            conns = [c for c in reader.connections if self._wanted(c.topic)]
            if not conns:          # rosbags reads every connection when given none
                return
            for conn, log_ns, raw in reader.messages(connections=conns):
                try:
                    msg = store.deserialize_cdr(raw, conn.msgtype)
                except Exception as exc:  # rosbags raises several types on corrupt CDR
                    raise BagError(f"{self.path}: topic {conn.topic} at {log_ns} ns: "
                                   f"undecodable message ({exc})") from None
                if conn.topic == C.BS_GPS.name:
                    bs = latlon(msg)
                    continue
                for ready in sorted(s for s in pending if s + self.window_ns < log_ns):
                    yield emit(ready)
                pending.setdefault(stamp_ns(msg), {})[conn.topic] = msg
            for ready in sorted(pending):
                yield emit(ready)
        finally:
            reader.close()
