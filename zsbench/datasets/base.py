"""What a dataset loader returns: image sets that the engine decodes itself, plus labels or captions.

Loaders never apply a model transform. Keeping images, labels and captions apart lets the engine hash an
image set without decoding it, reuse its embeddings across languages, template sets and tasks, and skip
decoding altogether on a cache hit.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from zsbench.errors import ZsbenchError

CLASSIFICATION = "zeroshot_classification"
RETRIEVAL = "zeroshot_retrieval"


class CorruptImageError(ZsbenchError):
    """An image that cannot be decoded; the message names the file."""


@runtime_checkable
class ImageSet(Protocol):
    """An ordered, indexable set of images."""

    def __len__(self) -> int: ...

    def image_key(self, index: int) -> str:
        """A stable identity of image ``index`` (relative path, archive member, crop box ...)."""
        ...

    def load_image(self, index: int) -> Any:
        """The image as an RGB ``PIL.Image``; raises :class:`CorruptImageError` naming the file."""
        ...

    def fingerprint(self) -> str:
        """A hash of everything that determines the pixels (keys, file sizes, mtimes, archive digests)."""
        ...


def _open_rgb(path: Path) -> Any:
    from PIL import Image

    try:
        with Image.open(path) as im:
            return im.convert("RGB")
    except (OSError, ValueError, SyntaxError) as e:  # PIL raises all three on broken files
        raise CorruptImageError(f"cannot decode image {path}: {e}; fix or remove it, or pass --skip_corrupt") from e


class FileImageSet:
    """Images stored as files; keys are paths relative to ``root``."""

    def __init__(self, root: str | os.PathLike[str], relpaths: Sequence[str]) -> None:
        self.root = Path(root)
        self.relpaths = list(relpaths)

    def __len__(self) -> int:
        return len(self.relpaths)

    def image_key(self, index: int) -> str:
        return self.relpaths[index]

    def path(self, index: int) -> Path:
        return self.root / self.relpaths[index]

    def load_image(self, index: int) -> Any:
        return _open_rgb(self.path(index))

    def fingerprint(self) -> str:
        h = hashlib.sha256(b"files-v1")
        for rel in self.relpaths:
            try:
                st = os.stat(self.root / rel)
                h.update(f"{rel}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
            except FileNotFoundError:
                h.update(f"{rel}\0missing\n".encode())
        return h.hexdigest()


class ArrayImageSet:
    """Images held in memory as uint8 arrays (CIFAR, MNIST, ...); ``source_digest`` identifies the file read."""

    def __init__(self, arrays: Any, key_prefix: str, source_digest: str, mode: str | None = None) -> None:
        self.arrays = arrays
        self.key_prefix = key_prefix
        self.source_digest = source_digest
        self.mode = mode

    def __len__(self) -> int:
        return len(self.arrays)

    def image_key(self, index: int) -> str:
        return f"{self.key_prefix}#{index}"

    def load_image(self, index: int) -> Any:
        from PIL import Image

        return Image.fromarray(self.arrays[index], mode=self.mode).convert("RGB")

    def fingerprint(self) -> str:
        return hashlib.sha256(f"arrays-v1\0{self.key_prefix}\0{self.source_digest}\0{len(self)}".encode()).hexdigest()


class SubsetImageSet:
    """A view of another image set at given indices (used by --skip_corrupt and by sharding)."""

    def __init__(self, base: ImageSet, indices: Sequence[int]) -> None:
        self.base = base
        self.indices = list(indices)

    def __len__(self) -> int:
        return len(self.indices)

    def image_key(self, index: int) -> str:
        return self.base.image_key(self.indices[index])

    def load_image(self, index: int) -> Any:
        return self.base.load_image(self.indices[index])

    def fingerprint(self) -> str:
        h = hashlib.sha256(f"subset-v1\0{self.base.fingerprint()}".encode())
        h.update(",".join(map(str, self.indices)).encode())
        return h.hexdigest()


@dataclass
class ClassificationData:
    """A zero-shot classification split in one language.

    ``targets`` is a list of class indices, or for multilabel data an (N, C) 0/1 array. ``templates`` is a
    list of format strings with ``{c}``, or a dict classname -> prompts (CuPL style).
    """

    images: ImageSet
    targets: Any
    classnames: list[str]
    templates: list[str] | dict[str, list[str]]
    multilabel: bool = False
    info: dict[str, Any] = field(default_factory=dict)

    task = CLASSIFICATION


@dataclass
class RetrievalData:
    """An image-text retrieval split: ``captions[i]`` are the captions of image ``i``."""

    images: ImageSet
    captions: list[list[str]]
    info: dict[str, Any] = field(default_factory=dict)

    task = RETRIEVAL


DatasetData = ClassificationData | RetrievalData


@dataclass(frozen=True)
class DatasetSpec:
    """A dataset described as data (mteb/lm-eval style).

    Attributes:
        name: the ``--dataset`` name (CLIP_benchmark's).
        task: default task (``zeroshot_classification`` or ``zeroshot_retrieval``).
        loader: ``"module:function"``; called as ``fn(root, split=..., language=..., **options)`` and returning
            :class:`ClassificationData` or :class:`RetrievalData`.
        splits: split names the loader accepts.
        languages: languages with prompts (classification) or captions (retrieval).
        sizes: ``{split: number of images}`` of the complete split (and ``"<split>/captions"`` where relevant);
            a loaded split of another size is an error.
        layout: where the files go under ``--dataset_root`` (one line).
        source: where to get it (URL or instructions).
        prompt_key: key in the classnames/templates files.
        multilabel: targets are multi-hot.
        builtin: generated by zsbench itself (nothing to download); its default root is zsbench's data cache.
        license, citation, version: provenance.
    """

    name: str
    task: str
    loader: str
    splits: tuple[str, ...] = ("test",)
    languages: tuple[str, ...] = ("en",)
    sizes: dict[str, int] = field(default_factory=dict)
    layout: str = ""
    source: str = ""
    prompt_key: str = ""
    multilabel: bool = False
    builtin: bool = False
    license: str = ""
    citation: str = ""
    version: str = "1"


Loader = Callable[..., DatasetData]
