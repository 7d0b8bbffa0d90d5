"""Miniature prepared TFDS folders in the real on-disk format, for offline tests of ``vtab/`` and ``tfds/`` names.

:func:`write_tfds` writes ``<root>/<builder>[/<config>]/<version>/`` with ``dataset_info.json`` (splits and shard
lengths, as TFDS 4.x writes it), ``features.json`` (the feature-connector proto as JSON, or the older
``{"type", "content"}`` layout), ``<feature>.labels.txt`` for named ``ClassLabel`` features, and TFRecord shards
``<builder>-<split>.tfrecord-<i>-of-<n>`` (masked crc32c framing) of ``tf.train.Example`` records.

:func:`write_vtab` writes a few records for one ``vtab/<task>`` name and returns what a correct loader gives:
the labels *after* VTAB's preprocessing (chosen first, then raw CLEVR / KITTI objects built to produce them, on
the thresholds' edges), the class names, and the resolved split. Images carry their record index in the red
channel and their label in the green channel.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_PKG = "tensorflow_datasets.core.features"


@dataclass
class F:
    """A feature to declare in ``features.json``: ``Image``, ``ClassLabel``, ``Tensor``, ``Text`` or ``Sequence``."""

    kind: str
    names: list[str] | None = None  # ClassLabel with names (written to <feature>.labels.txt)
    num_classes: int | None = None  # ClassLabel without names
    channels: int = 3  # Image
    children: dict[str, F] = field(default_factory=dict)  # Sequence of a FeaturesDict


def _proto(f: F) -> dict[str, Any]:
    module = {
        "Image": "image_feature.Image",
        "ClassLabel": "class_label_feature.ClassLabel",
        "Tensor": "tensor_feature.Tensor",
        "Text": "text_feature.Text",
        "Sequence": "sequence_feature.Sequence",
        "Video": "video_feature.Video",
        "BBoxFeature": "bounding_boxes.BBoxFeature",
    }[f.kind]
    node: dict[str, Any] = {"pythonClassName": f"{_PKG}.{module}"}
    if f.kind == "Image":
        node["image"] = {"shape": {"dimensions": ["-1", "-1", str(f.channels)]}, "dtype": "uint8"}
    elif f.kind == "ClassLabel":
        node["classLabel"] = {"numClasses": str(len(f.names) if f.names else f.num_classes)}
    elif f.kind == "Sequence":
        inner = {k: _proto(v) for k, v in f.children.items()}
        node["sequence"] = {
            "feature": {"pythonClassName": f"{_PKG}.features_dict.FeaturesDict", "featuresDict": {"features": inner}},
            "length": "-1",
        }
    else:
        node[f.kind[0].lower() + f.kind[1:]] = {}
    return node


def _old_json(f: F) -> dict[str, Any]:
    """The pre-4.0 ``{"type": ..., "content": ...}`` layout."""
    typ = f"{_PKG}.{_proto(f)['pythonClassName'].split(_PKG + '.', 1)[1]}"
    if f.kind == "ClassLabel":
        return {"type": typ, "content": {"num_classes": len(f.names) if f.names else f.num_classes}}
    if f.kind == "Sequence":
        inner = {
            "type": f"{_PKG}.features_dict.FeaturesDict",
            "content": {k: _old_json(v) for k, v in f.children.items()},
        }
        return {"type": typ, "content": {"feature": inner, "length": None}}
    return {"type": typ, "content": {}}


def features_json(features: dict[str, F], *, old: bool = False) -> dict[str, Any]:
    if old:
        return {"type": f"{_PKG}.features_dict.FeaturesDict", "content": {k: _old_json(v) for k, v in features.items()}}
    return {
        "pythonClassName": f"{_PKG}.features_dict.FeaturesDict",
        "featuresDict": {"features": {k: _proto(v) for k, v in features.items()}},
    }


def encoded_image(index: int, label: int, *, channels: int = 3, fmt: str = "PNG", value: int | None = None) -> bytes:
    """A tiny encoded image: red = index, green = label (RGB); one channel holds ``value`` (default: index)."""
    from PIL import Image

    if channels == 1:
        im = Image.new("L", (6, 5), index % 256 if value is None else value)
    else:
        im = Image.new("RGB", (6, 5), (index % 256, label % 256, 77))
    buf = io.BytesIO()
    im.save(buf, format=fmt)
    return buf.getvalue()


def write_tfds(
    root: Path,
    builder: str,
    version: str,
    features: dict[str, F],
    splits: dict[str, list[dict[str, list[Any]]]],
    *,
    shards: int = 2,
    old_features: bool = False,
) -> Path:
    """A prepared TFDS folder; ``splits[name]`` are the examples ({feature: values}) in order. Returns its path."""
    from zsbench.datasets.loaders.tfds import encode_example, write_records

    name = builder.split("/", 1)[0]
    d = Path(root) / builder / version
    d.mkdir(parents=True, exist_ok=True)
    info_splits = []
    for split, examples in splits.items():
        n_shards = max(1, min(shards, len(examples)))
        per = -(-len(examples) // n_shards)
        lengths = []
        for s in range(n_shards):
            chunk = examples[s * per : (s + 1) * per]
            path = d / f"{name}-{split}.tfrecord-{s:05d}-of-{n_shards:05d}"
            write_records(path, [encode_example(ex) for ex in chunk])
            lengths.append(str(len(chunk)))
        info_splits.append({"name": split, "shardLengths": lengths, "numBytes": "0"})
    info = {"name": name, "version": version, "fileFormat": "tfrecord", "splits": info_splits}
    (d / "dataset_info.json").write_text(json.dumps(info, indent=2))
    (d / "features.json").write_text(json.dumps(features_json(features, old=old_features), indent=2))
    for key, f in features.items():
        if f.kind == "ClassLabel" and f.names:
            (d / f"{key}.labels.txt").write_text("\n".join(f.names) + "\n")
    return d


# --- vtab/<task> replicas ------------------------------------------------------------------------------------------
SMALLNORB_CATEGORIES = ["four-legged animals", "human figures", "airplanes", "trucks", "cars"]
KITTI_TYPES = ["Car", "Van", "Truck", "Pedestrian", "Person_sitting", "Cyclist", "Tram", "Misc"]
_DSPRITES_CLASSES = {"label_shape": 3, "label_scale": 6, "label_orientation": 40, "label_x_position": 32}
_DSPRITES_CLASSES["label_y_position"] = 32
_SMALLNORB_CLASSES = {"label_elevation": 9, "label_azimuth": 18, "label_lighting": 6}

# Records per split in a replica, and the slice VTAB's test split takes of it (worked out by hand).
REPLICA_SPLITS: dict[str, tuple[dict[str, int], str]] = {
    # task_adaptation's integer boundaries, which differ from a 90% / 80% TFDS slice on these sizes:
    "dsprites": ({"train": 29}, "train[25:]"),  # 29*80//100 + 29*10//100 = 23 + 2 (29*90//100 = 26)
    "eurosat/rgb": ({"train": 24}, "train[18:]"),  # 24*60//100 + 24*20//100 = 14 + 4 (24*80//100 = 19)
    "resisc45": ({"train": 20}, "train[16:]"),  # 20*60//100 + 20*20//100 = 12 + 4
    "smallnorb": ({"train": 2, "test": 7}, "test[4:]"),  # 50% of 7 = 3.5, rounded to 4
    "clevr": ({"train": 2, "validation": 6, "test": 2}, "validation"),
    "food101": ({"train": 2, "validation": 4}, "validation"),
    "i_naturalist2017": ({"train": 2, "validation": 4}, "validation"),
}
_DEFAULT_SPLITS = ({"train": 2, "test": 5}, "test")


def _version(pattern: str) -> str:
    return pattern.replace("*", "0")


def _clevr_objects(task: str, label: int) -> dict[str, list[Any]]:
    if task == "clevr_count":
        k = label + 3
        depth = [11.0 + i for i in range(k)]
    else:  # closest object distance: the nearest depth sits exactly on the class's upper threshold
        edges = (0.0, 8.0, 8.5, 9.0, 9.5, 10.0, 100.0)
        k = 3
        depth = [edges[label + 1], edges[label + 1] + 5.0, edges[label + 1] + 0.25]
    coords = [v for z in depth for v in (10.0, 20.0, z)]
    return {"objects/size": [i % 2 for i in range(k)], "objects/pixel_coords": coords}


def _kitti_objects(label: int) -> dict[str, list[Any]]:
    # A pedestrian nearer than any vehicle (ignored), the nearest vehicle on the threshold edge, a farther truck.
    edges = (-100.0, 8.0, 20.0, 999.0)
    if label == 3:
        types, zs = [3, 5], [1.0, 2.0]  # no Car/Van/Truck: the 1000 m sentinel -> "no vehicle"
    else:
        types, zs = [3, label, 2], [1.0, edges[label + 1], 500.0 + edges[label + 1]]
    loc = [v for z in zs for v in (1.5, -0.5, z)]
    return {"objects/type": types, "objects/location": loc}


def write_vtab(root: Path, task_name: str, *, old_features: bool = False) -> dict[str, Any]:
    """A replica of the TFDS folder behind ``vtab/<task_name>``; returns the expected ``labels``, ``classnames``,
    ``split`` (resolved TFDS slice), ``size``, ``builder`` (with version) and ``path``."""
    from zsbench.datasets.catalog.vtab import VTAB_TASKS
    from zsbench.datasets.prompts import classnames as bundled

    task = VTAB_TASKS[task_name]
    counts, slice_str = REPLICA_SPLITS.get(task.builder, _DEFAULT_SPLITS)
    features: dict[str, F] = {"image": F("Image", channels=1 if task.builder in ("dsprites", "smallnorb") else 3)}

    if task.builder == "dsprites":
        for k, n in _DSPRITES_CLASSES.items():
            features[k] = F("ClassLabel", num_classes=n)
        n_classes, tfds_names = _DSPRITES_CLASSES[task.label], [str(i) for i in range(_DSPRITES_CLASSES[task.label])]
    elif task.builder == "smallnorb":
        features["label_category"] = F("ClassLabel", names=SMALLNORB_CATEGORIES)
        for k, n in _SMALLNORB_CLASSES.items():
            features[k] = F("ClassLabel", num_classes=n)
        tfds_names = SMALLNORB_CATEGORIES if task.label == "label_category" else None
        n_classes = 5 if task.label == "label_category" else _SMALLNORB_CLASSES[task.label]
        tfds_names = tfds_names or [str(i) for i in range(n_classes)]
    elif task.builder == "clevr":
        features["objects"] = F(
            "Sequence", children={"size": F("ClassLabel", names=["small", "large"]), "pixel_coords": F("Tensor")}
        )
        n_classes, tfds_names = len(bundled(task.classnames_key)), None
    elif task.builder == "kitti":
        features["objects"] = F(
            "Sequence", children={"type": F("ClassLabel", names=KITTI_TYPES), "location": F("Tensor")}
        )
        n_classes, tfds_names = 4, None
    else:
        n_classes = len(bundled(task.classnames_key)) if task.classnames_key else 7
        # Distinct TFDS names: a loader that uses them where CLIP_benchmark's bundled list applies is caught.
        tfds_names = [f"tfds {task_name} class {i}" for i in range(n_classes)]
        features["label"] = F("ClassLabel", names=tfds_names)
        features["file_name"] = F("Text")

    splits: dict[str, list[dict[str, list[Any]]]] = {}
    index = 0
    all_labels: dict[str, list[int]] = {}
    for split, n in counts.items():
        examples, labels = [], []
        for _ in range(n):
            y = (index * 7 + 1) % n_classes
            ex: dict[str, list[Any]] = {}
            if task.builder == "dsprites":
                ex["image"] = [encoded_image(index, y, channels=1, value=index % 2)]
                for k, nk in _DSPRITES_CLASSES.items():
                    ex[k] = [y if k == task.label else (index + 1) % nk]
                ex["value_scale"] = [0.5]
            elif task.builder == "smallnorb":
                ex["image"] = [encoded_image(index, y, channels=1)]
                for k in ("label_category", *_SMALLNORB_CLASSES):
                    nk = 5 if k == "label_category" else _SMALLNORB_CLASSES[k]
                    ex[k] = [y if k == task.label else (index + 2) % nk]
            else:
                ex["image"] = [encoded_image(index, y, fmt="JPEG" if index % 2 else "PNG")]
                if task.builder == "clevr":
                    ex.update(_clevr_objects(task.label, y))
                elif task.builder == "kitti":
                    ex.update(_kitti_objects(y))
                else:
                    ex["label"] = [y]
                    ex["file_name"] = [f"img_{index}.jpg".encode()]
            examples.append(ex)
            labels.append(y)
            index += 1
        splits[split] = examples
        all_labels[split] = labels

    version = _version(task.version)
    path = write_tfds(root, task.builder, version, features, splits, shards=2, old_features=old_features)
    split_name, _, rng = slice_str.partition("[")
    start = int(rng.split(":")[0]) if rng and rng.split(":")[0] else 0
    expected_labels = all_labels[split_name][start:]
    names = bundled(task.classnames_key) if task.classnames_key else tfds_names
    return {
        "labels": expected_labels,
        "classnames": names,
        "split": slice_str,
        "size": len(expected_labels),
        "builder": f"{task.builder}:{version}",
        "path": path,
    }
