"""The embedded procedural shapes datasets: deterministic, real on-disk formats, disjoint from training."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

import zsbench
from zsbench.datasets import ClassificationData, RetrievalData, get_spec
from zsbench.datasets.loaders import shapes as S
from zsbench.errors import DatasetNotFoundError, UnknownNameError


def _digest_tree(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    r = tmp_path_factory.mktemp("data")
    S.ensure_generated(r, "shapes")
    S.ensure_generated(r, "shapes_captions")
    return r


def test_same_bytes_twice(root, tmp_path):
    for name in ("shapes", "shapes_captions"):
        again = S.ensure_generated(tmp_path, name)
        a, b = _digest_tree(root / name), _digest_tree(again)
        assert a == b and len(a) > 100


def test_generated_atomically_only_when_missing(tmp_path):
    dest = S.ensure_generated(tmp_path / "new", "shapes_captions")
    assert sorted(p.name for p in (tmp_path / "new").iterdir()) == ["shapes_captions"]  # no temp folder left
    marker = dest / "images" / "00000.png"
    marker.write_bytes(b"user file")  # an existing dataset is never rewritten
    S.ensure_generated(tmp_path / "new", "shapes_captions")
    assert marker.read_bytes() == b"user file"


def test_imagefolder_format(root):
    from torchvision.datasets import ImageFolder

    ds = ImageFolder(str(root / "shapes" / "test"))
    assert len(ds) == S.CLASSIFICATION_SIZE == get_spec("shapes").sizes["test"]
    assert sorted(ds.classes) == sorted(S.SHAPES)
    img, label = ds[0]
    assert img.size == (64, 64) and img.mode == "RGB"
    counts = {c: 0 for c in ds.classes}
    for _, y in ds.samples:
        counts[ds.classes[y]] += 1
    assert set(counts.values()) == {S.CLASSIFICATION_SIZE // len(S.SHAPES)}  # balanced


def test_shapes_loader(root):
    data = zsbench.load_dataset("shapes", root)
    assert isinstance(data, ClassificationData)
    assert data.classnames == list(S.SHAPES) and data.templates == S.TEMPLATES
    assert len(data.images) == len(data.targets) == 500
    for i in (0, 137, 499):  # the label is the folder the file lies in
        assert data.images.image_key(i).split("/")[0] == data.classnames[data.targets[i]]
    assert data.images.load_image(3).size == (64, 64)
    with pytest.raises(UnknownNameError, match="valid choices: en"):
        zsbench.load_dataset("shapes", root, language="de")
    with pytest.raises(UnknownNameError, match="valid choices: test, train"):
        zsbench.load_dataset("shapes", root, split="val")


def test_coco_captions_format(root):
    from pycocotools.coco import COCO

    coco = COCO(str(root / "shapes_captions" / "captions_test.json"))
    assert len(coco.imgs) == S.RETRIEVAL_SIZE == get_spec("shapes_captions").sizes["test"]
    assert all(len(coco.imgToAnns[i]) == 5 for i in coco.imgs)
    data = zsbench.load_dataset("shapes_captions", root)
    assert isinstance(data, RetrievalData)
    assert (
        len(data.images) == 100 and sum(map(len, data.captions)) == get_spec("shapes_captions").sizes["test/captions"]
    )
    first = coco.imgs[0]
    assert (root / "shapes_captions" / "images" / first["file_name"]).is_file()
    assert data.captions[0] == [a["caption"] for a in coco.imgToAnns[0]]


def test_captions_describe_the_image():
    s = S.render_sample(S.SPLIT_SEEDS["captions_test"], 7)
    assert s.captions == S.captions_for(s.shape, s.color, s.size, s.position)
    assert all(s.shape in c for c in s.captions) and len(set(s.captions)) == 5
    assert f"a {s.size} {s.color} {s.shape} {S.POSITIONS[s.position][0]}" == s.captions[0]


def test_train_and_test_seeds_disjoint(root):
    assert len(set(S.SPLIT_SEEDS.values())) == len(S.SPLIT_SEEDS)
    test_pixels = {
        hashlib.sha256(S.render_sample(S.SPLIT_SEEDS["test"], i, shape=S.SHAPES[i % 10]).image.tobytes()).digest()
        for i in range(500)
    }
    test_pixels |= {
        hashlib.sha256(S.render_sample(S.SPLIT_SEEDS["captions_test"], i).image.tobytes()).digest() for i in range(100)
    }
    train = {hashlib.sha256(S.render_sample(S.SPLIT_SEEDS["train"], i).image.tobytes()).digest() for i in range(1000)}
    assert not (train & test_pixels)


def test_incomplete_dataset_is_reported(tmp_path):
    (tmp_path / "shapes" / "test" / "circle").mkdir(parents=True)
    with pytest.raises(DatasetNotFoundError, match="regenerate"):
        zsbench.load_dataset("shapes", tmp_path)


def test_catalog_is_light_and_agrees():
    code = (
        "import sys, zsbench.datasets as d; d.list_datasets(); s = d.get_spec('shapes');"
        "print(s.sizes['test'], d.get_spec('shapes_captions').sizes['test'], 'torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == [str(S.CLASSIFICATION_SIZE), str(S.RETRIEVAL_SIZE), "False"]


def test_generator_json(root):
    meta = json.loads((root / "shapes" / "GENERATOR.json").read_text())
    assert meta["version"] == S.GENERATOR_VERSION and meta["images"] == 500
