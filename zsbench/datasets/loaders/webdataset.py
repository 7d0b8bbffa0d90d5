"""Local webdataset shards in CLIP_benchmark's layout, read and written with ``tarfile`` (no webdataset needed).

Layout (``clip_benchmark_export_wds``)::

    root/<split>/nshards.txt        number of shards (mandatory: a missing one used to evaluate one shard silently)
    root/<split>/{0..n-1}.tar       samples s0000000.<webp|png|jpg|jpeg> + .cls (int) | .npy (multi-hot) | .txt
    root/classnames.txt             one class name per line (classification)
    root/zeroshot_classification_templates.txt   one template per line
    root/dataset_type.txt           'retrieval' or 'multilabel'; absent = classification

Images stay in the shards and are read lazily by byte range. As in CLIP_benchmark, class names and templates come
from the shard folder, so ``--language`` has no effect on ``wds/`` datasets: another language is an error unless
custom classname and template files are passed. ``export_wds`` writes the same layout for classification,
multilabel and retrieval data (CLIP_benchmark's retrieval export fails at HEAD, notes 3.8).
"""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path
from typing import Any

from zsbench.datasets.base import CLASSIFICATION, RETRIEVAL, ClassificationData, DatasetSpec, RetrievalData
from zsbench.datasets.languages import require_language
from zsbench.datasets.loaders import _common as c
from zsbench.errors import DatasetNotFoundError, ZsbenchError

IMAGE_EXTS = ("webp", "png", "jpg", "jpeg")
RETRIEVAL_NAMES = {
    "flickr30k",
    "flickr8k",
    "mscoco_captions",
    "multilingual_mscoco_captions",
    "flickr30k-200",
    "crossmodal3600",
    "xtd10",
    "xtd200",
}


def wds_spec(name: str) -> DatasetSpec:
    """The spec of a ``wds/<name>`` dataset; the default task follows the stripped name (CLIP_benchmark 3.7)."""
    short = name.split("/", 1)[1]
    task = RETRIEVAL if short in RETRIEVAL_NAMES else CLASSIFICATION
    return DatasetSpec(
        name=name,
        task=task,
        loader="zsbench.datasets.loaders.webdataset:load_wds",
        splits=("test", "train", "val"),
        languages=("en",),
        layout="<split>/nshards.txt + <split>/{0..n-1}.tar + classnames.txt + zeroshot_classification_templates.txt "
        "[+ dataset_type.txt]",
        source=f"https://huggingface.co/datasets/clip-benchmark/wds_{short.replace('/', '-')} (download the repository "
        "folder; zsbench reads local shards only)",
        prompt_key=name,
    )


def _read_text(path: Path) -> str | None:
    return path.read_text(encoding="utf-8") if path.exists() else None


def _index_shards(root: Path, split: str) -> list[dict[str, Any]]:
    nshards_file = root / split / "nshards.txt"
    if not nshards_file.exists():
        raise DatasetNotFoundError(f"webdataset at {root}: missing {nshards_file} (mandatory; it says how many shards)")
    n = int(nshards_file.read_text().strip())
    samples: dict[tuple[str, str], dict[str, Any]] = {}
    order: list[tuple[str, str]] = []
    for i in range(n):
        shard = root / split / f"{i}.tar"
        if not shard.exists():
            raise DatasetNotFoundError(f"webdataset at {root}: nshards.txt says {n} shards but {shard} is missing")
        rel = f"{split}/{i}.tar"
        with tarfile.open(shard) as tar:
            for m in tar:
                if not m.isfile():
                    continue
                base = os.path.basename(m.name)
                key, _, ext = base.partition(".")  # webdataset splits the key at the first dot
                key = f"{os.path.dirname(m.name)}/{key}" if os.path.dirname(m.name) else key
                if (rel, key) not in samples:
                    samples[(rel, key)] = {"shard": rel, "key": key}
                    order.append((rel, key))
                entry = samples[(rel, key)]
                if ext.lower() in IMAGE_EXTS:
                    entry["image"] = (rel, m.offset_data, m.size, m.name)
                else:
                    entry[ext.lower()] = tar.extractfile(m).read()
    return [samples[k] for k in order]


def load_wds(root: Path, *, split: str = "test", language: str = "en", spec: DatasetSpec, **options: Any):
    c.check_options(spec, options)
    c.check_split(spec, split)
    c.require_root(spec, root)
    samples = _index_shards(root, split)
    missing = [s["key"] for s in samples if "image" not in s]
    if missing:
        raise DatasetNotFoundError(f"webdataset at {root}: samples without an image: {missing[:3]}")
    images = c.ArchiveImageSet(root, [s["image"] for s in samples])
    dataset_type = (_read_text(root / "dataset_type.txt") or "classification").strip().lower()
    info = {"wds_dataset_type": dataset_type}
    if dataset_type == "retrieval":
        captions = [s["txt"].decode("utf-8").splitlines() for s in samples]
        lang = require_language(language, spec.languages, spec.name, what="captions")
        return c.retrieval(spec, root, split, lang, images, captions, options, info=info)

    import numpy as np

    if dataset_type == "multilabel":
        targets: Any = np.stack([np.load(io.BytesIO(s["npy"])) for s in samples]).astype(np.float32)
    else:
        targets = [int(s["cls"].decode().strip()) for s in samples]
    classes = _read_text(root / "classnames.txt")
    tmpl = _read_text(root / "zeroshot_classification_templates.txt")
    opts = dict(options)
    if classes is None and not opts.get("custom_classname_file"):
        raise DatasetNotFoundError(f"webdataset at {root}: classnames.txt is missing (needed for classification)")
    if tmpl is None and not opts.get("custom_template_file"):
        raise DatasetNotFoundError(
            f"webdataset at {root}: zeroshot_classification_templates.txt is missing (needed for classification)"
        )
    names = [x.strip() for x in (classes or "").splitlines() if x.strip()]
    templates = [x.strip() for x in (tmpl or "").splitlines() if x.strip()]
    data = c.classification(
        spec,
        root,
        split,
        language,
        images,
        targets,
        opts,
        dataset_classnames=names or None,
        multilabel=dataset_type == "multilabel",
        info=info,
    )
    if not opts.get("custom_template_file"):
        from zsbench.datasets.prompts import template_set_id

        data.templates = templates
        tid, sha = template_set_id(templates, f"wds:{spec.name}")
        data.info.update(template_set=tid, template_sha256=sha)
    return data


# --- export --------------------------------------------------------------------------------------------------------
_SAVE = {"webp": {"format": "webp", "lossless": True}, "png": {"format": "png"}, "jpg": {"format": "jpeg"}}


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = 0  # reproducible shards
    tar.addfile(info, io.BytesIO(data))


def export_wds(
    data: ClassificationData | RetrievalData,
    out_dir: str | os.PathLike[str],
    *,
    split: str = "test",
    image_format: str = "webp",
    max_count: int = 10_000,
    max_size: int = 1_000_000_000,
) -> Path:
    """Write ``data`` as CLIP_benchmark webdataset shards under ``out_dir`` and return ``out_dir``.

    Images are re-encoded (lossless webp by default, as ``clip_benchmark_export_wds``); CuPL (dict) templates have no
    txt form and are not written.
    """
    import numpy as np

    if image_format not in _SAVE:
        raise ZsbenchError(f"image format {image_format!r}: choose one of {', '.join(_SAVE)}")
    out = Path(out_dir)
    (out / split).mkdir(parents=True, exist_ok=True)
    retrieval = isinstance(data, RetrievalData)
    if retrieval:
        (out / "dataset_type.txt").write_text("retrieval\n")
    else:
        (out / "classnames.txt").write_text("".join(f"{n}\n" for n in data.classnames), encoding="utf-8")
        if isinstance(data.templates, list):
            (out / "zeroshot_classification_templates.txt").write_text(
                "".join(f"{t}\n" for t in data.templates), encoding="utf-8"
            )
        if data.multilabel:
            (out / "dataset_type.txt").write_text("multilabel\n")
    shard, count, size, tar = 0, 0, 0, None
    for i in range(len(data.images)):
        if tar is None or count >= max_count or size >= max_size:
            if tar is not None:
                tar.close()
                shard += 1
            tar = tarfile.open(out / split / f"{shard}.tar", "w")  # noqa: SIM115 (one open shard at a time)
            count = size = 0
        buf = io.BytesIO()
        data.images.load_image(i).save(buf, **_SAVE[image_format])
        key = f"s{i:07d}"
        _add(tar, f"{key}.{image_format}", buf.getvalue())
        if retrieval:
            label = "\n".join(t.replace("\n", r"\n") for t in data.captions[i]).encode("utf-8")
            _add(tar, f"{key}.txt", label)
        elif data.multilabel:
            npy = io.BytesIO()
            np.save(npy, np.asarray(data.targets[i]))
            _add(tar, f"{key}.npy", npy.getvalue())
        else:
            _add(tar, f"{key}.cls", str(int(data.targets[i])).encode())
        count += 1
        size += buf.tell()
    if tar is not None:
        tar.close()
    (out / split / "nshards.txt").write_text(f"{shard + 1 if tar is not None else 0}\n")
    return out
