"""Image-caption selection datasets: SugarCrepe and Winoground, read from their released files.

* ``sugar_crepe/<task>`` (CLIP_benchmark's layout): ``root/<task>.json``, a JSON object ``{key: {"filename",
  "caption", "negative_caption"}}``, and the COCO val2017 images in ``root/val2017/``. One instance per entry, in
  the file's key order (as CLIP_benchmark, which keeps the keys' order; they need not be contiguous): one image,
  captions ``[caption, negative_caption]``. ``--annotation_file`` points at another JSON file. An image used by
  several entries is one image of the split's image set, so it is encoded once.
* ``winoground``: the facebook/winoground release, ``examples.jsonl`` (one JSON object per line with ``image_0``,
  ``image_1`` as file stems such as ``ex_0_img_0``, ``caption_0``, ``caption_1``) with the images in ``images/``
  (``<stem>.png``) or still inside the release's ``images.zip`` (members ``images/<stem>.png``, read in place),
  in the root or its ``data/`` folder as on the hub; or a Parquet export of the same columns (the hub's
  ``refs/convert/parquet`` files, images as ``{bytes, path}`` structs or plain binary), read with pyarrow. One
  instance per example, in file order: images ``[image_0, image_1]``, captions ``[caption_0, caption_1]``.

Every file is checked before any model loads: a missing annotation file or image, an entry without a field, or a
file that is not what it should be is one line naming the file (and key or line). ``allow_incomplete`` drops the
instances whose images are missing and records how many in ``info["missing_images"]``.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from pathlib import Path, PurePosixPath
from typing import Any

from zsbench.datasets.base import (
    CaptionSelectionData,
    CorruptImageError,
    DatasetSpec,
    FileImageSet,
    check_fingerprint_mode,
    resolved_root,
)
from zsbench.datasets.languages import require_language
from zsbench.datasets.loaders import _common as c
from zsbench.errors import DatasetNotFoundError, ZsbenchError
from zsbench.paths import file_sha256

SUGAR_CREPE_FIELDS = ("filename", "caption", "negative_caption")
WINOGROUND_FIELDS = ("image_0", "image_1", "caption_0", "caption_1")
WINOGROUND_IMAGE_EXTENSION = ".png"  # the release's images are <stem>.png (its loading script's IMAGE_EXTENSION)
# Where a Parquet export may lie under the root: the hub's data/ folder, or its refs/convert/parquet layout.
WINOGROUND_PARQUET_GLOBS = ("data/*.parquet", "default/test/*.parquet", "test/*.parquet", "*.parquet")


def _start(spec: DatasetSpec, root: Path, split: str, language: str, options: dict[str, Any]) -> None:
    c.check_options(spec, options)
    c.check_split(spec, split)
    require_language(language, spec.languages, spec.name, what="captions")
    c.maybe_download(spec, root, language, options)


def _bad(path: Path, where: str, what: str) -> DatasetNotFoundError:
    return DatasetNotFoundError(f"{path}{where}: {what}")


def _relative_name(path: Path, where: str, value: Any, field: str) -> str:
    """An image name from an annotation file: a relative path under the image folder (data never points outside)."""
    if not isinstance(value, str) or not value.strip():
        raise _bad(path, where, f'"{field}" must be a non-empty string, got {value!r}')
    parts = PurePosixPath(value.replace("\\", "/")).parts
    if value.startswith(("/", "\\")) or ".." in parts or (len(value) > 1 and value[1] == ":"):
        raise _bad(path, where, f'"{field}" {value!r} is not a file name under the image folder')
    return value


def _text(path: Path, where: str, value: Any, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _bad(path, where, f'"{field}" must be a non-empty string, got {value!r}')
    return value


def _build(
    spec: DatasetSpec,
    root: Path,
    split: str,
    language: str,
    options: dict[str, Any],
    entries: list[tuple[tuple[str, ...], tuple[str, ...]]],
    make_images: Any,
    missing: set[str],
    info: dict[str, Any],
) -> CaptionSelectionData:
    """Instances of ``(image names, captions)`` -> the data: one image set of the distinct names, in first use order.

    ``missing`` names images that are not there: an error naming the first, unless ``allow_incomplete`` (then the
    instances that need them are dropped and counted).
    """
    if missing:
        dropped = sum(1 for names, _ in entries if any(n in missing for n in names))
        if not options.get("allow_incomplete"):
            first = sorted(missing)[0]
            raise DatasetNotFoundError(
                f"dataset {spec.name!r}: {len(missing)} image(s) named in its annotations are missing, e.g. {first} "
                f"(needed by {dropped} of {len(entries)} instances); {c.obtain_hint(spec)} (pass --allow_incomplete "
                "to evaluate the other instances)"
            )
        entries = [(names, caps) for names, caps in entries if not any(n in missing for n in names)]
        info = info | {"missing_images": len(missing), "dropped_instances": dropped}
    if not entries:
        raise DatasetNotFoundError(
            f"dataset {spec.name!r} at {root} has no instances to evaluate; {c.obtain_hint(spec)}"
        )
    index: dict[str, int] = {}
    image_ids: list[tuple[int, ...]] = []
    for names, _ in entries:
        image_ids.append(tuple(index.setdefault(n, len(index)) for n in names))
    images = make_images(list(index))
    c.check_size(spec, root, split, language, len(images), options)
    data_info = {"root": str(root), "split": split, "size": len(images), "n_instances": len(entries)}
    return CaptionSelectionData(images, image_ids, [caps for _, caps in entries], info=data_info | info)


# -- SugarCrepe ---------------------------------------------------------------------------------------------------
def read_sugar_crepe(path: Path) -> list[tuple[tuple[str, ...], tuple[str, ...]]]:
    """``[((filename,), (caption, negative_caption)), ...]`` in the file's key order; one line per problem."""
    try:
        with open(path, encoding="utf-8") as f:
            ann = json.load(f)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise _bad(path, "", f"not a SugarCrepe JSON file ({e}); delete it and download it again") from e
    if not isinstance(ann, dict):
        raise _bad(
            path,
            "",
            f"expected a JSON object of key -> {{{', '.join(SUGAR_CREPE_FIELDS)}}}, got a {type(ann).__name__}",
        )
    entries = []
    for key, entry in ann.items():
        where = f" entry {key!r}"
        if not isinstance(entry, dict):
            raise _bad(path, where, f"expected an object with {', '.join(SUGAR_CREPE_FIELDS)}, got {entry!r:.60}")
        absent = [k for k in SUGAR_CREPE_FIELDS if k not in entry]
        if absent:
            raise _bad(path, where, f"has no {', '.join(map(repr, absent))}")
        name = _relative_name(path, where, entry["filename"], "filename")
        captions = tuple(_text(path, where, entry[k], k) for k in ("caption", "negative_caption"))
        entries.append(((name,), captions))
    return entries


def load_sugar_crepe(
    root: Path, *, split: str = "test", language: str = "en", spec: DatasetSpec, **options: Any
) -> CaptionSelectionData:
    _start(spec, root, split, language, options)
    task = spec.name.split("/", 1)[1]
    ann = Path(options.get("annotation_file") or root / f"{task}.json")
    c.require_root(spec, root, "val2017")
    if not ann.is_file():  # not require_root(..., ann): root / ann doubles a relative root
        raise DatasetNotFoundError(f"dataset {spec.name!r}: missing {ann}; {c.obtain_hint(spec)}")
    entries = read_sugar_crepe(ann)
    folder = root / "val2017"
    names = dict.fromkeys(n for names, _ in entries for n in names)
    missing = {n for n in names if not (folder / n).is_file()}
    return _build(
        spec, root, split, language, options, entries, lambda ns: FileImageSet(folder, ns), missing,
        {"annotation_file": str(ann)},
    )  # fmt: skip


# -- Winoground ---------------------------------------------------------------------------------------------------
class ZipImageSet:
    """Images stored as members of a zip archive (the Winoground release's ``images.zip``), read in place."""

    def __init__(self, archive: str | os.PathLike[str], members: list[str]) -> None:
        self.archive = Path(archive)
        self.members = list(members)
        self._zip: zipfile.ZipFile | None = None

    def __len__(self) -> int:
        return len(self.members)

    def __getstate__(self) -> dict[str, Any]:  # DataLoader workers open their own handle
        return {**self.__dict__, "_zip": None}

    def image_key(self, index: int) -> str:
        return f"{self.archive.name}:{self.members[index]}"

    def load_image(self, index: int) -> Any:
        name = f"{self.archive}:{self.members[index]}"
        try:
            if self._zip is None:
                self._zip = zipfile.ZipFile(self.archive)
            data = self._zip.read(self.members[index])
        except (OSError, KeyError, zipfile.BadZipFile, EOFError) as e:
            raise CorruptImageError(f"cannot read image {name}: {e}; download images.zip again") from e
        return c.decode_bytes(data, name)

    def fingerprint(self, mode: str = "stat") -> str:
        check_fingerprint_mode(mode)
        if mode == "content":
            h = hashlib.sha256(b"zip-v1\0content\n")
            with zipfile.ZipFile(self.archive) as zf:
                for m in self.members:
                    h.update(f"{m}\0{hashlib.sha256(zf.read(m)).hexdigest()}\n".encode())
            return h.hexdigest()
        st = os.stat(self.archive)
        h = hashlib.sha256(f"zip-v1\0stat\0{resolved_root(self.archive)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
        h.update("\n".join(self.members).encode())
        return h.hexdigest()


class ParquetImageSet:
    """Images stored as binary cells of Parquet files; ``cells[i] = (file, row, column)``, read lazily with pyarrow.

    A cell is a struct with ``bytes`` (the Hugging Face Image feature) or plain binary. The last row group read is
    kept, so a worker reading consecutive images reads each row group once.
    """

    def __init__(self, root: str | os.PathLike[str], cells: list[tuple[str, int, str]]) -> None:
        self.root = Path(root)
        self.cells = list(cells)
        self._group: tuple[tuple[str, int, str], list[Any], int] | None = None

    def __len__(self) -> int:
        return len(self.cells)

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_group": None}

    def image_key(self, index: int) -> str:
        file, row, column = self.cells[index]
        return f"{file}#{row}:{column}"

    def _cell(self, file: str, row: int, column: str) -> Any:
        import pyarrow.parquet as pq

        pf = pq.ParquetFile(self.root / file)
        start = 0
        for group in range(pf.metadata.num_row_groups):
            n = pf.metadata.row_group(group).num_rows
            if row < start + n:
                key = (file, group, column)
                if self._group is None or self._group[0] != key:
                    self._group = (key, pf.read_row_group(group, columns=[column]).column(0).to_pylist(), start)
                return self._group[1][row - self._group[2]]
            start += n
        raise IndexError(f"row {row} beyond the file's {start} rows")

    def load_image(self, index: int) -> Any:
        file, row, column = self.cells[index]
        name = f"{self.root / file} row {row} column {column}"
        try:
            cell = self._cell(file, row, column)
        except (OSError, ValueError, IndexError, KeyError) as e:  # pyarrow's errors derive from these
            raise CorruptImageError(f"cannot read image {name}: {e}") from e
        data = cell.get("bytes") if isinstance(cell, dict) else cell
        if not isinstance(data, (bytes, bytearray)):
            raise CorruptImageError(f"image {name} holds no image bytes ({type(data).__name__})")
        return c.decode_bytes(bytes(data), name)

    def fingerprint(self, mode: str = "stat") -> str:
        check_fingerprint_mode(mode)
        where = resolved_root(self.root) if mode == "stat" else ""
        h = hashlib.sha256(f"parquet-v1\0{mode}\0{where}\n".encode())
        for file in dict.fromkeys(f for f, _, _ in self.cells):
            if mode == "content":
                h.update(f"{file}\0{file_sha256(self.root / file)}\n".encode())
            else:
                st = os.stat(self.root / file)
                h.update(f"{file}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
        h.update("\n".join(self.image_key(i) for i in range(len(self))).encode())
        return h.hexdigest()


def _winoground_entry(path: Path, where: str, example: Any) -> tuple[tuple[str, ...], tuple[str, ...]]:
    if not isinstance(example, dict):
        raise _bad(path, where, f"expected a JSON object with {', '.join(WINOGROUND_FIELDS)}, got {example!r:.60}")
    absent = [k for k in WINOGROUND_FIELDS if k not in example]
    if absent:
        raise _bad(path, where, f"has no {', '.join(map(repr, absent))}")
    images = tuple(_relative_name(path, where, example[k], k) for k in ("image_0", "image_1"))
    return images, tuple(_text(path, where, example[k], k) for k in ("caption_0", "caption_1"))


def read_winoground_jsonl(path: Path) -> list[tuple[tuple[str, ...], tuple[str, ...]]]:
    """``[((image_0, image_1), (caption_0, caption_1)), ...]`` (image stems) in file order."""
    entries = []
    try:
        with open(path, encoding="utf-8") as f:
            for lineno, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                try:
                    example = json.loads(line)
                except json.JSONDecodeError as e:
                    raise _bad(path, f":{lineno}", f"not a JSON object ({e}); delete it and download it again") from e
                entries.append(_winoground_entry(path, f":{lineno}", example))
    except UnicodeDecodeError as e:
        raise _bad(path, "", f"not a UTF-8 JSON Lines file ({e})") from e
    return entries


def _winoground_jsonl(spec: DatasetSpec, root: Path, folder: Path, split: str, options: dict[str, Any]) -> Any:
    examples = folder / "examples.jsonl"
    entries = read_winoground_jsonl(examples)
    stems = list(dict.fromkeys(n for names, _ in entries for n in names))
    # The release names stems ("ex_0_img_0"); a name that already has an image extension is taken as it is.
    files = {s: s if s.lower().endswith(c.IMG_EXTENSIONS) else f"{s}{WINOGROUND_IMAGE_EXTENSION}" for s in stems}
    entries = [(tuple(files[n] for n in names), caps) for names, caps in entries]
    info = {"annotation_file": str(examples)}
    if (folder / "images").is_dir():
        images_dir = folder / "images"
        missing = {f for f in files.values() if not (images_dir / f).is_file()}
        make = lambda names: FileImageSet(images_dir, names)  # noqa: E731
        info["images"] = str(images_dir)
    elif (folder / "images.zip").is_file():
        archive = folder / "images.zip"
        try:
            with zipfile.ZipFile(archive) as zf:
                members = set(zf.namelist())
        except (OSError, zipfile.BadZipFile) as e:
            raise _bad(archive, "", f"not a readable zip archive ({e}); download images.zip again") from e
        # The release's zip holds images/<stem>.png; a re-zipped copy may hold the files at its top level.
        prefix = "images/" if any(m.startswith("images/") for m in members) else ""
        missing = {f for f in files.values() if prefix + f not in members}
        make = lambda names: ZipImageSet(archive, [prefix + n for n in names])  # noqa: E731
        info["images"] = str(archive)
    else:
        raise DatasetNotFoundError(
            f"dataset {spec.name!r}: {examples} has no images beside it (neither {folder / 'images'}/ nor "
            f"{folder / 'images.zip'}); {c.obtain_hint(spec)}"
        )
    return _build(spec, root, split, "en", options, entries, make, missing, info)


def read_winoground_parquet(
    root: Path, files: list[Path]
) -> list[tuple[tuple[tuple[str, int, str], ...], tuple[str, ...]]]:
    """``[(((file, row, "image_0"), (file, row, "image_1")), (caption_0, caption_1)), ...]`` over the files in order."""
    try:
        import pyarrow.parquet as pq
    except ImportError as e:
        raise ZsbenchError(
            f"reading winoground from Parquet ({files[0]}) needs pyarrow: pip install pyarrow (or use the release's "
            "examples.jsonl + images.zip)"
        ) from e
    entries = []
    for path in files:
        rel = path.relative_to(root).as_posix()
        try:
            pf = pq.ParquetFile(path)
            names = set(pf.schema_arrow.names)
            absent = [k for k in WINOGROUND_FIELDS if k not in names]
            if absent:
                raise _bad(path, "", f"has no column(s) {', '.join(map(repr, absent))} (columns: {sorted(names)})")
            table = pf.read(columns=["caption_0", "caption_1"])
        except (OSError, ValueError) as e:  # pyarrow.ArrowInvalid derives from ValueError
            raise _bad(path, "", f"not a readable Parquet file ({e}); download it again") from e
        for row, (c0, c1) in enumerate(zip(*(table.column(k).to_pylist() for k in ("caption_0", "caption_1")))):
            where = f" row {row}"
            caps = (_text(path, where, c0, "caption_0"), _text(path, where, c1, "caption_1"))
            entries.append((((rel, row, "image_0"), (rel, row, "image_1")), caps))
    return entries


def load_winoground(
    root: Path, *, split: str = "test", language: str = "en", spec: DatasetSpec, **options: Any
) -> CaptionSelectionData:
    _start(spec, root, split, language, options)
    c.require_root(spec, root)
    for folder in (root, root / "data"):
        if (folder / "examples.jsonl").is_file():
            return _winoground_jsonl(spec, root, folder, split, options)
    parquet = next((sorted(root.glob(g)) for g in WINOGROUND_PARQUET_GLOBS if any(root.glob(g))), [])
    if not parquet:
        raise DatasetNotFoundError(
            f"dataset {spec.name!r}: no examples.jsonl and no Parquet file under {root}; {c.obtain_hint(spec)}"
        )
    entries = read_winoground_parquet(root, parquet)
    # Cells are named "file#row:column" so that _build can key them; every cell exists once the file was read.
    keyed = [(tuple(f"{f}#{r}:{col}" for f, r, col in cells), caps) for cells, caps in entries]
    cells = {f"{f}#{r}:{col}": (f, r, col) for cs, _ in entries for f, r, col in cs}
    info = {"annotation_file": ", ".join(str(p) for p in parquet)}
    return _build(
        spec, root, split, language, options, keyed, lambda ns: ParquetImageSet(root, [cells[n] for n in ns]), set(),
        info,
    )  # fmt: skip
