"""MCAP integrity: chunk CRCs written and checked, damaged bags repaired, metadata rebuilt.

rosbags' MCAP writer leaves every chunk's CRC at 0 ("not computed", which the MCAP spec
allows), so bytes flipped inside a chunk read back as data.  This module:

- :func:`seal` rewrites an MCAP file through the ``mcap`` library's writer, which stores the
  CRC-32 of every chunk; the converter seals every bag it writes.
- :func:`scan` walks a file record by record (mcap's ``StreamReader``, which needs no summary
  section, so it reads a truncated file up to the damage), checks each sealed chunk's CRC and
  counts the complete messages; a chunk whose CRC fails is reported and its messages are not
  counted, and the first record that cannot be read ends the scan (a truncated file).
- :func:`repair` writes a new bag folder from everything the scan keeps (every complete
  message of every intact chunk, sealed) with a fresh ``metadata.yaml``, and says what was
  lost: ``beam-predictor bag-repair``.  For a folder whose ``metadata.yaml`` is missing but
  whose .mcap is intact, this is ``ros2 bag reindex``.

The bag reader (:func:`beam_predictor.bag.reader.open_bag`) scans an MCAP bag before it
opens it and refuses a damaged one with what the scan found and the repair command, so no
corrupt or partial data is ever returned as if it were whole.  Written here because the
mcap library reads and writes records but has no salvage of this kind (its CLI's ``mcap
recover`` is a Go program, not on PyPI).
"""
from __future__ import annotations

import os
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import yaml

CHUNK_SIZE = 1 << 20            # rosbags' default


class IntegrityError(ValueError):
    """A file that cannot be scanned or repaired (names the file)."""


@dataclass
class Scan:
    path: Path
    messages: int = 0                        # complete messages in intact chunks (or unchunked)
    by_topic: dict = field(default_factory=dict)
    chunks: int = 0
    unsealed_chunks: int = 0                 # chunks without a CRC (cannot be checked)
    corrupt: list = field(default_factory=list)   # "chunk k (log time a..b ns, n bytes): reason"
    truncated: str = ""                      # why reading stopped early, "" when the file ended cleanly
    recorded: int | None = None              # messages the bag's metadata.yaml lists (repair)
    summary: bool = False                    # the footer and summary were reached

    @property
    def damaged(self) -> bool:
        return bool(self.corrupt or self.truncated)

    def describe(self) -> str:
        parts = [f"{self.messages} complete messages in {self.chunks} chunks"]
        if self.corrupt:
            parts.append(f"{len(self.corrupt)} chunk(s) fail their CRC: " + "; ".join(self.corrupt[:3])
                         + (" ..." if len(self.corrupt) > 3 else ""))
        if self.truncated:
            parts.append(f"the file is cut short ({self.truncated}): messages after that point are lost")
        if self.recorded is not None and self.recorded > self.messages:
            parts.append(f"{self.recorded - self.messages} of the {self.recorded} messages metadata.yaml "
                         "lists are lost")
        if self.unsealed_chunks:
            parts.append(f"{self.unsealed_chunks} chunk(s) carry no CRC and were not checked")
        return f"{self.path}: " + "; ".join(parts)


def _decompress(chunk) -> bytes:
    if chunk.compression == "":
        return chunk.data
    if chunk.compression == "zstd":
        import zstandard
        return zstandard.decompress(chunk.data, chunk.uncompressed_size)
    if chunk.compression == "lz4":
        import lz4.frame
        return lz4.frame.decompress(chunk.data)
    raise IntegrityError(f"chunk compression '{chunk.compression}' is not supported")


def _records(path: Path, scan: Scan, keep: list | None):
    """Scan ``path`` into ``scan``; with ``keep``, append every intact (record, channel) for a rewrite."""
    from mcap.exceptions import McapError
    from mcap.records import Channel, Chunk, DataEnd, Footer, Message, Metadata, Schema
    from mcap.stream_reader import StreamReader, breakup_chunk

    def take(rec) -> None:
        if isinstance(rec, Message):
            scan.messages += 1
            topic = channels.get(rec.channel_id, "?")
            scan.by_topic[topic] = scan.by_topic.get(topic, 0) + 1
        elif isinstance(rec, Channel):
            channels[rec.id] = rec.topic
        if keep is not None and isinstance(rec, (Schema, Channel, Message, Metadata)):
            keep.append(rec)

    channels: dict[int, str] = {}
    with path.open("rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        reader = StreamReader(fh, emit_chunks=True)
        try:
            for rec in reader.records:
                if isinstance(rec, Chunk):
                    scan.chunks += 1
                    where = (f"chunk {scan.chunks} (log time {rec.message_start_time}.."
                             f"{rec.message_end_time} ns, {len(rec.data)} bytes)")
                    try:
                        data = _decompress(rec)
                    except IntegrityError:
                        raise
                    except Exception as exc:
                        scan.corrupt.append(f"{where}: does not decompress ({exc})")
                        continue
                    if rec.uncompressed_crc == 0:
                        scan.unsealed_chunks += 1
                    elif zlib.crc32(data) != rec.uncompressed_crc:
                        scan.corrupt.append(f"{where}: CRC mismatch")
                        continue
                    try:
                        inner = breakup_chunk(rec)
                    except (McapError, ValueError, EOFError, struct.error) as exc:
                        scan.corrupt.append(f"{where}: records do not parse ({exc})")
                        continue
                    for r in inner:
                        take(r)
                elif isinstance(rec, (DataEnd, Footer)):
                    scan.summary = True
                    if isinstance(rec, Footer):
                        break
                else:
                    take(rec)
        except (McapError, ValueError, EOFError, OSError, MemoryError, struct.error) as exc:
            where = f"at byte {fh.tell()} of {size}" if fh.tell() < size else f"at its end ({size} bytes)"
            scan.truncated = f"a record breaks off {where}: {type(exc).__name__} {exc}".rstrip()
    if not scan.summary and not scan.truncated:
        scan.truncated = "no footer"
    return channels


def scan(path: str | Path) -> Scan:
    """What an MCAP file holds and whether it is whole (see the module docstring)."""
    path = Path(path)
    result = Scan(path)
    _records(path, result, None)
    return result


def _write(records, out: Path, chunk_size: int = CHUNK_SIZE) -> None:
    """Records (schemas, channels, messages, metadata in file order) into a sealed MCAP file."""
    from mcap.records import Channel, Message, Metadata, Schema
    from mcap.writer import CompressionType, Writer
    with out.open("wb") as fh:
        writer = Writer(fh, chunk_size=chunk_size, compression=CompressionType.NONE, enable_crcs=True)
        writer.start(profile="ros2", library="beam_predictor (mcap)")
        schemas, channels = {}, {}
        for rec in records:
            if isinstance(rec, Schema) and rec.id not in schemas:
                schemas[rec.id] = writer.register_schema(rec.name, rec.encoding, rec.data)
            elif isinstance(rec, Channel) and rec.id not in channels:
                channels[rec.id] = writer.register_channel(rec.topic, rec.message_encoding,
                                                           schemas.get(rec.schema_id, 0), dict(rec.metadata))
            elif isinstance(rec, Message) and rec.channel_id in channels:
                writer.add_message(channels[rec.channel_id], rec.log_time, rec.data, rec.publish_time,
                                   rec.sequence)
            elif isinstance(rec, Metadata):
                writer.add_metadata(rec.name, dict(rec.metadata))
        writer.finish()


def seal(path: str | Path, chunk_size: int = CHUNK_SIZE) -> None:
    """Rewrite an intact MCAP file with a CRC on every chunk (in place, atomically)."""
    path = Path(path)
    records: list = []
    result = Scan(path)
    _records(path, result, records)
    if result.damaged:
        raise IntegrityError(result.describe())
    tmp = path.with_name(f".{path.name}.seal{os.getpid()}")
    try:
        _write(records, tmp, chunk_size)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def _metadata(records, mcap_name: str, custom: dict) -> dict:
    """A rosbag2 (version 9) metadata.yaml for the messages of ``records``."""
    from mcap.records import Channel, Message, Schema
    schemas = {r.id: r for r in records if isinstance(r, Schema)}
    channels = {r.id: r for r in records if isinstance(r, Channel)}
    times = [r.log_time for r in records if isinstance(r, Message)]
    counts: dict[int, int] = {}
    for r in records:
        if isinstance(r, Message):
            counts[r.channel_id] = counts.get(r.channel_id, 0) + 1
    start = min(times, default=0)
    duration = (max(times) - start) if times else 0
    topics = []
    for cid, ch in channels.items():
        qos = yaml.safe_load(ch.metadata.get("offered_qos_profiles", "") or "[]") or []
        topics.append({"message_count": counts.get(cid, 0), "topic_metadata": {
            "name": ch.topic, "offered_qos_profiles": qos, "serialization_format": ch.message_encoding,
            "type": schemas[ch.schema_id].name if ch.schema_id in schemas else "",
            "type_description_hash": ch.metadata.get("type_description_hash", "")}})
    return {"rosbag2_bagfile_information": {
        "version": 9, "storage_identifier": "mcap", "compression_format": "", "compression_mode": "",
        "custom_data": custom, "ros_distro": "", "duration": {"nanoseconds": duration},
        "starting_time": {"nanoseconds_since_epoch": start}, "message_count": len(times),
        "relative_file_paths": [mcap_name], "topics_with_message_count": topics,
        "files": [{"path": mcap_name, "message_count": len(times), "duration": {"nanoseconds": duration},
                   "starting_time": {"nanoseconds_since_epoch": start}}]}}


def repair(bag: str | Path, out: str | Path) -> Scan:
    """Write the bag folder ``out`` from what is intact in ``bag``'s .mcap file (every complete message
    of every intact chunk, sealed) with a new metadata.yaml; returns the scan (what was lost)."""
    bag, out = Path(bag), Path(out)
    files = sorted(bag.glob("*.mcap"))
    if len(files) != 1:
        raise IntegrityError(f"{bag}: expected one .mcap file, found {[f.name for f in files]}")
    if out.exists():
        raise IntegrityError(f"{out} exists: give a new folder")
    records: list = []
    result = Scan(files[0])
    _records(files[0], result, records)
    custom = {}
    old = bag / "metadata.yaml"
    if old.is_file():
        try:
            info = (yaml.safe_load(old.read_text()) or {}).get("rosbag2_bagfile_information", {})
            custom, result.recorded = info.get("custom_data") or {}, info.get("message_count")
        except (yaml.YAMLError, AttributeError):
            custom = {}
    tmp = out.with_name(f".{out.name}.partial{os.getpid()}")
    tmp.mkdir(parents=True)
    try:
        name = f"{out.name}.mcap"
        _write(records, tmp / name)
        (tmp / "metadata.yaml").write_text(yaml.safe_dump(_metadata(records, name, custom), sort_keys=False))
        tmp.replace(out)
    finally:
        if tmp.exists():
            import shutil
            shutil.rmtree(tmp, ignore_errors=True)
    return result
