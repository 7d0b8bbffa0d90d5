"""Classification loaders on miniature replicas of the real on-disk formats."""

from __future__ import annotations

import numpy as np
import pytest

from zsbench.datasets import load_dataset
from zsbench.datasets.prompts import classnames, templates
from zsbench.testing import replicas as R

EUROSAT = [
    "AnnualCrop",
    "Forest",
    "HerbaceousVegetation",
    "Highway",
    "Industrial",
    "Pasture",
    "PermanentCrop",
    "Residential",
    "River",
    "SeaLake",
]
FER = ["angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"]


def _pixels(data, i):
    return data.images.load_image(i).getpixel((0, 0))


def test_cifar10_labels_names_and_pixels(tmp_path):
    exp = R.write_cifar10(tmp_path, 12)
    data = load_dataset("cifar10", tmp_path, allow_incomplete=True)
    assert len(data.images) == 12
    assert data.targets == exp["labels"]
    assert data.classnames == ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    assert data.templates == templates("cifar10") and len(data.templates) == 18
    assert _pixels(data, 5) == (5, exp["labels"][5], 0)
    assert data.info["template_set"] == "en:cifar10/18"


def test_cifar100_fine_labels(tmp_path):
    exp = R.write_cifar100(tmp_path, 7)
    data = load_dataset("cifar100", tmp_path, allow_incomplete=True)
    assert data.targets == exp["labels"] and data.classnames == exp["classnames"]


@pytest.mark.parametrize("gz", [False, True])
def test_mnist_idx(tmp_path, gz):
    exp = R.write_mnist(tmp_path, 9, gz=gz)
    data = load_dataset("mnist", tmp_path, allow_incomplete=True)
    assert data.targets == exp["labels"]
    assert data.classnames == classnames("mnist")
    assert data.images.load_image(4).getpixel((0, 0)) == (4, 4, 4)


def test_stl10_column_major(tmp_path):
    exp = R.write_stl10(tmp_path, 5)
    data = load_dataset("stl10", tmp_path, allow_incomplete=True)
    assert data.targets == exp["labels"] and data.classnames == exp["classnames"]
    im = data.images.load_image(3)
    assert im.size == (96, 96)
    assert im.getpixel((1, 0)) == (4, 0, 0)  # (x=1, y=0): written at row 0, column 1


def test_imagenet1k_from_tars_matches_folder_layout(tmp_path):
    from zsbench.datasets.loaders.imagenet import wnid_lists

    allw = wnid_lists()["imagenet1k"]
    val_wnids = [allw[900], allw[3], allw[900], allw[0], allw[3]]
    R.write_imagenet_tars(tmp_path / "tar", val_wnids)
    data = load_dataset("imagenet1k", tmp_path / "tar", allow_incomplete=True)
    # torchvision order: sorted wnid, then file name; labels = sorted-wnid index
    assert data.targets == [0, 3, 3, 900, 900]
    keys = [data.images.image_key(i) for i in range(5)]
    assert keys[0].endswith("ILSVRC2012_val_00000004.JPEG") and keys[1].endswith("ILSVRC2012_val_00000002.JPEG")
    assert data.images.load_image(0).getpixel((0, 0))[0] == 3  # image index 3 (val_00000004)
    assert len(data.classnames) == 1000 and data.classnames[0] == "tench"
    assert len(data.templates) == 80

    R.write_imagenet_val_folders(tmp_path / "folders", [allw[3], allw[0]], per_class=2)
    folders = load_dataset("imagenet1k", tmp_path / "folders", allow_incomplete=True)
    assert folders.targets == [0, 0, 3, 3]


@pytest.mark.parametrize("language", ["cn", "zh", "jp", "ja", "ar", "it"])
def test_imagenet1k_languages(tmp_path, language):
    from zsbench.datasets.loaders.imagenet import wnid_lists

    R.write_imagenet_val_folders(tmp_path, wnid_lists()["imagenet1k"][:2], per_class=1)
    data = load_dataset("imagenet1k", tmp_path, language=language, allow_incomplete=True)
    canon = {"zh": "cn", "ja": "jp"}.get(language, language)
    assert data.classnames == classnames("imagenet1k", canon)
    assert data.templates == templates("imagenet1k", canon)
    assert data.info["language"] == canon


@pytest.mark.parametrize("name,key", [("imagenet-a", "imagenet-a"), ("imagenet-r", "imagenet-r")])
def test_imagenet_a_r_mask(tmp_path, name, key):
    from zsbench.datasets.loaders.imagenet import wnid_lists

    allw, sub = wnid_lists()["imagenet1k"], wnid_lists()[key]
    R.write_imagenet_val_folders(tmp_path, [sub[5], sub[0]], per_class=2, folder="")
    data = load_dataset(name, tmp_path, allow_incomplete=True)
    assert len(data.classnames) == 200
    names = classnames("imagenet1k")
    assert data.classnames == [names[allw.index(w)] for w in sub]
    assert data.targets == [0, 0, 5, 5]
    assert data.info["template_set"] == "en:imagenet1k/80"  # no own templates: ImageNet's, as CLIP_benchmark


def test_imagenet_sketch_and_v2(tmp_path):
    from zsbench.datasets.loaders.imagenet import wnid_lists

    allw = wnid_lists()["imagenet1k"]
    R.write_imagenet_val_folders(tmp_path / "s", [allw[10], allw[2]], per_class=1, folder="")
    assert load_dataset("imagenet_sketch", tmp_path / "s", allow_incomplete=True).targets == [2, 10]
    R.write_imagenetv2(tmp_path / "v2", [10, 2, 999, 10])
    v2 = load_dataset("imagenetv2", tmp_path / "v2", allow_incomplete=True)
    assert v2.targets == [2, 10, 10, 999] and len(v2.classnames) == 1000


def test_objectnet_overlap_classes(tmp_path):
    exp = R.write_objectnet(tmp_path)
    data = load_dataset("objectnet", tmp_path, allow_incomplete=True)
    assert data.classnames == exp["classnames"]
    assert len(data.images) == 6  # the 'chair' folder is not an ImageNet class
    assert data.targets == [0, 0, 1, 1, 2, 2]
    assert all("chair" not in data.images.image_key(i) for i in range(6))
    assert len(data.templates) == 80


def test_caltech101_keeps_background(tmp_path):
    R.write_caltech101(tmp_path, {"accordion": 2, "BACKGROUND_Google": 3, "Faces_easy": 1})
    data = load_dataset("caltech101", tmp_path, allow_incomplete=True)
    # sorted(): uppercase first, BACKGROUND_Google kept as class 0 -> the bundled 102 names; labels by category
    # name among all 102 (Faces_easy = 2 "centered face", accordion = 5), not by position among the 3 present
    assert data.targets == [0, 0, 0, 2, 5, 5]
    assert data.classnames[2] == "centered face" and data.classnames[5] == "accordion"
    assert len(data.info["absent_classes"]) == 99 and "Faces" in data.info["absent_classes"]
    assert data.classnames == classnames("caltech101") and len(data.classnames) == 102
    assert len(data.templates) == 34


def test_sun397_whole_dataset_sorted(tmp_path):
    exp = R.write_sun397(tmp_path)
    data = load_dataset("sun397", tmp_path, allow_incomplete=True)
    assert data.classnames == exp["classnames"]
    assert [data.images.image_key(i) for i in range(4)] == [
        "SUN397/a/abbey/sun_a.jpg",
        "SUN397/a/abbey/sun_z.jpg",
        "SUN397/a/apartment_building/outdoor/sun_q.jpg",
        "SUN397/b/bakery/shop/sun_b.jpg",
    ]
    assert data.targets == [0, 0, 1, 2]


@pytest.mark.parametrize(
    "name,writer",
    [
        ("fgvc_aircraft", R.write_fgvc_aircraft),
        ("dtd", R.write_dtd),
        ("food101", R.write_food101),
        ("pets", R.write_pets),
        ("cars", R.write_cars),
    ],
)
def test_list_based_sets(tmp_path, name, writer):
    exp = writer(tmp_path)
    data = load_dataset(name, tmp_path, allow_incomplete=True)
    assert data.targets == exp["labels"]
    assert data.classnames == exp["classnames"]
    for i in range(len(data.images)):
        data.images.load_image(i)


def test_gtsrb_csv(tmp_path):
    exp = R.write_gtsrb(tmp_path)
    data = load_dataset("gtsrb", tmp_path, allow_incomplete=True)
    assert data.targets == exp["labels"] and data.classnames == classnames("gtsrb")
    assert data.images.load_image(2).getpixel((0, 0))[0] == 2


@pytest.mark.parametrize(
    "name,folder,classes,key",
    [
        ("country211", "country211/test", {"US": 2, "AD": 1, "ZW": 1}, "country211"),
        ("eurosat", "eurosat/2750", {c: 1 + (i == 3) for i, c in enumerate(EUROSAT)}, "eurosat"),
        ("fer2013", "test", {c: 1 + (i % 2) for i, c in enumerate(FER)}, "fer2013"),
        ("renderedsst2", "rendered-sst2/test", {"positive": 2, "negative": 1}, None),
    ],
)
def test_folder_sets(tmp_path, name, folder, classes, key):
    from zsbench.datasets import get_spec

    ext = ".png" if name == "renderedsst2" else ".jpg"
    labels = R.write_image_folder(tmp_path, folder, classes, ext, all_classes=get_spec(name).class_folders or None)
    data = load_dataset(name, tmp_path, allow_incomplete=True)
    assert data.targets == labels
    assert data.classnames == (classnames(key) if key else ["negative", "positive"])


def test_folder_set_with_missing_class_folder_is_incomplete(tmp_path):
    import dataclasses

    from zsbench.datasets import get_spec
    from zsbench.datasets.loaders.torchvision_sets import load_fer2013
    from zsbench.errors import DatasetNotFoundError

    R.write_image_folder(tmp_path, "test", {c: 1 for c in FER[:-1]})
    with pytest.raises(DatasetNotFoundError, match="1 of 7 class folders are missing"):
        load_dataset("fer2013", tmp_path)
    unsized = dataclasses.replace(get_spec("fer2013"), sizes={})
    with pytest.raises(DatasetNotFoundError, match="1 of 7 class folders are missing"):
        load_fer2013(tmp_path, spec=unsized)
    # without the complete list zsbench cannot label by name: refused even with allow_incomplete
    unlisted = dataclasses.replace(get_spec("fer2013"), sizes={}, class_folders=())
    with pytest.raises(DatasetNotFoundError, match="found 6 class folders.*expected 7"):
        load_fer2013(tmp_path, spec=unlisted, allow_incomplete=True)


def test_birdsnap_species_and_template(tmp_path):
    R.write_birdsnap(tmp_path)
    data = load_dataset("birdsnap", tmp_path, allow_incomplete=True)
    assert data.classnames == ["Coopers Hawk", "Acadian Flycatcher"]
    assert data.targets == [0, 1, 0]
    assert data.templates == ["a photo of a {c}, a type of bird."]


def test_voc2007_crops_and_multilabel(tmp_path):
    exp = R.write_voc2007(tmp_path, 4)
    crops = load_dataset("voc2007", tmp_path, allow_incomplete=True)
    assert crops.targets == exp["labels"] and len(crops.images) == 1 + 2 + 3 + 1
    x0, y0, x1, y1 = exp["boxes"][2][1]
    assert crops.images.load_image(2).size == (x1 - x0, y1 - y0)
    assert crops.classnames[10] == "diningtable" and crops.templates == templates("voc2007")
    multi = load_dataset("voc2007_multilabel", tmp_path, allow_incomplete=True)
    assert multi.multilabel and np.array_equal(multi.targets, np.array(exp["multilabel"], dtype=np.float32))
    assert multi.templates == templates("voc2007_multilabel")


def test_vtab_flowers_tfrecord(tmp_path):
    R.write_tfds(
        tmp_path,
        "oxford_flowers102",
        "2.1.1",
        {"train": [1, 2], "test": [5, 0, 101, 7, 3]},
        [f"f{i}" for i in range(102)],
    )
    data = load_dataset("vtab/flowers", tmp_path, allow_incomplete=True)
    assert data.targets == [5, 0, 101, 7, 3]
    # CLIP_benchmark's vtab/flowers takes TFDS's label names (not the CLIP list of torchvision's flowers)
    assert data.classnames == [f"f{i}" for i in range(102)] and data.templates == templates("flowers")
    assert [data.images.load_image(i).getpixel((0, 0))[:2] for i in (0, 2)] == [(2, 5), (4, 101)]


def test_vtab_resisc45_test_slice(tmp_path):
    names = [f"class_{i}" for i in range(45)]
    labels = [i % 45 for i in range(20)]
    R.write_tfds(tmp_path, "resisc45", "3.0.0", {"train": labels}, names, shards=3)
    data = load_dataset("vtab/resisc45", tmp_path, allow_incomplete=True)
    assert data.targets == labels[16:]  # 20 * 60 // 100 + 20 * 20 // 100 = 16
    assert data.classnames == names and data.info["tfds_split"] == "train[16:]"
    assert data.templates == templates("resisc45")
