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
from pathlib import Path, PurePosixPath
from typing import Any, Protocol, runtime_checkable

from zsbench.errors import ZsbenchError
from zsbench.paths import file_sha256

CLASSIFICATION = "zeroshot_classification"
RETRIEVAL = "zeroshot_retrieval"
CAPTION_SELECTION = "image_caption_selection"
ASSOCIATION = "image_association"  # WinoGAViL: pick the candidate images that fit a cue (zsbench/tasks/winogavil.py)
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


@dataclass
class CaptionSelectionData:
    """Image-caption selection instances (SugarCrepe, Winoground): instance ``k`` has the images
    ``image_ids[k]`` (indices into ``images``) and the captions ``captions[k]``; image ``i`` of an instance belongs
    with its caption ``i``, and a caption (or image) beyond the shorter list is a negative (SugarCrepe: one image,
    captions [positive, negative])."""

    images: ImageSet
    image_ids: list[tuple[int, ...]]
    captions: list[tuple[str, ...]]
    info: dict[str, Any] = field(default_factory=dict)

    task = CAPTION_SELECTION


DatasetData = ClassificationData | RetrievalData | CaptionSelectionData


TASKS = (CLASSIFICATION, RETRIEVAL, CAPTION_SELECTION, ASSOCIATION)
_SHA256_HEX = frozenset("0123456789abcdef")


def _spec_error(name: object, what: str) -> ZsbenchError:
    return ZsbenchError(f"dataset spec {name!r}: {what}")


def _names(owner: str, field_name: str, value: Any, *, allow_empty: bool) -> tuple[str, ...]:
    """``value`` as a tuple of non-empty, distinct strings; a bare string is refused (it would split into letters)."""
    if isinstance(value, str) or not isinstance(value, (tuple, list)):
        raise ZsbenchError(f"{owner}: {field_name} must be a tuple of strings, got {value!r}")
    items = tuple(value)
    if not items and not allow_empty:
        raise ZsbenchError(f"{owner}: {field_name} must not be empty")
    bad = [v for v in items if not isinstance(v, str) or not v.strip()]
    if bad:
        raise ZsbenchError(f"{owner}: {field_name} holds {bad[0]!r}, not a non-empty string")
    dupes = sorted({v for v in items if items.count(v) > 1})
    if dupes:
        raise ZsbenchError(f"{owner}: {field_name} lists {dupes[0]!r} twice")
    return items


def _relative_path(owner: str, field_name: str, path: str) -> None:
    """A path under the dataset root: relative, never climbing out with ``..`` (a catalog entry writes there)."""
    parts = PurePosixPath(path.replace("\\", "/")).parts
    if path.startswith(("/", "\\")) or ".." in parts or (len(path) > 1 and path[1] == ":"):
        raise ZsbenchError(f"{owner}: {field_name} entry {path!r} is not a relative path under the dataset root")


@dataclass(frozen=True)
class RemoteFile:
    """A file that ``download=True`` fetches into the dataset root.

    ``name`` is the path under the root; ``sha256`` is checked when given (empty = unknown upstream digest);
    ``languages`` lists the languages that need the file (empty = all).
    """

    name: str
    url: str
    sha256: str = ""
    languages: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ZsbenchError(f"remote file name must be a non-empty string, got {self.name!r}")
        owner = f"remote file {self.name!r}"
        _relative_path(owner, "name", self.name)
        if not isinstance(self.url, str) or not self.url.startswith(("https://", "http://")):
            raise ZsbenchError(f"{owner}: url {self.url!r} is not an http(s) URL")
        if not isinstance(self.sha256, str) or (
            self.sha256 and (len(self.sha256) != 64 or not set(self.sha256.lower()) <= _SHA256_HEX)
        ):
            raise ZsbenchError(f"{owner}: sha256 {self.sha256!r} is not 64 hex digits (or empty)")
        object.__setattr__(self, "languages", _names(owner, "languages", self.languages, allow_empty=True))


@dataclass(frozen=True)
class DatasetSpec:
    """A dataset described as data (mteb/lm-eval style); checked when created, so a bad entry fails at import.

    Attributes:
        name: the ``--dataset`` name (CLIP_benchmark's).
        task: default task (``zeroshot_classification`` or ``zeroshot_retrieval``).
        loader: ``"module:function"``; called as ``fn(root, split=..., language=..., **options)`` and returning
            :class:`ClassificationData` or :class:`RetrievalData`.
        splits: split names the loader accepts.
        languages: languages with prompts (classification) or captions (retrieval).
        sizes: ``{split: number of images}`` of the complete split (and ``"<split>/captions"`` where relevant);
            ``"<split>@<lang>"`` / ``"<split>@<lang>/captions"`` where a language changes the split (COCO-CN is
            1000 images, the English Karpathy test 5000). A loaded split of another size is an error.
        layout: where the files go under ``--dataset_root`` (one line).
        source: where to get it (URL or instructions).
        prompt_key: key in the classnames/templates files.
        multilabel: targets are multi-hot.
        builtin: generated by zsbench itself (nothing to download); its default root is zsbench's data cache.
        license, citation, version: provenance.
        class_folders: for datasets read as class folders (ImageFolder), the complete list of class-folder names
            in label order (torchvision: sorted). Labels come from these names, never from positions among the
            folders present, so a copy with a folder missing (``allow_incomplete``) keeps every other label.
        files: annotation files that ``download=True`` fetches into the root when missing.
        required: paths under the root that ``zsbench datasets`` checks (``a|b``: either one).
        default_task: the task ``--task auto`` runs when it is not ``task`` (a variant that scores the same kind of
            data with more metrics, e.g. DataComp's group metrics); ``task`` stays the kind of data.
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
    files: tuple[RemoteFile, ...] = ()
    required: tuple[str, ...] = ()
    default_task: str = ""

    def __post_init__(self) -> None:
        name = self.name
        if not isinstance(name, str) or not name.strip() or name != name.strip():
            raise ZsbenchError(f"dataset spec name must be a non-empty string without outer spaces, got {name!r}")
        if self.task not in TASKS:
            raise _spec_error(name, f"unknown task {self.task!r}; valid choices: {', '.join(TASKS)}")
        module, sep, attr = self.loader.partition(":") if isinstance(self.loader, str) else ("", "", "")
        if not (sep and module and attr and ":" not in attr):
            raise _spec_error(name, f"loader {self.loader!r} is not 'package.module:function'")
        # Tuples, not lists: a frozen spec is shared by every caller of the registry.
        owner, set_ = f"dataset spec {name!r}", object.__setattr__
        set_(self, "splits", _names(owner, "splits", self.splits, allow_empty=False))
        set_(self, "languages", _names(owner, "languages", self.languages, allow_empty=False))
        set_(self, "class_folders", _names(owner, "class_folders", self.class_folders, allow_empty=True))
        set_(self, "required", _names(owner, "required", self.required, allow_empty=True))
        set_(self, "sizes", self._checked_sizes())
        for flag in ("multilabel", "builtin"):
            if not isinstance(getattr(self, flag), bool):
                raise _spec_error(name, f"{flag} must be True or False, got {getattr(self, flag)!r}")
        for text in ("layout", "source", "prompt_key", "license", "citation", "version", "default_task"):
            if not isinstance(getattr(self, text), str):
                raise _spec_error(name, f"{text} must be a string, got {getattr(self, text)!r}")
        if self.task != CLASSIFICATION and (self.multilabel or self.class_folders):
            raise _spec_error(name, f"multilabel and class_folders apply to {CLASSIFICATION} only, not {self.task}")
        for entry in self.required:
            for alt in entry.split("|"):
                if not alt.strip():  # "a|" would be satisfied by the root itself
                    raise _spec_error(name, f"required entry {entry!r} has an empty alternative")
                _relative_path(owner, "required", alt)
        self._check_files()

    def _checked_sizes(self) -> dict[str, int]:
        """``sizes`` with keys ``<split>[@<language>][/captions]`` naming a split and language of this spec."""
        if not isinstance(self.sizes, dict):
            raise _spec_error(self.name, f"sizes must be a dict, got {self.sizes!r}")
        for key, n in self.sizes.items():
            head, _, what = str(key).partition("/")
            split, _, lang = head.partition("@")
            if split not in self.splits or (lang and lang not in self.languages) or what not in ("", "captions"):
                raise _spec_error(
                    self.name,
                    f"sizes key {key!r} is not '<split>[@<language>][/captions]' with split in {self.splits} "
                    f"and language in {self.languages}",
                )
            if what and self.task != RETRIEVAL:
                raise _spec_error(self.name, f"sizes key {key!r}: caption counts apply to {RETRIEVAL} only")
            if isinstance(n, bool) or not isinstance(n, int) or n <= 0:
                raise _spec_error(self.name, f"sizes[{key!r}] must be a positive int, got {n!r}")
        return dict(self.sizes)  # a copy: the caller's dict may change later

    def _check_files(self) -> None:
        if isinstance(self.files, str) or not isinstance(self.files, (tuple, list)):
            raise _spec_error(self.name, f"files must be a tuple of RemoteFile, got {self.files!r}")
        object.__setattr__(self, "files", tuple(self.files))
        seen: set[str] = set()
        for rf in self.files:
            if not isinstance(rf, RemoteFile):
                raise _spec_error(self.name, f"files holds {rf!r}, not a RemoteFile")
            if rf.name in seen:
                raise _spec_error(self.name, f"files lists {rf.name!r} twice")
            seen.add(rf.name)
            unknown = [lang for lang in rf.languages if lang not in self.languages]
            if unknown:
                raise _spec_error(
                    self.name, f"file {rf.name!r} is for language {unknown[0]!r}, not in {self.languages}"
                )


Loader = Callable[..., DatasetData]
