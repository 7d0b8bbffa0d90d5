"""Data for the speed benchmarks, in layouts that both zsbench and CLIP_benchmark read from disk (no download).

* ``wds/perf_cls``: 500 procedural 224 px JPEGs, 10 classes (CIFAR-10's names and its 18 CLIP_benchmark
  templates), CLIP_benchmark's webdataset layout (``test/{0,1}.tar``, ``nshards.txt``, ``classnames.txt``,
  ``zeroshot_classification_templates.txt``), written by zsbench's own exporter in 2 shards.
* ``mscoco``: 100 images x 5 captions in the upstream ``mscoco_captions`` layout (``val2014/*.jpg`` +
  ``coco_test_karpathy.json``). CLIP_benchmark reads it, but zsbench refuses a 100-image copy of a 5,000-image
  split (its size check; ``allow_incomplete`` has no CLI flag), so the timed retrieval runs use
* ``wds/mscoco_captions``: the same 100 images and captions as a retrieval webdataset (2 shards,
  ``dataset_type.txt`` = retrieval), written by zsbench's exporter; both tools read it (``--task
  zeroshot_retrieval``, since CLIP_benchmark infers the task from the full name).
* ``templates_{0..4}.json``: five prompt sets (18 templates each) as ``--custom_template_file`` JSON keyed by the
  dataset's short name, which both tools look up for ``wds/perf_cls``.
* ``vit_b_32_random.pt``: a seeded random ``ViT-B-32`` state dict, passed as ``--pretrained`` to both tools so
  both load the same 605 MB of weights (CLIP_benchmark cannot seed a random model from its CLI).

Run ``python benchmarks/perf/make_data.py [DIR]``; the suite calls :func:`ensure_data`, which rebuilds only when
the version stamp is missing or stale.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

VERSION = "1"
N_IMAGES = 500
N_RETRIEVAL = 100
CAPTIONS_PER_IMAGE = 5
SIZE = 224
SHARD_SIZE = 250  # -> 2 shards; CLIP_benchmark's wds needs --num_workers <= shards
CLASSNAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
CLS_NAME = "perf_cls"
# Four variants of the CIFAR-10 templates; the first prompt set is the unmodified one.
TEMPLATE_SUFFIXES = ["", ", a kind of thing", " in the wild", ", seen from afar", ", close up"]
COLOURS = ["red", "green", "blue", "yellow", "purple", "orange", "white", "black", "grey", "pink"]
SHAPES = ["circle", "square", "triangle", "ring", "cross"]


def default_dir() -> Path:
    """``$ZSBENCH_PERF_DIR``, else ``zsbench_perf`` in the system temporary folder (``$TMPDIR``): the data (600 MB
    of weights) is kept between runs, and is rebuilt when its version stamp is stale."""
    return Path(os.environ.get("ZSBENCH_PERF_DIR") or Path(tempfile.gettempdir()) / "zsbench_perf")


def cifar10_templates() -> list[str]:
    """CLIP_benchmark's 18 CIFAR-10 templates (the bundled copy, identical to clip-benchmark's)."""
    from zsbench.datasets.prompts import templates

    return list(templates("cifar10", "en"))


class _MemoryImages:
    """A minimal ImageSet over PIL images in memory, for zsbench's exporter."""

    def __init__(self, images: list[Any]) -> None:
        self.images = images

    def __len__(self) -> int:
        return len(self.images)

    def image_key(self, index: int) -> str:
        return str(index)

    def load_image(self, index: int) -> Any:
        return self.images[index]

    def fingerprint(self) -> str:
        return f"memory:{len(self.images)}"


def procedural_image(index: int, label: int, rng: Any) -> Any:
    """A noisy background with a few shapes whose colour and kind depend on ``label`` (photo-like entropy)."""
    import numpy as np
    from PIL import Image, ImageDraw

    base = rng.integers(0, 256, size=3)
    noise = rng.normal(0, 40, size=(SIZE, SIZE, 3))
    grad = np.linspace(0, 60, SIZE)[None, :, None]
    arr = np.clip(base[None, None, :] + noise + grad, 0, 255).astype(np.uint8)
    img = Image.fromarray(arr)
    draw = ImageDraw.Draw(img)
    palette = {
        "red": (220, 30, 30),
        "green": (30, 200, 30),
        "blue": (30, 30, 220),
        "yellow": (230, 230, 20),
        "purple": (140, 30, 170),
        "orange": (250, 140, 10),
        "white": (250, 250, 250),
        "black": (5, 5, 5),
        "grey": (128, 128, 128),
        "pink": (250, 150, 200),
    }
    colour = palette[COLOURS[label]]
    for _ in range(int(rng.integers(1, 4))):
        x0, y0 = (int(v) for v in rng.integers(0, SIZE - 60, size=2))
        s = int(rng.integers(30, 100))
        box = (x0, y0, min(SIZE - 1, x0 + s), min(SIZE - 1, y0 + s))
        kind = SHAPES[label % len(SHAPES)]
        if kind in ("circle", "ring"):
            draw.ellipse(box, fill=None if kind == "ring" else colour, outline=colour, width=6)
        elif kind == "square":
            draw.rectangle(box, fill=colour)
        elif kind == "triangle":
            draw.polygon([(box[0], box[3]), (box[2], box[3]), ((box[0] + box[2]) // 2, box[1])], fill=colour)
        else:
            draw.line((box[0], box[1], box[2], box[3]), fill=colour, width=8)
            draw.line((box[0], box[3], box[2], box[1]), fill=colour, width=8)
    return img


def make_classification(out: Path) -> Path:
    import numpy as np

    from zsbench.datasets.base import ClassificationData
    from zsbench.datasets.loaders.webdataset import export_wds

    rng = np.random.default_rng(0)
    labels = [i % len(CLASSNAMES) for i in range(N_IMAGES)]
    images = [procedural_image(i, y, rng) for i, y in enumerate(labels)]
    data = ClassificationData(_MemoryImages(images), labels, list(CLASSNAMES), cifar10_templates())
    root = out / "wds" / CLS_NAME
    export_wds(data, root, image_format="jpg", max_count=SHARD_SIZE)
    return root


def make_retrieval(out: Path) -> Path:
    """COCO Karpathy-style annotation (COCO captions format) + ``val2014/COCO_val2014_*.jpg``."""
    import numpy as np

    rng = np.random.default_rng(1)
    root = out / "mscoco"
    (root / "val2014").mkdir(parents=True, exist_ok=True)
    images, annotations = [], []
    for i in range(N_RETRIEVAL):
        label = int(rng.integers(0, len(CLASSNAMES)))
        name = f"COCO_val2014_{i + 1:012d}.jpg"
        procedural_image(i, label, rng).save(root / "val2014" / name, quality=90)
        images.append({"id": i + 1, "file_name": name, "height": SIZE, "width": SIZE})
        colour, shape = COLOURS[label], SHAPES[label % len(SHAPES)]
        phrases = [
            f"a {colour} {shape} on a noisy background",
            f"some {colour} shapes, image number {i}",
            f"a picture of a {shape} drawn in {colour}",
            f"the {colour} {shape} in photo {i}",
            f"an abstract image with a {shape} that is {colour} and bright",
        ]
        for j, text in enumerate(phrases[:CAPTIONS_PER_IMAGE]):
            annotations.append({"id": i * CAPTIONS_PER_IMAGE + j + 1, "image_id": i + 1, "caption": text})
    ann = {"images": images, "annotations": annotations, "info": {}, "licenses": [], "type": "captions"}
    (root / "coco_test_karpathy.json").write_text(json.dumps(ann))
    return root


def make_retrieval_wds(out: Path) -> Path:
    """``mscoco/`` re-exported as a retrieval webdataset in 2 shards (no size check applies to wds)."""
    from PIL import Image

    from zsbench.datasets.base import RetrievalData
    from zsbench.datasets.loaders.webdataset import export_wds

    ann = json.loads((out / "mscoco" / "coco_test_karpathy.json").read_text())
    captions: dict[int, list[str]] = {}
    for a in ann["annotations"]:
        captions.setdefault(a["image_id"], []).append(a["caption"])
    ordered = sorted(ann["images"], key=lambda im: im["id"])
    images = [Image.open(out / "mscoco" / "val2014" / im["file_name"]).convert("RGB") for im in ordered]
    data = RetrievalData(_MemoryImages(images), [captions[im["id"]] for im in ordered])
    return export_wds(data, out / "wds" / "mscoco_captions", image_format="jpg", max_count=N_RETRIEVAL // 2)


def make_templates(out: Path) -> list[Path]:
    base = cifar10_templates()
    paths = []
    for k, suffix in enumerate(TEMPLATE_SUFFIXES):
        path = out / f"templates_{k}.json"
        path.write_text(json.dumps({CLS_NAME: [t.replace("{c}", "{c}" + suffix) for t in base]}, indent=1))
        paths.append(path)
    return paths


def make_weights(out: Path) -> Path:
    import open_clip
    import torch

    torch.manual_seed(0)
    model = open_clip.create_model("ViT-B-32", pretrained=None)
    path = out / "vit_b_32_random.pt"
    torch.save(model.state_dict(), path)
    return path


def ensure_data(out: Path | None = None) -> dict[str, Path]:
    """Build (once) and return the paths: ``wds_root`` (the folder holding ``wds/``), ``coco``, ``weights``,
    ``templates`` (a list)."""
    out = out or default_dir()
    stamp = out / "VERSION"
    paths: dict[str, Any] = {
        "root": out,
        "wds_root": out,
        "wds": out / "wds" / CLS_NAME,
        "coco": out / "mscoco",
        "wds_retrieval": out / "wds" / "mscoco_captions",
        "weights": out / "vit_b_32_random.pt",
        "templates": [out / f"templates_{k}.json" for k in range(len(TEMPLATE_SUFFIXES))],
    }
    fresh = stamp.exists() and stamp.read_text().strip() == VERSION
    out.mkdir(parents=True, exist_ok=True)
    # Each part is (re)built when missing or when the version stamp is stale.
    steps = [
        (paths["wds"] / "test" / "nshards.txt", make_classification),
        (paths["coco"] / "coco_test_karpathy.json", make_retrieval),
        (paths["wds_retrieval"] / "test" / "nshards.txt", make_retrieval_wds),
        (paths["templates"][-1], make_templates),
        (paths["weights"], make_weights),
    ]
    for marker, make in steps:
        if not (fresh and marker.exists()):
            make(out)
    stamp.write_text(VERSION + "\n")
    return paths


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else None
    print({k: str(v) for k, v in ensure_data(target).items()})
