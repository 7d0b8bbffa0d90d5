"""Names CLIP_benchmark main accepts that zsbench lacked: flickr8k, imagenet-o, flowers (torchvision), dummy.

Each is read from a replica in its real on-disk format; flowers is cross-checked against torchvision's own
``Flowers102`` reading the same folder (sample count, class order, labels, pixel hashes).
"""

from __future__ import annotations

import hashlib

import pytest

from zsbench.datasets import get_spec, list_datasets, load_dataset
from zsbench.datasets.prompts import classnames, templates
from zsbench.errors import DatasetNotFoundError
from zsbench.testing import replicas as R

NEW_NAMES = ("flickr8k", "imagenet-o", "flowers", "dummy")


def test_new_names_are_registered_with_their_sizes():
    assert set(NEW_NAMES) <= set(list_datasets())
    assert get_spec("flickr8k").sizes == {"test": 1000, "test/captions": 5000}
    assert get_spec("flickr8k").task == "zeroshot_retrieval"
    assert get_spec("imagenet-o").sizes["test"] == 2000
    assert get_spec("flowers").sizes == {"test": 6149, "train": 1020, "val": 1020}
    assert get_spec("dummy").sizes["test"] == 1


# --- flickr8k -------------------------------------------------------------------------------------------------------
def test_flickr8k_images_in_root_captions_as_written(tmp_path):
    exp = R.write_flickr8k(tmp_path, 3)
    data = load_dataset("flickr8k", tmp_path, allow_incomplete=True)
    assert [data.images.image_key(i) for i in range(3)] == exp["images"]
    # Grouped per image in order of first appearance, and NOT normalized (upstream applies no pre_caption).
    assert data.captions == exp["raw_captions"]
    assert data.captions[1][0] == "A Child, in pink #0 (image 1)."
    assert abs(data.images.load_image(2).getpixel((0, 0))[0] - 2) <= 2  # JPEG
    assert data.info["n_captions"] == 15


@pytest.mark.parametrize("language", ["zh", "cn"])
def test_flickr8k_chinese_file(tmp_path, language):
    exp = R.write_flickr8k(tmp_path, 2, language="zh")
    data = load_dataset("flickr8k", tmp_path, language=language, allow_incomplete=True)
    assert data.captions == exp["raw_captions"]
    assert data.info["language"] == "cn"
    assert data.info["annotation_file"].endswith("flickr8k_test_zh.txt")


def test_flickr8k_kaggle_images_folder(tmp_path):
    exp = R.write_flickr8k(tmp_path, 2, images_dir="Images")
    data = load_dataset("flickr8k", tmp_path, allow_incomplete=True)
    assert [data.images.image_key(i) for i in range(2)] == exp["images"]
    assert data.images.load_image(1).size == (8, 6)


def test_flickr8k_incomplete_and_missing(tmp_path):
    R.write_flickr8k(tmp_path, 2)
    with pytest.raises(DatasetNotFoundError, match=r"found 2 images, expected 1000"):
        load_dataset("flickr8k", tmp_path)
    with pytest.raises(DatasetNotFoundError, match=r"missing .*flickr8k_test_zh\.txt"):
        load_dataset("flickr8k", tmp_path, language="zh", allow_incomplete=True)


# --- imagenet-o -----------------------------------------------------------------------------------------------------
def test_imagenet_o_mask_and_labels(tmp_path):
    from zsbench.datasets.loaders.imagenet import wnid_lists

    allw, sub = wnid_lists()["imagenet1k"], wnid_lists()["imagenet-o"]
    assert len(sub) == 200 and sub == sorted(sub) and set(sub) <= set(allw)
    assert sub[0] == "n01443537" and sub[-1] == "n13052670"  # CLIP_benchmark main's list, first and last
    R.write_imagenet_val_folders(tmp_path, [sub[199], sub[7]], per_class=2, folder="")
    data = load_dataset("imagenet-o", tmp_path, allow_incomplete=True)
    names = classnames("imagenet1k")
    assert data.classnames == [names[allw.index(w)] for w in sub]
    assert data.targets == [7, 7, 199, 199]
    assert data.templates == templates("imagenet1k")
    with pytest.raises(DatasetNotFoundError, match=r"found 4 images, expected 2000"):
        load_dataset("imagenet-o", tmp_path)


# --- flowers (torchvision Flowers102) ------------------------------------------------------------------------------
def test_flowers_setid_order_labels_and_names(tmp_path):
    exp = R.write_flowers102(tmp_path)
    data = load_dataset("flowers", tmp_path, allow_incomplete=True)
    assert [data.images.image_key(i) for i in range(len(data.images))] == exp["images"]
    assert data.targets == exp["labels"] == [101, 101, 76, 2]
    assert data.classnames == classnames("flowers") and len(data.classnames) == 102
    assert data.templates == templates("flowers")
    assert abs(data.images.load_image(0).getpixel((0, 0))[1] - 101) <= 2  # green = label, JPEG
    val = load_dataset("flowers", tmp_path, split="val", allow_incomplete=True)
    assert val.targets == [4, 39]
    with pytest.raises(DatasetNotFoundError, match=r"found 4 images, expected 6149"):
        load_dataset("flowers", tmp_path)


@pytest.mark.parametrize("split", ["test", "val", "train"])
def test_flowers_matches_torchvision_flowers102(tmp_path, split, monkeypatch):
    """torchvision reads the same replica: same count, labels, class order and pixels."""
    tv = pytest.importorskip("torchvision.datasets.flowers102")
    # torchvision checks the real files' md5; the replica's .mat files are tiny stand-ins, so check existence only.
    monkeypatch.setattr(tv, "check_integrity", lambda path, md5=None: __import__("os").path.isfile(path))
    R.write_flowers102(tmp_path)
    ref = tv.Flowers102(str(tmp_path), split=split)
    data = load_dataset("flowers", tmp_path, split=split, allow_incomplete=True)
    assert len(data.images) == len(ref)
    assert data.targets == [ref[i][1] for i in range(len(ref))]
    # CLIP_benchmark replaces torchvision's names with the bundled list; both are the same 102 classes in order.
    assert len(ref.classes) == len(data.classnames) == 102
    assert data.classnames[0] == "pink primrose" and ref.classes[0] == "pink primrose"

    def h(im):
        return hashlib.sha256(im.convert("RGB").tobytes()).hexdigest()

    assert [h(data.images.load_image(i)) for i in range(len(ref))] == [h(ref[i][0]) for i in range(len(ref))]


def test_flowers_setid_naming_unknown_image_is_one_error(tmp_path):
    import numpy as np
    import scipy.io as sio

    R.write_flowers102(tmp_path)
    sio.savemat(tmp_path / "flowers-102/setid.mat", {"trnid": [[1]], "valid": [[2]], "tstid": np.array([[3, 9]])})
    with pytest.raises(DatasetNotFoundError, match=r"setid\.mat names image id 9, but imagelabels\.mat has 8"):
        load_dataset("flowers", tmp_path, allow_incomplete=True)


# --- dummy ----------------------------------------------------------------------------------------------------------
def test_dummy_is_clip_benchmarks(tmp_path):
    data = load_dataset("dummy", tmp_path / "unused")
    assert len(data.images) == 1 and data.targets == [0]
    assert data.classnames == ["blank image", "noisy image"]
    assert data.templates == templates("dummy") == ["a photo of a {c}"]
    im = data.images.load_image(0)
    assert im.size == (224, 224) and im.getpixel((0, 0)) == (123, 117, 104)
    assert data.images.fingerprint() == load_dataset("dummy", tmp_path).images.fingerprint()
