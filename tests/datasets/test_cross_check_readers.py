"""Independent cross-check: zsbench's readers against torchvision's and clip-benchmark's own dataset classes.

Every other dataset test reads replicas that zsbench itself writes (``zsbench/testing/replicas.py``), so a writer
and a reader that share one misunderstanding of a format agree with each other. Here each replica is read twice:
by ``zsbench.load_dataset`` and by the reference, i.e. clip-benchmark 1.6.2's ``build_dataset(..., download=False)``
(which wraps torchvision's classes and applies CLIP_benchmark's class renaming) or the library class itself.
Both must give the same sample count, class names in the same order, the same labels (or captions, or multi-hot
rows) and the same pixels (sha256 of the decoded RGB bytes and the size) in the same order.

The replicas are as the real files are where the reference needs it: every class folder present for the
ImageFolder-based sets (torchvision labels by position among the folders present), every split file present
(torchvision's CIFAR/MNIST refuse a root without the train files). Two things cannot be reproduced by any replica
and are bypassed: the md5 checks of the real release files (CIFAR, STL10, Flowers102, the ImageNet devkit; the
check becomes "the file exists") and ImageNetV2's hard-coded 10,000-image count (below it, it downloads).
SUN397 and ImageNetV2 list files in file-system order upstream (``rglob``/``glob``); zsbench sorts them, so those
two are compared image by image through the file path instead of by position.

Nothing here may reach the network: sockets and clip-benchmark's shell ``call`` (its wget/kaggle downloads)
raise. ``NOT_CROSS_CHECKED`` lists every registered name that has no independent reader here, with the reason.
"""

from __future__ import annotations

import hashlib
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("torchvision", reason="the cross-check needs torchvision (pip install -e '.[test]')")
builder = pytest.importorskip(
    "clip_benchmark.datasets.builder", reason="needs clip-benchmark (pip install -e '.[test]')"
)

from zsbench.datasets import list_datasets, load_dataset  # noqa: E402
from zsbench.datasets.loaders.imagenet import wnid_lists  # noqa: E402
from zsbench.testing import replicas as R  # noqa: E402


# --- what is compared ------------------------------------------------------------------------------------------------
@dataclass
class Side:
    """One reader's view of a split: per sample a target (int, multi-hot tuple or caption list) and a pixel hash."""

    targets: list[Any]
    pixels: list[str]
    classes: list[str] | None = None
    keys: list[str] | None = None  # paths relative to the root, where order is compared by path
    notes: list[str] = field(default_factory=list)


def _pixels(image: Any) -> str:
    rgb = image.convert("RGB")
    return hashlib.sha256(f"{rgb.size}\0".encode() + rgb.tobytes()).hexdigest()


def _target(value: Any) -> Any:
    if isinstance(value, (list, tuple)) and value and isinstance(value[0], str):
        return list(value)  # captions
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, list):
        return tuple(int(v) for v in value)  # multi-hot row
    return int(value)


def ours(name: str, root: Path, **options: Any) -> Side:
    data = load_dataset(name, root, allow_incomplete=True, **options)
    targets = data.captions if hasattr(data, "captions") else data.targets
    n = len(data.images)
    return Side(
        targets=[_target(t) for t in targets],
        pixels=[_pixels(data.images.load_image(i)) for i in range(n)],
        classes=getattr(data, "classnames", None),
        keys=[data.images.image_key(i) for i in range(n)],
    )


def theirs(ds: Any, classes: list[str] | None = None, keys: list[str] | None = None) -> Side:
    """Iterate a map-style dataset (``ds[i]``) or an iterable one (webdataset) with no transform."""
    from torch.utils.data import IterableDataset

    samples = list(ds) if isinstance(ds, IterableDataset) else [ds[i] for i in range(len(ds))]
    return Side(
        targets=[_target(y) for _, y in samples],
        pixels=[_pixels(x) for x, _ in samples],
        classes=list(classes if classes is not None else getattr(ds, "classes", None) or []) or None,
        keys=keys,
    )


def assert_same(a: Side, b: Side, *, by_key: bool = False) -> None:
    assert len(a.targets) == len(b.targets) > 0, f"sample count: zsbench {len(a.targets)}, reference {len(b.targets)}"
    if b.classes is not None:
        assert a.classes == b.classes, "class names or their order differ"
    if by_key:
        assert a.keys is not None and b.keys is not None
        assert sorted(a.keys) == sorted(b.keys), "the two readers list different files"
        a_map = dict(zip(a.keys, zip(a.targets, a.pixels)))
        b_map = dict(zip(b.keys, zip(b.targets, b.pixels)))
        bad = [k for k in a.keys if a_map[k] != b_map[k]]
        assert not bad, f"label or pixels differ for {bad[:3]}"
        return
    assert a.targets == b.targets, "labels/captions differ (or are in another order)"
    assert a.pixels == b.pixels, "pixels differ (or images are in another order)"


# --- no network, no md5 of the real release files --------------------------------------------------------------------
@pytest.fixture(autouse=True)
def offline(monkeypatch):
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError(f"the reference tried to download ({args[:1]}): the replica is not what it expects")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(builder, "call", refuse)  # clip-benchmark's wget/kaggle/unzip shell-outs


def _exists_only(path: str, md5: str | None = None) -> bool:
    return os.path.isfile(path)


@pytest.fixture
def no_md5(monkeypatch):
    """torchvision compares the real release files' md5; a replica's files are tiny stand-ins."""
    import torchvision.datasets.cifar as cifar
    import torchvision.datasets.flowers102 as flowers102
    import torchvision.datasets.imagenet as imagenet
    import torchvision.datasets.stl10 as stl10

    for module in (cifar, stl10, flowers102, imagenet):
        monkeypatch.setattr(module, "check_integrity", _exists_only)


def build(name: str, root: Path, **kwargs: Any) -> Any:
    """clip-benchmark's own dataset, never downloading."""
    kwargs.setdefault("split", "test")
    return builder.build_dataset(name, root=str(root), transform=None, download=False, **kwargs)


def _folders(root: Path, folder: str, names: list[str], ext: str = ".jpg", per_class: int = 1) -> None:
    """Every class folder, as the real copy has them (ImageFolder labels by position among the folders present)."""
    R.write_image_folder(root, folder, dict.fromkeys(names, per_class), ext=ext, all_classes=names)


# --- one function per dataset: write the replica, read it both ways, compare ---------------------------------------
def check_cifar10(root: Path) -> None:
    R.write_cifar10(root, 12, n_train=3)
    assert_same(ours("cifar10", root), theirs(build("cifar10", root)))
    assert_same(ours("cifar10", root, split="train"), theirs(build("cifar10", root, split="train")))


def check_cifar100(root: Path) -> None:
    R.write_cifar100(root, 9, n_train=4)
    assert_same(ours("cifar100", root), theirs(build("cifar100", root)))


def check_mnist(root: Path) -> None:
    R.write_mnist(root, 9, n_train=2)  # torchvision reads the uncompressed files only
    assert_same(ours("mnist", root), theirs(build("mnist", root)))


def check_stl10(root: Path) -> None:
    R.write_stl10(root, 5, n_train=2)
    assert_same(ours("stl10", root), theirs(build("stl10", root)))


def check_caltech101(root: Path) -> None:
    from zsbench.datasets import get_spec

    folders = list(get_spec("caltech101").class_folders)
    R.write_caltech101(root, {f: 2 if f in ("accordion", "yin_yang") else 1 for f in folders})
    # A stray non-image file: upstream counts *.jpg, so must zsbench (it used to count every file).
    (root / "caltech101/101_ObjectCategories/accordion/Thumbs.db").write_bytes(b"x")
    assert_same(ours("caltech101", root), theirs(build("caltech101", root)))


def check_sun397(root: Path) -> None:
    R.write_sun397(root)
    ds = build("sun397", root)
    keys = [p.relative_to(root).as_posix() for p in ds._image_files]  # rglob order upstream; zsbench sorts
    assert_same(ours("sun397", root), theirs(ds, keys=keys), by_key=True)


def check_fgvc_aircraft(root: Path) -> None:
    R.write_fgvc_aircraft(root)
    assert_same(ours("fgvc_aircraft", root), theirs(build("fgvc_aircraft", root)))


def check_cars(root: Path) -> None:
    R.write_cars(root)
    assert_same(ours("cars", root), theirs(build("cars", root)))


def check_dtd(root: Path) -> None:
    R.write_dtd(root, all_classes=True)  # torchvision's DTD takes its classes from the names in the list
    assert_same(ours("dtd", root), theirs(build("dtd", root)))


def check_pets(root: Path) -> None:
    R.write_pets(root)
    assert_same(ours("pets", root), theirs(build("pets", root)))


def check_food101(root: Path) -> None:
    R.write_food101(root)  # keys not sorted: samples follow the file's key order
    assert_same(ours("food101", root), theirs(build("food101", root)))


def check_gtsrb(root: Path) -> None:
    R.write_gtsrb(root)
    assert_same(ours("gtsrb", root), theirs(build("gtsrb", root)))


def check_flowers(root: Path) -> None:
    R.write_flowers102(root)
    assert_same(ours("flowers", root), theirs(build("flowers", root)))
    assert_same(ours("flowers", root, split="val"), theirs(build("flowers", root, split="val")))


def check_renderedsst2(root: Path) -> None:
    R.write_image_folder(root, "rendered-sst2/test", {"negative": 2, "positive": 3}, ext=".png")
    assert_same(ours("renderedsst2", root), theirs(build("renderedsst2", root)))


def check_eurosat(root: Path) -> None:
    from zsbench.datasets import get_spec

    _folders(root, "eurosat/2750", list(get_spec("eurosat").class_folders))
    assert_same(ours("eurosat", root), theirs(build("eurosat", root)))


def check_fer2013(root: Path) -> None:
    from zsbench.datasets import get_spec

    _folders(root, "test", list(get_spec("fer2013").class_folders), per_class=2)
    assert_same(ours("fer2013", root), theirs(build("fer2013", root)))


def check_country211(root: Path) -> None:
    from zsbench.datasets import get_spec

    _folders(root, "country211/test", list(get_spec("country211").class_folders))
    assert_same(ours("country211", root), theirs(build("country211", root)))


def _as_wnids(side: Side, wnids: list[str]) -> Side:
    side.targets = [wnids[t] for t in side.targets]
    return side


def _folder_wnids(ds: Any) -> list[str]:
    """The wnid of each label of an ImageFolder-based reference (its class_to_idx survives the renaming)."""
    return [w for w, _ in sorted(ds.class_to_idx.items(), key=lambda kv: kv[1])]


def check_imagenet1k(root: Path) -> None:
    # 24 of the 1000 classes (all 1000 take seconds): torchvision labels by position among the wnid folders
    # present, zsbench by the complete list, so each label is compared as the wnid it names.
    allw = wnid_lists()["imagenet1k"]
    R.write_imagenet_tars(root, [allw[(i % 24) * 41] for i in range(40)])
    from_tars = _as_wnids(ours("imagenet1k", root), allw)  # before torchvision extracts the tar into root/val
    ds = build("imagenet1k", root)
    ref = _as_wnids(theirs(ds), ds.wnids)
    assert len(set(ref.targets)) == 24
    assert_same(from_tars, ref)
    assert (root / "val").is_dir()
    assert_same(_as_wnids(ours("imagenet1k", root), allw), ref)  # now from torchvision's val/<wnid>/ folders


def check_imagenet1k_unverified(root: Path) -> None:
    # ImageFolder over root/val, 40 of the 1000 wnid folders: labels compared as the wnid they name.
    allw = wnid_lists()["imagenet1k"]
    _folders(root, "val", allw[3::25], ext=".JPEG")
    ds = build("imagenet1k-unverified", root)
    assert_same(_as_wnids(ours("imagenet1k-unverified", root), allw), _as_wnids(theirs(ds), _folder_wnids(ds)))


def _imagenet_subset(name: str, root: Path, wnids: list[str], ext: str = ".jpg") -> None:
    _folders(root, "", wnids, ext=ext)
    assert_same(ours(name, root), theirs(build(name, root)))


def check_imagenet_a(root: Path) -> None:
    _imagenet_subset("imagenet-a", root, wnid_lists()["imagenet-a"])


def check_imagenet_r(root: Path) -> None:
    _imagenet_subset("imagenet-r", root, wnid_lists()["imagenet-r"])


def check_imagenet_o(root: Path) -> None:
    _imagenet_subset("imagenet-o", root, wnid_lists()["imagenet-o"])


def check_imagenet_sketch(root: Path) -> None:
    # 40 of the 1000 wnid folders (all 1000 take seconds): labels compared as the wnid they name, as for ImageNet.
    allw = wnid_lists()["imagenet1k"]
    _folders(root, "", allw[::25], ext=".JPEG")
    ds = build("imagenet_sketch", root)
    assert_same(_as_wnids(ours("imagenet_sketch", root), allw), _as_wnids(theirs(ds), _folder_wnids(ds)))


def check_imagenetv2(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import clip_benchmark.datasets.imagenetv2 as v2

    labels = [0, 999, 5, 5, 412, 0, 73]
    R.write_imagenetv2(root, labels)
    monkeypatch.setattr(v2, "V2_DATASET_SIZE", len(labels))  # below 10,000 images it downloads the archive
    ds = build("imagenetv2", root)
    keys = [Path(p).relative_to(root).as_posix() for p in ds.fnames]  # glob order upstream; zsbench sorts
    assert_same(ours("imagenetv2", root), theirs(ds, keys=keys), by_key=True)


def check_objectnet(root: Path) -> None:
    R.write_objectnet(root)
    assert_same(ours("objectnet", root), theirs(build("objectnet", root)))


def check_voc2007(root: Path) -> None:
    R.write_voc2007(root, 5)
    assert_same(ours("voc2007", root), theirs(build("voc2007", root)))


def check_voc2007_multilabel(root: Path) -> None:
    R.write_voc2007(root, 5)
    assert_same(ours("voc2007_multilabel", root), theirs(build("voc2007_multilabel", root)))


def check_dummy(root: Path) -> None:
    import numpy as np

    a = ours("dummy", root)
    ds = build("dummy", root)
    # Upstream's sample is a zero tensor *after* the transform; zsbench's is the CLIP-mean image before it, which
    # the transform turns into (nearly) zeros (see loaders/dummy.py). Count, classes and label are compared here.
    assert (len(a.targets), a.targets, a.classes) == (len(ds), [ds[0][1]], ds.classes)
    assert not np.asarray(ds[0][0]).any()


def check_mscoco_captions(root: Path) -> None:
    R.write_coco_karpathy(root, 4)
    ref = build("mscoco_captions", root, task="zeroshot_retrieval")
    assert_same(ours("mscoco_captions", root, caption_preprocess="none"), theirs(ref))


def check_flickr30k(root: Path) -> None:
    R.write_flickr30k(root, 3, images_dir="")  # upstream's layout: images in the root
    ref = build("flickr30k", root, task="zeroshot_retrieval")
    assert_same(ours("flickr30k", root, caption_preprocess="none"), theirs(ref))


def check_flickr30k_fork_layout(root: Path) -> None:
    from clip_benchmark.datasets.flickr import Flickr

    R.write_flickr30k(root, 3)  # the fork's layout: root/Images, read by the same Flickr class rooted there
    ref = Flickr(root=str(root / "Images"), ann_file=str(root / "flickr30k_test_karpathy.txt"))
    assert_same(ours("flickr30k", root, caption_preprocess="none"), theirs(ref))


def check_flickr8k(root: Path) -> None:
    R.write_flickr8k(root, 3)
    assert_same(ours("flickr8k", root), theirs(build("flickr8k", root, task="zeroshot_retrieval")))


def _wds(root: Path, source: str, src_root: Path, name: str, task: str, **options: Any) -> None:
    """zsbench's export_wds writes shards; the webdataset library (through clip-benchmark) and zsbench read them."""
    from zsbench.datasets.loaders.webdataset import export_wds

    export_wds(load_dataset(source, src_root, allow_incomplete=True, **options), root, image_format="webp")
    assert_same(ours(f"wds/{name}", root), theirs(build(f"wds/{name}", root, task=task)))


def check_wds_classification(root: Path) -> None:
    R.write_cifar10(root / "src", 7)
    _wds(root / "wds", "cifar10", root / "src", "cifar10", "zeroshot_classification")


def check_wds_multilabel(root: Path) -> None:
    R.write_voc2007(root / "src", 4)
    _wds(root / "wds", "voc2007_multilabel", root / "src", "voc2007_multilabel", "zeroshot_classification")


def check_wds_retrieval(root: Path) -> None:
    R.write_flickr30k(root / "src", 3)
    _wds(root / "wds", "flickr30k", root / "src", "flickr30k", "zeroshot_retrieval", caption_preprocess="none")


CHECKS: dict[str, Callable[..., None]] = {
    name.removeprefix("check_"): fn for name, fn in dict(globals()).items() if name.startswith("check_")
}
# The registered name each check covers (the others are its own name).
COVERS = {
    "flickr30k_fork_layout": "flickr30k",
    "imagenet_a": "imagenet-a",
    "imagenet_r": "imagenet-r",
    "imagenet_o": "imagenet-o",
    "imagenet1k_unverified": "imagenet1k-unverified",
    "wds_classification": "wds/*",
    "wds_multilabel": "wds/*",
    "wds_retrieval": "wds/*",
}

_NEW = (
    "clip-benchmark's build_dataset downloads its annotation file first; its dataset class reads zsbench's replica "
    "in tests/datasets/test_ds_more_names.py where it can offline"
)
_DATACOMP = "DataComp's readers need its own package and a download; metrics checked in test_datacomp_metrics.py"
_TF = "clip-benchmark reads it through tensorflow_datasets + task_adaptation (TensorFlow), not installed here"
NOT_CROSS_CHECKED: dict[str, str] = {
    "birdsnap": "not in clip-benchmark 1.6.2 (only the InternVL fork's BirdsnapV2, not installed) nor torchvision",
    "multilingual_mscoco_captions": "upstream 1.6.2 reads another layout (a JSON it builds by downloading XTD10 and "
    "its own image archive); zsbench reads the InternVL fork's caption files, whose reader is not installed",
    "winoground": "clip-benchmark loads it from the Hugging Face hub (network); cross-checked end to end in "
    "tests/test_differential_caption_selection.py",
    "shapes": "zsbench's own built-in dataset: there is no other reader",
    "shapes_captions": "zsbench's own built-in dataset: there is no other reader",
    "tfds/*": _TF,
    "vtab/*": _TF,
    "sugar_crepe/*": "cross-checked end to end against clip-benchmark's SugarCrepe in "
    "tests/test_differential_caption_selection.py",
    # Their replicas are read by clip-benchmark's own classes where those work offline, in
    # tests/datasets/test_ds_more_names.py; build_dataset itself downloads their annotation files first.
    "babel_imagenet": _NEW,
    "crossmodal3600": _NEW,
    "flickr30k-200": _NEW,
    "imagenet-w": _NEW,
    "pcam": _NEW,
    "xtd10": _NEW,
    "xtd200": _NEW,
    # DataComp's own readers (wds + .npy group rows, HF datasets' Arrow cache) need its package and a download;
    # its metrics are checked against the wilds package and scikit-learn in tests/tasks/test_datacomp_metrics.py.
    "fairness/*": _DATACOMP,
    "misc/*": _DATACOMP,
    "retrieval/*": _DATACOMP,
    "wilds/*": _DATACOMP,
}


def _family(name: str) -> str:
    return f"{name.split('/')[0]}/*" if "/" in name else name


def test_every_registered_dataset_is_cross_checked_or_says_why():
    covered = {COVERS.get(k, k) for k in CHECKS}
    missing = sorted({_family(n) for n in list_datasets()} - covered - set(NOT_CROSS_CHECKED))
    assert not missing, f"no cross-check and no reason for: {missing}"
    assert not covered & set(NOT_CROSS_CHECKED)


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_reader_matches_the_reference(name, tmp_path, no_md5, monkeypatch):
    fn = CHECKS[name]
    if "monkeypatch" in fn.__code__.co_varnames[: fn.__code__.co_argcount]:
        fn(tmp_path, monkeypatch)
    else:
        fn(tmp_path)


@pytest.mark.parametrize("name", sorted(NOT_CROSS_CHECKED))
def test_not_cross_checked(name):
    pytest.skip(f"{name}: {NOT_CROSS_CHECKED[name]}")


@pytest.mark.parametrize("mutation", ["label", "order", "classname", "pixels", "count"])
def test_a_wrong_reader_is_caught(mutation, tmp_path, no_md5):
    """The comparison can fail: each way a reader can be wrong, applied to zsbench's side, is caught."""
    R.write_cifar10(tmp_path, 6, n_train=1)
    a, b = ours("cifar10", tmp_path), theirs(build("cifar10", tmp_path))
    assert_same(a, b)
    if mutation == "label":
        a.targets[2] = (a.targets[2] + 1) % 10
    elif mutation == "order":
        a.targets, a.pixels = a.targets[::-1], a.pixels[::-1]
    elif mutation == "classname":
        a.classes = [*a.classes[1:], a.classes[0]]
    elif mutation == "pixels":
        a.pixels[4] = _pixels(R.image(99))
    else:
        a.targets, a.pixels = a.targets[:-1], a.pixels[:-1]
    with pytest.raises(AssertionError):
        assert_same(a, b)
