"""PASCAL VOC 2007 as CLIP_benchmark builds it (``PASCALVoc2007Cropped`` and ``PASCALVoc2007``).

Samples are the ids in ``ImageSets/Main/aeroplane_<split>.txt``. ``voc2007`` has one sample per ``<object>`` box
(every object, "difficult" ones included), cropped with PIL at the raw XML coordinates; ``voc2007_multilabel`` has
one sample per image with a 0/1 vector over the 20 classes. Class names are the raw VOC category names.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from zsbench.datasets.base import DatasetSpec, FileImageSet
from zsbench.datasets.loaders import _common as c

CATEGORIES = [
    "aeroplane",
    "bicycle",
    "bird",
    "boat",
    "bottle",
    "bus",
    "car",
    "cat",
    "chair",
    "cow",
    "diningtable",
    "dog",
    "horse",
    "motorbike",
    "person",
    "pottedplant",
    "sheep",
    "sofa",
    "train",
    "tvmonitor",
]
BASE = "VOCdevkit/VOC2007"


def read_split(root: Path, split: str) -> list[str]:
    ids = []
    for line in (root / BASE / "ImageSets" / "Main" / f"{CATEGORIES[0]}_{split}.txt").read_text().splitlines():
        parts = line.strip().split()
        if parts:
            ids.append(parts[0])
    return ids


def read_boxes(root: Path, ids: list[str]) -> list[tuple[str, tuple[int, int, int, int], int]]:
    index = {cat: i for i, cat in enumerate(CATEGORIES)}
    out = []
    for image_id in ids:
        tree = ET.parse(root / BASE / "Annotations" / f"{image_id}.xml")
        for obj in tree.findall("object"):
            box = obj.find("bndbox")
            coords = tuple(int(box.find(k).text) for k in ("xmin", "ymin", "xmax", "ymax"))
            out.append((image_id, coords, index[obj.find("name").text.strip()]))
    return out


def _prepare(spec: DatasetSpec, root: Path, split: str, options: dict[str, Any]):
    c.check_options(spec, options)
    c.check_split(spec, split)
    c.require_root(spec, root, f"{BASE}/ImageSets/Main/{CATEGORIES[0]}_{split}.txt", f"{BASE}/Annotations")
    ids = read_split(root, split)
    return ids, read_boxes(root, ids)


def load_voc2007(root: Path, *, split: str = "test", language: str = "en", spec: DatasetSpec, **options: Any):
    from zsbench.datasets.loaders._common import CropImageSet

    _, boxes = _prepare(spec, root, split, options)
    images = CropImageSet(root, [(f"{BASE}/JPEGImages/{i}.jpg", box) for i, box, _ in boxes])
    labels = [label for _, _, label in boxes]
    return c.classification(spec, root, split, language, images, labels, options, dataset_classnames=CATEGORIES)


def load_voc2007_multilabel(
    root: Path, *, split: str = "test", language: str = "en", spec: DatasetSpec, **options: Any
):
    import numpy as np

    ids, boxes = _prepare(spec, root, split, options)
    row = {image_id: i for i, image_id in enumerate(ids)}
    targets = np.zeros((len(ids), len(CATEGORIES)), dtype=np.float32)
    for image_id, _, label in boxes:
        targets[row[image_id], label] = 1.0
    images = FileImageSet(root, [f"{BASE}/JPEGImages/{i}.jpg" for i in ids])
    return c.classification(
        spec, root, split, language, images, targets, options, dataset_classnames=CATEGORIES, multilabel=True
    )
