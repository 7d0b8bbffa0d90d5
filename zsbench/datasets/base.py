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
FINGERPRINT_MODES = ("stat", "content")


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

    def fingerprint(self, mode: str = "stat") -> str:
        """A hash of everything that determines the pixels; ``mode`` says how closely to look.

        ``"stat"`` (cheap, the default): the keys, the resolved absolute root, and each file's or archive's
        size and mtime, so two copies with equal relative names, sizes and mtimes under different roots
        differ. ``"content"``: the keys and the bytes of every file / archive member (reads everything once;
        catches a file replaced with its size and mtime restored; a moved copy keeps its fingerprint).
        In-memory sets hash the bytes of the files they were read from in both modes. Another mode raises
        :class:`~zsbench.errors.ZsbenchError`.
        """
        ...


def check_fingerprint_mode(mode: str) -> str:
    if mode not in FINGERPRINT_MODES:
        raise ZsbenchError(f"unknown fingerprint mode {mode!r}; valid choices: {', '.join(FINGERPRINT_MODES)}")
    return mode


def resolved_root(root: str | os.PathLike[str]) -> str:
    """The absolute, symlink-resolved root: equal relative names under two roots are two different image sets."""
    return str(Path(root).resolve())


def file_sha256(path: str | os.PathLike[str], chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


# PIL warns (DecompressionBombWarning) once per large image; zsbench logs one line per process instead.
_big_image_logged = False


def decode_image(source: Any, name: str) -> Any:
    """Decode ``source`` (a path or a binary file object) to RGB; every failure is a :class:`CorruptImageError`."""
    import warnings

    from PIL import Image

    global _big_image_logged
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(source) as im:
                limit = Image.MAX_IMAGE_PIXELS
                if limit and not _big_image_logged and im.width * im.height > limit:
                    import logging

                    _big_image_logged = True
                    logging.getLogger("zsbench").warning(
                        "%s has %dx%d pixels, above PIL's MAX_IMAGE_PIXELS; decoding it (and others like it) anyway",
                        name,
                        im.width,
                        im.height,
                    )
                return im.convert("RGB")
    except Image.DecompressionBombError as e:  # a small file whose header claims billions of pixels
        raise CorruptImageError(
            f"image {name} claims too many pixels (decompression bomb): {e}; remove it, or pass --skip_corrupt"
        ) from e
    except (OSError, ValueError, SyntaxError) as e:  # PIL raises all three on broken files
        raise CorruptImageError(f"cannot decode image {name}: {e}; fix or remove it, or pass --skip_corrupt") from e


def _open_rgb(path: Path) -> Any:
    return decode_image(path, str(path))


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

    def fingerprint(self, mode: str = "stat") -> str:
        check_fingerprint_mode(mode)
        # stat: where the files are is part of their identity; content: the bytes alone are (a moved copy hits).
        where = resolved_root(self.root) if mode == "stat" else ""
        h = hashlib.sha256(f"files-v2\0{mode}\0{where}\n".encode())
        for rel in self.relpaths:
            try:
                if mode == "content":
                    h.update(f"{rel}\0{file_sha256(self.root / rel)}\n".encode())
                else:
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

    def fingerprint(self, mode: str = "stat") -> str:
        # ``source_digest`` is the sha256 of the bytes the arrays were read from: already a content hash.
        check_fingerprint_mode(mode)
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

    def fingerprint(self, mode: str = "stat") -> str:
        h = hashlib.sha256(f"subset-v1\0{self.base.fingerprint(mode)}".encode())
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
        class_folders: for datasets read as class folders (ImageFolder), the complete list of class-folder names
            in label order (torchvision: sorted). Labels come from these names, never from positions among the
            folders present, so a copy with a folder missing (``allow_incomplete``) keeps every other label.
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
    class_folders: tuple[str, ...] = ()


Loader = Callable[..., DatasetData]
