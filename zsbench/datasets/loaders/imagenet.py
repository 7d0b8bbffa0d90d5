"""ImageNet-1k (val), ImageNet-A/-R/-O, ImageNetV2 and ImageNet-Sketch.

Labels index OpenAI's 1000 class names in sorted-wnid order (``imagenet1k`` in the prompt files). For ImageNet-A/R/O
the class list is the 1000 names masked to the subset's 200 wnids (CLIP_benchmark's hard-coded lists, bundled in
``data/imagenet_wnids.json``), and a label is the position of the image's wnid among those 200. With the complete
folders this equals torchvision ``ImageFolder``'s index; computing it from the wnid keeps a partial copy correct too.
"""

from __future__ import annotations

import io
import json
import os
import tarfile
from functools import lru_cache
from pathlib import Path
from typing import Any

from zsbench.datasets.base import DatasetSpec, FileImageSet
from zsbench.datasets.loaders import _common as c
from zsbench.errors import DatasetNotFoundError

DEVKIT = "ILSVRC2012_devkit_t12.tar.gz"
VAL_TAR = "ILSVRC2012_img_val.tar"


@lru_cache(maxsize=1)
def wnid_lists() -> dict[str, list[str]]:
    from zsbench.datasets.prompts import DATA_DIR

    with open(DATA_DIR / "imagenet_wnids.json") as f:
        return json.load(f)


def _wnid_samples(
    spec: DatasetSpec, root: Path, folder: Path, wnids: list[str]
) -> tuple[list[str], list[int], dict[str, Any]]:
    """ImageFolder order over ``folder``; labels = position of the folder's wnid in ``wnids`` (by name, so a
    missing folder shifts nothing); the info dict lists the wnids without a folder (``absent_classes``)."""
    index = {w: i for i, w in enumerate(wnids)}
    classes, samples = c.image_folder(folder)
    unknown = [d for d in classes if d not in index]
    if unknown:
        raise DatasetNotFoundError(
            f"dataset {spec.name!r}: folders {unknown[:3]} in {folder} are not among its {len(wnids)} wnids; "
            f"{c.obtain_hint(spec)}"
        )
    prefix = os.path.relpath(folder, root)
    rel = [os.path.normpath(os.path.join(prefix, p)) for p, _ in samples]
    present = set(classes)
    absent = [w for w in wnids if w not in present]
    return rel, [index[classes[k]] for _, k in samples], ({"absent_classes": absent} if absent else {})


def _parse_devkit(path: Path) -> list[str]:
    """The wnid of each validation image, in sorted file-name order (torchvision ``parse_devkit_archive``)."""
    try:
        import scipy.io as sio
    except ImportError as e:  # torchvision needs scipy for the devkit too
        raise DatasetNotFoundError(
            f"reading {path} needs scipy (pip install scipy), or extract the images into val/<wnid>/"
        ) from e
    with tarfile.open(path) as tar:
        names = {Path(m.name).name: m for m in tar.getmembers() if m.isfile()}
        meta = sio.loadmat(io.BytesIO(tar.extractfile(names["meta.mat"]).read()), squeeze_me=True)["synsets"]
        truth = tar.extractfile(names["ILSVRC2012_validation_ground_truth.txt"]).read().decode().split()
    leaves = [row for row in meta if int(row[4]) == 0]  # num_children == 0: the 1000 classes
    idx_to_wnid = {int(row[0]): str(row[1]) for row in leaves}
    return [idx_to_wnid[int(i)] for i in truth]


def val_samples(spec: DatasetSpec, root: Path, options: dict[str, Any]) -> tuple[Any, list[int], dict[str, Any]]:
    """ImageNet-1k validation images, labels (sorted-wnid index) and info, from ``val/<wnid>/`` or devkit + tar.

    Sample order equals torchvision ``ImageNet(split='val')``: sorted wnid, then file name.
    """
    wnids = wnid_lists()["imagenet1k"]
    if (root / "val").is_dir():
        rel, labels, info = _wnid_samples(spec, root, root / "val", wnids)
        return FileImageSet(root, rel), labels, {"source": "val/", **info}
    c.require_root(spec, root, DEVKIT, VAL_TAR)
    val_wnids = _parse_devkit(root / DEVKIT)
    with tarfile.open(root / VAL_TAR) as tar:
        members = sorted((m for m in tar.getmembers() if m.isfile()), key=lambda m: m.name)
    if len(members) != len(val_wnids) and not options.get("allow_incomplete"):
        raise DatasetNotFoundError(
            f"dataset {spec.name!r}: {VAL_TAR} has {len(members)} images but the devkit lists "
            f"{len(val_wnids)}; {c.obtain_hint(spec)}"
        )
    # Ground truth line i belongs to the i-th validation image by name; only the images present are used.
    by_name = dict(zip((f"ILSVRC2012_val_{i + 1:08d}.JPEG" for i in range(len(val_wnids))), val_wnids))
    index = {w: i for i, w in enumerate(wnids)}
    rows = sorted((by_name[Path(m.name).name], Path(m.name).name, m) for m in members)
    images = c.ArchiveImageSet(root, [(VAL_TAR, m.offset_data, m.size, name) for _, name, m in rows])
    return images, [index[w] for w, _, _ in rows], {"source": VAL_TAR}


def load_imagenet1k(root: Path, *, split: str = "test", language: str = "en", spec: DatasetSpec, **options: Any):
    """ImageNet-1k validation set (CLIP_benchmark's ``test``), from ``val/<wnid>/`` or the devkit + val tar."""
    c.check_options(spec, options)
    c.check_split(spec, split)
    images, labels, info = val_samples(spec, root, options)
    return c.classification(
        spec, root, split, language, images, labels, options, classnames_key="imagenet1k", info=info
    )


def _subset(spec: DatasetSpec, root: Path, split: str, language: str, key: str, options: dict[str, Any]):
    c.check_options(spec, options)
    c.check_split(spec, split)
    c.require_root(spec, root)
    allw = wnid_lists()["imagenet1k"]
    subset = wnid_lists()[key]
    rel, labels, info = _wnid_samples(spec, root, root, subset)
    # Mask the 1000 names (any language) to the subset, in sorted-wnid order, as CLIP_benchmark does.
    mask = {allw.index(w) for w in subset}
    data = c.classification(
        spec, root, split, language, FileImageSet(root, rel), labels, options, classnames_key="imagenet1k", info=info
    )
    if not options.get("custom_classname_file"):
        data.classnames = [n for i, n in enumerate(data.classnames) if i in mask]
        data.info["classnames_source"] += f" masked to {key} ({len(subset)} wnids)"
    return data


def load_imagenet_a(root: Path, *, split: str = "test", language: str = "en", spec: DatasetSpec, **options: Any):
    return _subset(spec, root, split, language, "imagenet-a", options)


def load_imagenet_r(root: Path, *, split: str = "test", language: str = "en", spec: DatasetSpec, **options: Any):
    return _subset(spec, root, split, language, "imagenet-r", options)


def load_imagenet_o(root: Path, *, split: str = "test", language: str = "en", spec: DatasetSpec, **options: Any):
    return _subset(spec, root, split, language, "imagenet-o", options)


def load_imagenet_sketch(root: Path, *, split: str = "test", language: str = "en", spec: DatasetSpec, **options: Any):
    c.check_options(spec, options)
    c.check_split(spec, split)
    c.require_root(spec, root)
    rel, labels, info = _wnid_samples(spec, root, root, wnid_lists()["imagenet1k"])
    return c.classification(
        spec, root, split, language, FileImageSet(root, rel), labels, options, classnames_key="imagenet1k", info=info
    )


def load_imagenetv2(root: Path, *, split: str = "test", language: str = "en", spec: DatasetSpec, **options: Any):
    """ImageNetV2 matched-frequency: ``<int label>/*.jpeg``.

    wise-ft/CLIP_benchmark take ``glob('**/*.jpeg')`` in file-system order; zsbench sorts by (label, name) so the
    order is the same on every machine (metrics do not depend on order).
    """
    c.check_options(spec, options)
    c.check_split(spec, split)
    base = "ImageNetV2-matched-frequency"
    c.require_root(spec, root, base)
    rows = sorted((int(p.parent.name), p.name, p) for p in (root / base).glob("**/*.jpeg"))
    rel = [os.path.relpath(p, root) for _, _, p in rows]
    labels = [lab for lab, _, _ in rows]
    bad = [lab for lab in labels if not 0 <= lab < 1000]
    if bad:
        raise DatasetNotFoundError(f"dataset 'imagenetv2': label folder {bad[0]} is outside 0..999")
    return c.classification(
        spec, root, split, language, FileImageSet(root, rel), labels, options, classnames_key="imagenet1k"
    )
