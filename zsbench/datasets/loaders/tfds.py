"""VTAB tasks read from prepared TFDS folders without TensorFlow.

A TFDS ``data_dir`` holds ``<name>/<version>/`` with ``dataset_info.json``, ``label.labels.txt`` (class names) and
shards ``<name>-<split>.tfrecord-<i>-of-<n>``. Each shard is TFRecord framing (``uint64 length``, ``uint32
masked crc32c(length)``, payload, ``uint32 masked crc32c(payload)``) around a ``tf.train.Example`` protobuf, which
is parsed here by hand from the wire format. Records are read lazily; the index only reads the headers and labels.

VTAB splits (``task_adaptation``, which CLIP_benchmark calls), ``test`` in each case:

* ``vtab/flowers`` (``oxford_flowers102``): the TFDS ``test`` split as is (6149 images);
* ``vtab/resisc45`` (``resisc45``, one TFDS ``train`` split of 31500): ``train`` = first 60 %, ``val`` = next 20 %,
  ``test`` = ``train[25200:]``, i.e. the TFDS slice from ``num_examples * 60 // 100 + num_examples * 20 // 100`` to
  the end (6300 images), in shard order.

Class names: flowers from the bundled ``flowers`` list; resisc45 from TFDS's ``label`` names (raw, with
underscores), as CLIP_benchmark's ``VTABIterableDataset`` does.
"""

from __future__ import annotations

import json
import re
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from zsbench.datasets.base import DatasetSpec
from zsbench.datasets.loaders import _common as c
from zsbench.errors import DatasetNotFoundError

# --- crc32c (Castagnoli), masked as TFRecord does ----------------------------------------------------------------
_CRC_TABLE: list[int] = []


def _crc_table() -> list[int]:
    if not _CRC_TABLE:
        for i in range(256):
            crc = i
            for _ in range(8):
                crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
            _CRC_TABLE.append(crc)
    return _CRC_TABLE


def crc32c(data: bytes) -> int:
    table = _crc_table()
    crc = 0xFFFFFFFF
    for b in data:
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked_crc(data: bytes) -> int:
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


# --- TFRecord framing --------------------------------------------------------------------------------------------
def iter_records(path: Path, *, read: bool = True) -> Iterator[tuple[int, int, bytes | None]]:
    """Yield ``(payload offset, payload length, payload or None)``; the length CRC is always checked."""
    with open(path, "rb") as f:
        while True:
            header = f.read(12)
            if not header:
                return
            if len(header) < 12:
                raise DatasetNotFoundError(f"{path}: truncated TFRecord header at byte {f.tell() - len(header)}")
            (length,) = struct.unpack("<Q", header[:8])
            (crc,) = struct.unpack("<I", header[8:])
            if masked_crc(header[:8]) != crc:
                raise DatasetNotFoundError(f"{path}: bad TFRecord length checksum at byte {f.tell() - 12}")
            offset = f.tell()
            if read:
                payload = f.read(length)
                f.read(4)  # payload crc: not verified (pure-Python crc32c over every image would be slow)
                if len(payload) < length:
                    raise DatasetNotFoundError(f"{path}: truncated TFRecord at byte {offset}")
                yield offset, length, payload
            else:
                f.seek(length + 4, 1)
                yield offset, length, None


def write_records(path: Path, payloads: list[bytes]) -> None:
    with open(path, "wb") as f:
        for p in payloads:
            header = struct.pack("<Q", len(p))
            f.write(header + struct.pack("<I", masked_crc(header)) + p + struct.pack("<I", masked_crc(p)))


# --- protobuf wire format: tf.train.Example ------------------------------------------------------------------------
def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7


def _fields(buf: bytes) -> Iterator[tuple[int, int, Any]]:
    """(field number, wire type, value) of one message; length-delimited values are bytes."""
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 2:
            n, pos = _varint(buf, pos)
            value, pos = buf[pos : pos + n], pos + n
        elif wire == 1:
            value, pos = buf[pos : pos + 8], pos + 8
        elif wire == 5:
            value, pos = buf[pos : pos + 4], pos + 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        yield field, wire, value


def _signed64(v: int) -> int:
    return v - (1 << 64) if v >= 1 << 63 else v


def parse_example(payload: bytes) -> dict[str, list[Any]]:
    """``tf.train.Example`` -> {feature name: list of bytes / float / int}."""
    out: dict[str, list[Any]] = {}
    for f1, _, features in _fields(payload):  # Example.features = 1
        if f1 != 1:
            continue
        for f2, _, entry in _fields(features):  # Features.feature = 1 (map entry)
            if f2 != 1:
                continue
            name, feature = "", b""
            for f3, _, v in _fields(entry):
                if f3 == 1:
                    name = v.decode("utf-8")
                elif f3 == 2:
                    feature = v
            values: list[Any] = []
            for kind, _, lst in _fields(feature):  # 1 bytes_list, 2 float_list, 3 int64_list
                for f4, wire, v in _fields(lst):
                    if f4 != 1:
                        continue
                    if kind == 1:
                        values.append(bytes(v))
                    elif kind == 2:
                        values.extend(struct.unpack(f"<{len(v) // 4}f", v) if wire == 2 else struct.unpack("<f", v))
                    elif kind == 3 and wire == 2:  # packed
                        p = 0
                        while p < len(v):
                            x, p = _varint(v, p)
                            values.append(_signed64(x))
                    elif kind == 3:
                        values.append(_signed64(v))
            out[name] = values
    return out


def _enc_varint(v: int) -> bytes:
    v &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _ld(field: int, data: bytes) -> bytes:
    return _enc_varint(field << 3 | 2) + _enc_varint(len(data)) + data


def encode_example(features: dict[str, list[Any]]) -> bytes:
    """Encode {name: [bytes...] | [int...] | [float...]} as a ``tf.train.Example`` (used by test replicas)."""
    entries = b""
    for name, values in features.items():
        if values and isinstance(values[0], bytes):
            feature = _ld(1, b"".join(_ld(1, v) for v in values))
        elif values and isinstance(values[0], float):
            feature = _ld(2, _ld(1, struct.pack(f"<{len(values)}f", *values)))
        else:
            feature = _ld(3, _ld(1, b"".join(_enc_varint(int(v)) for v in values)))
        entries += _ld(1, _ld(1, name.encode()) + _ld(2, feature))
    return _ld(1, entries)


# --- TFDS folders -------------------------------------------------------------------------------------------------
def _version_key(name: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", name))


def find_version_dir(root: Path, name: str) -> Path:
    base = root / name
    versions = (
        sorted((p for p in base.glob("**/dataset_info.json")), key=lambda p: _version_key(p.parent.name))
        if base.is_dir()
        else []
    )
    if not versions:
        raise DatasetNotFoundError(
            f"no prepared TFDS dataset {name!r} under {root} (expected {base}/<version>/dataset_info.json)"
        )
    return versions[-1].parent


def shard_files(version_dir: Path, name: str, split: str) -> list[Path]:
    pattern = re.compile(rf"^{re.escape(name)}-{re.escape(split)}\.tfrecord-(\d+)-of-(\d+)$")
    found = sorted((int(m.group(1)), int(m.group(2)), p) for p in version_dir.iterdir() if (m := pattern.match(p.name)))
    if not found:
        raise DatasetNotFoundError(f"{version_dir}: no {name}-{split}.tfrecord-* shards")
    total = found[0][1]
    if len(found) != total:
        raise DatasetNotFoundError(f"{version_dir}: {len(found)} of {total} {split} shards present")
    return [p for _, _, p in found]


def label_names(version_dir: Path) -> list[str] | None:
    path = version_dir / "label.labels.txt"
    if path.exists():
        return [line.strip() for line in path.read_text().splitlines() if line.strip()]
    return None


def split_num_examples(version_dir: Path, split: str) -> int | None:
    with open(version_dir / "dataset_info.json") as f:
        info = json.load(f)
    for s in info.get("splits", []):
        if s.get("name") == split:
            lengths = s.get("shardLengths")
            if lengths:
                return sum(int(x) for x in lengths)
            if "numExamples" in s or "statistics" in s:
                return int(s.get("numExamples") or s["statistics"]["numExamples"])
    return None


def _image_of(payload: bytes) -> bytes:
    return parse_example(payload)["image"][0]


def read_split(root: Path, version_dir: Path, name: str, split: str, start: int = 0, stop: int | None = None):
    """ArchiveImageSet + labels of records ``[start, stop)`` of a TFDS split, in shard order."""
    entries, labels = [], []
    i = 0
    for shard in shard_files(version_dir, name, split):
        rel = shard.relative_to(root).as_posix()
        with open(shard, "rb") as fh:
            for offset, length, _ in iter_records(shard, read=False):
                if i >= start and (stop is None or i < stop):
                    fh.seek(offset)
                    example = parse_example(fh.read(length))
                    entries.append((rel, offset, length, f"record{i}"))
                    labels.append(int(example["label"][0]))
                i += 1
    return c.ArchiveImageSet(root, entries, extract=_image_of), labels, i


def load_vtab_flowers(root: Path, *, split: str = "test", language: str = "en", spec: DatasetSpec, **options: Any):
    c.check_options(spec, options)
    c.check_split(spec, split)
    c.require_root(spec, root)
    vdir = find_version_dir(root, "oxford_flowers102")
    images, labels, _ = read_split(root, vdir, "oxford_flowers102", "test")
    return c.classification(
        spec, root, split, language, images, labels, options, classnames_key="flowers", info={"tfds_split": "test"}
    )


def resisc45_test_start(num_examples: int) -> int:
    return num_examples * 60 // 100 + num_examples * 20 // 100


def load_vtab_resisc45(root: Path, *, split: str = "test", language: str = "en", spec: DatasetSpec, **options: Any):
    c.check_options(spec, options)
    c.check_split(spec, split)
    c.require_root(spec, root)
    vdir = find_version_dir(root, "resisc45")
    total = split_num_examples(vdir, "train")
    if total is None:
        # Count records from the framing alone (cheap: no payload is read).
        total = sum(1 for shard in shard_files(vdir, "resisc45", "train") for _ in iter_records(shard, read=False))
    start = resisc45_test_start(total)
    images, labels, _ = read_split(root, vdir, "resisc45", "train", start=start)
    names = label_names(vdir)
    if names is None:
        raise DatasetNotFoundError(f"{vdir}: label.labels.txt (the TFDS class names) is missing")
    return c.classification(
        spec,
        root,
        split,
        language,
        images,
        labels,
        options,
        dataset_classnames=names,
        info={"tfds_split": f"train[{start}:]"},
    )
