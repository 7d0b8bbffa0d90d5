"""--allow_incomplete on class-folder (ImageFolder) datasets: labels come from class NAMES, never positions.

torchvision's ImageFolder labels a sample by its folder's position among the folders present; with one class folder
missing every later label shifted by one and acc1 came out wrong with exit code 0.
"""

from __future__ import annotations

import json

import pytest

from tests.reliability.conftest import run_cli
from zsbench.datasets import get_spec, load_dataset
from zsbench.datasets.prompts import classnames, templates
from zsbench.errors import DatasetNotFoundError
from zsbench.testing import replicas as R

FER = ["angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"]


def _fake_predictions(rgb_colours: list[tuple[int, int, int]]) -> list[int]:
    """What the fake model predicts on fer2013's prompts for solid images of each colour (as the engine computes)."""
    import torch
    from PIL import Image

    from zsbench.tasks.classification import class_prompts, class_weights, classification_logits
    from zsbench.testing import fake

    model = fake.load_fake("m", "p", device="cpu", precision="fp32")
    names = classnames("fer2013")
    prompts, owner = class_prompts(names, templates("fer2013"))
    weights = class_weights(model.encode_text(model.tokenize(prompts)), torch.tensor(owner), len(names))
    pixels = torch.stack([model.transform(Image.new("RGB", (8, 8), c)) for c in rgb_colours])
    return classification_logits(model.encode_image(pixels), weights).argmax(dim=1).tolist()


def _colour_per_class() -> dict[int, tuple[int, int, int]]:
    """For each fer2013 class the fake model can predict, a solid colour it predicts as that class."""
    grid = [(r, g, b) for r in range(0, 256, 51) for g in range(0, 256, 51) for b in range(0, 256, 51)]
    found: dict[int, tuple[int, int, int]] = {}
    for colour, pred in zip(grid, _fake_predictions(grid)):
        found.setdefault(pred, colour)
    return found


def _write_fer_without(root, missing: str, colours: dict[int, tuple[int, int, int]]) -> list[int]:
    """fer2013 ``test/<emotion>/`` with ``missing`` absent; two images (of the class's colour) per present class."""
    from PIL import Image

    labels = []
    for idx, cls in enumerate(FER):
        folder = root / "test" / cls
        if cls == missing:
            continue
        folder.mkdir(parents=True)
        if idx in colours:  # classes the fake model never predicts keep an empty folder (still a present class)
            for k in range(2):
                Image.new("RGB", (8, 8), colours[idx]).save(folder / f"{k}.png")
                labels.append(idx)
    return labels


def test_missing_class_folder_keeps_labels_by_name_end_to_end(tmp_path, fake_model):
    """`zsbench eval --allow_incomplete` on fer2013 without 'angry': acc1 = 1 (labels by name), not the shifted one."""
    colours = _colour_per_class()
    assert any(idx > 0 for idx in colours), "the fake model must predict at least one class after 'angry'"
    root = tmp_path / "fer2013"
    labels = _write_fer_without(root, "angry", colours)
    present = sorted(set(labels))
    # The test can fail: with positional labels (ImageFolder over 6 folders) every label would be one lower.
    positional = [FER[1:].index(FER[k]) for k in labels]
    assert positional != labels

    data = load_dataset("fer2013", root, allow_incomplete=True)
    assert data.targets == labels and data.classnames == classnames("fer2013")
    assert data.info["absent_classes"] == ["angry"]

    out = tmp_path / "out.json"
    res = run_cli(
        "eval", "--model_type", "fake", "--model", "m", "--pretrained", "p", "--num_workers", "0",
        "--dataset", "fer2013", "--dataset_root", root, "--cache_dir", tmp_path / "cache", "--output", out,
        "--allow_incomplete", "--quiet",
    )  # fmt: skip
    res.assert_ok()
    record = json.loads(out.read_text())
    assert record["metrics"]["acc1"] == 1.0, (record["metrics"], present)
    info = json.dumps(record)
    assert "absent_classes" in info and '"angry"' in info


def test_missing_class_folder_without_allow_incomplete_is_one_line(tmp_path, fake_eval):
    R.write_image_folder(tmp_path / "fer2013", "test", {c: 1 for c in FER if c != "fear"})
    res = fake_eval("--dataset", "fer2013", "--dataset_root", tmp_path / "fer2013")
    res.assert_one_line_error("fer2013", "1 of 7 class folders", "fear", "--allow_incomplete")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_unknown_class_folder_is_one_line(tmp_path, fake_eval):
    R.write_image_folder(tmp_path / "fer2013", "test", {**{c: 1 for c in FER}, "Angry_copy": 1})
    res = fake_eval("--dataset", "fer2013", "--dataset_root", tmp_path / "fer2013", "--allow_incomplete")
    res.assert_one_line_error("fer2013", "'Angry_copy'", "not among its 7 classes")


def test_without_the_complete_folder_list_an_incomplete_copy_is_refused(tmp_path):
    """A spec that does not know its folder list cannot label by name: refused even with allow_incomplete."""
    import dataclasses

    from zsbench.datasets.loaders.torchvision_sets import load_fer2013

    R.write_image_folder(tmp_path, "test", {c: 1 for c in FER[1:]})
    spec = dataclasses.replace(get_spec("fer2013"), class_folders=())
    with pytest.raises(DatasetNotFoundError, match="does not know this dataset's complete class-folder list"):
        load_fer2013(tmp_path, spec=spec, allow_incomplete=True)
    R.write_image_folder(tmp_path, "test", {"angry": 1})  # complete again: ImageFolder positions are right
    assert load_fer2013(tmp_path, spec=spec, allow_incomplete=True).targets == list(range(7))


@pytest.mark.parametrize(
    "name,folder,drop",
    [("country211", "country211/test", "AD"), ("eurosat", "eurosat/2750", "AnnualCrop"), ("fer2013", "test", "angry")],
)
def test_folder_datasets_label_by_name(tmp_path, name, folder, drop):
    """Every ImageFolder-style catalog dataset: the first folder missing shifts no other label."""
    spec = get_spec(name)
    keep = [c for c in spec.class_folders if c != drop][:3] + [spec.class_folders[-1]]
    labels = R.write_image_folder(tmp_path, folder, {c: 1 for c in keep}, all_classes=spec.class_folders)
    data = load_dataset(name, tmp_path, allow_incomplete=True)
    assert data.targets == labels == [spec.class_folders.index(c) for c in sorted(keep)]
    assert drop in data.info["absent_classes"]


def test_caltech101_missing_category_keeps_labels(tmp_path):
    R.write_caltech101(tmp_path, {"Faces_easy": 1, "yin_yang": 1})  # BACKGROUND_Google, Faces, ... missing
    data = load_dataset("caltech101", tmp_path, allow_incomplete=True)
    assert data.targets == [2, 101]
    assert data.classnames[2] == "centered face" and data.classnames[101] == "yin and yang symbol"


def test_dtd_class_list_labels_by_name(tmp_path):
    exp = R.write_dtd(tmp_path)  # only 'banded' and 'zigzagged' in labels/test1.txt
    data = load_dataset("dtd", tmp_path, allow_incomplete=True)
    assert data.targets == [46, 0, 0] == exp["labels"] and len(data.classnames) == 47
    assert "bubbly" in data.info["absent_classes"]


@pytest.mark.parametrize("name,key", [("country211", "country211"), ("eurosat", "eurosat"), ("fer2013", "fer2013")])
def test_class_folder_lists_line_up_with_the_bundled_names(name, key):
    """Each folder list is sorted (torchvision order) and as long as the bundled class names it indexes."""
    spec = get_spec(name)
    assert list(spec.class_folders) == sorted(spec.class_folders)
    assert len(spec.class_folders) == len(set(spec.class_folders)) == len(classnames(key))


def test_caltech101_folder_list_lines_up_with_the_bundled_names():
    folders = get_spec("caltech101").class_folders
    names = classnames("caltech101")
    assert list(folders) == sorted(folders) and len(folders) == len(names) == 102
    # spot checks of the alignment (sorted(): uppercase first)
    for folder, name in [("BACKGROUND_Google", "background"), ("Faces", "off-center face"), ("Leopards", "leopard"),
                         ("car_side", "side of a car"), ("yin_yang", "yin and yang symbol")]:  # fmt: skip
        assert names[folders.index(folder)] == name


def test_country211_folder_list_lines_up_with_the_bundled_names():
    folders = get_spec("country211").class_folders
    names = classnames("country211")
    for code, name in [("AD", "Andorra"), ("GB", "United Kingdom"), ("US", "United States"), ("XK", "Kosovo"),
                       ("ZW", "Zimbabwe"), ("CW", "Curacao"), ("SX", "Sint Maarten")]:  # fmt: skip
        assert names[folders.index(code)] == name
