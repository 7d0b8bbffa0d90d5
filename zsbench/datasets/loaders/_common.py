"""Shared loader pieces: option checks, root and size checks, prompt resolution, extra image sets."""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from zsbench.datasets.base import (
    ClassificationData,
    CorruptImageError,
    DatasetSpec,
    RetrievalData,
    check_fingerprint_mode,
    decode_image,
    resolved_root,
)
from zsbench.datasets.languages import require_language
from zsbench.errors import DatasetNotFoundError, ZsbenchError

COMMON_OPTIONS = frozenset(
    {
        "allow_incomplete",
        "download",
        "custom_classname_file",
        "custom_template_file",
        "cupl",
        "annotation_file",
        "caption_preprocess",
        "wds_cache_dir",
        "progress",
    }
)
# torchvision's ImageFolder extensions (case-insensitive), so folder datasets list the same files.
IMG_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")


def check_options(spec: DatasetSpec, options: dict[str, Any]) -> None:
    unknown = sorted(set(options) - COMMON_OPTIONS)
    if unknown:
        raise ZsbenchError(
            f"dataset {spec.name!r}: unknown loader option(s) {unknown}; known: {sorted(COMMON_OPTIONS)}"
        )


def check_split(spec: DatasetSpec, split: str) -> str:
    if split not in spec.splits:
        raise ZsbenchError(f"dataset {spec.name!r} has no split {split!r}; available: {', '.join(spec.splits)}")
    return split


def obtain_hint(spec: DatasetSpec) -> str:
    return f"expected layout under the root: {spec.layout}; how to obtain: {spec.source}"


def require_root(spec: DatasetSpec, root: Path, *paths: str | Path) -> None:
    """Raise naming the layout when ``root`` or any of ``paths`` (relative to it) is missing."""
    if not root.exists():
        raise DatasetNotFoundError(f"dataset {spec.name!r}: root {root} does not exist; {obtain_hint(spec)}")
    for p in paths:
        if not (root / p).exists():
            raise DatasetNotFoundError(f"dataset {spec.name!r}: missing {root / p}; {obtain_hint(spec)}")


def maybe_download(spec: DatasetSpec, root: Path, language: str, options: dict[str, Any]) -> None:
    if options.get("download") and spec.files:
        from zsbench.datasets.loaders.download import fetch_missing

        root.mkdir(parents=True, exist_ok=True)
        fetch_missing(root, spec.files, language, progress=options.get("progress", True))


def expected_size(spec: DatasetSpec, split: str, language: str, what: str = "") -> int | None:
    suffix = f"/{what}" if what else ""
    for key in (f"{split}@{language}{suffix}", f"{split}{suffix}"):
        if key in spec.sizes:
            return spec.sizes[key]
    return None


def check_size(
    spec: DatasetSpec, root: Path, split: str, language: str, n: int, options: dict[str, Any], what: str = ""
) -> None:
    """A split of another size than ``spec.sizes`` says is incomplete, unless ``allow_incomplete=True``.

    Splits without a recorded size (e.g. ``train`` of most datasets, ``wds/``) are not checked.
    """
    want = expected_size(spec, split, language, what)
    if want is None or n == want or options.get("allow_incomplete"):
        return
    kind = what or "images"
    raise DatasetNotFoundError(
        f"dataset {spec.name!r} split {split!r} ({language}) at {root} is incomplete: found {n} {kind}, expected "
        f"{want}; {obtain_hint(spec)} (pass --allow_incomplete, or allow_incomplete=True in Python, to evaluate a partial copy anyway)"
    )


def classification(
    spec: DatasetSpec,
    root: Path,
    split: str,
    language: str,
    images: Any,
    targets: Any,
    options: dict[str, Any],
    *,
    classnames_key: str | None = None,
    dataset_classnames: list[str] | None = None,
    multilabel: bool = False,
    info: dict[str, Any] | None = None,
) -> ClassificationData:
    """Check size and language, resolve class names and templates, and build the result."""
    from zsbench.datasets import prompts

    custom = options.get("custom_classname_file") and options.get("custom_template_file")
    lang = require_language(language, spec.languages if not custom else (language,), spec.name)
    check_size(spec, root, split, lang, len(images), options)
    names, tmpl, pinfo = prompts.resolve(
        spec.name,
        spec.prompt_key or spec.name,
        lang,
        classnames_key=classnames_key,
        dataset_classnames=dataset_classnames,
        custom_classname_file=options.get("custom_classname_file"),
        custom_template_file=options.get("custom_template_file"),
        cupl=bool(options.get("cupl")),
    )
    n_classes = len(dataset_classnames) if dataset_classnames is not None else None
    if n_classes is not None and len(names) != n_classes:
        raise ZsbenchError(f"dataset {spec.name!r}: {len(names)} class names for {n_classes} classes")
    data_info = {"root": str(root), "split": split, "size": len(images), **pinfo, **(info or {})}
    return ClassificationData(images, targets, names, tmpl, multilabel=multilabel, info=data_info)


def retrieval(
    spec: DatasetSpec,
    root: Path,
    split: str,
    language: str,
    images: Any,
    captions: list[list[str]],
    options: dict[str, Any],
    info: dict[str, Any] | None = None,
) -> RetrievalData:
    check_size(spec, root, split, language, len(images), options)
    n_caps = sum(len(c) for c in captions)
    check_size(spec, root, split, language, n_caps, options, what="captions")
    data_info = {"root": str(root), "split": split, "size": len(images), "n_captions": n_caps, "language": language}
    return RetrievalData(images, captions, info=data_info | (info or {}))


def image_folder(
    folder: Path, classes: Sequence[str] | None = None, labels: Sequence[int] | None = None
) -> tuple[list[str], list[tuple[str, int]]]:
    """torchvision ``ImageFolder`` order: sorted class folders, then sorted walk; paths relative to ``folder``.

    ``classes`` (default: the sorted folders present) and their ``labels`` (default: positions) may be given.
    """
    if classes is None:
        classes = sorted(e.name for e in os.scandir(folder) if e.is_dir())
    classes = list(classes)
    samples: list[tuple[str, int]] = []
    for idx, cls in zip(labels if labels is not None else range(len(classes)), classes):
        for dirpath, _, fnames in sorted(os.walk(folder / cls, followlinks=True)):
            for fname in sorted(fnames):
                if fname.lower().endswith(IMG_EXTENSIONS):
                    samples.append((os.path.relpath(os.path.join(dirpath, fname), folder), idx))
    return classes, samples


def class_folder_samples(
    spec: DatasetSpec, folder: Path, options: dict[str, Any], n_classes: int | None = None
) -> tuple[list[str], list[tuple[str, int]], dict[str, Any]]:
    """ImageFolder samples labelled by class-folder NAME: ``(class folders, [(relpath, label)], info)``.

    torchvision's ``ImageFolder`` labels a sample by the position of its folder among the folders present, so
    with one folder missing every later label shifts by one and the accuracy is silently wrong. Here labels
    index ``spec.class_folders`` (the dataset's complete, sorted folder list): a missing folder is an error
    unless ``allow_incomplete`` (then recorded in ``info["absent_classes"]``); a folder outside the list is an
    error. A spec without the list falls back to ImageFolder positions, which are only right with every folder
    present, so there an incomplete copy is refused even with ``allow_incomplete`` (``n_classes`` tells).
    """
    present = sorted(e.name for e in os.scandir(folder) if e.is_dir())
    expected = list(spec.class_folders)
    if not expected:
        if n_classes is not None and len(present) != n_classes:
            raise DatasetNotFoundError(
                f"dataset {spec.name!r}: found {len(present)} class folders in {folder}, expected {n_classes}; "
                "zsbench does not know this dataset's complete class-folder list, so it cannot label a copy with "
                f"folders missing by name (not even with --allow_incomplete): restore them; {obtain_hint(spec)}"
            )
        expected = present
    known = set(expected)
    unknown = [d for d in present if d not in known]
    if unknown:
        raise DatasetNotFoundError(
            f"dataset {spec.name!r}: class folder(s) {', '.join(map(repr, unknown[:3]))} in {folder} are not among "
            f"its {len(expected)} classes; remove or rename them (expected layout: {spec.layout})"
        )
    have = set(present)
    absent = [d for d in expected if d not in have]
    if absent and not options.get("allow_incomplete"):
        raise DatasetNotFoundError(
            f"dataset {spec.name!r} at {folder} is incomplete: {len(absent)} of {len(expected)} class folders are "
            f"missing ({', '.join(absent[:3])}{', ...' if len(absent) > 3 else ''}); {obtain_hint(spec)} (pass "
            "--allow_incomplete, or allow_incomplete=True in Python, to evaluate a partial copy anyway)"
        )
    _, samples = image_folder(
        folder, [d for d in expected if d in have], [expected.index(d) for d in expected if d in have]
    )
    return expected, samples, ({"absent_classes": absent} if absent else {})


def decode_bytes(data: bytes, name: str) -> Any:
    return decode_image(io.BytesIO(data), name)


class ArchiveImageSet:
    """Images stored as byte ranges of archive files (tar members, TFRecord records); read lazily.

    ``entries[i] = (relpath of archive under root, byte offset, byte length, member name)``.
    ``extract`` turns the raw bytes into encoded image bytes (TFRecord records hold a protobuf around them).
    """

    def __init__(self, root: str | os.PathLike[str], entries: Sequence[tuple[str, int, int, str]], extract: Any = None):
        self.root = Path(root)
        self.entries = list(entries)
        self.extract = extract

    def __len__(self) -> int:
        return len(self.entries)

    def image_key(self, index: int) -> str:
        archive, _, _, member = self.entries[index]
        return f"{archive}:{member}"

    def read_bytes(self, index: int) -> bytes:
        archive, offset, length, _ = self.entries[index]
        with open(self.root / archive, "rb") as f:
            f.seek(offset)
            data = f.read(length)
        return self.extract(data) if self.extract else data

    def load_image(self, index: int) -> Any:
        name = f"{self.root / self.entries[index][0]}:{self.entries[index][3]}"
        try:
            data = self.read_bytes(index)
        except (OSError, ValueError, KeyError, IndexError) as e:  # unreadable archive, broken TFRecord record
            raise CorruptImageError(f"cannot read image {name}: {e}") from e
        return decode_bytes(data, name)

    def fingerprint(self, mode: str = "stat") -> str:
        check_fingerprint_mode(mode)
        where = resolved_root(self.root) if mode == "stat" else ""  # as FileImageSet.fingerprint
        h = hashlib.sha256(f"archive-v2\0{mode}\0{where}\n".encode())
        if mode == "content":
            self._hash_members(h)
            return h.hexdigest()
        stats: dict[str, str] = {}
        for archive, offset, length, member in self.entries:
            if archive not in stats:
                try:
                    st = os.stat(self.root / archive)
                    stats[archive] = f"{st.st_size}\0{st.st_mtime_ns}"
                except FileNotFoundError:
                    stats[archive] = "missing"
                h.update(f"{archive}\0{stats[archive]}\n".encode())
            h.update(f"{member}\0{offset}\0{length}\n".encode())
        return h.hexdigest()

    def _hash_members(self, h: Any) -> None:
        # One open per archive; each member's raw byte range is what decoding reads.
        handles: dict[str, Any] = {}
        try:
            for archive, offset, length, member in self.entries:
                if archive not in handles:
                    try:
                        handles[archive] = open(self.root / archive, "rb")  # noqa: SIM115 (closed below)
                    except FileNotFoundError:
                        handles[archive] = None
                f = handles[archive]
                if f is None:
                    digest = "missing"
                else:
                    f.seek(offset)
                    digest = hashlib.sha256(f.read(length)).hexdigest()
                h.update(f"{archive}\0{member}\0{offset}\0{length}\0{digest}\n".encode())
        finally:
            for f in handles.values():
                if f is not None:
                    f.close()


class CropImageSet:
    """Boxes cropped from image files (VOC per-object crops); ``boxes[i] = (relpath, (x0, y0, x1, y1))``."""

    def __init__(self, root: str | os.PathLike[str], boxes: Sequence[tuple[str, tuple[int, int, int, int]]]):
        from zsbench.datasets.base import FileImageSet

        self.boxes = list(boxes)
        self.files = FileImageSet(root, [rel for rel, _ in self.boxes])

    def __len__(self) -> int:
        return len(self.boxes)

    def image_key(self, index: int) -> str:
        rel, box = self.boxes[index]
        return f"{rel}#crop={','.join(map(str, box))}"

    def load_image(self, index: int) -> Any:
        # PIL crop with the raw VOC pixel coordinates, exactly as CLIP_benchmark's PASCALVoc2007Cropped.
        return self.files.load_image(index).crop(self.boxes[index][1])

    def fingerprint(self, mode: str = "stat") -> str:
        h = hashlib.sha256(f"crops-v1\0{self.files.fingerprint(mode)}".encode())
        for rel, box in self.boxes:
            h.update(f"{rel}\0{box}\n".encode())
        return h.hexdigest()


def file_digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
