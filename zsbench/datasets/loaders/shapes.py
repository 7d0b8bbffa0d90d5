"""The embedded "shapes" datasets: procedural coloured shapes, generated deterministically from a seed.

They exist so that zsbench (and its tests) can run a real evaluation without any download: the images are
written in the same on-disk formats as real datasets (an ImageFolder tree for classification and a
COCO-captions JSON for retrieval) and read back through the ordinary loaders.

Every sample is a pure function of ``(split seed, index)``, so a split is the same bytes on every machine
with the same Pillow/zlib, and the training stream (``TRAIN_SEED``) never overlaps an evaluation split.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zsbench.datasets.base import ClassificationData, DatasetSpec, FileImageSet, RetrievalData
from zsbench.errors import DatasetNotFoundError, UnknownNameError

GENERATOR_VERSION = 1
IMAGE_SIZE = 64

SHAPES = (
    "circle",
    "square",
    "triangle",
    "pentagon",
    "hexagon",
    "star",
    "diamond",
    "cross",
    "ring",
    "semicircle",
)
COLORS = {
    "red": (220, 40, 40),
    "green": (40, 180, 60),
    "blue": (50, 90, 230),
    "yellow": (235, 215, 40),
    "purple": (150, 60, 200),
    "orange": (245, 140, 30),
    "white": (240, 240, 240),
}
SIZES = {"small": (7.0, 9.5), "large": (13.0, 16.0)}
POSITIONS = {  # name -> (phrase, centre x, centre y)
    "left": ("on the left", 18, 32),
    "right": ("on the right", 46, 32),
    "top": ("at the top", 32, 18),
    "bottom": ("at the bottom", 32, 46),
    "center": ("in the center", 32, 32),
}

CLASSNAMES = list(SHAPES)
TEMPLATES = [
    "a {c}.",
    "a drawing of a {c}.",
    "a picture of a {c}.",
    "a {c} shape.",
    "a small {c}.",
    "a large {c}.",
]

# Split seeds: distinct values, so the evaluation splits and the training stream never share a sample.
# "train" is the tiny model's training stream; "probe_train" is the shapes dataset's own train split (the linear
# probe's training data), a fresh stream so that a probe, like one on a real dataset, never trains on what the
# encoder was trained on.
SPLIT_SEEDS = {"test": 20_240_001, "captions_test": 20_240_002, "train": 20_240_777, "probe_train": 20_240_003}
CLASSIFICATION_SIZE = 500
# The classification splits: split name -> (seed, number of images); each balanced over the ten classes.
CLASSIFICATION_SPLITS = {"test": (SPLIT_SEEDS["test"], CLASSIFICATION_SIZE), "train": (SPLIT_SEEDS["probe_train"], 500)}
RETRIEVAL_SIZE = 100
CAPTIONS_PER_IMAGE = 5


@dataclass(frozen=True)
class ShapeSample:
    """One rendered sample: its attributes, its five captions and the image."""

    shape: str
    color: str
    size: str
    position: str
    captions: tuple[str, ...]
    image: Any  # PIL.Image


def captions_for(shape: str, color: str, size: str, position: str) -> tuple[str, ...]:
    """The five reference captions of an image (retrieval targets and training texts)."""
    where = POSITIONS[position][0]
    return (
        f"a {size} {color} {shape} {where}",
        f"a {color} {shape} {where}",
        f"a {size} {shape} {where}",
        f"a {size} {color} {shape}",
        f"there is a {color} {shape} {where}",
    )


def _polygon(n: int, cx: float, cy: float, r: float, angle: float, inner: float | None = None) -> list[tuple]:
    # A regular n-gon (or a 2n-point star when ``inner`` is given), first vertex pointing up.
    pts = []
    steps = 2 * n if inner else n
    for k in range(steps):
        a = angle - math.pi / 2 + 2 * math.pi * k / steps
        rr = r * inner if inner and k % 2 else r
        pts.append((cx + rr * math.cos(a), cy + rr * math.sin(a)))
    return pts


def _draw_shape(draw: Any, shape: str, cx: float, cy: float, r: float, angle: float, fill: tuple) -> None:
    if shape == "circle":
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=fill)
    elif shape == "ring":
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], outline=fill, width=max(2, round(r * 0.3)))
    elif shape == "semicircle":  # flat side down
        draw.pieslice([cx - r, cy - r * 0.6, cx + r, cy + r * 1.4], 180, 360, fill=fill)
    elif shape == "square":
        draw.polygon(_polygon(4, cx, cy, r * 1.15, angle + math.pi / 4), fill=fill)
    elif shape == "triangle":
        draw.polygon(_polygon(3, cx, cy + r * 0.2, r * 1.15, angle), fill=fill)
    elif shape == "pentagon":
        draw.polygon(_polygon(5, cx, cy, r * 1.05, angle), fill=fill)
    elif shape == "hexagon":
        draw.polygon(_polygon(6, cx, cy, r * 1.05, angle + math.pi / 6), fill=fill)
    elif shape == "star":
        draw.polygon(_polygon(5, cx, cy, r * 1.2, angle, inner=0.42), fill=fill)
    elif shape == "diamond":  # a tall rhombus, so it differs from a rotated square
        c, s = math.cos(angle), math.sin(angle)
        local = [(0, -r * 1.2), (r * 0.65, 0), (0, r * 1.2), (-r * 0.65, 0)]
        draw.polygon([(cx + x * c - y * s, cy + x * s + y * c) for x, y in local], fill=fill)
    elif shape == "cross":
        t = r * 0.36
        c, s = math.cos(angle), math.sin(angle)
        local = [
            (-t, -r),
            (t, -r),
            (t, -t),
            (r, -t),
            (r, t),
            (t, t),
            (t, r),
            (-t, r),
            (-t, t),
            (-r, t),
            (-r, -t),
            (-t, -t),
        ]
        draw.polygon([(cx + x * c - y * s, cy + x * s + y * c) for x, y in local], fill=fill)
    else:  # pragma: no cover - SHAPES is closed
        raise ValueError(shape)


def render_sample(seed: int, index: int, shape: str | None = None) -> ShapeSample:
    """Sample ``index`` of the stream with seed ``seed``; ``shape`` forces the class (balanced test splits)."""
    import numpy as np
    from PIL import Image, ImageDraw

    rng = np.random.default_rng([GENERATOR_VERSION, seed, index])
    shape_ = shape if shape is not None else SHAPES[int(rng.integers(len(SHAPES)))]
    color = list(COLORS)[int(rng.integers(len(COLORS)))]
    size = list(SIZES)[int(rng.integers(len(SIZES)))]
    position = list(POSITIONS)[int(rng.integers(len(POSITIONS)))]
    bg = int(rng.integers(0, 60))
    background = tuple(int(v) for v in np.clip(bg + rng.integers(-10, 11, size=3), 0, 255))
    fill = tuple(int(v) for v in np.clip(np.array(COLORS[color]) + rng.integers(-20, 21, size=3), 0, 255))
    lo, hi = SIZES[size]
    r = float(rng.uniform(lo, hi))
    _, px, py = POSITIONS[position]
    cx = px + float(rng.uniform(-3, 3))
    cy = py + float(rng.uniform(-3, 3))
    angle = float(rng.uniform(-0.2, 0.2))  # small tilt; large rotations would make triangles ambiguous

    img = Image.new("RGB", (IMAGE_SIZE, IMAGE_SIZE), background)
    _draw_shape(ImageDraw.Draw(img), shape_, cx, cy, r, angle, fill)
    return ShapeSample(shape_, color, size, position, captions_for(shape_, color, size, position), img)


def iter_samples(seed: int, start: int = 0) -> Iterator[ShapeSample]:
    """An endless stream of samples (used for training with ``SPLIT_SEEDS["train"]``)."""
    index = start
    while True:
        yield render_sample(seed, index)
        index += 1


# ---------------------------------------------------------------------------------------------- writing


def _save_png(img: Any, path: Path) -> None:
    # Fixed encoder settings so the bytes only depend on the pixels.
    img.save(path, format="PNG", optimize=False, compress_level=6)


def _write_classification(dest: Path, n: int, split: str = "test") -> None:
    seed = CLASSIFICATION_SPLITS[split][0]
    for cls in SHAPES:
        (dest / split / cls).mkdir(parents=True)
    for i in range(n):
        sample = render_sample(seed, i, shape=SHAPES[i % len(SHAPES)])
        _save_png(sample.image, dest / split / sample.shape / f"{i:05d}.png")


def ensure_classification_split(root: str | os.PathLike[str], split: str) -> Path:
    """``<root>/shapes/<split>``, generated the first time it is needed (atomically, as :func:`ensure_generated`).

    The test split comes with the dataset folder; other splits (the train split, added later) are generated into
    an existing folder on first use, so a shapes copy made before they existed keeps its test bytes.
    """
    base = ensure_generated(root, "shapes")
    dest = base / split
    if dest.exists():
        return dest

    def write(tmp: Path) -> Path:
        _write_classification(tmp, CLASSIFICATION_SPLITS[split][1], split)
        return tmp / split

    return _publish(dest, write)


def _write_retrieval(dest: Path, n: int) -> None:
    seed = SPLIT_SEEDS["captions_test"]
    (dest / "images").mkdir(parents=True)
    images, annotations = [], []
    for i in range(n):
        sample = render_sample(seed, i)
        name = f"{i:05d}.png"
        _save_png(sample.image, dest / "images" / name)
        images.append({"id": i, "file_name": name, "width": IMAGE_SIZE, "height": IMAGE_SIZE})
        for cap in sample.captions:
            annotations.append({"id": len(annotations), "image_id": i, "caption": cap})
    coco = {
        "info": {"description": "zsbench procedural shapes captions", "version": GENERATOR_VERSION, "seed": seed},
        "licenses": [],
        "images": images,
        "annotations": annotations,
    }
    (dest / "captions_test.json").write_text(json.dumps(coco, indent=1, sort_keys=True))


def ensure_generated(root: str | os.PathLike[str], name: str) -> Path:
    """``<root>/<name>``, generated the first time it is needed; returns the folder.

    The split is written to a temporary folder beside its destination and renamed into place, so an
    interrupted or concurrent run never leaves a half-written dataset that looks complete. Folders get mode
    0755 and files 0644 (``tempfile.mkdtemp`` creates 0700, which would hide the shared cache from other users).
    """
    if name not in _WRITERS:
        raise UnknownNameError(f"unknown shapes dataset {name!r}; valid choices: {', '.join(_WRITERS)}")
    root = Path(root)
    dest = root / name
    if dest.exists():
        return dest
    root.mkdir(parents=True, exist_ok=True)
    writer, n = _WRITERS[name]

    def write(tmp: Path) -> Path:
        writer(tmp, n)
        (tmp / "GENERATOR.json").write_text(
            json.dumps({"generator": __name__, "version": GENERATOR_VERSION, "images": n}) + "\n"
        )
        return tmp

    return _publish(dest, write)


def _publish(dest: Path, write: Callable[[Path], Path]) -> Path:
    """Generate into a temporary folder beside ``dest`` and rename it into place.

    ``write(tmp)`` fills ``tmp`` and returns the folder to become ``dest`` (``tmp`` itself or a folder in it).
    An interrupted or concurrent run never leaves a half-written folder that looks complete; a lost race with
    another process that published ``dest`` first is no error.
    """
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.tmp-", dir=dest.parent))
    try:
        ready = write(tmp)
        _normal_permissions(tmp)
        try:
            os.rename(ready, dest)
        except OSError:
            if not dest.exists():  # not a lost race with another process: a real error
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return dest


def _normal_permissions(folder: Path) -> None:
    """0755 for ``folder`` and every folder below it, 0644 for every file, whatever created them."""
    os.chmod(folder, 0o755)
    for dirpath, dirnames, filenames in os.walk(folder):
        for d in dirnames:
            os.chmod(os.path.join(dirpath, d), 0o755)
        for f in filenames:
            os.chmod(os.path.join(dirpath, f), 0o644)


_WRITERS = {
    "shapes": (_write_classification, CLASSIFICATION_SIZE),
    "shapes_captions": (_write_retrieval, RETRIEVAL_SIZE),
}


# ---------------------------------------------------------------------------------------------- loaders


def _check(split: str, language: str, spec: DatasetSpec | None, name: str) -> None:
    splits = spec.splits if spec else ("test",)
    languages = spec.languages if spec else ("en",)
    if split not in splits:
        raise UnknownNameError(f"unknown split {split!r} for {name}; valid choices: {', '.join(splits)}")
    if language not in languages:
        raise UnknownNameError(f"unknown language {language!r} for {name}; valid choices: {', '.join(languages)}")


def load_shapes(
    root: Path, split: str = "test", language: str = "en", spec: DatasetSpec | None = None, **options: Any
) -> ClassificationData:
    """The shapes classification split, read as an ImageFolder tree ``<root>/shapes/<split>/<class>/*.png``."""
    _check(split, language, spec, "shapes")
    base = ensure_classification_split(root, split)
    relpaths: list[str] = []
    targets: list[int] = []
    for label, cls in enumerate(CLASSNAMES):  # ImageFolder order: sorted class folders would differ, so be explicit
        folder = base / cls
        if not folder.is_dir():
            raise DatasetNotFoundError(f"{folder} is missing; delete {base.parent} to regenerate the shapes dataset")
        for f in sorted(folder.glob("*.png")):
            relpaths.append(f"{cls}/{f.name}")
            targets.append(label)
    _check_size(spec, split, len(relpaths), base.parent)
    return ClassificationData(
        images=FileImageSet(base, relpaths),
        targets=targets,
        classnames=list(CLASSNAMES),
        templates=list(TEMPLATES),
        info={"generator_version": GENERATOR_VERSION, "seed": CLASSIFICATION_SPLITS[split][0]},
    )


def load_shapes_captions(
    root: Path, split: str = "test", language: str = "en", spec: DatasetSpec | None = None, **options: Any
) -> RetrievalData:
    """The shapes retrieval split: ``<root>/shapes_captions/images/*.png`` + ``captions_<split>.json`` (COCO)."""
    from pycocotools.coco import COCO

    _check(split, language, spec, "shapes_captions")
    base = ensure_generated(root, "shapes_captions")
    ann_file = base / f"captions_{split}.json"
    if not ann_file.is_file():
        raise DatasetNotFoundError(f"{ann_file} is missing; delete {base} to regenerate the shapes_captions dataset")
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints progress lines
        coco = COCO(str(ann_file))
    ids = sorted(coco.imgs)
    relpaths = [f"images/{coco.imgs[i]['file_name']}" for i in ids]
    captions = [[a["caption"] for a in coco.imgToAnns[i]] for i in ids]
    _check_size(spec, split, len(relpaths), base)
    if spec and f"{split}/captions" in spec.sizes and sum(map(len, captions)) != spec.sizes[f"{split}/captions"]:
        raise DatasetNotFoundError(f"{ann_file} has the wrong number of captions; delete {base} to regenerate it")
    return RetrievalData(
        images=FileImageSet(base, relpaths),
        captions=captions,
        info={"generator_version": GENERATOR_VERSION, "seed": SPLIT_SEEDS["captions_test"]},
    )


def _check_size(spec: DatasetSpec | None, split: str, n: int, folder: Path) -> None:
    if spec and split in spec.sizes and n != spec.sizes[split]:
        raise DatasetNotFoundError(
            f"{folder} has {n} images in split {split!r}, expected {spec.sizes[split]}; delete it to regenerate"
        )
