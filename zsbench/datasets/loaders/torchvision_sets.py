"""Datasets that CLIP_benchmark builds from torchvision classes, read from torchvision's on-disk formats.

Reading the files directly avoids instantiating torchvision datasets (which decode eagerly or need ``download``
logic) while keeping torchvision's class order and sample order; each function names the torchvision class it
mirrors. Class names: torchvision's ``.classes`` unless CLIP_benchmark overrides them from the bundled JSON
(``classnames_key``). Two torchvision datasets list files in file-system order (``SUN397`` via ``rglob``); zsbench
sorts them so the order is machine-independent (metrics do not depend on order).
"""

from __future__ import annotations

import csv
import gzip
import json
import os
import pickle
import struct
from pathlib import Path
from typing import Any

from zsbench.datasets.base import ArrayImageSet, DatasetSpec, FileImageSet
from zsbench.datasets.loaders import _common as c
from zsbench.errors import DatasetNotFoundError


def _start(spec: DatasetSpec, root: Path, split: str, options: dict[str, Any], *paths: str) -> None:
    c.check_options(spec, options)
    c.check_split(spec, split)
    c.require_root(spec, root, *paths)


def _folder_dataset(spec, root, split, language, options, folder: str, classnames_key=None, names=None):
    """ImageFolder over ``root/folder``, labels by class-folder name (``spec.class_folders``)."""
    from zsbench.datasets.prompts import classnames as bundled_classnames

    _start(spec, root, split, options, folder)
    n_classes = len(bundled_classnames(classnames_key)) if classnames_key else None
    classes, samples, info = c.class_folder_samples(spec, root / folder, options, n_classes)
    images = FileImageSet(root, [f"{folder}/{p}" for p, _ in samples])
    labels = [k for _, k in samples]
    return c.classification(
        spec,
        root,
        split,
        language,
        images,
        labels,
        options,
        classnames_key=classnames_key,
        dataset_classnames=None if classnames_key else (names if names is not None else classes),
        info=info,
    )


# --- array formats ---------------------------------------------------------------------------------------------
class _CifarUnpickler(pickle.Unpickler):
    """Loads CIFAR batches without running code from the file.

    A pickle can call any importable function while loading. Real CIFAR batches (Python 2 or 3, protocol 2) need
    only numpy's array reconstruction, ``numpy.dtype``, builtin containers and ``_codecs.encode`` (how protocol 2
    stores bytes); every other global is refused.
    """

    _BUILTINS = frozenset({"list", "dict", "tuple", "set", "frozenset", "bytearray", "bytes", "str", "int", "float"})

    def find_class(self, module: str, name: str) -> Any:
        import numpy as np

        try:
            from numpy._core import multiarray  # numpy >= 2
        except ImportError:  # pragma: no cover - numpy 1.x
            from numpy.core import multiarray  # type: ignore[no-redef]
        if module in ("numpy.core.multiarray", "numpy._core.multiarray") and name in ("_reconstruct", "scalar"):
            return getattr(multiarray, name)
        if module == "numpy" and name in ("ndarray", "dtype"):
            return getattr(np, name)
        if module in ("builtins", "__builtin__") and name in self._BUILTINS:
            return super().find_class("builtins", name)
        if module == "_codecs" and name == "encode":
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load global {module}.{name} (not part of a CIFAR batch)")


def _read_cifar_pickle(path: Path, raw: bytes, keys: tuple[str, ...]) -> dict[str, Any]:
    """The dict in a CIFAR pickle (keys as ``str``), with ``keys`` present; one-line errors naming ``path``."""
    import io

    try:
        obj = _CifarUnpickler(io.BytesIO(raw), encoding="latin1").load()
    except pickle.UnpicklingError as e:
        if "refusing" in str(e):
            raise DatasetNotFoundError(
                f"{path} is not a CIFAR batch: {e}; it would run code when loaded, so it was not loaded. Delete it "
                "and download/extract the dataset again from its official source"
            ) from e
        raise DatasetNotFoundError(
            f"{path} is truncated or damaged ({e}); delete it and download/extract the dataset again"
        ) from e
    except (EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError, MemoryError) as e:
        raise DatasetNotFoundError(
            f"{path} is truncated or damaged ({type(e).__name__}: {e}); delete it and download/extract the dataset again"
        ) from e
    if not isinstance(obj, dict):
        raise DatasetNotFoundError(f"{path} is not a CIFAR batch (a {type(obj).__name__}, not a dict)")
    entry = {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in obj.items()}
    missing = [k for k in keys if k not in entry]
    if missing:
        raise DatasetNotFoundError(f"{path} is not a CIFAR batch: no {', '.join(missing)} entry")
    return entry


def _cifar(spec, root, split, language, options, folder, files, meta, meta_key, label_key):
    import numpy as np

    _start(spec, root, split, options, *(f"{folder}/{f}" for f in files), f"{folder}/{meta}")
    arrays, labels, digests = [], [], []
    for name in files:
        path = root / folder / name
        raw = path.read_bytes()
        digests.append(c.file_digest(raw))
        entry = _read_cifar_pickle(path, raw, ("data", label_key))
        data = np.asarray(entry["data"], dtype=np.uint8)
        batch_labels = [int(x) for x in entry[label_key]]
        if data.size != len(batch_labels) * 3 * 32 * 32:
            raise DatasetNotFoundError(
                f"{path}: {data.size} pixel values for {len(batch_labels)} labels (expected 3072 per image); "
                "delete it and download/extract the dataset again"
            )
        arrays.append(data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
        labels.extend(batch_labels)
    meta_path = root / folder / meta
    classes = [str(x) for x in _read_cifar_pickle(meta_path, meta_path.read_bytes(), (meta_key,))[meta_key]]
    images = ArrayImageSet(np.concatenate(arrays), f"{spec.name}/{split}", "+".join(digests))
    return c.classification(spec, root, split, language, images, labels, options, dataset_classnames=classes)


def load_cifar10(root: Path, *, split: str = "test", language: str = "en", spec: DatasetSpec, **options: Any):
    """torchvision ``CIFAR10``: python pickles in ``cifar-10-batches-py``."""
    files = ["test_batch"] if split == "test" else [f"data_batch_{i}" for i in range(1, 6)]
    return _cifar(
        spec, root, split, language, options, "cifar-10-batches-py", files, "batches.meta", "label_names", "labels"
    )


def load_cifar100(root: Path, *, split: str = "test", language: str = "en", spec: DatasetSpec, **options: Any):
    """torchvision ``CIFAR100``: python pickles in ``cifar-100-python`` (fine labels)."""
    files = ["test"] if split == "test" else ["train"]
    return _cifar(
        spec, root, split, language, options, "cifar-100-python", files, "meta", "fine_label_names", "fine_labels"
    )


def read_idx(path: Path) -> Any:
    """An IDX file (MNIST), gzip-compressed if the name ends in .gz."""
    import numpy as np

    raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    zero, dtype, ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0 or dtype != 0x08:
        raise DatasetNotFoundError(f"{path} is not an unsigned-byte IDX file (magic {raw[:4].hex()})")
    dims = struct.unpack(f">{ndim}I", raw[4 : 4 + 4 * ndim])
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims), c.file_digest(raw)


def load_mnist(root: Path, *, split: str = "test", language: str = "en", spec: DatasetSpec, **options: Any):
    """torchvision ``MNIST``: IDX files in ``MNIST/raw`` (plain or .gz)."""
    c.check_options(spec, options)
    c.check_split(spec, split)
    prefix = "t10k" if split == "test" else "train"
    found = {}
    for kind, stem in (("images", f"{prefix}-images-idx3-ubyte"), ("labels", f"{prefix}-labels-idx1-ubyte")):
        candidates = [root / "MNIST" / "raw" / stem, root / "MNIST" / "raw" / f"{stem}.gz"]
        path = next((p for p in candidates if p.exists()), None)
        if path is None:
            c.require_root(spec, root, f"MNIST/raw/{stem}")
        found[kind] = read_idx(path)
    (arrays, d1), (labels, d2) = found["images"], found["labels"]
    images = ArrayImageSet(arrays, f"mnist/{split}", f"{d1}+{d2}", mode="L")
    return c.classification(
        spec, root, split, language, images, [int(x) for x in labels], options, classnames_key="mnist"
    )


def load_stl10(root: Path, *, split: str = "test", language: str = "en", spec: DatasetSpec, **options: Any):
    """torchvision ``STL10(split='test')``: column-major uint8 images in ``stl10_binary/test_X.bin``."""
    import numpy as np

    base = "stl10_binary"
    _start(spec, root, split, options, f"{base}/test_X.bin", f"{base}/test_y.bin", f"{base}/class_names.txt")
    raw = (root / base / "test_X.bin").read_bytes()
    # torchvision: reshape (-1, 3, 96, 96), swap the last two axes, then CHW -> HWC.
    arrays = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3, 96, 96).transpose(0, 3, 2, 1)
    labels = [int(x) - 1 for x in np.fromfile(root / base / "test_y.bin", dtype=np.uint8)]
    classes = (root / base / "class_names.txt").read_text().splitlines()
    images = ArrayImageSet(arrays, "stl10/test", c.file_digest(raw))
    return c.classification(spec, root, split, language, images, labels, options, dataset_classnames=classes)


# --- file lists ------------------------------------------------------------------------------------------------
def load_caltech101(root: Path, *, split: str = "test", language: str = "en", spec: DatasetSpec, **options: Any):
    """CLIP_benchmark's Caltech101 copy: sorted categories *including* ``BACKGROUND_Google``; split ignored.

    Images are ``image_0001.jpg .. image_<n>.jpg`` per category, as torchvision indexes them.
    """
    from zsbench.datasets.prompts import classnames as bundled_classnames

    base = "caltech101/101_ObjectCategories"
    _start(spec, root, "test", options, base)
    # Labels by category name (spec.class_folders), so a missing category cannot shift the others.
    categories, _, info = c.class_folder_samples(spec, root / base, options, len(bundled_classnames("caltech101")))
    rel, labels = [], []
    for idx, cat in enumerate(categories):
        if cat in info.get("absent_classes", ()):
            continue
        # Count the *.jpg files as CLIP_benchmark's Caltech101 does (glob): a stray file (Thumbs.db, .DS_Store)
        # must not add an image_<n>.jpg that does not exist.
        n = sum(1 for f in os.listdir(root / base / cat) if f.endswith(".jpg") and not f.startswith("."))
        rel += [f"{base}/{cat}/image_{i:04d}.jpg" for i in range(1, n + 1)]
        labels += [idx] * n
    return c.classification(
        spec,
        root,
        split,
        language,
        FileImageSet(root, rel),
        labels,
        options,
        classnames_key="caltech101",
        info={"split_ignored": True, **info},
    )


def sun397_classnames(root: Path) -> list[str]:
    with open(root / "SUN397" / "ClassName.txt") as f:
        return [line[3:].strip() for line in f]


def load_sun397(root: Path, *, split: str = "test", language: str = "en", spec: DatasetSpec, **options: Any):
    """torchvision ``SUN397`` (whole dataset, split ignored as in CLIP_benchmark); names cleaned of ``_`` and ``/``."""
    _start(spec, root, "test", options, "SUN397/ClassName.txt")
    raw = sun397_classnames(root)
    index = {cls: i for i, cls in enumerate(raw)}
    data_dir = root / "SUN397"
    files = sorted(p.relative_to(data_dir) for p in data_dir.rglob("sun_*.jpg"))
    labels = [index["/".join(p.parts[1:-1])] for p in files]
    names = [cl.replace("_", " ").replace("/", " ") for cl in raw]
    images = FileImageSet(root, [f"SUN397/{p.as_posix()}" for p in files])
    return c.classification(
        spec, root, split, language, images, labels, options, dataset_classnames=names, info={"split_ignored": True}
    )


def load_fgvc_aircraft(root: Path, *, split: str = "test", language: str = "en", spec: DatasetSpec, **options: Any):
    """torchvision ``FGVCAircraft(annotation_level='variant', split='test')``."""
    data = "fgvc-aircraft-2013b/data"
    _start(spec, root, split, options, f"{data}/variants.txt", f"{data}/images_variant_{split}.txt")
    classes = [line.strip() for line in (root / data / "variants.txt").read_text().splitlines()]
    index = {cls: i for i, cls in enumerate(classes)}
    rel, labels = [], []
    for line in (root / data / f"images_variant_{split}.txt").read_text().splitlines():
        name, label = line.strip().split(" ", 1)
        rel.append(f"{data}/images/{name}.jpg")
        labels.append(index[label])
    return c.classification(
        spec, root, split, language, FileImageSet(root, rel), labels, options, dataset_classnames=classes
    )


def load_country211(root: Path, *, split: str = "test", language: str = "en", spec: DatasetSpec, **options: Any):
    """torchvision ``Country211`` (ImageFolder over ``country211/test``); names from the bundled JSON."""
    return _folder_dataset(spec, root, split, language, options, f"country211/{split}", classnames_key="country211")


def load_cars(root: Path, *, split: str = "test", language: str = "en", spec: DatasetSpec, **options: Any):
    """torchvision ``StanfordCars(split='test')``: ``.mat`` annotations (needs scipy, as torchvision does)."""
    base = "stanford_cars"
    ann = f"{base}/cars_test_annos_withlabels.mat"
    _start(spec, root, split, options, f"{base}/devkit/cars_meta.mat", ann)
    try:
        import scipy.io as sio
    except ImportError as e:
        raise DatasetNotFoundError("reading Stanford Cars .mat files needs scipy (pip install scipy)") from e
    annotations = sio.loadmat(str(root / ann), squeeze_me=True)["annotations"]
    rel = [f"{base}/cars_test/{a['fname']}" for a in annotations]
    labels = [int(a["class"]) - 1 for a in annotations]  # 1-based in the .mat
    classes = sio.loadmat(str(root / base / "devkit/cars_meta.mat"), squeeze_me=True)["class_names"].tolist()
    return c.classification(
        spec,
        root,
        split,
        language,
        FileImageSet(root, rel),
        labels,
        options,
        dataset_classnames=[str(x) for x in classes],
    )


def load_dtd(root: Path, *, split: str = "test", language: str = "en", spec: DatasetSpec, **options: Any):
    """torchvision ``DTD(split='test', partition=1)``: ``labels/test1.txt``; classes = sorted names in the list."""
    base = "dtd/dtd"
    _start(spec, root, split, options, f"{base}/labels/{split}1.txt")
    rel, cls_of = [], []
    for line in (root / base / "labels" / f"{split}1.txt").read_text().splitlines():
        cls, name = line.strip().split("/")
        rel.append(f"{base}/images/{cls}/{name}")
        cls_of.append(cls)
    # Labels by class name from the complete list (spec.class_folders): with a class absent from a shortened
    # list, sorted(set(...)) of the classes present would shift every later label.
    classes = list(spec.class_folders) or sorted(set(cls_of))
    index = {cls: i for i, cls in enumerate(classes)}
    unknown = sorted(set(cls_of) - set(index))
    if unknown:
        raise DatasetNotFoundError(
            f"dataset {spec.name!r}: {root / base / 'labels' / f'{split}1.txt'} names classes {unknown[:3]} that are "
            f"not among its {len(classes)} classes"
        )
    absent = [cls for cls in classes if cls not in set(cls_of)]
    return c.classification(
        spec,
        root,
        split,
        language,
        FileImageSet(root, rel),
        [index[x] for x in cls_of],
        options,
        dataset_classnames=classes,
        info={"absent_classes": absent} if absent else None,
    )


def load_eurosat(root: Path, *, split: str = "test", language: str = "en", spec: DatasetSpec, **options: Any):
    """torchvision ``EuroSAT`` (ImageFolder over ``eurosat/2750``, whole dataset, split ignored)."""
    data = _folder_dataset(spec, root, "test", language, options, "eurosat/2750", classnames_key="eurosat")
    data.info.update(split=split, split_ignored=True)
    return data


def load_fer2013(root: Path, *, split: str = "test", language: str = "en", spec: DatasetSpec, **options: Any):
    """``ImageFolder(root/test)`` of the Kaggle msambare/fer2013 layout; names from the bundled JSON."""
    return _folder_dataset(spec, root, split, language, options, split, classnames_key="fer2013")


def load_food101(root: Path, *, split: str = "test", language: str = "en", spec: DatasetSpec, **options: Any):
    """torchvision ``Food101(split='test')``: ``meta/test.json``; classes sorted, ``_`` -> space."""
    base = "food-101"
    _start(spec, root, split, options, f"{base}/meta/{split}.json")
    with open(root / base / "meta" / f"{split}.json") as f:
        metadata = json.load(f)
    classes = sorted(metadata)
    index = {cls: i for i, cls in enumerate(classes)}
    rel, labels = [], []
    # Samples in the file's key order (the real test.json is not sorted), labels by sorted class: as torchvision.
    for cls, paths in metadata.items():
        rel += [f"{base}/images/{p}.jpg" for p in paths]
        labels += [index[cls]] * len(paths)
    names = [cl.replace("_", " ") for cl in classes]
    return c.classification(
        spec, root, split, language, FileImageSet(root, rel), labels, options, dataset_classnames=names
    )


def load_gtsrb(root: Path, *, split: str = "test", language: str = "en", spec: DatasetSpec, **options: Any):
    """torchvision ``GTSRB(split='test')``: rows of ``GT-final_test.csv``; names from the bundled JSON."""
    base = "gtsrb"
    _start(spec, root, split, options, f"{base}/GT-final_test.csv")
    with open(root / base / "GT-final_test.csv") as f:
        rows = list(csv.DictReader(f, delimiter=";", skipinitialspace=True))
    rel = [f"{base}/GTSRB/Final_Test/Images/{r['Filename']}" for r in rows]
    labels = [int(r["ClassId"]) for r in rows]
    return c.classification(
        spec, root, split, language, FileImageSet(root, rel), labels, options, classnames_key="gtsrb"
    )


def pets_classnames(image_ids: list[str], labels: list[int]) -> list[str]:
    """torchvision ``OxfordIIITPet.classes``: breed from the file name, title-cased, ordered by label."""
    pairs = sorted({(i.rsplit("_", 1)[0], lab) for i, lab in zip(image_ids, labels)}, key=lambda p: p[1])
    return [" ".join(part.title() for part in raw.split("_")) for raw, _ in pairs]


def load_pets(root: Path, *, split: str = "test", language: str = "en", spec: DatasetSpec, **options: Any):
    """torchvision ``OxfordIIITPet(split='test', target_types='category')``: ``annotations/test.txt``."""
    base = "oxford-iiit-pet"
    _start(spec, root, split, options, f"{base}/annotations/{split}.txt")
    ids, labels = [], []
    for line in (root / base / "annotations" / f"{split}.txt").read_text().splitlines():
        image_id, label, _, _ = line.strip().split()
        ids.append(image_id)
        labels.append(int(label) - 1)
    rel = [f"{base}/images/{i}.jpg" for i in ids]
    return c.classification(
        spec,
        root,
        split,
        language,
        FileImageSet(root, rel),
        labels,
        options,
        dataset_classnames=pets_classnames(ids, labels),
    )


def load_renderedsst2(root: Path, *, split: str = "test", language: str = "en", spec: DatasetSpec, **options: Any):
    """torchvision ``RenderedSST2(split='test')``: png files under ``rendered-sst2/test/{negative,positive}``."""
    folder = f"rendered-sst2/{split}"
    _start(spec, root, split, options, folder)
    classes = ["negative", "positive"]
    rel, labels = [], []
    for idx, cls in enumerate(classes):
        for dirpath, _, fnames in sorted(os.walk(root / folder / cls)):
            for fname in sorted(fnames):
                if fname.lower().endswith("png"):
                    rel.append(os.path.relpath(os.path.join(dirpath, fname), root))
                    labels.append(idx)
    return c.classification(
        spec, root, split, language, FileImageSet(root, rel), labels, options, dataset_classnames=classes
    )


FLOWERS_SPLIT_KEYS = {"train": "trnid", "val": "valid", "test": "tstid"}


def load_flowers(root: Path, *, split: str = "test", language: str = "en", spec: DatasetSpec, **options: Any):
    """torchvision ``Flowers102``: image ids in ``setid.mat`` order, label = ``imagelabels.mat`` value - 1.

    CLIP_benchmark main reads it with torchvision (>= 0.13 labels start at 0; its ``y - 1`` patch is for older
    versions) and takes the class names from the bundled ``flowers`` list, as here.
    """
    base = "flowers-102"
    _start(spec, root, split, options, f"{base}/setid.mat", f"{base}/imagelabels.mat", f"{base}/jpg")
    try:
        from scipy.io import loadmat
    except ImportError as e:  # torchvision needs scipy for these files too
        raise DatasetNotFoundError(f"reading {root / base}/*.mat needs scipy (pip install scipy)") from e
    try:
        ids = [int(i) for i in loadmat(root / base / "setid.mat", squeeze_me=True)[FLOWERS_SPLIT_KEYS[split]].ravel()]
        all_labels = [int(x) - 1 for x in loadmat(root / base / "imagelabels.mat", squeeze_me=True)["labels"].ravel()]
    except (KeyError, ValueError, OSError, TypeError) as e:  # scipy raises these on a broken or foreign .mat
        raise DatasetNotFoundError(
            f"dataset {spec.name!r}: cannot read {root / base}/setid.mat or imagelabels.mat ({e}); {c.obtain_hint(spec)}"
        ) from e
    bad = [i for i in ids if not 1 <= i <= len(all_labels)]
    if bad:
        raise DatasetNotFoundError(
            f"dataset {spec.name!r}: {root / base / 'setid.mat'} names image id {bad[0]}, but imagelabels.mat has "
            f"{len(all_labels)} labels; {c.obtain_hint(spec)}"
        )
    rel = [f"{base}/jpg/image_{i:05d}.jpg" for i in ids]
    labels = [all_labels[i - 1] for i in ids]
    return c.classification(
        spec, root, split, language, FileImageSet(root, rel), labels, options, classnames_key="flowers"
    )
