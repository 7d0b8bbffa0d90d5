"""Miniature SugarCrepe and Winoground copies in their real on-disk formats, for offline tests.

The images are the embedded *shapes* renderings, so the tiny model can tell some captions apart: each instance's
right caption describes its image, and the wrong one changes one attribute (SugarCrepe: the colour or the shape;
Winoground: the other image's caption). Load them with ``allow_incomplete=True`` (Winoground's size differs from
the real 400 examples).
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

from zsbench.datasets.loaders.shapes import COLORS, POSITIONS, SHAPES, render_sample

SEED = 20_241_011  # not a shapes split seed: these renderings are nobody's training data


def _describe(sample: Any, color: str | None = None, shape: str | None = None) -> str:
    return f"a {color or sample.color} {shape or sample.shape} {POSITIONS[sample.position][0]}"


def write_sugar_crepe(
    root: Path, n_images: int, tasks: tuple[str, ...] = ("add_att",), shared: int = 2
) -> dict[str, list[dict[str, str]]]:
    """``root/val2017/<12-digit id>.jpg`` + ``root/<task>.json`` per task; returns each task's entries in order.

    Entry keys are not contiguous (as in the real files), and the first ``shared`` images are used by a second entry
    too (the real splits reuse COCO images), whose negative changes the shape instead of the colour.
    """
    folder = root / "val2017"
    folder.mkdir(parents=True, exist_ok=True)
    samples = []
    for i in range(n_images):
        sample = render_sample(SEED, i)
        name = f"{100_000 + 7 * i:012d}.jpg"
        sample.image.save(folder / name, format="JPEG", quality=90)
        samples.append((name, sample))
    written: dict[str, list[dict[str, str]]] = {}
    colors, shapes = list(COLORS), list(SHAPES)
    for t, task in enumerate(tasks):
        entries: dict[str, dict[str, str]] = {}
        for i, (name, s) in enumerate(samples):
            other = colors[(colors.index(s.color) + 1 + (i + t) % (len(colors) - 1)) % len(colors)]
            entries[str(3 * i + t)] = {
                "filename": name,
                "caption": _describe(s),
                "negative_caption": _describe(s, other),
            }
        for i, (name, s) in enumerate(samples[:shared]):
            other = shapes[(shapes.index(s.shape) + 1 + i) % len(shapes)]
            entries[str(1000 + i)] = {
                "filename": name,
                "caption": _describe(s),
                "negative_caption": _describe(s, shape=other),
            }
        (root / f"{task}.json").write_text(json.dumps(entries, indent=1))
        written[task] = list(entries.values())
    return written


def winoground_examples(n_examples: int) -> list[tuple[dict[str, Any], Any, Any]]:
    """``(example, image_0, image_1)``: two renderings per example, each caption describing its own image."""
    out = []
    for k in range(n_examples):
        a, b = render_sample(SEED + 1, 2 * k), render_sample(SEED + 1, 2 * k + 1)
        example = {
            "id": k,
            "image_0": f"ex_{k}_img_0",
            "image_1": f"ex_{k}_img_1",
            "caption_0": _describe(a),
            "caption_1": _describe(b),
            "tag": "Object",
            "secondary_tag": "",
            "num_main_preds": 1,
            "collapsed_tag": "Object",
        }
        out.append((example, a.image, b.image))
    return out


def _png(image: Any) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def write_winoground(root: Path, n_examples: int, fmt: str = "folder") -> list[dict[str, Any]]:
    """The release's layout under ``root/data``: ``examples.jsonl`` + ``images/`` (``fmt="folder"``) or the
    unextracted ``images.zip`` (``"zip"``); or ``"parquet"``: ``root/data/test-00000-of-00001.parquet`` with the
    images as Hugging Face Image structs ``{bytes, path}`` (needs pyarrow). Returns the examples in order."""
    import zipfile

    data = root / "data"
    data.mkdir(parents=True, exist_ok=True)
    examples = winoground_examples(n_examples)
    if fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        columns: dict[str, list[Any]] = {k: [] for k in examples[0][0]}
        for example, im0, im1 in examples:
            for key, value in example.items():
                columns[key].append(value)
            columns["image_0"][-1] = {"bytes": _png(im0), "path": f"{example['image_0']}.png"}
            columns["image_1"][-1] = {"bytes": _png(im1), "path": f"{example['image_1']}.png"}
        # Two row groups, so that reading an image past the first group is exercised.
        pq.write_table(pa.table(columns), data / "test-00000-of-00001.parquet", row_group_size=max(1, n_examples // 2))
        return [e for e, _, _ in examples]
    (data / "examples.jsonl").write_text("".join(json.dumps(e) + "\n" for e, _, _ in examples))
    if fmt == "folder":
        (data / "images").mkdir(exist_ok=True)
        for example, im0, im1 in examples:
            (data / "images" / f"{example['image_0']}.png").write_bytes(_png(im0))
            (data / "images" / f"{example['image_1']}.png").write_bytes(_png(im1))
    elif fmt == "zip":
        with zipfile.ZipFile(data / "images.zip", "w") as zf:
            for example, im0, im1 in examples:
                zf.writestr(f"images/{example['image_0']}.png", _png(im0))
                zf.writestr(f"images/{example['image_1']}.png", _png(im1))
    else:
        raise ValueError(f"unknown winoground replica format {fmt!r}")
    return [e for e, _, _ in examples]
