"""Tiny replicas of DataComp's 38 evaluation sets, in the layout DataComp's ``download_evalsets.py`` leaves.

``write_datacomp(data_dir)`` writes, under one data dir:

* ``wds_<task>_test/`` for the 35 webdatasets: ``classnames.txt``, ``zeroshot_classification_templates.txt``,
  ``test/nshards.txt`` and ``test/0.tar`` (no ``sizes.json``: the download script fetches none), samples
  ``s<7 digits>.webp`` + ``.cls`` and, for the WILDS / fairness sets, ``.npy`` metadata rows in DataComp's columns;
* ``hf_cache/`` for Flickr, MSCOCO and WinoGAViL as ``datasets.load_dataset(..., cache_dir=hf_cache)`` leaves it:
  ``nlphuji___<name>/TEST/1.1.0/<hash>/{dataset_info.json,<name>-test.arrow}`` (an Arrow IPC stream whose Image
  columns hold ``{bytes: null, path: <absolute path>}``) and the images under ``downloads/extracted/<hash>/``.

Every set is far smaller than the real one: load them with ``allow_incomplete`` (``--allow_incomplete``).
"""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path
from typing import Any

from zsbench.testing.replicas import image_bytes, save_image

N_CLASSES = 6
N_SAMPLES = 8
# metadata rows per WILDS / fairness set (DataComp's columns): sample i -> row
_ROWS = {
    "wilds/iwildcam": lambda i: [i % 3, i, 2013, 1 + i % 12, 1, 12, 0, 0, i % N_CLASSES],
    "wilds/camelyon17": lambda i: [2, 20 + i % 2, i % 2],
    "wilds/fmow": lambda i: [i % 6, 10 + i % 3, i % N_CLASSES],
    "fairness/dollar_street": lambda i: [i % 4, 100.5 * (i + 1), i % 4],
    "fairness/geode": lambda i: [i % 6, i % 3],
}


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def npy_bytes(row: Any) -> bytes:
    import numpy as np

    buf = io.BytesIO()
    np.save(buf, np.asarray(row), allow_pickle=False)
    return buf.getvalue()


def write_wds_folder(
    folder: Path,
    n: int = N_SAMPLES,
    n_classes: int = N_CLASSES,
    rows: Any = None,
    *,
    seed: int = 0,
    skip_npy: tuple[int, ...] = (),
) -> Path:
    """One DataComp webdataset folder; ``rows(i)`` gives sample i's ``.npy`` row (``None``: no ``.npy`` members)."""
    (folder / "test").mkdir(parents=True, exist_ok=True)
    (folder / "classnames.txt").write_text("".join(f"class {seed} {c}\n" for c in range(n_classes)))
    (folder / "zeroshot_classification_templates.txt").write_text("a photo of a {c}.\nitap of a {c}.\n")
    (folder / "test" / "nshards.txt").write_text("1\n")
    with tarfile.open(folder / "test" / "0.tar", "w") as tar:
        for i in range(n):
            label = (i * 5 + seed) % n_classes
            key = f"s{i:07d}"
            _add(tar, f"{key}.webp", image_bytes(i + 17 * seed, label, fmt="WEBP"))
            _add(tar, f"{key}.cls", str(label).encode())
            if rows is not None and i not in skip_npy:
                _add(tar, f"{key}.npy", npy_bytes(rows(i)))
    return folder


def _arrow_stream(path: Path, columns: dict[str, Any], features: dict[str, Any]) -> None:
    import pyarrow as pa

    image = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    types = {"image": image, "list_image": pa.list_(image), "string": pa.string(), "list_string": pa.list_(pa.string())}
    schema = pa.schema(
        [(name, types[kind]) for name, kind in features.items()],
        metadata={"huggingface": json.dumps({"info": {"features": features}})},
    )
    table = pa.table(columns, schema=schema)
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_stream(sink, schema) as writer:
        writer.write_table(table)


def _hf_folder(hf_cache: Path, short: str) -> Path:
    folder = hf_cache / f"nlphuji___{short}" / "TEST" / "1.1.0" / "0123456789abcdef"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "dataset_info.json").write_text(json.dumps({"builder_name": short, "config_name": "TEST"}))
    return folder


def write_hf_retrieval(hf_cache: Path, short: str, n_images: int = 10, captions_per_image: int = 2) -> dict[str, Any]:
    """An HF-cache copy of ``nlphuji/<short>`` (Flickr 1k or MSCOCO 5k): columns image, caption, filename."""
    extracted = hf_cache / "downloads" / "extracted" / f"{len(short):08d}" / f"images_{short}"
    paths, captions = [], []
    for i in range(n_images):
        path = save_image(extracted / f"{1000 + i}.jpg", i, i % 3).resolve()
        paths.append({"bytes": None, "path": str(path)})
        captions.append([f"{short} image {i} caption {j}" for j in range(captions_per_image)])
    folder = _hf_folder(hf_cache, short)
    _arrow_stream(
        folder / f"{short}-test.arrow",
        {"image": paths, "caption": captions, "filename": [f"{1000 + i}.jpg" for i in range(n_images)]},
        {"image": "image", "caption": "list_string", "filename": "string"},
    )
    return {"n_images": n_images, "captions": captions, "arrow": folder / f"{short}-test.arrow"}


WINOGAVIL_INSTANCES = (  # (cue, number of candidates, number of associations)
    ("Owl", 5, 2),
    ("moon", 6, 3),
    ("elephant", 10, 4),
    ("tree", 12, 3),
)


def write_winogavil(
    hf_cache: Path, instances: tuple[tuple[str, int, int], ...] = WINOGAVIL_INSTANCES
) -> dict[str, Any]:
    """An HF-cache copy of ``nlphuji/winogavil``: candidates drawn from a pool of 12 images shared by instances."""
    extracted = hf_cache / "downloads" / "extracted" / "77777777" / "winogavil_images"
    pool = [f"word{j}" for j in range(12)]
    paths = {w: str(save_image(extracted / f"{w}.jpg", j, j).resolve()) for j, w in enumerate(pool)}
    cols: dict[str, list[Any]] = {"cue": [], "candidates": [], "associations": [], "candidate_images": []}
    for k, (cue, n, n_assoc) in enumerate(instances):
        cands = [pool[(k + j) % len(pool)] for j in range(n)]
        cols["cue"].append(cue)
        cols["candidates"].append(cands)
        cols["associations"].append(cands[:n_assoc])
        cols["candidate_images"].append([{"bytes": None, "path": paths[w]} for w in cands])
    folder = _hf_folder(hf_cache, "winogavil")
    _arrow_stream(
        folder / "winogavil-test.arrow",
        cols,
        {"cue": "string", "candidates": "list_string", "associations": "list_string", "candidate_images": "list_image"},
    )
    return {"instances": instances, "arrow": folder / "winogavil-test.arrow", "pool": pool}


def write_datacomp(data_dir: Path, layout: str = "datacomp", names: Any = None) -> dict[str, Any]:
    """The scored sets (default all 38) under ``data_dir``; returns what was written.

    ``layout="datacomp"``: DataComp's download layout (read with ``--dataset_root <data_dir>/{datacomp}``);
    ``layout="dataset"``: one folder per dataset, ``<data_dir>/<name without wds/>`` (``--dataset_root
    <data_dir>/{dataset}``), each HF set with an ``hf_cache`` of its own.
    """
    from zsbench.datasets.catalog.datacomp import DATACOMP_DATASETS, HF_SETS, datacomp_folder

    if layout not in ("datacomp", "dataset"):
        raise ValueError(f"layout {layout!r}: 'datacomp' or 'dataset'")
    data_dir = Path(data_dir)
    written: dict[str, Any] = {}
    for seed, name in enumerate(DATACOMP_DATASETS):
        if names is not None and name not in names:
            continue
        folder = data_dir / (datacomp_folder(name) if layout == "datacomp" else name.removeprefix("wds/"))
        if name not in HF_SETS:
            written[name] = write_wds_folder(folder, rows=_ROWS.get(name), seed=seed)
            continue
        short = HF_SETS[name].split("/", 1)[1]
        hf_cache = folder if layout == "datacomp" else folder / "hf_cache"
        written[name] = write_winogavil(hf_cache) if short == "winogavil" else write_hf_retrieval(hf_cache, short)
    return written


__all__ = ["N_CLASSES", "N_SAMPLES", "npy_bytes", "write_datacomp", "write_hf_retrieval", "write_wds_folder",
           "write_winogavil"]  # fmt: skip
