"""Birdsnap as the InternVL fork evaluates it (``BirdsnapV2``, test split only).

``root/test_images_valid.txt`` (shipped by the fork: a ``path`` header, then ``<species_dir>/<file>.jpg``, the test
images that still download) lists the samples in order; ``root/species.txt`` (Birdsnap's tab-separated
``id common scientific dir`` table) gives the classes in id order, named by the common name; a sample's label
is the row of its ``dir``. Templates: the fork's single ``a photo of a {c}, a type of bird.``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from zsbench.datasets.base import DatasetSpec, FileImageSet
from zsbench.datasets.loaders import _common as c
from zsbench.errors import DatasetNotFoundError


def read_species(path: Path) -> tuple[list[str], list[str]]:
    """(common names, species dirs) in ``species.txt`` order."""
    names, dirs = [], []
    with open(path, encoding="utf-8") as f:
        header = f.readline().rstrip("\n").split("\t")
        col = {h.strip().lower(): i for i, h in enumerate(header)}
        if "common" not in col or "dir" not in col:
            raise DatasetNotFoundError(f"{path}: expected a tab-separated header with 'common' and 'dir' columns")
        for line in f:
            if line.strip():
                row = line.rstrip("\n").split("\t")
                names.append(row[col["common"]].strip())
                dirs.append(row[col["dir"]].strip())
    return names, dirs


def read_test_list(path: Path) -> list[str]:
    with open(path, encoding="utf-8") as f:
        lines = [line.strip() for line in f if line.strip()]
    return lines[1:] if lines and lines[0] == "path" else lines


def load_birdsnap(root: Path, *, split: str = "test", language: str = "en", spec: DatasetSpec, **options: Any):
    c.check_options(spec, options)
    c.check_split(spec, split)
    c.maybe_download(spec, root, language, options)
    c.require_root(spec, root, "species.txt", "test_images_valid.txt")
    names, dirs = read_species(root / "species.txt")
    index = {d: i for i, d in enumerate(dirs)}
    rel = read_test_list(root / "test_images_valid.txt")
    unknown = sorted({p.split("/")[0] for p in rel} - set(index))
    if unknown:
        raise DatasetNotFoundError(
            f"birdsnap: test_images_valid.txt names species dirs not in species.txt: {unknown[:3]}"
        )
    labels = [index[p.split("/")[0]] for p in rel]
    return c.classification(
        spec, root, split, language, FileImageSet(root, rel), labels, options, dataset_classnames=names
    )
