"""vtab/<task> and tfds/<builder>: TFDS folders read without TensorFlow, with VTAB's test splits and labels."""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

import pytest

from zsbench.datasets import get_spec, list_datasets, load_dataset
from zsbench.datasets.loaders.tfds import crc32c, expand_floor, masked_crc, resolve_split
from zsbench.datasets.prompts import classnames, templates
from zsbench.engine.plan import DATASET_COLLECTIONS, expand_datasets
from zsbench.errors import ZsbenchError
from zsbench.testing import tfds_replicas as T

# Every vtab/ name CLIP_benchmark 1.6.2's build_vtab_dataset accepts (kitti: only closest_vehicle_distance works).
CLIP_BENCHMARK_VTAB = """caltech101 cars cifar10 cifar100 clevr_count_all clevr_closest_object_distance cub
    diabetic_retinopathy dmlab dsprites_label_shape dsprites_label_scale dsprites_label_orientation
    dsprites_label_x_position dsprites_label_y_position dtd eurosat food101 inaturalist kitti_closest_vehicle_distance
    flowers pets pcam resisc45 smallnorb_label_category smallnorb_label_elevation smallnorb_label_azimuth
    smallnorb_label_lighting sun397 svhn""".split()  # noqa: SIM905

# VTAB test-split sizes of the real datasets (TFDS catalog / task_adaptation arithmetic).
VTAB_SIZES = {"caltech101": 6084, "clevr_count_all": 15000, "dsprites_label_x_position": 73728, "eurosat": 5400}
VTAB_SIZES |= {"kitti_closest_vehicle_distance": 711, "resisc45": 6300, "smallnorb_label_azimuth": 12150}
VTAB_SIZES |= {"dmlab": 22735, "pcam": 32768, "svhn": 26032, "flowers": 6149, "pets": 3669, "dtd": 1880}


def test_every_clip_benchmark_vtab_name_is_registered():
    names = {n for n in list_datasets() if n.startswith("vtab/")}
    assert names == {f"vtab/{t}" for t in CLIP_BENCHMARK_VTAB}
    for task, size in VTAB_SIZES.items():
        assert get_spec(f"vtab/{task}").sizes["test"] == size, task


@pytest.mark.parametrize("task", CLIP_BENCHMARK_VTAB)
def test_vtab_replica(tmp_path, task):
    exp = T.write_vtab(tmp_path, task)
    data = load_dataset(f"vtab/{task}", tmp_path, allow_incomplete=True)
    assert len(data.images) == exp["size"] > 0
    assert data.targets == exp["labels"]  # after VTAB's preprocessing, in record order
    assert data.classnames == exp["classnames"]  # CLIP_benchmark's override, else TFDS's names in label order
    assert data.info["tfds_split"] == exp["split"] and data.info["tfds_builder"] == exp["builder"]
    short = task if task in _bundled_template_keys() else "imagenet1k"
    assert data.templates == templates(short)  # keys vtab/<task>, <task>, then imagenet1k (CLIP_benchmark's)
    image = data.images.load_image(0)
    assert image.mode == "RGB"
    if not task.startswith(("dsprites", "smallnorb")):
        assert image.getpixel((0, 0))[1] == pytest.approx(exp["labels"][0], abs=3)  # green channel = label


def _bundled_template_keys() -> set[str]:
    import json

    from zsbench.datasets.prompts import DATA_DIR

    return set(json.loads((DATA_DIR / "en_zeroshot_classification_templates.json").read_text()))


@pytest.mark.parametrize("task", ["dsprites_label_orientation", "smallnorb_label_elevation", "clevr_count_all"])
def test_older_features_json_format(tmp_path, task):
    """TFDS < 4 wrote features.json as {"type", "content"}; numeric ClassLabel names come from it as well."""
    exp = T.write_vtab(tmp_path, task, old_features=True)
    data = load_dataset(f"vtab/{task}", tmp_path, allow_incomplete=True)
    assert data.targets == exp["labels"] and data.classnames == exp["classnames"]


def test_special_labels_and_class_names(tmp_path):
    kitti = load_dataset(
        "vtab/kitti_closest_vehicle_distance",
        _w(tmp_path / "k", "kitti_closest_vehicle_distance"),
        allow_incomplete=True,
    )
    assert sorted(set(kitti.targets)) == [0, 1, 2, 3]  # every distance bin, edges included, and "no vehicle"
    assert kitti.classnames == classnames("kitti_closest_vehicle_distance")
    clevr = load_dataset(
        "vtab/clevr_closest_object_distance", _w(tmp_path / "c", "clevr_closest_object_distance"), allow_incomplete=True
    )
    assert len(clevr.classnames) == 6 and max(clevr.targets) < 6
    dspr = load_dataset(
        "vtab/dsprites_label_x_position", _w(tmp_path / "d", "dsprites_label_x_position"), allow_incomplete=True
    )
    assert dspr.classnames == [str(i) for i in range(32)]  # CLIP_benchmark keeps 32 positions (no 16-bin grouping)
    pixels = {dspr.images.load_image(i).getpixel((0, 0)) for i in range(len(dspr.images))}
    assert pixels == {(0, 0, 0), (255, 255, 255)}  # stored 0/1, scaled by 255 as VTAB does
    norb = load_dataset(
        "vtab/smallnorb_label_category", _w(tmp_path / "s", "smallnorb_label_category"), allow_incomplete=True
    )
    assert norb.classnames == T.SMALLNORB_CATEGORIES
    flowers = load_dataset("vtab/flowers", _w(tmp_path / "f", "flowers"), allow_incomplete=True)
    assert flowers.classnames[0] == "tfds flowers class 0"  # TFDS's names, as CLIP_benchmark (not the CLIP list)
    assert flowers.templates == templates("flowers")


def _w(root: Path, task: str) -> Path:
    T.write_vtab(root, task)
    return root


def _cb_builder_source() -> str:
    spec = importlib.util.find_spec("clip_benchmark")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("clip-benchmark is not installed")
    return (Path(next(iter(spec.submodule_search_locations))) / "datasets" / "builder.py").read_text()


def test_collections_equal_clip_benchmark():
    tree = ast.parse(_cb_builder_source())
    node = next(
        n.value
        for n in ast.walk(tree)
        if isinstance(n, ast.Assign) and any(getattr(t, "id", "") == "dataset_collection" for t in n.targets)
    )
    theirs = ast.literal_eval(node)
    for name in ("vtab", "vtab+"):
        assert DATASET_COLLECTIONS[name] == theirs[name], name
        assert [d for d, _ in expand_datasets([name])] == theirs[name]
    assert len(theirs["vtab"]) == 19 and len(theirs["vtab+"]) == 36
    assert all(n in list_datasets() for n in theirs["vtab+"])


# --- TFDS split strings against the real VTAB sizes, and TFDS's rounding --------------------------------------
@pytest.mark.parametrize(
    ("spec", "lengths", "want"),
    [
        ("train[{floor:60+20}:]", {"train": 31500}, [("train", 25200, 31500)]),  # resisc45 test: 6300
        ("train[{floor:60+20}:]", {"train": 27000}, [("train", 21600, 27000)]),  # eurosat test: 5400
        ("train[{floor:80+10}:]", {"train": 737280}, [("train", 663552, 737280)]),  # dsprites test: 73728
        ("test[50%:]", {"test": 24300}, [("test", 12150, 24300)]),  # smallnorb test: 12150
        ("test[50%:]", {"test": 7}, [("test", 4, 7)]),  # 3.5 rounds to 4
        ("train[:50%]", {"train": 5}, [("train", 0, 2)]),  # 2.5 rounds to 2: Python's round, as TFDS
        (
            "train[:800]+validation[:200]",
            {"train": 1000, "validation": 300},
            [("train", 0, 800), ("validation", 0, 200)],
        ),
        ("test[:-5%]", {"test": 100}, [("test", 0, 95)]),
        ("train[-10:]", {"train": 30}, [("train", 20, 30)]),
        ("validation", {"validation": 15000}, [("validation", 0, 15000)]),
    ],
)
def test_split_strings(spec, lengths, want):
    got = resolve_split(expand_floor(spec, lengths), lengths)
    assert [(s.split, s.start, s.stop) for s in got] == want


@pytest.mark.parametrize(
    ("spec", "needle"),
    [
        ("train[:800]", "records [0:800] of a split of 500"),
        ("train[101%:]", "outside [-100%, 100%]"),
        ("tset", "unknown split 'tset'"),
        ("train[1:2:3]", "unrecognized TFDS split"),
        ("train[]", "unrecognized TFDS split"),
    ],
)
def test_bad_split_strings(spec, needle):
    with pytest.raises(ZsbenchError, match=needle.replace("[", r"\[").replace("]", r"\]")):
        resolve_split(spec, {"train": 500})


def test_crc32c_known_values():
    assert crc32c(b"123456789") == 0xE3069283  # the standard CRC-32C check value
    assert crc32c(b"") == 0 and masked_crc(b"") == 0xA282EAD8


def test_tfds_builder_name_reads_any_image_classification_folder(tmp_path):
    names = ["cat", "dog", "fish"]
    feats = {"image": T.F("Image"), "label": T.F("ClassLabel", names=names), "id": T.F("Text")}
    ex = [{"image": [T.encoded_image(i, i % 3)], "label": [i % 3], "id": [b"x"]} for i in range(5)]
    T.write_tfds(tmp_path, "my_pets", "1.2.0", feats, {"train": ex[:2], "test": ex[2:]})
    data = load_dataset("tfds/my_pets", tmp_path, split="test")
    assert data.targets == [2, 0, 1] and data.classnames == names and data.info["tfds_builder"] == "my_pets:1.2.0"
    assert data.templates == templates("imagenet1k")
    train = load_dataset("tfds/my_pets:1.*.*", tmp_path, split="train")
    assert train.targets == [0, 1]
