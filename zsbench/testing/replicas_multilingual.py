"""Replicas of CLIP_benchmark main's multilingual datasets and of pcam / imagenet1k-unverified, for offline tests.

The retrieval replicas write what CLIP_benchmark 1.6.2's ``create_annotation_file(root, lang)`` writes: the images
where its download unpacks them (``<folder>/images/``) and ``<name>-<lang>.json`` in the root with ``image_paths``
(the root as given joined with ``<folder>/images/<file>``), ``annotations`` (one caption per image) and
``indices`` (xtd10) or ``indicies`` (the others). Images encode their index in the red channel (see
:mod:`zsbench.testing.replicas`). Load replicas with ``allow_incomplete=True`` (their sizes differ from the real ones).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from zsbench.testing.replicas import save_image

# name -> (folder under the root, annotation file template, the key CLIP_benchmark writes for the kept line numbers)
ANNOTATION_LAYOUTS = {
    "xtd10": ("xtd10", "xtd10-{}.json", "indices"),
    "xtd200": ("xtd200", "xtd200-{}.json", "indicies"),
    "flickr30k-200": ("flickr30k-200", "flickr30k_200-{}.json", "indicies"),
    "crossmodal3600": ("xm3600", "crossmodal3600_captions-{}.json", "indicies"),
    "multilingual_mscoco_captions": ("multilingual_mscoco", "multilingual_mscoco_captions-{}.json", "indicies"),
}


def image_names(name: str, n: int) -> list[str]:
    """File names as each source names them (COCO file names for XTD, Flickr ids, Open Images keys)."""
    if name in ("xtd10", "xtd200", "multilingual_mscoco_captions"):
        return [f"COCO_{'train' if i % 2 else 'val'}2014_{(i * 37 + 5):012d}.jpg" for i in range(n)]
    if name == "flickr30k-200":
        return [f"{1000092795 + i * 13}.jpg" for i in range(n)]
    return [f"{(i * 2654435761) % (1 << 64):016x}.jpg" for i in range(n)]


def captions(code: str, n: int) -> list[str]:
    return [f"[{code}] Bild Nummer {i}, „ein Test“ – 第{i}张" for i in range(n)]


def write_images(root: Path, name: str, n: int) -> list[str]:
    """``<folder>/images/<file>`` for ``n`` images; returns the root-relative paths in index order."""
    folder = ANNOTATION_LAYOUTS[name][0]
    rel = [f"{folder}/images/{f}" for f in image_names(name, n)]
    for i, r in enumerate(rel):
        save_image(Path(root) / r, i)
    return rel


def write_annotation_json(
    root: Path, name: str, code: str, n: int, *, skip: tuple[int, ...] = (), root_as_given: str | None = None
) -> dict[str, Any]:
    """Images + the annotation JSON for language file code ``code``; ``skip`` drops lines (missing images, as
    CLIP_benchmark drops them), ``root_as_given`` is the root string stored in the paths (default: ``root``)."""
    root = Path(root)
    folder, template, index_key = ANNOTATION_LAYOUTS[name]
    rel = write_images(root, name, n)
    caps = captions(code, n)
    keep = [i for i in range(n) if i not in skip]
    prefix = root_as_given if root_as_given is not None else str(root)
    data = {
        "image_paths": [os.path.join(prefix, rel[i]) for i in keep],
        "annotations": [caps[i] for i in keep],
        index_key: keep,
    }
    path = root / template.format(code)
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return {"images": [rel[i] for i in keep], "captions": [[caps[i]] for i in keep], "file": path}


def write_xm3600_jsonl(root: Path, n: int, codes: tuple[str, ...] = ("en", "de", "zh", "ja")) -> dict[str, Any]:
    """``xm3600/images/<key>.jpg`` + ``xm3600/captions.jsonl`` as in captions.zip (two captions per language)."""
    root = Path(root)
    rel = write_images(root, "crossmodal3600", n)
    lines, first = [], {code: [] for code in codes}
    for i, r in enumerate(rel):
        item: dict[str, Any] = {"image/key": Path(r).stem}
        for code in codes:
            caps = [f"{c} ({code})" for c in captions(code, n)[i : i + 1]] + [f"second caption {i} ({code})"]
            item[code] = {"caption": caps, "caption/tokenized": [c.lower() for c in caps]}
            first[code].append(caps[0])
        lines.append(json.dumps(item, ensure_ascii=False))
    (root / "xm3600" / "captions.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return {"images": rel, "first_captions": first}


def write_pcam(root: Path, n: int, split: str = "test") -> dict[str, Any]:
    """torchvision ``PCAM``: ``pcam/camelyonpatch_level_2_split_<split>_{x,y}.h5`` (x: N x 96 x 96 x 3 uint8,
    y: N x 1 x 1 x 1 uint8). Needs h5py."""
    import h5py
    import numpy as np

    stem = {"train": "train", "val": "valid", "test": "test"}[split]
    d = Path(root) / "pcam"
    d.mkdir(parents=True, exist_ok=True)
    labels = [(i * 3 + 1) % 2 for i in range(n)]
    x = np.zeros((n, 96, 96, 3), dtype=np.uint8)
    for i, lab in enumerate(labels):
        x[i, :, :, 0], x[i, :, :, 1] = i, lab
    with h5py.File(d / f"camelyonpatch_level_2_split_{stem}_x.h5", "w") as f:
        f.create_dataset("x", data=x)
    with h5py.File(d / f"camelyonpatch_level_2_split_{stem}_y.h5", "w") as f:
        f.create_dataset("y", data=np.array(labels, dtype=np.uint8).reshape(n, 1, 1, 1))
    return {"labels": labels}
