"""Catalog, prompts, languages, status and error paths."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from zsbench.datasets import get_spec, list_datasets, load_dataset
from zsbench.datasets.base import CorruptImageError
from zsbench.datasets.languages import LanguageNotAvailableError, canonical_language
from zsbench.datasets.prompts import DATA_DIR, classnames, template_set_id, templates
from zsbench.datasets.status import dataset_status, format_status_table
from zsbench.errors import DatasetNotFoundError, UnknownNameError, ZsbenchError
from zsbench.testing import replicas as R
from zsbench.testing.shared import require_shared

README_SIZES = {  # denominators of the fork README's metrics, and the split sizes the brief states
    "imagenet1k": 50000,
    "imagenet-a": 7500,
    "imagenet-r": 30000,
    "imagenetv2": 10000,
    "imagenet_sketch": 50889,
    "objectnet": 18574,
    "cifar10": 10000,
    "cifar100": 10000,
    "mnist": 10000,
    "caltech101": 9144,
    "sun397": 108754,
    "fgvc_aircraft": 3333,
    "country211": 21100,
    "cars": 8041,
    "birdsnap": 1845,
    "dtd": 1880,
    "eurosat": 27000,
    "fer2013": 7178,
    "vtab/flowers": 6149,
    "food101": 25250,
    "gtsrb": 12630,
    "pets": 3669,
    "renderedsst2": 1821,
    "vtab/resisc45": 6300,
    "stl10": 8000,
    "voc2007": 14976,
    "voc2007_multilabel": 4952,
    "flickr30k": 1000,
    "mscoco_captions": 5000,
    "multilingual_mscoco_captions": 1000,
}


def test_every_required_dataset_is_registered_with_its_size():
    names = set(list_datasets())
    assert set(README_SIZES) <= names
    for name, size in README_SIZES.items():
        assert get_spec(name).sizes["test"] == size, name
    assert get_spec("mscoco_captions").sizes["test/captions"] == 25010
    assert get_spec("mscoco_captions").sizes["test@cn/captions"] == 1053
    assert get_spec("flickr30k").sizes["test/captions"] == 5000


def test_readme_accuracies_are_whole_counts_of_the_sizes():
    """acc1 * size is an integer for the README numbers: the sizes are the evaluated splits."""
    acc1 = {
        "imagenet-a": 0.8377333333333333,
        "objectnet": 0.8059114891784215,
        "caltech101": 0.8949037620297463,
        "sun397": 0.7600180223256157,
        "birdsnap": 0.7203252032520325,
        "voc2007": 0.7997462606837606,
        "fer2013": 0.561994984675397,
        "vtab/flowers": 0.8606277443486746,
        "imagenet_sketch": 0.7385879070133035,
        "country211": 0.34080568720379145,
        "cars": 0.9416739211540853,
        "renderedsst2": 0.6792970895112576,
    }
    for name, acc in acc1.items():
        n = get_spec(name).sizes["test"]
        assert abs(acc * n - round(acc * n)) < 1e-6, name


def test_catalog_imports_no_torch():
    code = "import sys, zsbench.datasets as d; d.list_datasets(); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_bundled_prompts_equal_the_forks_files():
    folder = require_shared("seed_data/prompts")
    files = sorted(p.name for p in folder.glob("*.json"))
    assert len(files) == 10
    for name in files:
        with open(folder / name, encoding="utf-8") as a, open(DATA_DIR / name, encoding="utf-8") as b:
            theirs, ours = json.load(a), json.load(b)
        assert ours == theirs and list(ours) == list(theirs), name
    assert (DATA_DIR / "LICENSE.clip_benchmark").read_text().startswith("MIT License")


def test_template_counts_and_fallback():
    assert len(templates("imagenet1k")) == 80
    assert [len(templates("imagenet1k", lang)) for lang in ("cn", "jp", "ar", "it")] == [80, 37, 55, 49]
    assert templates("objectnet") == templates("imagenet1k")  # CLIP_benchmark falls back to ImageNet's
    assert templates("birdsnap") == ["a photo of a {c}, a type of bird."]
    tid, sha = template_set_id(templates("cifar10"), "en:cifar10")
    assert tid == "en:cifar10/18" and len(sha) == 64
    assert template_set_id(templates("cifar100"), "x")[1] == sha  # same strings, same hash


def test_language_codes_and_aliases():
    assert canonical_language("zh") == "cn" and canonical_language("JA") == "jp"
    with pytest.raises(UnknownNameError, match="valid choices"):
        canonical_language("xx")
    with pytest.raises(LanguageNotAvailableError, match="'mnist' in language 'zh'; available: en$"):
        classnames("mnist", "zh")
    assert len(classnames("imagenet1k", "zh")) == 1000


def test_non_english_on_english_only_dataset_is_an_error(tmp_path):
    R.write_cifar10(tmp_path, 2)
    with pytest.raises(LanguageNotAvailableError, match=r"'cifar10' has no prompts in language 'zh'.*available: en"):
        load_dataset("cifar10", tmp_path, language="zh", allow_incomplete=True)


def test_custom_classname_and_template_files(tmp_path):
    R.write_cifar10(tmp_path / "d", 3)
    names = [f"thing {i}" for i in range(10)]
    (tmp_path / "cls.json").write_text(json.dumps({"cifar10": names}))
    (tmp_path / "tmpl.json").write_text(json.dumps({"imagenet1k": ["a {c}."], "other": ["no"]}))
    data = load_dataset(
        "cifar10",
        tmp_path / "d",
        allow_incomplete=True,
        custom_classname_file=str(tmp_path / "cls.json"),
        custom_template_file=str(tmp_path / "tmpl.json"),
    )
    assert data.classnames == names and data.templates == ["a {c}."]  # template keys fall back to imagenet1k
    assert data.info["template_set"] == "custom:imagenet1k/1"
    # both custom files make any language usable: the user supplied the prompts
    de = load_dataset(
        "cifar10",
        tmp_path / "d",
        language="it",
        allow_incomplete=True,
        custom_classname_file=str(tmp_path / "cls.json"),
        custom_template_file=str(tmp_path / "tmpl.json"),
    )
    assert de.classnames == names
    (tmp_path / "bad.json").write_text(json.dumps({"cifar100": names}))
    with pytest.raises(ZsbenchError, match="no key 'cifar10'"):
        load_dataset("cifar10", tmp_path / "d", allow_incomplete=True, custom_classname_file=str(tmp_path / "bad.json"))


def test_incomplete_split_and_missing_root_name_the_layout(tmp_path):
    R.write_cifar10(tmp_path, 4)
    with pytest.raises(DatasetNotFoundError, match=r"found 4 images, expected 10000.*cifar-10-batches-py"):
        load_dataset("cifar10", tmp_path)
    with pytest.raises(DatasetNotFoundError, match=r"does not exist.*how to obtain: https://www.cs.toronto.edu"):
        load_dataset("cifar10", tmp_path / "absent")
    with pytest.raises(ZsbenchError, match="unknown loader option"):
        load_dataset("cifar10", tmp_path, allow_incomplete=True, skip_corupt=True)


def test_corrupt_image_names_the_file(tmp_path):
    R.write_dtd(tmp_path)
    bad = tmp_path / "dtd/dtd/images/banded/b_1.jpg"
    bad.write_bytes(b"not a jpeg")
    data = load_dataset("dtd", tmp_path, allow_incomplete=True)  # loading never decodes
    with pytest.raises(CorruptImageError, match="b_1.jpg"):
        data.images.load_image(1)


def test_corrupt_archive_member_names_archive_and_member(tmp_path):
    from zsbench.datasets.loaders.imagenet import wnid_lists

    R.write_imagenet_tars(tmp_path, [wnid_lists()["imagenet1k"][0]])
    data = load_dataset("imagenet1k", tmp_path, allow_incomplete=True)
    data.images.entries[0] = (*data.images.entries[0][:2], 5, data.images.entries[0][3])  # truncate the member
    with pytest.raises(CorruptImageError, match=r"ILSVRC2012_img_val.tar:ILSVRC2012_val_00000001.JPEG"):
        data.images.load_image(0)


def test_dataset_status_rows_and_table(tmp_path):
    R.write_cifar10(tmp_path / "cifar10", 2)
    (tmp_path / "flickr30k" / "Images").mkdir(parents=True)
    rows = {r["name"]: r for r in dataset_status(str(tmp_path / "{dataset}"))}
    assert set(README_SIZES) <= set(rows)
    assert rows["cifar10"]["status"] == "present"
    assert rows["flickr30k"]["status"] == "incomplete"
    assert "download=True fetches flickr30k_test_karpathy.txt" in rows["flickr30k"]["how_to_obtain"]
    assert rows["imagenet1k"]["status"] == "missing" and rows["imagenet1k"]["path"] == str(tmp_path / "imagenet1k")
    assert rows["vtab/flowers"]["path"] == str(tmp_path / "vtab/flowers")
    table = format_status_table(list(rows.values()))
    assert "cifar10" in table and "image-net.org" in table and "datasets present" in table
    cleaned = {r["name"]: r for r in dataset_status(str(tmp_path / "wds_{dataset_cleaned}"))}
    assert cleaned["vtab/resisc45"]["path"] == str(tmp_path / "wds_vtab-resisc45")
