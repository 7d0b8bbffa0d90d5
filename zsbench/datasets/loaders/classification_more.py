"""CLIP_benchmark main's imagenet1k-unverified, imagenet-w and pcam.

* ``imagenet1k-unverified``: torchvision ``ImageFolder`` over ``root/val`` (test) or ``root/train``, OpenAI's 1000
  class names. ImageFolder labels a folder by its position among the folders present; zsbench labels it by its
  wnid, which is the same with all 1000 folders and stays right when one is missing (``--allow_incomplete``).
* ``imagenet-w``: the ImageNet-1k validation set with the ``imagenet_w`` package's ``AddWatermark`` inserted
  into the model's transform right before its ``Normalize``, sized by its ``CenterCrop``, as CLIP_benchmark does
  (it needs the package: ``pip install imagenet-w``). CLIP_benchmark inserts it into the model's own transform
  object, so every later dataset of the run is watermarked too, and it takes the class names only from a
  ``--custom_classname_file`` (no file: a crash); zsbench watermarks a copy of the transform for this dataset
  only, and uses OpenAI's names unless a custom file gives them (key ``imagenet-w``, as upstream looks up).
* ``pcam``: torchvision ``PCAM``'s files, ``root/pcam/camelyonpatch_level_2_split_<split>_{x,y}.h5`` (``valid``
  for val): image ``i`` is ``x[i]`` (96x96 RGB), its label ``int(y[i, 0, 0, 0])``. Needs ``h5py``.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from zsbench.datasets.base import CorruptImageError, DatasetSpec, FileImageSet, check_fingerprint_mode, resolved_root
from zsbench.datasets.loaders import _common as c
from zsbench.datasets.loaders.imagenet import _wnid_samples, val_samples, wnid_lists
from zsbench.errors import DatasetNotFoundError, ZsbenchError
from zsbench.paths import file_sha256


def load_imagenet1k_unverified(
    root: Path, *, split: str = "test", language: str = "en", spec: DatasetSpec, **options: Any
):
    c.check_options(spec, options)
    c.check_split(spec, split)
    folder = "train" if split == "train" else "val"
    c.require_root(spec, root, folder)
    rel, labels, info = _wnid_samples(spec, root, root / folder, wnid_lists()["imagenet1k"])
    return c.classification(
        spec,
        root,
        split,
        language,
        FileImageSet(root, rel),
        labels,
        options,
        classnames_key="imagenet1k",
        info={"source": f"{folder}/", **info},
    )


# --- imagenet-w ---------------------------------------------------------------------------------------------------
def _add_watermark_class() -> Any:
    try:
        from imagenet_w import AddWatermark
    except ImportError as e:
        raise ZsbenchError("dataset 'imagenet-w' needs the imagenet_w package: pip install imagenet-w") from e
    return AddWatermark


class WatermarkedImages:
    """An image set whose pixels get the ImageNet-W watermark inside the model's transform (``wrap_transform``)."""

    def __init__(self, base: Any) -> None:
        self.base = base

    def __len__(self) -> int:
        return len(self.base)

    def image_key(self, index: int) -> str:
        return self.base.image_key(index)

    def load_image(self, index: int) -> Any:
        return self.base.load_image(index)

    def fingerprint(self, mode: str = "stat") -> str:
        return hashlib.sha256(f"imagenet-w-v1\0{self.base.fingerprint(mode)}".encode()).hexdigest()

    def wrap_transform(self, transform: Any) -> Any:
        """A copy of ``transform`` with ``AddWatermark(crop size)`` before its (last) ``Normalize``."""
        from torchvision.transforms import CenterCrop, Compose, Normalize

        steps = list(getattr(transform, "transforms", []))
        index_normalize = crop_size = None
        for i, t in enumerate(steps):
            if isinstance(t, Normalize):
                index_normalize = i
            elif isinstance(t, CenterCrop):
                crop_size = min(t.size)
        if index_normalize is None or crop_size is None:
            raise ZsbenchError(
                "dataset 'imagenet-w' draws its watermark after the model transform's CenterCrop and before its "
                f"Normalize (as CLIP_benchmark does), but this model's transform has no such steps ({transform!r:.120})"
            )
        steps.insert(index_normalize, _add_watermark_class()(crop_size))
        return Compose(steps)


def load_imagenet_w(root: Path, *, split: str = "test", language: str = "en", spec: DatasetSpec, **options: Any):
    c.check_options(spec, options)
    c.check_split(spec, split)
    _add_watermark_class()  # a missing package fails before anything is read
    images, labels, info = val_samples(spec, root, options)
    return c.classification(
        spec,
        root,
        split,
        language,
        WatermarkedImages(images),
        labels,
        options,
        classnames_key="imagenet1k",
        info={**info, "watermark": "imagenet_w.AddWatermark before Normalize"},
    )


# --- pcam ---------------------------------------------------------------------------------------------------------
PCAM_FILES = {"train": "train", "val": "valid", "test": "test"}


def _h5py() -> Any:
    try:
        import h5py
    except ImportError as e:
        raise ZsbenchError("pcam needs h5py: pip install h5py") from e
    return h5py


class H5ImageSet:
    """Images stored as rows of an HDF5 uint8 array (N, H, W, 3); the file is opened once per process."""

    def __init__(self, root: str | os.PathLike[str], relpath: str, n: int, dataset: str = "x") -> None:
        self.root = Path(root)
        self.relpath = relpath
        self.n = n
        self.dataset = dataset
        self._file: Any = None
        self._pid = -1

    def __getstate__(self) -> dict[str, Any]:  # DataLoader workers open their own handle
        return {**self.__dict__, "_file": None, "_pid": -1}

    def __len__(self) -> int:
        return self.n

    def image_key(self, index: int) -> str:
        return f"{self.relpath}#{index}"

    def load_image(self, index: int) -> Any:
        from PIL import Image

        name = f"{self.root / self.relpath}[{index}]"
        try:
            if self._file is None or self._pid != os.getpid():
                self._file, self._pid = _h5py().File(self.root / self.relpath, "r"), os.getpid()
            array = self._file[self.dataset][index]
        except (OSError, KeyError, ValueError, IndexError) as e:
            raise CorruptImageError(f"cannot read image {name}: {e}") from e
        return Image.fromarray(array).convert("RGB")

    def fingerprint(self, mode: str = "stat") -> str:
        check_fingerprint_mode(mode)
        path = self.root / self.relpath
        if mode == "content":
            what = file_sha256(path)
        else:
            st = os.stat(path)
            what = f"{resolved_root(self.root)}\0{st.st_size}\0{st.st_mtime_ns}"
        return hashlib.sha256(f"h5-v1\0{mode}\0{self.relpath}\0{self.n}\0{what}".encode()).hexdigest()


def load_pcam(root: Path, *, split: str = "test", language: str = "en", spec: DatasetSpec, **options: Any):
    c.check_options(spec, options)
    c.check_split(spec, split)
    h5py = _h5py()
    stem = f"pcam/camelyonpatch_level_2_split_{PCAM_FILES[split]}"
    x_rel, y_rel = f"{stem}_x.h5", f"{stem}_y.h5"
    c.require_root(spec, root, x_rel, y_rel)
    try:
        with h5py.File(root / x_rel, "r") as fx:
            shape = fx["x"].shape
        with h5py.File(root / y_rel, "r") as fy:
            y = fy["y"][...]
    except (OSError, KeyError) as e:  # truncated download, not HDF5, no 'x'/'y' dataset
        raise DatasetNotFoundError(
            f"dataset 'pcam': cannot read {root / stem}_{{x,y}}.h5 ({e}); re-download and gunzip them"
        ) from e
    if len(shape) != 4 or shape[3] != 3 or y.ndim != 4 or y.shape[0] != shape[0]:
        raise DatasetNotFoundError(
            f"dataset 'pcam': {root / x_rel} holds x of shape {tuple(shape)} and {root / y_rel} y of shape "
            f"{tuple(y.shape)}; expected (N, 96, 96, 3) and (N, 1, 1, 1): re-download them"
        )
    labels = [int(v) for v in y[:, 0, 0, 0]]
    if any(v not in (0, 1) for v in labels):
        raise DatasetNotFoundError(f"dataset 'pcam': {root / y_rel} holds labels other than 0 and 1")
    return c.classification(
        spec, root, split, language, H5ImageSet(root, x_rel, shape[0]), labels, options, classnames_key="pcam"
    )
