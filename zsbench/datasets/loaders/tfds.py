"""TFDS folders read without TensorFlow: CLIP_benchmark's ``vtab/<task>`` and ``tfds/<builder>`` names.

A TFDS ``data_dir`` holds ``<builder>[/<config>]/<version>/`` with ``dataset_info.json`` (splits and their shard
lengths), ``features.json`` (the feature kinds), ``<feature>.labels.txt`` (``ClassLabel`` names) and shards
``<builder>-<split>.tfrecord-<i>-of-<n>``. Each shard is TFRecord framing (``uint64 length``, ``uint32 masked
crc32c(length)``, payload, ``uint32 masked crc32c(payload)``) around a ``tf.train.Example`` protobuf, parsed here
by hand from the wire format. Indexing reads every record header and the examples of the requested slice (for the
labels); images are decoded later, lazily, from the encoded bytes with PIL.

Completeness: every shard ``dataset_info.json`` lists must be there and hold exactly its recorded number of
records (a short or cut shard is an error naming it: a VTAB slice of a short split would shift silently).

VTAB split strings follow TFDS (``AbstractSplit.from_spec``): ``name``, ``name[a:b]`` with absolute or percent
boundaries (percent rounded to the closest example, ``int(round(p * n / 100))``), negatives from the end, ``+``
to concatenate; a boundary beyond the split is an error. Records are returned in shard order; tf.data interleaves
shards, which changes the order but not the set, so no metric changes.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zsbench.datasets.base import CLASSIFICATION, DatasetSpec
from zsbench.datasets.loaders import _common as c
from zsbench.errors import DatasetNotFoundError, ZsbenchError

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
    """Yield ``(payload offset, payload length, payload or None)``; the length CRC is always checked.

    A record cut short (header, payload or payload CRC past the end of the file) is an error naming the byte, also
    when payloads are skipped. The payload CRC itself is not verified (pure-Python crc32c over every image would
    be slow); a damaged image then fails to decode, naming the record.
    """
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        while True:
            start = f.tell()
            header = f.read(12)
            if not header:
                return
            if len(header) < 12:
                raise DatasetNotFoundError(f"{path}: truncated TFRecord header at byte {start}; re-download the shard")
            (length,) = struct.unpack("<Q", header[:8])
            (crc,) = struct.unpack("<I", header[8:])
            if masked_crc(header[:8]) != crc:
                raise DatasetNotFoundError(f"{path}: bad TFRecord length checksum at byte {start}; not a TFRecord file")
            offset = start + 12
            if offset + length + 4 > size:
                raise DatasetNotFoundError(
                    f"{path}: truncated TFRecord at byte {start} (the file ends inside the record); re-download the shard"
                )
            if read:
                payload = f.read(length)
                f.read(4)
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


# --- TFDS split strings ---------------------------------------------------------------------------------------------
_SUB_SPLIT = re.compile(r"^(?P<split>\w+)(?:\[(?P<from>-?\d+%?)?:(?P<to>-?\d+%?)?\])?$")
_FLOOR = re.compile(r"(?P<split>\w+)\[\{floor:(?P<pcts>\d+(?:\+\d+)*)\}")


@dataclass(frozen=True)
class SplitSlice:
    """Records ``[start, stop)`` of TFDS split ``split`` (``n`` records in all)."""

    split: str
    start: int
    stop: int
    n: int

    def __str__(self) -> str:
        if self.start == 0 and self.stop == self.n:
            return self.split
        return f"{self.split}[{self.start or ''}:{'' if self.stop == self.n else self.stop}]"


def expand_floor(spec: str, lengths: dict[str, int]) -> str:
    """``train[{floor:60+20}:]`` -> ``train[<n*60//100 + n*20//100>:]`` (task_adaptation's integer boundaries)."""

    def sub(m: re.Match[str]) -> str:
        split = m.group("split")
        if split not in lengths:
            raise ZsbenchError(f"unknown split {split!r} in {spec!r}; available: {', '.join(lengths)}")
        n = lengths[split]
        return f"{split}[{sum(n * int(p) // 100 for p in m.group('pcts').split('+'))}"

    return _FLOOR.sub(sub, spec)


def _boundary(value: str | None, n: int, pct: bool) -> int | None:
    if value is None:
        return None
    v = int(value.rstrip("%"))
    if pct:
        if abs(v) > 100:
            raise ZsbenchError(f"percent slice boundary {value} is outside [-100%, 100%]")
        return int(round(v * n / 100.0))  # TFDS's default "closest" rounding (Python's round)
    return v


def resolve_split(spec: str, lengths: dict[str, int]) -> list[SplitSlice]:
    """A TFDS split string (``test``, ``train[:800]``, ``test[50%:]``, ``a+b``) as record ranges, TFDS's rules."""
    out: list[SplitSlice] = []
    for part in spec.replace(" ", "").split("+"):
        m = _SUB_SPLIT.match(part)
        if not m or (part.endswith("]") and m.group("from") is None and m.group("to") is None):
            raise ZsbenchError(f"unrecognized TFDS split {spec!r} (format: name, name[a:b], name[a%:b%], a+b)")
        split = m.group("split")
        if split not in lengths:
            raise ZsbenchError(f"unknown split {split!r} in {spec!r}; available: {', '.join(lengths) or 'none'}")
        n = lengths[split]
        pct = "%" in (m.group("from") or "") or "%" in (m.group("to") or "")
        lo, hi = _boundary(m.group("from"), n, pct), _boundary(m.group("to"), n, pct)
        lo = 0 if lo is None else lo
        hi = n if hi is None else hi
        if abs(lo) > n or abs(hi) > n:
            raise ZsbenchError(f"split {part!r} asks for records [{lo}:{hi}] of a split of {n}")
        lo, hi = (lo + n if lo < 0 else lo), (hi + n if hi < 0 else hi)
        out.append(SplitSlice(split, lo, max(lo, hi), n))
    return out


# --- features.json -------------------------------------------------------------------------------------------------
@dataclass
class Feature:
    """One TFDS feature connector: its kind (``Image``, ``ClassLabel``, ``Sequence`` ...) and what matters here."""

    kind: str
    num_classes: int | None = None
    children: dict[str, Feature] = field(default_factory=dict)


def _kind(class_name: str) -> str:
    return class_name.rsplit(".", 1)[-1]


def _proto_feature(node: dict[str, Any]) -> Feature:
    """TFDS >= 4.6 ``features.json``: ``{"pythonClassName": ..., "<kind>": {...}}``."""
    kind = _kind(node.get("pythonClassName", ""))
    if "featuresDict" in node:
        feats = node["featuresDict"].get("features", {})
        return Feature(kind or "FeaturesDict", children={k: _proto_feature(v) for k, v in feats.items()})
    if "sequence" in node:
        return Feature(kind or "Sequence", children={"": _proto_feature(node["sequence"].get("feature", {}))})
    if "classLabel" in node:
        n = node["classLabel"].get("numClasses")
        return Feature(kind or "ClassLabel", num_classes=int(n) if n is not None else None)
    return Feature(kind or "unknown")


def _json_feature(node: dict[str, Any]) -> Feature:
    """Older ``features.json``: ``{"type": "module.Kind", "content": {...} or a JSON string of the proto}``."""
    if "pythonClassName" in node:
        return _proto_feature(node)
    kind = _kind(node.get("type", ""))
    content = node.get("content", {})
    if isinstance(content, str):  # a proto serialised as JSON (TFDS 4.0 - 4.5)
        inner = json.loads(content)
        if kind == "FeaturesDict":
            return Feature(kind, children={k: _json_feature(v) for k, v in inner.get("features", {}).items()})
        return _proto_feature({"pythonClassName": node.get("type", ""), **{kind[0].lower() + kind[1:]: inner}})
    if kind == "FeaturesDict":
        return Feature(kind, children={k: _json_feature(v) for k, v in content.items()})
    if kind == "Sequence":
        return Feature(kind, children={"": _json_feature(content.get("feature", {}))})
    if kind == "ClassLabel":
        n = content.get("num_classes", node.get("num_classes"))
        return Feature(kind, num_classes=int(n) if n is not None else None)
    return Feature(kind or "unknown")


def read_features(version_dir: Path) -> dict[str, Feature] | None:
    """Top-level features from ``features.json`` (any TFDS format), or ``None`` when the file is absent."""
    path = version_dir / "features.json"
    if not path.exists():
        return None
    try:
        top = _json_feature(json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, AttributeError, TypeError) as e:
        raise DatasetNotFoundError(f"{path} is not a TFDS features file ({e}); re-prepare the dataset") from e
    return top.children


# --- one prepared TFDS dataset -------------------------------------------------------------------------------------
_VERSION = re.compile(r"^\d+\.\d+\.\d+$")
_FILE_TEMPLATE = "{DATASET}-{SPLIT}.{FILEFORMAT}-{SHARD_X_OF_Y}"


def _version_matches(version: str, pattern: str) -> bool:
    return all(p in ("*", v) for p, v in zip(pattern.split("."), version.split("."), strict=True))


def find_version_dir(root: Path, builder: str, pattern: str = "*.*.*") -> Path:
    """``root/<builder>/<highest version matching pattern>`` (TFDS's ``name:3.*.*``); an error lists what is there."""
    base = root / builder
    found = sorted(
        (p for p in base.iterdir() if p.is_dir() and _VERSION.match(p.name)) if base.is_dir() else [],
        key=lambda p: tuple(int(x) for x in p.name.split(".")),
    )
    found = [p for p in found if (p / "dataset_info.json").exists()]
    ok = [p for p in found if _version_matches(p.name, pattern)]
    if not ok:
        have = ", ".join(p.name for p in found) or "none"
        raise DatasetNotFoundError(
            f"no prepared TFDS dataset {builder}:{pattern} under {root} (expected {base}/<version>/dataset_info.json; "
            f"versions there: {have})"
        )
    return ok[-1]


class TfdsFolder:
    """One prepared TFDS dataset version: its splits, shard lengths, features and class names."""

    def __init__(self, root: Path, builder: str, version: str = "*.*.*") -> None:
        self.root = root
        self.builder = builder
        self.dir = find_version_dir(root, builder, version)
        info_path = self.dir / "dataset_info.json"
        try:
            self.info = json.loads(info_path.read_text(encoding="utf-8"))
        except ValueError as e:
            raise DatasetNotFoundError(f"{info_path} is not valid JSON ({e}); re-prepare the dataset") from e
        fmt = self.info.get("fileFormat", "tfrecord") or "tfrecord"
        template = self.info.get("filepathTemplate") or _FILE_TEMPLATE
        if fmt != "tfrecord" or template != _FILE_TEMPLATE:
            raise DatasetNotFoundError(
                f"{info_path}: file format {fmt!r} with file names {template!r}; zsbench reads TFRecord shards named "
                f"{_FILE_TEMPLATE} only (prepare with the default --file_format tfrecord)"
            )
        self.name = self.info.get("name") or builder.split("/", 1)[0]
        self.features = read_features(self.dir)
        self.shard_lengths: dict[str, list[int] | None] = {}
        self.lengths: dict[str, int] = {}
        for s in self.info.get("splits", []):
            name = s.get("name")
            if not name:
                continue
            shard_lengths = [int(x) for x in s.get("shardLengths", [])] or None
            total = s.get("numExamples") or (s.get("statistics") or {}).get("numExamples")
            self.shard_lengths[name] = shard_lengths
            self.lengths[name] = sum(shard_lengths) if shard_lengths else int(total or 0)
        self.version = self.dir.name

    @property
    def label(self) -> str:
        return f"{self.builder}:{self.version}"

    def class_names(self, feature: str) -> list[str]:
        """The ``ClassLabel`` names of ``feature``: ``<feature>.labels.txt``, else ``"0"`` .. ``"n-1"`` (TFDS's)."""
        f = (self.features or {}).get(feature)
        if f is not None and f.kind != "ClassLabel":
            raise DatasetNotFoundError(f"{self.dir}: feature {feature!r} is a {f.kind}, not a ClassLabel")
        path = self.dir / f"{feature}.labels.txt"
        if path.exists():
            names = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
            if f is not None and f.num_classes is not None and len(names) != f.num_classes:
                raise DatasetNotFoundError(
                    f"{path} lists {len(names)} class names but features.json says {feature!r} has {f.num_classes}"
                )
            return names
        if f is not None and f.num_classes is not None:
            return [str(i) for i in range(f.num_classes)]
        raise DatasetNotFoundError(
            f"{self.dir}: no class names for {feature!r} ({path.name} and features.json are missing); re-prepare it"
        )

    def shards(self, split: str) -> list[Path]:
        pattern = re.compile(rf"^{re.escape(self.name)}-{re.escape(split)}\.tfrecord-(\d+)-of-(\d+)$")
        found = sorted(
            (int(m.group(1)), int(m.group(2)), p) for p in self.dir.iterdir() if (m := pattern.match(p.name))
        )
        expected = self.shard_lengths.get(split)
        n = len(expected) if expected else (found[0][1] if found else 0)
        have = {i for i, total, _ in found if total == n}
        missing = [i for i in range(n) if i not in have]
        if not found or missing or len(found) != n:
            raise DatasetNotFoundError(
                f"{self.dir}: {len(have)} of {n or '?'} {split} shards present"
                f"{' (missing ' + ', '.join(f'{self.name}-{split}.tfrecord-{i:05d}-of-{n:05d}' for i in missing[:3]) + ')' if missing else ''}"
                "; re-download or re-prepare the dataset"
            )
        return [p for _, _, p in found]

    def read(
        self, slices: list[SplitSlice], label_of: Callable[[dict[str, list[Any]]], int], n_classes: int
    ) -> tuple[list[tuple[str, int, int, str]], list[int]]:
        """Archive entries and labels of ``slices``; every shard of a touched split is counted against its length."""
        entries: list[tuple[str, int, int, str]] = []
        labels: list[int] = []
        for sl in slices:
            expected = self.shard_lengths.get(sl.split)
            i = 0
            counts: list[int] = []
            for s, shard in enumerate(self.shards(sl.split)):
                rel = shard.relative_to(self.root).as_posix()
                before = i
                with open(shard, "rb") as fh:
                    for offset, length, _ in iter_records(shard, read=False):
                        if sl.start <= i < sl.stop:
                            fh.seek(offset)
                            example = _parse(fh.read(length), shard, i - before)
                            label = _checked_label(label_of, example, shard, i - before, n_classes)
                            entries.append((rel, offset, length, f"{sl.split}#{i}"))
                            labels.append(label)
                        i += 1
                counts.append(i - before)
                if expected and counts[-1] != expected[s]:
                    raise DatasetNotFoundError(
                        f"{shard} holds {counts[-1]} records but dataset_info.json says {expected[s]}: the shard is "
                        "cut short or from another preparation; re-download or re-prepare the dataset"
                    )
            if i != sl.n:
                raise DatasetNotFoundError(
                    f"{self.dir}: split {sl.split!r} holds {i} records but dataset_info.json says {sl.n}; re-prepare it"
                )
        return entries, labels


def _parse(payload: bytes, shard: Path, index: int) -> dict[str, list[Any]]:
    try:
        return parse_example(payload)
    except (ValueError, IndexError, UnicodeDecodeError, struct.error) as e:
        raise DatasetNotFoundError(f"{shard}: record {index} is not a tf.train.Example ({e})") from e


def _checked_label(
    label_of: Callable[[dict[str, list[Any]]], int], example: dict[str, list[Any]], shard: Path, i: int, n: int
) -> int:
    try:
        label = label_of(example)
    except (KeyError, IndexError, ValueError) as e:
        raise DatasetNotFoundError(f"{shard}: record {i} has no usable label ({type(e).__name__}: {e})") from e
    if not 0 <= label < n:
        raise DatasetNotFoundError(f"{shard}: record {i} has label {label}, outside the {n} classes")
    return label


# --- label rules (task_adaptation's preprocessing) ---------------------------------------------------------------
def _first_above(thresholds: tuple[float, ...], value: float) -> int:
    """``max(i for i, t in enumerate(thresholds) if t < value)``: VTAB's ``reduce_max(where(thrs - x < 0))``."""
    below = [i for i, t in enumerate(thresholds) if t < value]
    if not below:
        raise ValueError(f"value {value} is not above the first threshold {thresholds[0]}")
    return max(below)


def _clevr_count(ex: dict[str, list[Any]]) -> int:
    return len(ex["objects/size"]) - 3  # 3..10 objects -> classes 0..7


def _clevr_closest(ex: dict[str, list[Any]]) -> int:
    coords = ex["objects/pixel_coords"]  # (n, 3) flattened; the third value is the depth
    return _first_above((0.0, 8.0, 8.5, 9.0, 9.5, 10.0, 100.0), min(coords[2::3]))


def _kitti_closest_vehicle(ex: dict[str, list[Any]]) -> int:
    types, loc = ex["objects/type"], ex["objects/location"]  # type < 3: Car, Van, Truck; location (n, 3), z third
    dist = min([loc[3 * i + 2] for i, t in enumerate(types) if t < 3] + [1000.0])  # 1000: "no vehicle"
    return _first_above((-100.0, 8.0, 20.0, 999.0), dist)


_RULES: dict[str, Callable[[dict[str, list[Any]]], int]] = {
    "clevr_count": _clevr_count,
    "clevr_closest_object_distance": _clevr_closest,
    "kitti_closest_vehicle_distance": _kitti_closest_vehicle,
}


def _feature_value(name: str, ex: dict[str, list[Any]]) -> int:
    return int(ex[name][0])


def label_rule(label: str) -> Callable[[dict[str, list[Any]]], int]:
    return _RULES.get(label) or functools.partial(_feature_value, label)


# --- images --------------------------------------------------------------------------------------------------------
def _feature_bytes(name: str, payload: bytes) -> bytes:
    return parse_example(payload)[name][0]


def _scale_pixel(scale: int, v: int) -> int:
    return (v * scale) % 256  # uint8 arithmetic, as VTAB's tf.tile(image) * 255 on uint8


class TfdsImageSet(c.ArchiveImageSet):
    """Images held as encoded bytes in TFRecord records; ``scale`` multiplies the decoded pixels (dSprites)."""

    def __init__(self, root: Path, entries: list[tuple[str, int, int, str]], feature: str = "image", scale: int = 1):
        super().__init__(root, entries, extract=functools.partial(_feature_bytes, feature))
        self.scale = scale

    def load_image(self, index: int) -> Any:
        image = super().load_image(index)
        return image if self.scale == 1 else image.point(functools.partial(_scale_pixel, self.scale))

    def fingerprint(self, mode: str = "stat") -> str:
        base = super().fingerprint(mode)
        return base if self.scale == 1 else hashlib.sha256(f"scaled-{self.scale}\0{base}".encode()).hexdigest()


# --- vtab/<task> ---------------------------------------------------------------------------------------------------
def load_vtab(root: Path, *, split: str = "test", language: str = "en", spec: DatasetSpec, **options: Any):
    """VTAB's ``test`` split of ``spec.name``, as task_adaptation defines it (see ``catalog/vtab.py``)."""
    from zsbench.datasets import prompts
    from zsbench.datasets.catalog.vtab import VTAB_TASKS

    c.check_options(spec, options)
    c.check_split(spec, split)
    c.require_root(spec, root)
    task = VTAB_TASKS[spec.name.split("/", 1)[1]]
    ds = TfdsFolder(root, task.builder, task.version)
    try:
        slices = resolve_split(expand_floor(task.split, ds.lengths), ds.lengths)
    except ZsbenchError as e:
        raise DatasetNotFoundError(f"dataset {spec.name!r} at {ds.dir}: {e}") from e
    if task.classnames_key:
        # CLIP_benchmark overrides the TFDS names; their count must still be the label feature's.
        names = prompts.classnames(task.classnames_key, "en")
        feat = (ds.features or {}).get(task.label)
        if feat is not None and feat.num_classes is not None and feat.num_classes != len(names):
            raise DatasetNotFoundError(
                f"dataset {spec.name!r}: {ds.dir} has {feat.num_classes} classes in {task.label!r}, CLIP_benchmark's "
                f"{task.classnames_key!r} names {len(names)}; wrong dataset or version"
            )
    else:
        names = ds.class_names(task.label)
    entries, labels = ds.read(slices, label_rule(task.label), len(names))
    images = TfdsImageSet(root, entries, scale=task.image_scale)
    info = {"tfds_builder": ds.label, "tfds_split": "+".join(map(str, slices))}
    return c.classification(
        spec,
        root,
        split,
        language,
        images,
        labels,
        options,
        classnames_key=task.classnames_key or None,
        dataset_classnames=None if task.classnames_key else names,
        info=info,
    )


# --- tfds/<builder> ------------------------------------------------------------------------------------------------
_TFDS_NAME = re.compile(
    r"^tfds/(?P<builder>[a-z0-9_]+(?:/[A-Za-z0-9_.\-]+)?)(?::(?P<version>[0-9*]+\.[0-9*]+\.[0-9*]+))?$"
)


def _parse_tfds_name(name: str) -> tuple[str, str]:
    m = _TFDS_NAME.match(name)
    if not m:
        raise ZsbenchError(
            f"dataset name {name!r} is not tfds/<builder>[/<config>][:<version>] (e.g. tfds/cifar10, "
            "tfds/eurosat/rgb:2.0.0)"
        )
    return m.group("builder"), m.group("version") or "*.*.*"


def tfds_spec(name: str) -> DatasetSpec:
    """The spec of a ``tfds/<builder>`` dataset: any prepared TFDS folder with an image and a class label."""
    builder, version = _parse_tfds_name(name)
    return DatasetSpec(
        name=name,
        task=CLASSIFICATION,
        loader="zsbench.datasets.loaders.tfds:load_tfds",
        splits=("test", "train", "validation"),
        layout=f"{builder}/<version {version}>/{{dataset_info.json,features.json,label.labels.txt,*.tfrecord-*}} "
        "(TFDS data_dir)",
        source=f"tensorflow_datasets prepared into root (tfds build {builder} --data_dir root)",
        prompt_key=name,
        required=(builder,),
    )


def load_tfds(root: Path, *, split: str = "test", language: str = "en", spec: DatasetSpec, **options: Any):
    """A whole TFDS split, class names from the ``label`` feature (CLIP_benchmark's ``tfds/`` via timm)."""
    c.check_options(spec, options)
    c.require_root(spec, root)
    builder, version = _parse_tfds_name(spec.name)
    ds = TfdsFolder(root, builder, version)
    if ds.features is None:
        raise DatasetNotFoundError(f"dataset {spec.name!r}: {ds.dir}/features.json is missing; re-prepare it")
    kinds = {k: f.kind for k, f in ds.features.items()}
    if kinds.get("image") != "Image" or kinds.get("label") != "ClassLabel":
        found = ", ".join(f"{k}: {v}" for k, v in kinds.items()) or "none"
        raise ZsbenchError(
            f"dataset {spec.name!r}: zsbench reads TFDS datasets with an 'image' Image and a 'label' ClassLabel "
            f"feature; {ds.dir}/features.json has {found}"
        )
    if split not in ds.lengths:
        raise ZsbenchError(
            f"dataset {spec.name!r} has no split {split!r}; available in {ds.dir}: {', '.join(ds.lengths) or 'none'}"
        )
    names = ds.class_names("label")
    entries, labels = ds.read(resolve_split(split, ds.lengths), label_rule("label"), len(names))
    info = {"tfds_builder": ds.label, "tfds_split": split}
    return c.classification(
        spec, root, split, language, TfdsImageSet(root, entries), labels, options, dataset_classnames=names, info=info
    )
