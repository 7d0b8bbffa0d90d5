"""DataComp's HF ``datasets`` sets (Flickr 1k, MSCOCO 5k, WinoGAViL), read from the cache DataComp's download leaves.

``download_evalsets.py`` calls ``datasets.load_dataset("nlphuji/<name>", split="test", cache_dir=<data_dir>/hf_cache)``;
these repositories are loading scripts (``datasets`` < 3) that download a CSV and an image zip, extract the zip under
``hf_cache/downloads/extracted/<hash>/`` and write the prepared split as an Arrow IPC stream:

    hf_cache/nlphuji___<name>/<config>/<version>/<hash>/dataset_info.json
    hf_cache/nlphuji___<name>/<config>/<version>/<hash>/<name>-test.arrow   (or <name>-test-00000-of-0000N.arrow)

An ``Image`` column is a struct ``{bytes, path}``; for local files the script yields, ``datasets`` stores the
absolute ``path`` only (bytes when embedded). zsbench reads the Arrow files with pyarrow (no ``datasets``, no
loading script run) and the images from those paths; a cache moved to another folder still works: a path that no
longer exists is looked up again under this cache's ``downloads/extracted/``. Columns read: Flickr/MSCOCO ``image``
and ``caption`` (a list of strings, used as written, as DataComp does); WinoGAViL ``cue``, ``candidates``,
``associations`` and ``candidate_images``.

Refused in one line: no prepared split (or several, from different script versions: pass the one meant as
``--dataset_root``), an Arrow file cut short, a missing column, an image whose file is missing (with how many are),
a WinoGAViL instance whose candidates and images differ in number or with no association among its candidates.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zsbench.datasets.base import (
    ASSOCIATION,
    DatasetSpec,
    check_fingerprint_mode,
    decode_image,
    resolved_root,
)
from zsbench.datasets.catalog.datacomp import DATACOMP_DATASETS, HF_SETS
from zsbench.datasets.languages import require_language
from zsbench.datasets.loaders import _common as c
from zsbench.errors import DatasetNotFoundError, ZsbenchError

_EXTRACTED = "downloads/extracted/"


@dataclass
class AssociationData:
    """WinoGAViL instances: instance ``k`` has the cue ``cues[k]``, the candidate images ``candidates[k]`` (indices
    into ``images``) and ``associated[k][j]``: whether candidate ``j`` is one of the cue's associations."""

    images: Any
    cues: list[str]
    candidates: list[tuple[int, ...]]
    associated: list[tuple[bool, ...]]
    info: dict[str, Any] = field(default_factory=dict)

    task = ASSOCIATION


class HFImageSet:
    """Images of an HF ``datasets`` Arrow table: each a file path or embedded bytes (``("file", path)`` /
    ``("bytes", data)``); keys are the recorded paths (relative to the cache root when under it) or a digest."""

    def __init__(self, cache_root: Path, entries: list[tuple[str, Any]]) -> None:
        self.root = cache_root
        self.entries = entries

    def __len__(self) -> int:
        return len(self.entries)

    def image_key(self, index: int) -> str:
        kind, value = self.entries[index]
        if kind == "bytes":
            return "bytes:" + hashlib.sha256(value).hexdigest()
        try:
            return str(Path(value).relative_to(self.root))
        except ValueError:
            return str(value)

    def load_image(self, index: int) -> Any:
        import io

        kind, value = self.entries[index]
        if kind == "bytes":
            return decode_image(io.BytesIO(value), f"{self.root} image {index}")
        return decode_image(value, str(value))

    def fingerprint(self, mode: str = "stat") -> str:
        from zsbench.paths import file_sha256

        check_fingerprint_mode(mode)
        h = hashlib.sha256(f"hf-cache-v1\0{mode}\0{resolved_root(self.root) if mode == 'stat' else ''}\n".encode())
        for i, (kind, value) in enumerate(self.entries):
            key = self.image_key(i)
            if kind == "bytes":
                h.update(f"{key}\n".encode())
                continue
            try:
                if mode == "content":
                    h.update(f"{key}\0{file_sha256(value)}\n".encode())
                else:
                    st = os.stat(value)
                    h.update(f"{key}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
            except FileNotFoundError:
                h.update(f"{key}\0missing\n".encode())
        return h.hexdigest()


def _cache_roots(root: Path) -> list[Path]:
    """Where a ``nlphuji___<name>`` folder may be: the root (hf_cache itself) or its ``hf_cache`` (the data dir)."""
    return [p for p in (root, root / "hf_cache") if p.is_dir()]


def find_split(spec: DatasetSpec, root: Path) -> tuple[Path, list[Path]]:
    """``(cache root, Arrow files of the test split)`` of the spec's repository under ``root``."""
    short = HF_SETS[spec.name].split("/", 1)[1]
    if not root.exists():
        raise DatasetNotFoundError(f"dataset {spec.name!r}: root {root} does not exist; {c.obtain_hint(spec)}")
    folder = f"nlphuji___{short}"
    candidates = [(r, r / folder) for r in _cache_roots(root) if (r / folder).is_dir()]
    if root.name == folder:
        candidates.append((root.parent, root))
    found: dict[Path, tuple[Path, list[Path]]] = {}
    for cache_root, base in candidates:
        for info in base.rglob("dataset_info.json"):
            arrows = sorted(info.parent.glob(f"{short}-test.arrow")) or sorted(
                info.parent.glob(f"{short}-test-*.arrow")
            )
            if arrows:
                found[info.parent.resolve()] = (cache_root, arrows)
    if not found:
        raise DatasetNotFoundError(
            f"dataset {spec.name!r}: no prepared test split of {HF_SETS[spec.name]} under {root} "
            f"(looked for {folder}/.../{short}-test.arrow beside a dataset_info.json); {c.obtain_hint(spec)}"
        )
    if len(found) > 1:
        where = ", ".join(str(p) for p in sorted(found))
        raise DatasetNotFoundError(
            f"dataset {spec.name!r}: {len(found)} prepared copies of {HF_SETS[spec.name]} ({where}); pass the one to "
            "evaluate as --dataset_root"
        )
    return next(iter(found.values()))


def read_arrow(paths: list[Path], name: str) -> Any:
    """The Arrow table of ``paths`` (``datasets`` writes IPC streams; the IPC file format is read too)."""
    try:
        import pyarrow as pa
    except ImportError as e:
        raise ZsbenchError(
            f"dataset {name!r} is read from HF datasets' Arrow files, which needs pyarrow: pip install pyarrow "
            '(or pip install "zsbench[parquet]")'
        ) from e
    tables = []
    for path in paths:
        try:
            with pa.memory_map(str(path)) as source:
                try:
                    tables.append(pa.ipc.open_stream(source).read_all())
                except pa.ArrowInvalid:
                    source.seek(0)
                    tables.append(pa.ipc.open_file(source).read_all())
        except (pa.ArrowInvalid, OSError, EOFError) as e:
            raise DatasetNotFoundError(
                f"dataset {name!r}: {path} is not a readable Arrow file ({e}); it may be cut short: delete the "
                "dataset's folder and download it again"
            ) from e
    return pa.concat_tables(tables) if len(tables) > 1 else tables[0]


def _column(table: Any, name: str, column: str, path: Path) -> list[Any]:
    if column not in table.column_names:
        raise DatasetNotFoundError(
            f"dataset {name!r}: {path} has no column {column!r} (columns: {', '.join(table.column_names)}); this is "
            "not the split DataComp reads"
        )
    return table.column(column).to_pylist()


class _Images:
    """Resolve Image-feature values ``{bytes, path}`` to entries of an :class:`HFImageSet` (each file once)."""

    def __init__(self, spec: DatasetSpec, cache_root: Path) -> None:
        self.spec = spec
        self.cache_root = cache_root
        self.entries: list[tuple[str, Any]] = []
        self.index: dict[Any, int] = {}
        self.missing: dict[str, None] = {}  # distinct files, in the order first named

    def add(self, value: Any) -> int:
        if not isinstance(value, dict) or (value.get("bytes") is None and not value.get("path")):
            raise DatasetNotFoundError(
                f"dataset {self.spec.name!r}: an image value is {value!r}, not an image {{bytes, path}}"
            )
        if value.get("bytes") is not None:
            data = value["bytes"]
            key: Any = ("bytes", hashlib.sha256(data).hexdigest())
            entry: tuple[str, Any] = ("bytes", data)
        else:
            path = self.locate(str(value["path"]))
            key = ("file", str(path))
            entry = ("file", path)
        if key not in self.index:
            self.index[key] = len(self.entries)
            self.entries.append(entry)
        return self.index[key]

    def locate(self, recorded: str) -> Path:
        """The recorded path, or the same file under this cache's downloads/extracted/ (a moved cache)."""
        path = Path(recorded)
        if path.is_file():
            return path
        posix = recorded.replace("\\", "/")
        if _EXTRACTED in posix:
            moved = self.cache_root / _EXTRACTED / posix.split(_EXTRACTED, 1)[1]
            if moved.is_file():
                return moved
        self.missing[recorded] = None
        return path

    def check(self) -> None:
        if self.missing:
            raise DatasetNotFoundError(
                f"dataset {self.spec.name!r}: {len(self.missing)} image file(s) the Arrow file names are missing, e.g. "
                f"{next(iter(self.missing))} (also looked under {self.cache_root / _EXTRACTED}); download the dataset again"
            )


def load_hf_retrieval(root: Path, *, split: str = "test", language: str = "en", spec: DatasetSpec, **options: Any):
    c.check_options(spec, options)
    c.check_split(spec, split)
    lang = require_language(language, spec.languages, spec.name, what="captions")
    cache_root, arrows = find_split(spec, Path(root))
    table = read_arrow(arrows, spec.name)
    images_col = _column(table, spec.name, "image", arrows[0])
    captions_col = _column(table, spec.name, "caption", arrows[0])
    resolver = _Images(spec, cache_root)
    ids = [resolver.add(v) for v in images_col]
    resolver.check()
    if len(set(ids)) != len(ids):
        raise DatasetNotFoundError(f"dataset {spec.name!r}: {arrows[0]} lists one image in several rows")
    captions: list[list[str]] = []
    for row, caps in enumerate(captions_col):
        if not isinstance(caps, list) or not caps or not all(isinstance(t, str) and t.strip() for t in caps):
            raise DatasetNotFoundError(
                f"dataset {spec.name!r}: {arrows[0]} row {row} has caption {caps!r}, not a list of non-empty strings"
            )
        captions.append(caps)
    images = HFImageSet(cache_root, resolver.entries)
    info = {"arrow_files": [str(p) for p in arrows], "caption_preprocess": "none", "hf_repository": HF_SETS[spec.name]}
    return c.retrieval(spec, Path(root), split, lang, images, captions, options, info=info)


def load_winogavil(root: Path, *, split: str = "test", language: str = "en", spec: DatasetSpec, **options: Any):
    c.check_options(spec, options)
    c.check_split(spec, split)
    require_language(language, spec.languages, spec.name, what="cues")
    cache_root, arrows = find_split(spec, Path(root))
    table = read_arrow(arrows, spec.name)
    cues = _column(table, spec.name, "cue", arrows[0])
    cands = _column(table, spec.name, "candidates", arrows[0])
    assocs = _column(table, spec.name, "associations", arrows[0])
    cand_images = _column(table, spec.name, "candidate_images", arrows[0])
    resolver = _Images(spec, cache_root)
    candidates: list[tuple[int, ...]] = []
    associated: list[tuple[bool, ...]] = []
    for row, (cue, names, assoc, imgs) in enumerate(zip(cues, cands, assocs, cand_images)):
        where = f"dataset {spec.name!r}: {arrows[0]} row {row}"
        if not isinstance(cue, str) or not cue.strip():
            raise DatasetNotFoundError(f"{where} has cue {cue!r}, not a non-empty string")
        if not isinstance(names, list) or not isinstance(imgs, list) or len(names) != len(imgs) or not names:
            raise DatasetNotFoundError(
                f"{where}: {len(names or [])} candidates but {len(imgs or [])} candidate images; they must pair up"
            )
        flags = tuple(n in set(assoc or []) for n in names)  # DataComp: np.isin(candidates, associations)
        if not any(flags):
            raise DatasetNotFoundError(
                f"{where} (cue {cue!r}): none of its associations {assoc!r} is among its candidates; DataComp would "
                "score it 0 without saying so"
            )
        candidates.append(tuple(resolver.add(v) for v in imgs))
        associated.append(flags)
    resolver.check()
    want = DATACOMP_DATASETS[spec.name].size
    if len(cues) != want and not options.get("allow_incomplete"):
        raise DatasetNotFoundError(
            f"dataset {spec.name!r} split {split!r} at {root} is incomplete: found {len(cues)} instances, expected "
            f"{want}; {c.obtain_hint(spec)} (pass --allow_incomplete to evaluate a partial copy anyway)"
        )
    images = HFImageSet(cache_root, resolver.entries)
    info = {
        "root": str(root),
        "split": split,
        "size": len(images),
        "n_instances": len(cues),
        "arrow_files": [str(p) for p in arrows],
        "hf_repository": HF_SETS[spec.name],
    }
    return AssociationData(images, list(cues), candidates, associated, info=info)


__all__ = ["AssociationData", "HFImageSet", "find_split", "load_hf_retrieval", "load_winogavil", "read_arrow"]
