"""Retrieval loaders (Flickr30k, COCO Karpathy / COCO-CN, XTD) on replicas and on the fork's real annotations."""

from __future__ import annotations

import shutil

import pytest

from zsbench.datasets import load_dataset
from zsbench.datasets.languages import LanguageNotAvailableError
from zsbench.datasets.loaders.captions import pre_caption
from zsbench.errors import DatasetNotFoundError
from zsbench.testing import replicas as R
from zsbench.testing.shared import require_shared


def test_pre_caption_matches_the_fork():
    assert pre_caption("Image 0: A  dog (brown), runs #1.") == "image 0 a dog brown , runs 1"
    assert pre_caption("  Hello!! World~ ") == "hello world"
    assert pre_caption(" ".join(["w"] * 60)) == " ".join(["w"] * 50)
    assert pre_caption("一只狗，在跑。") == "一只狗，在跑。"  # CJK punctuation is kept


def test_flickr30k_groups_captions_in_first_appearance_order(tmp_path):
    exp = R.write_flickr30k(tmp_path, 3)
    data = load_dataset("flickr30k", tmp_path, allow_incomplete=True)
    assert [data.images.image_key(i) for i in range(3)] == exp["images"]
    assert data.captions[1] == [pre_caption(c) for c in exp["raw_captions"][1]]
    assert data.captions[0][0] == "image 0 a dog brown , runs 0"
    assert abs(data.images.load_image(2).getpixel((0, 0))[0] - 2) <= 2  # JPEG
    assert data.info["n_captions"] == 15


@pytest.mark.parametrize("language", ["cn", "zh"])
def test_flickr30k_cn_file(tmp_path, language):
    R.write_flickr30k(tmp_path, 2, language="cn")
    data = load_dataset("flickr30k", tmp_path, language=language, allow_incomplete=True)
    assert data.captions[0][0] == "图0，一只狗在跑。第0句"
    assert data.info["language"] == "cn"


def test_flickr30k_unknown_language_names_available(tmp_path):
    R.write_flickr30k(tmp_path, 1)
    with pytest.raises(LanguageNotAvailableError, match=r"available: en, cn"):
        load_dataset("flickr30k", tmp_path, language="jp", allow_incomplete=True)


def test_flickr30k_incomplete_and_missing(tmp_path):
    R.write_flickr30k(tmp_path, 2)
    with pytest.raises(DatasetNotFoundError, match=r"found 2 images, expected 1000.*Images/<id>\.jpg"):
        load_dataset("flickr30k", tmp_path)
    with pytest.raises(DatasetNotFoundError, match=r"does not exist.*kaggle adityajn105/flickr30k"):
        load_dataset("flickr30k", tmp_path / "nope")


def test_mscoco_karpathy_via_pycocotools(tmp_path):
    exp = R.write_coco_karpathy(tmp_path, 3)
    data = load_dataset("mscoco_captions", tmp_path, allow_incomplete=True)
    assert [data.images.image_key(i) for i in range(3)] == exp["images"]
    assert [len(c) for c in data.captions] == [5, 5, 6]  # the highest id (image 0) has 6 captions, all kept
    assert data.captions[2][0] == "a photo 0 of thing 0"
    assert abs(data.images.load_image(0).getpixel((0, 0))[0] - 2) <= 2  # JPEG


def test_xtd_one_caption_per_image_and_language_codes(tmp_path):
    exp = R.write_xtd(tmp_path, 4, languages=("en", "zh", "jp", "fr"))
    data = load_dataset("multilingual_mscoco_captions", tmp_path, language="zh", allow_incomplete=True)
    assert [data.images.image_key(i) for i in range(4)] == exp["images"]
    assert data.captions == [[c] for c in exp["captions"]["zh"]]  # not normalized, as in the fork
    assert abs(data.images.load_image(3).getpixel((0, 0))[0] - 3) <= 2  # JPEG
    ja = load_dataset("multilingual_mscoco_captions", tmp_path, language="ja", allow_incomplete=True)
    assert ja.captions[1] == ["[jp] Caption Number 1."]
    with pytest.raises(DatasetNotFoundError, match="raw_multilingual_coco_captions_ko.txt"):
        load_dataset("multilingual_mscoco_captions", tmp_path, language="ko", allow_incomplete=True)
    with pytest.raises(LanguageNotAvailableError, match="available: en, es, fr, cn"):
        load_dataset("multilingual_mscoco_captions", tmp_path, language="ar", allow_incomplete=True)


# --- the fork's real annotation files (from ../shared) --------------------------------------------------------------
def _fake_images(root, relpaths):
    for rel in relpaths:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(b"")  # existence only: loaders do not decode at load time


def test_real_flickr30k_cn_annotations(tmp_path):
    ann = require_shared("seed_data/annotations/flickr30k/flickr30k_cn_test.txt")
    shutil.copy(ann, tmp_path / "flickr30k_cn_test.txt")
    (tmp_path / "Images").mkdir()
    data = load_dataset("flickr30k", tmp_path, language="cn")  # full size: no allow_incomplete
    assert len(data.images) == 1000 and sum(map(len, data.captions)) == 5000
    assert all(len(c) == 5 for c in data.captions)


def test_real_coco_cn_annotations(tmp_path):
    ann = require_shared("seed_data/annotations/mscoco_captions/coco-cn_test.json")
    shutil.copy(ann, tmp_path / "coco-cn_test.json")
    data = load_dataset("mscoco_captions", tmp_path, language="cn")
    assert len(data.images) == 1000 and sum(map(len, data.captions)) == 1053
    keys = {data.images.image_key(i).split("/")[0] for i in range(1000)}
    assert keys == {"train2014", "val2014"}  # file_names already carry the folder, resolved against the root


def test_real_birdsnap_list(tmp_path):
    lst = require_shared("seed_data/annotations/birdsnap/test_images_valid.txt")
    exp = R.write_birdsnap(tmp_path, test_list=lst)
    data = load_dataset("birdsnap", tmp_path)  # full size: 1845 images
    assert len(data.images) == 1845 == len(exp["paths"])
    assert len(set(data.targets)) == len(exp["dirs"])
