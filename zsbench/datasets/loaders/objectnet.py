"""ObjectNet restricted to the classes that overlap ImageNet-1k (wise-ft / CLIP_benchmark ``ObjectNetDataset``).

Classes are the ObjectNet folders that map to ImageNet classes, in sorted folder order; class names are the
lowercased ObjectNet names; images of other folders are dropped (that is the benchmark's definition, not a skip).
No border crop is applied, as in CLIP_benchmark.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from zsbench.datasets.base import DatasetSpec, FileImageSet
from zsbench.datasets.loaders import _common as c

MAPPING_FILES = (
    "folder_to_objectnet_label.json",
    "objectnet_to_imagenet_1k.json",
    "pytorch_to_imagenet_2012_id.json",
    "imagenet_to_label_2012_v2",
)


def overlap_classes(root: Path) -> tuple[list[str], list[str]]:
    """(sorted folder names of the overlapping classes, their lowercased ObjectNet names)."""
    with open(root / "folder_to_objectnet_label.json") as f:
        folder_to_label = json.load(f)
    label_to_folder = {v: k for k, v in folder_to_label.items()}
    with open(root / "objectnet_to_imagenet_1k.json") as f:
        objectnet_map = json.load(f)
    # The two ImageNet files are only needed for the 1000-way mask wise-ft builds; reading them checks they parse.
    with open(root / "pytorch_to_imagenet_2012_id.json") as f:
        json.load(f)
    folders = sorted(label_to_folder[name] for name in objectnet_map)
    return folders, [folder_to_label[f].lower() for f in folders]


def load_objectnet(root: Path, *, split: str = "test", language: str = "en", spec: DatasetSpec, **options: Any):
    c.check_options(spec, options)
    c.check_split(spec, split)
    images_dir = "objectnet-1.0/images"
    c.require_root(spec, root, images_dir, *MAPPING_FILES)
    folders, names = overlap_classes(root)
    label = {f: i for i, f in enumerate(folders)}
    _, samples = c.image_folder(root / images_dir)
    rel, labels = [], []
    for path, _ in samples:
        folder = Path(path).parts[0]
        if folder in label:
            rel.append(f"{images_dir}/{path}")
            labels.append(label[folder])
    return c.classification(
        spec, root, split, language, FileImageSet(root, rel), labels, options, dataset_classnames=names
    )
